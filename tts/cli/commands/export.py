"""``ganspeech export``: every sentence through every vocoder, as audio files and a page to open."""

from __future__ import annotations

import argparse
import logging

from tts.errors import UserError

logger = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:
    from vocoders.kinds import WAVENET_IMPLS

    p = sub.add_parser(
        "export",
        help="write audio samples of each vocoder and an index.html to hear and see them side by side",
        description="Write NNN_<vocoder>.wav|flac and a mel PNG per sentence and vocoder, and index.html "
        "(opens straight from disk). Without TEXT_FILE or --text, a few built-in sentences are spoken.",
    )
    p.add_argument("text_file", nargs="?", default=None, help="text file: one text per non-empty line")
    p.add_argument("--text", action="append", default=[], help="text to speak (repeatable)")
    p.add_argument("--voice", default=None, help="voice directory (default: the bundled voice)")
    p.add_argument(
        "--vocoders", default=None, help="comma-separated vocoders (default: every one of the voice)"
    )
    p.add_argument(
        "--wavenet-impl", default="fast", choices=WAVENET_IMPLS, help="WaveNet sample loop"
    )
    p.add_argument("--format", default="wav", choices=("wav", "flac"), help="audio file format")
    p.add_argument("--seed", type=int, default=0, help="seed of WaveNet's sampling")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: all cores)")
    p.add_argument("--out", default="samples", help="output directory (default: samples)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import torch

    from tts.bench.texts import parse_list
    from tts.export.samples import DEFAULT_TEXTS, export_samples, read_text_file
    from tts.synthesizer import Synthesizer

    texts = (read_text_file(args.text_file) if args.text_file else []) + [t for t in args.text if t.strip()]
    if not texts:
        texts = list(DEFAULT_TEXTS)
    if args.threads is not None:
        if args.threads < 1:
            raise UserError("--threads must be at least 1")
        torch.set_num_threads(args.threads)
    synth = Synthesizer.load(args.voice, wavenet_impl=args.wavenet_impl)
    vocoders = parse_list(args.vocoders) if args.vocoders else None
    result = export_samples(
        synth,
        texts,
        args.out,
        vocoders=vocoders,
        audio_format=args.format,
        seed=args.seed,
        progress=False if args.no_progress else None,
    )
    n_clips = sum(len(s.clips) for s in result.sentences)
    print(
        f"wrote {n_clips} clips of {len(result.sentences)} sentences; "
        f"open {result.index_html.resolve().as_uri()}"
    )
    return 0
