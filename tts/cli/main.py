"""The ``ganspeech`` command: parses arguments and hands them to library code."""

from __future__ import annotations

import argparse
import atexit
import logging
import os
import sys
import threading

from tts.errors import UserError
from vocoders.errors import AudioConfigMismatch

logger = logging.getLogger(__name__)


def _command_modules() -> list:
    # Imported here, not at module level, so `ganspeech --help` stays fast and one broken
    # optional dependency cannot stop every other command.
    from tts.cli.commands import (
        bench,
        client,
        corpus,
        export,
        gta,
        pack,
        quality,
        serve,
        synthesize,
        train,
        vocode,
    )
    from tts.cli.commands import eval as eval_command
    from tts.cli.commands import onnx as onnx_command

    return [
        synthesize,
        vocode,
        corpus,
        train,
        quality,
        gta,
        pack,
        eval_command,
        bench,
        export,
        onnx_command,
        serve,
        client,
    ]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ganspeech",
        description="Text-to-speech with parallel GAN vocoders (Vocos-style, HiFi-GAN) and an autoregressive one "
        "(WaveNet).",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for module in _command_modules():
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args.func(args) or 0)
    # A voice whose models disagree on the audio config is the user's data to fix, not a crash.
    except (UserError, FileNotFoundError, AudioConfigMismatch) as exc:
        print(f"ganspeech {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"ganspeech {args.command}: interrupted", file=sys.stderr)
        return 130


def entry() -> None:
    """The console script: :func:`main`, then leave without tearing the interpreter down.

    Once torch is loaded, the interpreter's teardown (clearing every module and collecting their
    objects) costs about 0.5 CPU seconds, more than loading a voice, and it does nothing a finished
    command needs. Before leaving, what it does that matters still happens: other threads are
    waited for, exit handlers run and the standard streams are flushed; commands close their own
    files. ``--help`` and usage errors exit from argument parsing (``SystemExit``) the usual way, as do
    uncaught errors.
    """
    code = main()
    for thread in threading.enumerate():
        if thread is not threading.main_thread() and not thread.daemon:
            thread.join()
    atexit._run_exitfuncs()  # what a normal exit runs first (logging.shutdown among them)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    entry()
