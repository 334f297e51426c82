"""Griffin-Lim: exact output length, mel inversion, and reconstruction far better than noise."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vocoders.audio import AUDIO_PRESETS, AudioConfig, linear_magnitude, mel_basis, mel_spectrogram
from vocoders.griffinlim import griffin_lim, griffin_lim_from_mel, mel_to_linear

TINY = AudioConfig(
    sample_rate=16000, n_fft=256, hop_length=64, win_length=256, n_mels=20, fmin=0.0, fmax=8000.0
)
SHORT_WINDOW = AudioConfig(
    sample_rate=16000, n_fft=512, hop_length=128, win_length=384, n_mels=40, fmax=8000.0
)


def harmonic_chirp(sample_rate: int, seconds: float = 0.5) -> torch.Tensor:
    """A voiced-like test signal ``(1, T)``: 8 harmonics of a pitch gliding 150 -> 250 Hz."""
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    phase = 2 * np.pi * np.cumsum(150 + 200 * t) / sample_rate
    wav = sum(np.sin(k * phase) / k for k in range(1, 9)) * 0.3
    return torch.from_numpy(wav.astype(np.float32))[None]


def spectral_convergence(reference: torch.Tensor, estimate: torch.Tensor) -> float:
    return float(torch.linalg.norm(reference - estimate) / torch.linalg.norm(reference))


@pytest.mark.parametrize(
    "cfg", [TINY, AUDIO_PRESETS["16k"], SHORT_WINDOW], ids=["tiny", "16k", "short-window"]
)
def test_output_has_exactly_frames_times_hop_samples(cfg: AudioConfig) -> None:
    mel = torch.randn(2, cfg.n_mels, 17) - 4.0
    wav = griffin_lim_from_mel(mel, cfg, n_iter=3)
    assert wav.shape == (2, 17 * cfg.hop_length)
    assert torch.isfinite(wav).all()


def test_unbatched_mel_and_seed_reproducibility() -> None:
    mel = mel_spectrogram(harmonic_chirp(TINY.sample_rate), TINY)[0]  # (n_mels, T)
    a = griffin_lim_from_mel(mel, TINY, n_iter=5, seed=3)
    b = griffin_lim_from_mel(mel, TINY, n_iter=5, seed=3)
    c = griffin_lim_from_mel(mel, TINY, n_iter=5, seed=4)
    assert a.shape == (1, mel.shape[-1] * TINY.hop_length)
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_wrong_mel_width_is_refused() -> None:
    with pytest.raises(ValueError, match="n_mels|shape"):
        griffin_lim_from_mel(torch.zeros(1, TINY.n_mels + 1, 4), TINY)


def test_mel_inversion_is_nonnegative_and_reproduces_the_mel() -> None:
    wav = harmonic_chirp(TINY.sample_rate)
    mel = mel_spectrogram(wav, TINY)
    linear = mel_to_linear(mel, TINY)
    assert linear.shape == linear_magnitude(wav, TINY).shape
    assert (linear >= 0).all()
    remelled = torch.matmul(mel_basis(TINY), linear)  # (B, n_mels, T)
    assert spectral_convergence(torch.exp(mel), remelled) < 0.1


def test_fast_griffin_lim_converges_on_a_true_magnitude_and_momentum_helps() -> None:
    cfg = AUDIO_PRESETS["16k"]
    magnitude = linear_magnitude(harmonic_chirp(cfg.sample_rate), cfg)
    fast = griffin_lim(magnitude, cfg, n_iter=30, momentum=0.99, generator=torch.Generator().manual_seed(0))
    plain = griffin_lim(magnitude, cfg, n_iter=30, momentum=0.0, generator=torch.Generator().manual_seed(0))
    sc_fast = spectral_convergence(magnitude, linear_magnitude(fast, cfg))
    sc_plain = spectral_convergence(magnitude, linear_magnitude(plain, cfg))
    assert sc_fast < 0.15
    assert sc_fast < sc_plain


@pytest.mark.parametrize("cfg", [TINY, AUDIO_PRESETS["16k"]], ids=["tiny", "16k"])
def test_reconstruction_from_mel_is_far_closer_than_noise(cfg: AudioConfig) -> None:
    wav = harmonic_chirp(cfg.sample_rate)
    mel = mel_spectrogram(wav, cfg)
    rebuilt = griffin_lim_from_mel(mel, cfg)
    noise = torch.randn(wav.shape, generator=torch.Generator().manual_seed(0)) * wav.std()
    target = torch.exp(mel)
    sc_rebuilt = spectral_convergence(target, torch.exp(mel_spectrogram(rebuilt, cfg)))
    sc_noise = spectral_convergence(target, torch.exp(mel_spectrogram(noise, cfg)))
    assert sc_noise > 0.8
    assert sc_rebuilt < 0.3
    assert sc_rebuilt < sc_noise / 4
    # The linear spectrum is only as good as the mel inversion allows, but still far from noise.
    linear = linear_magnitude(wav, cfg)
    assert spectral_convergence(linear, linear_magnitude(rebuilt, cfg)) < 0.6 * spectral_convergence(
        linear, linear_magnitude(noise, cfg)
    )
