"""The ``ganspeech`` command line: :mod:`tts.cli.main` parses, :mod:`tts.cli.commands` run.

``main`` is importable from here too, so a console script installed as ``tts.cli:main`` keeps working;
``entry`` is what the ``ganspeech`` script runs (``main`` without the interpreter's teardown).
"""

from tts.cli.main import entry, main

__all__ = ["entry", "main"]
