"""``ganspeech vocode``: copy synthesis, recordings -> their own mel -> a vocoder -> audio."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from tts.errors import UserError

logger = logging.getLogger(__name__)

AUDIO_SUFFIXES = (".wav", ".flac")
OUTPUT_SUFFIX = ".wav"


def register(sub: argparse._SubParsersAction) -> None:
    from vocoders.kinds import COPY_VOCODERS, PARALLEL_PREFERENCE

    p = sub.add_parser(
        "vocode",
        help="resynthesise recordings from their own mel spectrogram (copy synthesis)",
        description="Compute each recording's log-mel exactly as in training (after resampling it to the "
        "voice's rate) and turn it back into audio with a vocoder, so you hear the vocoder alone. "
        "Griffin-Lim needs no trained model.",
    )
    p.add_argument("inputs", nargs="+", metavar="IN", help="audio files (any rate; mono or stereo)")
    p.add_argument("--voice", default=None, help="voice directory (default: the bundled voice)")
    p.add_argument(
        "--vocoder",
        default=None,
        choices=COPY_VOCODERS,
        help="default: the voice's preferred parallel vocoder "
        f"({', else '.join(kind.value for kind in PARALLEL_PREFERENCE)})",
    )
    outputs = p.add_mutually_exclusive_group()
    outputs.add_argument(
        "-o", "--output", default=None, help="output file (.wav or .flac); only with one input"
    )
    outputs.add_argument(
        "--out-dir",
        default=None,
        help="directory for <stem>_<vocoder>.wav outputs (default: current directory)",
    )
    p.add_argument(
        "--seed", type=int, default=0, help="seed of WaveNet's sampling and Griffin-Lim's initial phase"
    )
    p.add_argument("--json", action="store_true", help="print one JSON object per file")
    p.set_defaults(func=run)


def output_paths(inputs: list[Path], vocoder: str, output: str | None, out_dir: str | None) -> list[Path]:
    """Where each input's resynthesis goes; refuses two inputs that would overwrite each other."""
    if output is not None:
        if len(inputs) != 1:
            raise UserError(f"-o names one output but {len(inputs)} inputs were given; use --out-dir")
        out = Path(output)
        if out.suffix.lower() not in AUDIO_SUFFIXES:
            raise UserError(f"output {out} must end in .wav or .flac")
        return [out]
    directory = Path(out_dir) if out_dir is not None else Path(".")
    paths = [directory / f"{p.stem}_{vocoder}{OUTPUT_SUFFIX}" for p in inputs]
    seen: dict[Path, Path] = {}
    for src, dst in zip(inputs, paths):
        if dst in seen:
            raise UserError(f"{seen[dst]} and {src} would both be written to {dst}; rename one")
        seen[dst] = src
    return paths


def run(args: argparse.Namespace) -> int:
    from tts.evaluation.copysynth import (
        GRIFFIN_LIM,
        copy_synthesize,
        default_audio_config,
        generator_name,
        read_recording,
    )
    from tts.units import MS_PER_S
    from tts.voice import read_manifest, resolve_voice_dir
    from vocoders.audio import save_audio

    inputs = [Path(p) for p in args.inputs]
    synth = None
    if args.vocoder == GRIFFIN_LIM:
        # Griffin-Lim needs only the voice's features, so no model is loaded.
        vocoder = GRIFFIN_LIM
        cfg = read_manifest(resolve_voice_dir(args.voice)).audio if args.voice else default_audio_config()
    else:
        from tts.synthesizer import Synthesizer

        synth = Synthesizer.load(args.voice)
        vocoder = synth.check_vocoder(args.vocoder).kind.value
        cfg = synth.audio_config
    outputs = output_paths(inputs, vocoder, args.output, args.out_dir)
    generator = generator_name(vocoder, synth)
    failed = 0
    for src, dst in zip(inputs, outputs):
        try:
            audio = read_recording(src, cfg.sample_rate)
            out, vocoder_ms = copy_synthesize(audio, vocoder, synth, cfg, seed=args.seed)
            dst.parent.mkdir(parents=True, exist_ok=True)
            save_audio(dst, out, cfg.sample_rate)
        except (UserError, OSError) as exc:
            failed += 1
            print(f"ganspeech vocode: error: {exc}", file=sys.stderr)
            continue
        seconds = len(out) / cfg.sample_rate
        rtf = vocoder_ms / MS_PER_S / seconds
        if args.json:
            report = {
                "input": str(src),
                "output": str(dst),
                "vocoder": vocoder,
                "generator": generator,
                "vocoder_ms": vocoder_ms,
                "audio_seconds": seconds,
                "rtf": rtf,
                "sample_rate": cfg.sample_rate,
            }
            print(json.dumps(report), flush=True)
        else:
            print(f"wrote {dst}: {seconds:.2f} s with {generator} in {vocoder_ms:.0f} ms (RTF {rtf:.3f})")
    if failed:
        print(f"ganspeech vocode: {failed} of {len(inputs)} files failed", file=sys.stderr)
    return 1 if failed else 0
