"""``python -m tts.cli`` (also under ``torchrun``) runs the ``ganspeech`` command."""

from tts.cli.main import entry

entry()
