"""The ``ganspeech`` command: parses arguments and hands them to library code."""

from __future__ import annotations

import argparse
import logging
import sys

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

    return [synthesize, vocode, corpus, train, quality, gta, pack, eval_command, bench, export, serve, client]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ganspeech",
        description="Text-to-speech with a parallel GAN vocoder (HiFi-GAN) and an autoregressive one (WaveNet).",
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


if __name__ == "__main__":
    sys.exit(main())
