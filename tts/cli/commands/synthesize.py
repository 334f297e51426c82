"""``ganspeech synthesize``: text or SSML to an audio file with any vocoder of the voice."""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from tts.errors import UserError

logger = logging.getLogger(__name__)

# Output file suffix -> encoding (tts.encoding names), when --encoding is not given.
SUFFIX_ENCODINGS = {
    ".wav": "wav",
    ".flac": "flac",
    ".pcm": "linear16",
    ".raw": "linear16",
    ".ulaw": "mulaw",
    ".mulaw": "mulaw",
    ".alaw": "alaw",
    ".ogg": "ogg_opus",
    ".opus": "ogg_opus",
    ".mp3": "mp3",
}
# torch intra-op threads by default. Loading a voice and speaking a sentence are a few hundred
# small operations; with two threads each one waits at a barrier for the other, and when anything
# else runs on the machine that thread is often descheduled. With two busy background processes on
# two cores, `ganspeech synthesize` of the fox sentence took a median 11.3 s on two threads and
# 2.6 s on one (5 interleaved runs, before scipy left the import path). On an idle machine a second
# thread could save at most part of the ~50 ms vocoder pass.
DEFAULT_THREADS = 1


def register(sub: argparse._SubParsersAction) -> None:
    from vocoders.kinds import GAN_BACKENDS, PARALLEL_PREFERENCE, WAVENET_IMPLS, VocoderKind

    p = sub.add_parser("synthesize", help="speak text or SSML into an audio file")
    p.add_argument("text", help="text or SSML to speak (any length; '-' reads standard input)")
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
    p.add_argument("--pitch", type=float, default=0.0, help="pitch shift in semitones, -12 to +12")
    p.add_argument("--volume-db", type=float, default=0.0, help="volume gain in dB, -96 to +16")
    p.add_argument(
        "--ssml",
        action="store_true",
        help="read the text as SSML (default: only when it starts with <speak>)",
    )
    p.add_argument("--lexicon", default=None, help="pronunciations to use: a file of word<TAB>IPA lines")
    p.add_argument("--seed", type=int, default=0, help="seed of WaveNet's sampling")
    p.add_argument(
        "--threads",
        type=int,
        default=DEFAULT_THREADS,
        help=f"torch CPU threads (default {DEFAULT_THREADS}: fastest for a sentence or two; more speed up "
        "long texts on an idle machine)",
    )
    p.add_argument(
        "-o",
        "--output",
        default="out.wav",
        help=f"output audio file; its suffix picks the encoding ({', '.join(SUFFIX_ENCODINGS)})",
    )
    p.add_argument(
        "--encoding",
        default=None,
        # No choices here: naming them would import numpy and soundfile just to print --help;
        # output_encoding checks the name against what this libsndfile offers.
        help="encoding of the output file, whatever its suffix: linear16, wav, flac, mulaw, alaw, "
        "ogg_opus or mp3 (mulaw and alaw are written at 8 kHz)",
    )
    p.add_argument(
        "--json", action="store_true", help="print the timing breakdown and word timings as one JSON object"
    )
    p.set_defaults(func=run)


def output_encoding(path: Path, encoding: str | None) -> str:
    """The encoding asked for, or the one the suffix of ``path`` names; UserError if it is not available."""
    from tts.encoding import supported_encodings

    if encoding is None:
        encoding = SUFFIX_ENCODINGS.get(path.suffix.lower())
        if encoding is None:
            raise UserError(
                f"output {path} must end in one of {', '.join(SUFFIX_ENCODINGS)}, or give --encoding"
            )
    if encoding not in supported_encodings():
        available = ", ".join(supported_encodings())
        raise UserError(f"encoding {encoding} is not available with this libsndfile; available: {available}")
    return encoding


def run(args: argparse.Namespace) -> int:
    import sys
    import time

    import torch

    from tts.encoding import default_sample_rate, encode
    from tts.frontend.lexicon import Lexicon
    from tts.resample import resample
    from tts.synthesizer import Synthesizer, preferred_vocoder, voice_vocoders
    from tts.units import MS_PER_S

    text = sys.stdin.read() if args.text == "-" else args.text
    out = Path(args.output)
    encoding = output_encoding(out, args.encoding)
    if args.threads < 1:
        raise UserError("--threads must be at least 1")
    torch.set_num_threads(args.threads)
    lexicon = Lexicon.read(args.lexicon) if args.lexicon else None
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
    if lexicon is not None:
        synth.frontend.lexicon = lexicon
    result = synth.synthesize(
        text,
        vocoder=vocoder,
        speaking_rate=args.speaking_rate,
        seed=args.seed,
        pitch=args.pitch,
        volume_gain_db=args.volume_db,
        ssml=True if args.ssml else None,
    )
    rate = default_sample_rate(encoding, result.sample_rate)
    # Timings are in seconds, so they hold at any rate the audio is written at.
    audio = resample(result.audio, result.sample_rate, rate)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(encode(audio, rate, encoding))
    if args.json:
        report = result.timings.to_dict()
        report.update(
            load_ms=load_ms,
            output=str(out),
            encoding=encoding,
            output_sample_rate=rate,
            normalized_text=result.normalized_text,
            words=[w.to_dict() for w in result.words],
            marks=[m.to_dict() for m in result.marks],
        )
        print(json.dumps(report))
    else:
        t = result.timings
        print(
            f"wrote {out}: {t.audio_seconds:.2f} s of audio with {t.generator} in {t.total_ms:.0f} ms "
            f"(frontend {t.frontend_ms:.0f} ms, text2mel {t.text2mel_ms:.0f} ms, "
            f"vocoder {t.vocoder_ms:.0f} ms; "
            f"{1 / t.rtf:.1f}x real time) after loading the voice in {load_ms:.0f} ms"
        )
    return 0
