"""``ganspeech onnx``: a voice's text-to-mel model and GAN vocoders as ONNX graphs with JSON configs."""

from __future__ import annotations

import argparse
import logging

logger = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "onnx",
        help="export a voice's text-to-mel model and GAN vocoders as ONNX (needs the onnx extra)",
        description="Write <model>.onnx and <model>.onnx.json (Piper-style: audio config, espeak voice, "
        "phoneme id map, inputs and outputs) for the text-to-mel model and each parallel GAN vocoder "
        "of the voice, and check each graph against PyTorch. Needs: pip install 'ganspeech[onnx]'.",
    )
    p.add_argument("voice", help="voice directory")
    p.add_argument("--out", required=True, help="output directory")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tts.export.onnx import export_voice

    for model in export_voice(args.voice, args.out):
        print(
            f"{model.kind}: wrote {model.onnx_path} and {model.config_path.name} "
            f"(max relative error vs PyTorch {model.max_relative_error:.1e})"
        )
    return 0
