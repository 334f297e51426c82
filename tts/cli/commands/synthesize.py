"""``ganspeech synthesize``: text to a WAV file with any vocoder of the voice."""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from tts.errors import UserError

logger = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:
    from vocoders.kinds import GAN_BACKENDS, PARALLEL_PREFERENCE, WAVENET_IMPLS, VocoderKind

    p = sub.add_parser("synthesize", help="speak text into a WAV file")
    p.add_argument("text", help="text to speak (any length; '-' reads standard input)")
    p.add_argument("--voice", default=None, help="voice directory (default: the bundled voice)")
    p.add_argument(
        "--vocoder",
        default=None,
        help=f"{', '.join(kind.value for kind in VocoderKind)}, as the voice offers (default: its preferred "
        f"parallel vocoder, {', else '.join(kind.value for kind in PARALLEL_PREFERENCE)})",
    )
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

    from tts.synthesizer import Synthesizer, preferred_vocoder, voice_vocoders
    from tts.units import MS_PER_S
    from vocoders.audio import save_audio

    text = sys.stdin.read() if args.text == "-" else args.text
    out = Path(args.output)
    if out.suffix.lower() not in (".wav", ".flac"):
        raise UserError(f"output {out} must end in .wav or .flac")
    if args.threads is not None:
        if args.threads < 1:
            raise UserError("--threads must be at least 1")
        torch.set_num_threads(args.threads)
    start = time.perf_counter()
    # Only the vocoder that runs is loaded (WaveNet's fast loop alone costs a numba import).
    vocoder = args.vocoder or preferred_vocoder(voice_vocoders(args.voice))
    synth = Synthesizer.load(
        args.voice,
        wavenet_impl=args.wavenet_impl,
        gan_backend=args.gan_backend,
        vocoders=(vocoder,),
        one_shot=True,  # one run, then exit: compiling at load would cost more than it saves
    )
    load_ms = (time.perf_counter() - start) * MS_PER_S
    result = synth.synthesize(text, vocoder=vocoder, speaking_rate=args.speaking_rate, seed=args.seed)
    out.parent.mkdir(parents=True, exist_ok=True)
    save_audio(out, result.audio, result.sample_rate)
    if args.json:
        report = result.timings.to_dict()
        report.update(load_ms=load_ms, output=str(out), normalized_text=result.normalized_text)
        print(json.dumps(report))
    else:
        t = result.timings
        print(
            f"wrote {out}: {t.audio_seconds:.2f} s of audio with {t.generator} in {t.total_ms:.0f} ms "
            f"(frontend {t.frontend_ms:.0f} ms, text2mel {t.text2mel_ms:.0f} ms, vocoder {t.vocoder_ms:.0f} ms; "
            f"{1 / t.rtf:.1f}x real time) after loading the voice in {load_ms:.0f} ms"
        )
    return 0
