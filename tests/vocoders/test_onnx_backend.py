"""The ONNX graphs of the GAN vocoders, and the "onnx" backend, must reproduce the PyTorch generators."""

from __future__ import annotations

import math
import sys

import numpy as np
import pytest
import torch
from torch import nn

from vocoders.audio import AudioConfig
from vocoders.base import BackendUnavailable
from vocoders.hifigan import HiFiGANGenerator, hifigan_config
from vocoders.hifigan_vocoder import HiFiGANVocoder
from vocoders.onnx_backend import (
    ONNX,
    TRACE_FRAMES,
    ExportableVocos,
    OnnxGenerator,
    max_relative_error,
    require,
)
from vocoders.vocos import VocosConfig, VocosGenerator
from vocoders.vocos_vocoder import VocosVocoder

N_MELS = 12
REL_TOLERANCE = 1e-4  # max|onnx - torch| / max|torch|; float rounding alone gives ~1e-6
MIN_OUTPUT_STD = 0.05  # below this a mismatch could hide in near-silence
# One frame, odd lengths, and lengths either side of the traced example's: the frame axis is free.
FRAME_COUNTS = (1, 7, TRACE_FRAMES + 1, 61)
# (n_fft, hop): the voice's 4x overlap, a 3x one, and an n_fft that is not a multiple of the hop.
ISTFT_SHAPES = ((256, 64), (192, 64), (200, 48))


def _loud_hifigan(seed: int = 0) -> HiFiGANGenerator:
    """A tiny random generator, weight norm folded, rescaled so its output is O(0.1), not near-silent."""
    torch.manual_seed(seed)
    gen = HiFiGANGenerator(hifigan_config("tiny", 64, N_MELS))
    gen.remove_weight_norm()
    with torch.no_grad():
        for m in gen.modules():
            if isinstance(m, (nn.Conv1d, nn.ConvTranspose1d)):
                m.weight.mul_(1.0 / (m.weight.std() * math.sqrt(m.weight[0].numel())))
    return gen.eval()


def _loud_vocos(n_fft: int, hop: int, amplitude_prior: bool = False, seed: int = 0) -> VocosGenerator:
    """A tiny random Vocos whose head predicts spread magnitudes and phases, so every bin matters."""
    torch.manual_seed(seed)
    cfg = VocosConfig(
        n_mels=N_MELS,
        hop_length=hop,
        n_fft=n_fft,
        dim=16,
        intermediate_dim=32,
        num_layers=2,
        amplitude_prior=amplitude_prior,
    )
    audio = AudioConfig(
        sample_rate=16000, n_fft=n_fft, hop_length=hop, win_length=n_fft, n_mels=N_MELS, fmin=0.0, fmax=8000.0
    )
    gen = VocosGenerator(cfg, audio)
    with torch.no_grad():
        gen.head.weight.normal_(0.0, 0.5)
        gen.head.bias.normal_(-2.0, 1.0)
    return gen.eval()


def _check_equal(reference: torch.Tensor, other: torch.Tensor) -> None:
    assert other.shape == reference.shape
    assert reference.std() > MIN_OUTPUT_STD
    assert max_relative_error(reference.numpy(), other.numpy()) < REL_TOLERANCE


@pytest.mark.parametrize(("n_fft", "hop"), ISTFT_SHAPES)
def test_exportable_vocos_equals_the_generator(n_fft: int, hop: int) -> None:
    # No ONNX needed: the export-friendly inverse STFT itself must equal irfft + fold.
    gen = _loud_vocos(n_fft, hop)
    with torch.no_grad():
        for frames in FRAME_COUNTS:
            mel = torch.randn(1, N_MELS, frames)
            _check_equal(gen(mel), ExportableVocos(gen)(mel))


def test_exportable_vocos_refuses_a_hop_the_window_cannot_cover() -> None:
    gen = VocosGenerator(
        VocosConfig(n_mels=N_MELS, hop_length=64, n_fft=64, dim=8, intermediate_dim=8, num_layers=1)
    )
    with pytest.raises(ValueError, match="overlap"):
        ExportableVocos(gen)


@pytest.mark.parametrize(
    ("n_fft", "hop", "amplitude_prior"), [*((n, h, False) for n, h in ISTFT_SHAPES), (*ISTFT_SHAPES[0], True)]
)
def test_vocos_onnx_equals_pytorch_for_any_length(n_fft: int, hop: int, amplitude_prior: bool) -> None:
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    gen = _loud_vocos(n_fft, hop, amplitude_prior)
    session = OnnxGenerator.from_generator(gen, N_MELS)
    with torch.no_grad():
        for frames in FRAME_COUNTS:
            mel = torch.randn(1, N_MELS, frames)
            _check_equal(gen(mel), session(mel))


def test_hifigan_onnx_equals_pytorch_for_any_length() -> None:
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    gen = _loud_hifigan()
    session = OnnxGenerator.from_generator(gen, N_MELS)
    with torch.no_grad():
        for frames in FRAME_COUNTS:
            mel = torch.randn(1, N_MELS, frames)
            _check_equal(gen(mel), session(mel))


def _audio_for(gen: nn.Module) -> AudioConfig:
    hop = gen.cfg.hop_length  # type: ignore[union-attr]
    return AudioConfig(
        sample_rate=16000,
        n_fft=4 * hop,
        hop_length=hop,
        win_length=4 * hop,
        n_mels=N_MELS,
        fmin=0.0,
        fmax=8000.0,
    )


@pytest.mark.parametrize("cls", [HiFiGANVocoder, VocosVocoder])
def test_onnx_backend_vocodes_and_streams_like_eager(cls: type) -> None:
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    gen = _loud_hifigan() if cls is HiFiGANVocoder else _loud_vocos(256, 64)
    eager = cls.from_model(gen, _audio_for(gen), "eager")
    onnx = eager.with_backend(ONNX)
    assert onnx.backend == ONNX and ONNX in onnx.generator_name
    mel = torch.randn(1, N_MELS, 50)
    with torch.inference_mode():
        (reference,) = eager.vocode([mel])
        (audio,) = onnx.vocode([mel])
        streamed = np.concatenate(list(onnx.stream(mel, chunk_frames=16)))
    assert max_relative_error(reference, audio) < REL_TOLERANCE
    assert max_relative_error(reference, streamed) < REL_TOLERANCE


def test_missing_runtime_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # makes `import onnxruntime` fail
    with pytest.raises(BackendUnavailable, match=r"pip install 'ganspeech\[onnx\]'"):
        require("onnxruntime")
    gen = _loud_hifigan()
    with pytest.raises(BackendUnavailable, match="onnxruntime is not installed"):
        HiFiGANVocoder.from_model(gen, _audio_for(gen), ONNX)
