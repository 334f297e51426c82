"""``ganspeech pack``: copy a trained voice into a directory for distribution (float16 weights)."""

from __future__ import annotations

import argparse
import logging

logger = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "pack",
        help="copy a trained voice for distribution, weights stored as float16",
        description="Copy a voice directory's manifest, models and model card into OUT, storing "
        "floating-point weights as float16 (half the size; loading casts them back to float32). "
        "Training state is never part of a voice.",
    )
    p.add_argument("voice", help="trained voice directory")
    p.add_argument("--out", required=True, help="directory to write the packed voice into")
    p.add_argument("--name", default=None, help="voice name in the packed manifest")
    p.add_argument("--description", default=None, help="description in the packed manifest")
    p.add_argument("--float32", action="store_true", help="keep the weights as stored")
    p.add_argument(
        "--wavenet-temperature",
        type=float,
        default=None,
        help="WaveNet sampling temperature stored in the packed manifest (default: the voice's own); "
        "choose it with `ganspeech eval --split val --wavenet-temperature T`",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tts.voice import check_temperature, pack_voice

    if args.wavenet_temperature is not None:
        check_temperature(args.wavenet_temperature, "--wavenet-temperature")
    manifest = pack_voice(
        args.voice,
        args.out,
        half=not args.float32,
        name=args.name,
        description=args.description,
        wavenet_temperature=args.wavenet_temperature,
    )
    print(f"packed voice {manifest.name!r} ({', '.join(manifest.models)}) into {args.out}")
    return 0
