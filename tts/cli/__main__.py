"""``python -m tts.cli`` (also under ``torchrun``) runs the ``ganspeech`` command."""

import sys

from tts.cli.main import main

sys.exit(main())
