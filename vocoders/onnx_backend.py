"""Parallel GAN vocoders as ONNX graphs, and an ONNX Runtime inference path built from them.

:func:`export_vocoder` writes a HiFi-GAN or Vocos-style generator as an ONNX graph with input
``mel`` ``(1, n_mels, frames)`` and output ``audio`` ``(1, 1, frames * hop)``, the number of frames
free. :class:`OnnxGenerator` runs such a graph in ONNX Runtime and is called like the generator
itself, which is how the adapters offer it as their ``"onnx"`` backend.

HiFi-GAN exports as it is. The Vocos head's ``torch.polar``, ``torch.fft.irfft`` and ``F.fold``
have no ONNX export, so :class:`ExportableVocos` computes the same inverse STFT from operators that
do: the inverse real FFT (times the synthesis window) is one matrix product with fixed cosine and
sine bases, the overlap-add is a transposed convolution with an identity kernel, and the window
envelope is the same transposed convolution of the squared window. It matches the generator to
float rounding (:func:`max_relative_error` is ~1e-6).

``onnx`` and ``onnxruntime`` are the optional ``onnx`` extra: nothing here imports them before an
export or a session is asked for, and :class:`vocoders.base.BackendUnavailable` says how to install
them when they are missing.
"""

from __future__ import annotations

import importlib
import io
import logging
import math
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from vocoders.base import BackendUnavailable
from vocoders.hifigan import HiFiGANGenerator
from vocoders.kinds import ONNX
from vocoders.vocos import MAX_MAGNITUDE, MIN_WINDOW_ENVELOPE, PRIOR_FLOOR, VocosGenerator

logger = logging.getLogger(__name__)

# Opset of the exported graphs: 17 is what ONNX Runtime releases from 1.14 on and most other
# runtimes (sherpa-onnx, onnxruntime-web) run, and it has every operator these graphs use.
OPSET = 17
MEL_INPUT = "mel"
AUDIO_OUTPUT = "audio"
FRAMES_AXIS = "frames"
SAMPLES_AXIS = "samples"
# Frames of the example mel the graphs are traced with; nothing in them depends on it.
TRACE_FRAMES = 24
INSTALL_HINT = "install the ONNX extra: pip install 'ganspeech[onnx]'"


def require(module: str) -> Any:
    """Import ``module`` of the optional ONNX extra; :class:`BackendUnavailable` when it is missing."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise BackendUnavailable(f"{module} is not installed; {INSTALL_HINT}") from None


def _inverse_rfft_bases(n_fft: int, window: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Bases ``(n_fft, n_fft // 2 + 1)`` with ``window * irfft(re + i im) = cos @ re + sin @ im``.

    Built in float64 so the float32 bases carry no accumulated rounding. As ``torch.fft.irfft``
    does, the imaginary parts of the DC and (even ``n_fft``) Nyquist bins are ignored, and every
    other bin counts twice (it stands for its conjugate twin too).
    """
    n_bins = n_fft // 2 + 1
    n = torch.arange(n_fft, dtype=torch.float64).unsqueeze(1)  # (n_fft, 1)
    k = torch.arange(n_bins, dtype=torch.float64).unsqueeze(0)  # (1, n_bins)
    weight = torch.full((1, n_bins), 2.0, dtype=torch.float64)
    weight[0, 0] = 1.0
    if n_fft % 2 == 0:
        weight[0, -1] = 1.0
    angle = 2.0 * math.pi * ((n * k) % n_fft) / n_fft  # reduced mod n_fft: exact angles for large n * k
    scale = weight / n_fft * window.double().unsqueeze(1)
    cos = scale * torch.cos(angle)
    sin = -scale * torch.sin(angle)
    sin[:, 0] = 0.0
    if n_fft % 2 == 0:
        sin[:, -1] = 0.0
    return cos.float(), sin.float()


class ExportableVocos(nn.Module):
    """A :class:`VocosGenerator` whose inverse STFT uses only ONNX-exportable operators.

    Shares the generator's trunk and head; ``(1, n_mels, T)`` -> ``(1, 1, T * hop)``, equal to the
    generator's output to float rounding.
    """

    def __init__(self, generator: VocosGenerator) -> None:
        super().__init__()
        cfg = generator.cfg
        self.generator = generator
        self.n_fft, self.hop = cfg.n_fft, cfg.hop_length
        self.trim = (cfg.n_fft - cfg.hop_length) // 2
        window = generator.window.float()
        cos, sin = _inverse_rfft_bases(cfg.n_fft, window)
        self.register_buffer("cos_basis", cos, persistent=False)
        self.register_buffer("sin_basis", sin, persistent=False)
        # Overlap-add as a transposed convolution: channel c of a frame lands on sample c of its hop.
        self.register_buffer("identity_kernel", torch.eye(cfg.n_fft).unsqueeze(1), persistent=False)
        self.register_buffer("envelope_kernel", window.square().view(1, 1, -1), persistent=False)
        # The generator refuses a hop its window cannot cover on every call; the graph has no such
        # check, so refuse that configuration once, here.
        probe = F.conv_transpose1d(
            torch.ones(1, 1, cfg.n_fft // cfg.hop_length + 2), self.envelope_kernel, stride=self.hop
        )
        if bool((probe[..., self.trim : probe.shape[-1] - self.trim] < MIN_WINDOW_ENVELOPE).any()):
            raise ValueError("the window does not overlap enough for an inverse STFT at this hop")

    def _spectrum(self, mel: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Real and imaginary parts ``(1, n_bins, T)`` of :meth:`VocosGenerator.spectrum`'s output."""
        g = self.generator
        x = g.embed(mel)
        x = g.norm(x.transpose(1, 2)).transpose(1, 2)
        for block in g.blocks:
            x = block(x)
        x = g.head(g.final_norm(x.transpose(1, 2))).transpose(1, 2)  # (1, 2 * n_bins, T)
        log_mag, phase = x.float().chunk(2, dim=1)
        if g.cfg.amplitude_prior:
            prior = torch.matmul(g.prior_basis, mel.float().exp())
            log_mag = log_mag + torch.log(prior.clamp(min=PRIOR_FLOOR))
        mag = torch.exp(log_mag).clamp(max=MAX_MAGNITUDE)
        return mag * torch.cos(phase), mag * torch.sin(phase)

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        """Waveform ``(1, 1, T * hop)`` from log-mel ``(1, n_mels, T)``."""
        real, imag = self._spectrum(mel)
        frames = torch.matmul(self.cos_basis, real) + torch.matmul(self.sin_basis, imag)  # (1, n_fft, T)
        y = F.conv_transpose1d(frames, self.identity_kernel, stride=self.hop)  # (1, 1, (T - 1) * hop + n_fft)
        ones = torch.ones_like(frames[:, :1, :])  # (1, 1, T)
        envelope = F.conv_transpose1d(ones, self.envelope_kernel, stride=self.hop)
        end = y.shape[-1] - self.trim
        wav = y[..., self.trim : end] / envelope[..., self.trim : end]
        return wav.clamp(-1.0, 1.0)


def exportable(generator: nn.Module) -> nn.Module:
    """The module to export for ``generator``; ``ValueError`` for one that is not a parallel GAN generator."""
    if isinstance(generator, VocosGenerator):
        return ExportableVocos(generator).eval()
    if isinstance(generator, HiFiGANGenerator):
        return generator
    raise ValueError(f"no ONNX export for {type(generator).__name__}: only HiFi-GAN and Vocos generators")


def export_vocoder(generator: nn.Module, n_mels: int, target: str | Path | io.BytesIO) -> None:
    """Write ``generator`` (eval mode, weight norm folded) as ONNX to ``target`` (a path or a buffer).

    Input ``mel`` ``(1, n_mels, frames)`` float32, output ``audio`` ``(1, 1, samples)`` float32.
    """
    require("onnx")
    module = exportable(generator)
    example = torch.zeros(1, n_mels, TRACE_FRAMES)
    with warnings.catch_warnings(), torch.no_grad():
        # The tracer warns about Python-level shape checks (check_mel); they hold for every input.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module,
            (example,),
            target,
            input_names=[MEL_INPUT],
            output_names=[AUDIO_OUTPUT],
            dynamic_axes={MEL_INPUT: {2: FRAMES_AXIS}, AUDIO_OUTPUT: {2: SAMPLES_AXIS}},
            opset_version=OPSET,
            dynamo=False,
        )


def session_options(threads: int | None = None) -> Any:
    """ONNX Runtime session options using ``threads`` intra-op threads (default: torch's thread count)."""
    ort = require("onnxruntime")
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or torch.get_num_threads()
    # One operator at a time: the graphs are chains, and a second pool would fight the first.
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return options


class OnnxGenerator:
    """A generator run by ONNX Runtime: mel ``(1, n_mels, T)`` -> audio tensor ``(1, 1, T * hop)``."""

    backend = ONNX

    def __init__(self, model: bytes | str | Path, threads: int | None = None) -> None:
        """``model``: the serialised graph or its path (as :func:`export_vocoder` writes it)."""
        ort = require("onnxruntime")
        source = str(model) if isinstance(model, Path) else model
        self.session = ort.InferenceSession(
            source, session_options(threads), providers=["CPUExecutionProvider"]
        )

    @classmethod
    def from_generator(cls, generator: nn.Module, n_mels: int, threads: int | None = None) -> OnnxGenerator:
        """Export ``generator`` in memory and open a session on it."""
        buffer = io.BytesIO()
        export_vocoder(generator, n_mels, buffer)
        return cls(buffer.getvalue(), threads)

    def __call__(self, mel: torch.Tensor) -> torch.Tensor:
        feed = {MEL_INPUT: np.ascontiguousarray(mel.detach().cpu().numpy(), dtype=np.float32)}
        (audio,) = self.session.run([AUDIO_OUTPUT], feed)
        return torch.from_numpy(audio)


def max_relative_error(reference: np.ndarray, other: np.ndarray) -> float:
    """``max |reference - other| / max |reference|``: the error relative to the signal's scale."""
    scale = float(np.abs(reference).max())
    return float(np.abs(reference - other).max()) / scale if scale > 0 else float(np.abs(other).max())
