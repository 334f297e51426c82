"""Batched vocoding of mels of different lengths: every output equals the mel's own pass."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from vocoders.audio import AudioConfig
from vocoders.base import Vocoder
from vocoders.hifigan import hifigan_config
from vocoders.kinds import VocoderKind
from vocoders.registry import VOCODERS, load_vocoder
from vocoders.serialization import save_model
from vocoders.vocos import vocos_config

AUDIO = AudioConfig(
    sample_rate=16000, n_fft=256, hop_length=64, win_length=256, n_mels=20, fmin=0.0, fmax=8000.0
)
PARALLEL_CONFIGS = {
    VocoderKind.HIFIGAN: hifigan_config("tiny", AUDIO.hop_length, AUDIO.n_mels),
    VocoderKind.VOCOS: vocos_config("tiny", AUDIO),
}
# The longest, shorter ones (their ends meet padding), one shorter than two receptive fields, a tie.
LENGTHS = [60, 41, 5, 60, 27]
# Float rounding: batched and single passes take different kernels, nothing more.
TOLERANCE = 1e-5


@pytest.mark.parametrize("kind", list(PARALLEL_CONFIGS))
def test_a_batch_gives_each_mel_its_own_audio(kind: VocoderKind, tmp_path: Path) -> None:
    torch.manual_seed(0)
    cls = VOCODERS[kind]
    save_model(
        tmp_path / kind.value,
        cls.build_model(PARALLEL_CONFIGS[kind], AUDIO),
        kind.value,
        PARALLEL_CONFIGS[kind],
        AUDIO,
    )
    vocoder = load_vocoder(tmp_path / kind.value, AUDIO)
    mels = [torch.randn(1, AUDIO.n_mels, n) for n in LENGTHS]
    with torch.inference_mode():
        alone = vocoder.vocode(mels)
        batched = vocoder.vocode_batch(mels)
    for n, a, b in zip(LENGTHS, alone, batched):
        assert b.shape == a.shape == (n * AUDIO.hop_length,)
        np.testing.assert_allclose(b, a, atol=TOLERANCE)


def test_only_parallel_vocoders_batch() -> None:
    for cls in VOCODERS.values():
        assert (cls.vocode_batch is not Vocoder.vocode_batch) == cls.parallel
