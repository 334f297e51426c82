"""Time a voice's ONNX Runtime paths against its PyTorch ones, and check that they agree.

    python scripts/onnx_speed.py [VOICE_DIR] [--rounds N] [--threads N]

For the text-to-mel model and each parallel GAN vocoder of the voice: the median latency of each
path on the bench's medium sentence, the backends called round-robin (order rotated every round)
so that load from other processes hits them alike, and the largest relative error of the ONNX
output. Needs the onnx extra (pip install 'ganspeech[onnx]').
"""

from __future__ import annotations

import argparse
import io
import statistics
import time
from collections.abc import Callable

import torch

from tts.bench.texts import LENGTH_TEXTS
from tts.export.onnx import export_text2mel, run_text2mel_onnx
from tts.synthesizer import Synthesizer
from vocoders.kinds import VocoderKind
from vocoders.onnx_backend import max_relative_error, require, session_options

TEXT = LENGTH_TEXTS["medium"]
PARALLEL = (VocoderKind.HIFIGAN, VocoderKind.VOCOS)
# PyTorch paths timed against ONNX per kind: the reference and the fastest measured one.
TORCH_BACKENDS = {VocoderKind.HIFIGAN: ("eager", "torchscript"), VocoderKind.VOCOS: ("eager",)}


def round_robin(paths: dict[str, Callable[[], object]], rounds: int) -> dict[str, float]:
    """Median milliseconds of each path, one warm-up call each, then ``rounds`` rotated rounds."""
    names = list(paths)
    for name in names:
        paths[name]()
    times: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            t0 = time.perf_counter()
            paths[name]()
            times[name].append((time.perf_counter() - t0) * 1e3)
    return {name: statistics.median(ms) for name, ms in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("voice", nargs="?", default=None, help="voice directory (default: the bundled voice)")
    parser.add_argument("--rounds", type=int, default=10, help="timed rounds after one warm-up call each")
    parser.add_argument("--threads", type=int, default=None, help="threads for both runtimes")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    ort = require("onnxruntime")
    synth = Synthesizer.load(args.voice)
    (utterance,) = synth.analyze(TEXT)
    tokens = torch.tensor([utterance.ids])
    mel = synth.text_to_mel(utterance)
    audio_s = mel.shape[-1] * synth.audio_config.hop_length / synth.sample_rate
    shape = f"{tokens.shape[1]} tokens, {mel.shape[-1]} frames, {audio_s:.2f} s audio"
    print(f"threads {torch.get_num_threads()}, {shape}")

    buffer = io.BytesIO()
    export_text2mel(synth.text2mel, buffer)
    session = ort.InferenceSession(buffer.getvalue(), session_options(), providers=["CPUExecutionProvider"])
    error = max_relative_error(mel.numpy(), run_text2mel_onnx(session, tokens))
    medians = round_robin(
        {"pytorch": lambda: synth.text_to_mel(utterance), "onnx": lambda: run_text2mel_onnx(session, tokens)},
        args.rounds,
    )
    print(f"text2mel  max rel error {error:.1e}  " + "  ".join(f"{k} {v:.1f} ms" for k, v in medians.items()))

    for kind in (k for k in PARALLEL if k in synth.vocoders):
        vocoder = synth.check_vocoder(kind)
        paths = {b: vocoder.with_backend(b) for b in (*TORCH_BACKENDS[kind], "onnx")}
        reference = paths["eager"].vocode([mel])[0]
        error = max_relative_error(reference, paths["onnx"].vocode([mel])[0])
        with torch.inference_mode():
            medians = round_robin({b: (lambda v=v: v.vocode([mel])) for b, v in paths.items()}, args.rounds)
        figures = "  ".join(
            f"{b} {ms:.1f} ms (x{audio_s * 1e3 / ms:.0f} real time)" for b, ms in medians.items()
        )
        print(f"{kind.value:8s}  max rel error {error:.1e}  {figures}")


if __name__ == "__main__":
    main()
