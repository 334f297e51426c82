"""``ganspeech train text2mel|hifigan|vocos|wavenet``: the training recipes."""

from __future__ import annotations

import argparse
import logging

logger = logging.getLogger(__name__)

MODELS = ("text2mel", "hifigan", "vocos", "wavenet")
# Mirrors tts.training.precision.Precision; repeated so building the parser imports no torch.
PRECISIONS = ("auto", "fp32", "bf16")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train",
        help="train one model of a voice on an LJSpeech-format corpus",
        description="Train a model into a voice directory (its manifest is updated at every checkpoint). "
        "Multi-GPU/multi-process: torchrun --nproc_per_node N -m tts.cli train ...",
    )
    p.add_argument("model", choices=MODELS)
    p.add_argument("--data", required=True, help="LJSpeech-format corpus (metadata.csv, wavs/)")
    p.add_argument("--out", required=True, help="voice directory to write the model into")
    p.add_argument("--config", default=None, help="model preset (text2mel: tiny|small|base; "
                   "hifigan: v1|v2|v3|tiny; vocos: base|small|tiny; wavenet: tiny|small|base, "
                   "or tiny-lpc|small-lpc with linear prediction)")
    p.add_argument("--run-dir", default=None, help="training state folder (default runs/<voice>/<model>)")
    p.add_argument("--max-steps", type=int, default=None, help="stop at this step")
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--resume", action="store_true", help="continue from the run folder's checkpoint")
    p.add_argument("--init-from", default=None, help="voice directory whose weights initialise the model")
    p.add_argument(
        "--init-cpu-hours",
        type=float,
        default=None,
        help="CPU hours already spent on the --init-from weights, counted on in metrics.jsonl "
        "(default: what their metadata records, else 0)",
    )
    p.add_argument("--audio", default="16k", help="audio preset of a new voice: 16k | ljspeech")
    p.add_argument("--language", default="en-us", help="espeak-ng language of the frontend")
    p.add_argument("--name", default=None, help="voice name (default: the output directory name)")
    p.add_argument("--checkpoint-every", type=int, default=None)
    p.add_argument("--validate-every", type=int, default=None)
    p.add_argument("--seed", type=int, default=1234)
    p.add_argument("--cpu", action="store_true", help="train on the CPU even if CUDA is available")
    p.add_argument("--half-weights", action="store_true", help="export inference weights as float16")
    p.add_argument("--warmup-steps", type=int, default=None, help="hifigan, vocos: generator-only warm-up steps")
    p.add_argument(
        "--disc-width", type=float, default=None, help="hifigan, vocos: discriminator width multiplier"
    )
    p.add_argument(
        "--precision",
        choices=PRECISIONS,
        default="auto",
        help="auto (default): bf16 autocast where the GPU or CPU computes bf16 natively, else fp32",
    )
    p.add_argument("--mel-dir", default=None, help="vocoders: train on predicted mels <id>.npy from here")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tts.training.run import TrainRequest, run_training

    request = TrainRequest(**{k: v for k, v in vars(args).items() if k in TrainRequest.__dataclass_fields__})
    result = run_training(request)
    status = "interrupted (checkpoint saved)" if result.interrupted else "finished"
    print(f"{args.model} training {status} at step {result.step}; voice: {args.out}")
    return 0
