"""``ganspeech corpus build``: speak the bundled sentences with a teacher engine into a corpus."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

logger = logging.getLogger(__name__)

# Mirrors tts.corpus.builder.ENGINES; repeated here so building the parser imports no audio libraries.
ENGINE_CHOICES = ("flite",)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "corpus",
        help="build a teacher corpus (LJSpeech format) to train a voice on",
        description="Teacher corpora: the bundled public-domain sentences spoken by another TTS engine.",
    )
    actions = p.add_subparsers(dest="corpus_command", metavar="ACTION")
    actions.required = True
    b = actions.add_parser(
        "build",
        help="speak the bundled sentences into DIR (metadata.csv, wavs/, train/val/test.txt)",
        description="Speak the bundled sentences with the engine, trim silence, normalise loudness and "
        "write an LJSpeech-format corpus with fixed train/val/test splits. Resumable: sentences whose "
        "wav already exists are not spoken again.",
    )
    b.add_argument(
        "--engine", choices=ENGINE_CHOICES, default="flite", help="teacher engine (default: flite)"
    )
    b.add_argument("--flite-voice", default="rms", help="flite voice name or .flitevox file (default: rms)")
    b.add_argument("--out", required=True, type=Path, help="corpus directory to write")
    b.add_argument(
        "--sentences", type=int, default=None, help="speak only the first N sentences (default: all)"
    )
    b.add_argument("--sample-rate", type=int, default=16000, help="output sample rate in Hz (default: 16000)")
    b.add_argument("--workers", type=int, default=2, help="engine processes run at once (default: 2)")
    b.add_argument("--no-progress", action="store_true", help="no progress bar")
    b.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tts.corpus.builder import build_corpus

    summary = build_corpus(
        args.out,
        engine=args.engine,
        voice=args.flite_voice,
        n_sentences=args.sentences,
        sample_rate=args.sample_rate,
        workers=args.workers,
        progress=not args.no_progress,
    )
    print(summary.line())
    return 0
