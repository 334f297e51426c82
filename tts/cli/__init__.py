"""The ``ganspeech`` command line: :mod:`tts.cli.main` parses, :mod:`tts.cli.commands` run.

``main`` is importable from here too, so a console script installed as ``tts.cli:main`` keeps working.
"""

from tts.cli.main import main

__all__ = ["main"]
