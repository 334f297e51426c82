"""``ganspeech synthesize``: text to a WAV file with either vocoder."""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from tts.errors import UserError

logger = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:
    from vocoders.kinds import GAN_BACKENDS, WAVENET_IMPLS

    p = sub.add_parser("synthesize", help="speak text into a WAV file")
    p.add_argument("text", help="text to speak (any length; '-' reads standard input)")
    p.add_argument("--voice", default=None, help="voice directory (default: the bundled voice)")
    p.add_argument("--vocoder", default="hifigan", help="hifigan (parallel GAN) or wavenet (autoregressive)")
    p.add_argument("--wavenet-impl", default="fast", choices=WAVENET_IMPLS, help="WaveNet sample loop")
    p.add_argument(
        "--gan-backend",
        default="auto",
        choices=GAN_BACKENDS,
        help="HiFi-GAN inference path (default auto: the cheapest to load and run once; "
        "eager: the plain reference)",
    )
    p.add_argument("--speaking-rate", type=float, default=1.0, help="1.0 normal, 2.0 twice as fast")
    p.add_argument("--seed", type=int, default=0, help="seed of WaveNet's sampling")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: all cores)")
    p.add_argument("-o", "--output", default="out.wav", help="output audio file (.wav or .flac)")
    p.add_argument("--json", action="store_true", help="print the timing breakdown as one JSON object")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import sys
    import time

    import torch

    from tts.synthesizer import Synthesizer
    from tts.units import MS_PER_S
    from vocoders.audio import save_audio
    from vocoders.hifigan_fast import ONE_SHOT_BACKEND
    from vocoders.kinds import AUTO

    text = sys.stdin.read() if args.text == "-" else args.text
    out = Path(args.output)
    if out.suffix.lower() not in (".wav", ".flac"):
        raise UserError(f"output {out} must end in .wav or .flac")
    if args.threads is not None:
        if args.threads < 1:
            raise UserError("--threads must be at least 1")
        torch.set_num_threads(args.threads)
    # One run, then exit: tracing at load would cost more than it saves (vocoders.hifigan_fast).
    gan_backend = ONE_SHOT_BACKEND if args.gan_backend == AUTO else args.gan_backend
    start = time.perf_counter()
    synth = Synthesizer.load(
        args.voice, wavenet_impl=args.wavenet_impl, gan_backend=gan_backend, vocoders=(args.vocoder,)
    )
    load_ms = (time.perf_counter() - start) * MS_PER_S
    result = synth.synthesize(text, vocoder=args.vocoder, speaking_rate=args.speaking_rate, seed=args.seed)
    out.parent.mkdir(parents=True, exist_ok=True)
    save_audio(out, result.audio, result.sample_rate)
    if args.json:
        report = result.timings.to_dict()
        report.update(load_ms=load_ms, output=str(out), normalized_text=result.normalized_text)
        print(json.dumps(report))
    else:
        t = result.timings
        print(
            f"wrote {out}: {t.audio_seconds:.2f} s of audio with {args.vocoder} in {t.total_ms:.0f} ms "
            f"(frontend {t.frontend_ms:.0f} ms, text2mel {t.text2mel_ms:.0f} ms, vocoder {t.vocoder_ms:.0f} ms; "
            f"{1 / t.rtf:.1f}x real time) after loading the voice in {load_ms:.0f} ms"
        )
    return 0
