"""``ganspeech gta``: write the text-to-mel model's ground-truth-aligned mels for vocoder fine-tuning."""

from __future__ import annotations

import argparse
import logging

from tts.errors import UserError

logger = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:
    from tts.corpus.gta_defaults import DEFAULT_BATCH_SIZE, DEFAULT_SPLITS

    p = sub.add_parser(
        "gta",
        help="write a voice's ground-truth-aligned mels of a corpus, to fine-tune a vocoder on them",
        description="Run the voice's text-to-mel model teacher-forced on every clip of the corpus splits "
        "and save its predicted log-mels as MEL_DIR/<id>.npy, frame-aligned with the recordings. Then "
        "fine-tune a vocoder on them: ganspeech train hifigan --data CORPUS --out VOICE "
        "--mel-dir MEL_DIR --init-from VOICE --run-dir RUN_DIR",
    )
    p.add_argument("--voice", required=True, help="voice directory holding a trained text2mel model")
    p.add_argument("--data", required=True, help="LJSpeech-format corpus (metadata.csv, wavs/)")
    p.add_argument("--out", required=True, metavar="MEL_DIR", help="directory for the <id>.npy mels")
    p.add_argument(
        "--splits",
        default=",".join(DEFAULT_SPLITS),
        help=f"comma-separated corpus splits (default: {','.join(DEFAULT_SPLITS)})",
    )
    p.add_argument(
        "--batch-size",
        type=int,
        default=DEFAULT_BATCH_SIZE,
        help=f"clips per forward pass (default: {DEFAULT_BATCH_SIZE})",
    )
    p.add_argument("--overwrite", action="store_true", help="recompute mels that are already present")
    p.add_argument("--cpu", action="store_true", help="run on the CPU even if CUDA is available")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=run)


def parse_splits(text: str) -> list[str]:
    splits = [s.strip() for s in text.split(",") if s.strip()]
    if not splits:
        raise UserError(f"--splits {text!r} names no split")
    return splits


def run(args: argparse.Namespace) -> int:
    from tts.corpus.gta import write_gta_mels

    report = write_gta_mels(
        args.voice,
        args.data,
        args.out,
        splits=parse_splits(args.splits),
        batch_size=args.batch_size,
        overwrite=args.overwrite,
        progress=not args.no_progress,
        device="cpu" if args.cpu else None,
    )
    step = f" (text2mel step {report.text2mel_step})" if report.text2mel_step is not None else ""
    print(
        f"wrote {report.written} mels to {report.out_dir}{step}; {report.skipped} already there; "
        f"{report.total} in all, {report.seconds:.1f} s"
    )
    return 0
