"""HiFi-GAN losses, each checked alone on hand-made inputs."""

from __future__ import annotations

import math

import pytest
import torch

from vocoders.audio import AudioConfig, mel_spectrogram
from vocoders.losses import (
    PWG_RESOLUTIONS,
    HiFiGANLossWeights,
    MultiResolutionSTFTLoss,
    discriminator_loss,
    feature_matching_loss,
    generator_adversarial_loss,
    generator_loss,
    loss_audio_config,
    mel_l1_loss,
    scaled_resolutions,
)

AUDIO = AudioConfig(sample_rate=16000, n_fft=256, hop_length=64, win_length=256, n_mels=20, fmax=4000.0)
N_SAMPLES = 640  # 10 frames of AUDIO


def _tone(n: int = N_SAMPLES, freq: float = 440.0, sample_rate: int = 16000) -> torch.Tensor:
    """A windowed sine ``(1, 1, n)``."""
    t = torch.arange(n) / sample_rate
    return (0.5 * torch.sin(2 * math.pi * freq * t) * torch.hann_window(n, periodic=False)).view(1, 1, n)


def test_discriminator_loss_is_zero_for_a_perfect_discriminator_and_positive_otherwise() -> None:
    real = [torch.ones(2, 5), torch.ones(2, 3)]
    fake = [torch.zeros(2, 5), torch.zeros(2, 3)]
    assert discriminator_loss(real, fake).item() == 0.0
    assert discriminator_loss(real, [torch.full((2, 5), 0.1), torch.zeros(2, 3)]).item() > 0
    # Scores of 0.5 everywhere: (0.5^2 + 0.5^2) per discriminator, summed over two.
    halves = [torch.full((2, 5), 0.5), torch.full((2, 3), 0.5)]
    assert discriminator_loss(halves, halves).item() == pytest.approx(1.0)
    with pytest.raises(ValueError):
        discriminator_loss(real, fake[:1])


def test_generator_adversarial_loss() -> None:
    assert generator_adversarial_loss([torch.ones(2, 4), torch.ones(1, 7)]).item() == 0.0
    # A discriminator sure of the fake (scores 0) costs 1 per discriminator.
    assert generator_adversarial_loss([torch.zeros(2, 4), torch.zeros(1, 7)]).item() == pytest.approx(2.0)


def test_feature_matching_is_zero_for_identical_maps_and_trains_only_the_fake_side() -> None:
    torch.manual_seed(0)
    real = [[torch.randn(2, 4, 9), torch.randn(2, 1, 9)], [torch.randn(2, 8, 3)]]
    same = [[f.clone() for f in layers] for layers in real]
    assert feature_matching_loss(real, same).item() == 0.0
    # Every map offset by 0.25 gives 0.25 per layer, summed over the three layers.
    shifted = [[(f + 0.25).requires_grad_() for f in layers] for layers in real]
    real_leaves = [[f.clone().requires_grad_() for f in layers] for layers in real]
    loss = feature_matching_loss(real_leaves, shifted)
    assert loss.item() == pytest.approx(0.75)
    loss.backward()
    assert all(f.grad is None for layers in real_leaves for f in layers)
    assert all(f.grad is not None for layers in shifted for f in layers)


def test_mel_loss_is_zero_for_the_same_audio_and_positive_for_noise() -> None:
    wav = _tone()
    target = mel_spectrogram(wav.view(1, -1), AUDIO)  # (1, n_mels, 10)
    assert mel_l1_loss(wav, target, AUDIO).item() == pytest.approx(0.0, abs=1e-6)
    torch.manual_seed(1)
    noise = 0.1 * torch.randn_like(wav)
    assert mel_l1_loss(noise, target, AUDIO).item() > 0.5
    with pytest.raises(ValueError):
        mel_l1_loss(wav[..., :-AUDIO.hop_length], target, AUDIO)


def test_mel_loss_uses_the_loss_fmax_for_the_generated_audio() -> None:
    wav = _tone(freq=6000.0)  # above the conditioning fmax of 4 kHz
    nyquist = AUDIO.sample_rate / 2
    loss_cfg = loss_audio_config(AUDIO, fmax_loss=nyquist)
    assert loss_cfg.fmax == nyquist and loss_cfg.hop_length == AUDIO.hop_length
    assert loss_audio_config(AUDIO) is AUDIO
    wide_target = mel_spectrogram(wav.view(1, -1), loss_cfg)
    assert mel_l1_loss(wav, wide_target, AUDIO, fmax_loss=nyquist).item() == pytest.approx(0.0, abs=1e-6)
    # Judged against the narrow-band mel the same target is far off: the two mels really differ.
    assert mel_l1_loss(wav, wide_target, AUDIO).item() > 0.1


def test_mel_loss_gradient_reaches_the_waveform() -> None:
    wav = _tone()
    target = mel_spectrogram(wav.view(1, -1), AUDIO)
    guess = (0.5 * wav).requires_grad_()
    mel_l1_loss(guess, target, AUDIO).backward()
    assert guess.grad is not None and guess.grad.abs().sum() > 0


def test_multi_resolution_stft_loss_ranks_a_small_perturbation_below_noise() -> None:
    torch.manual_seed(2)
    n = 4096  # longer than half the largest FFT (reflect padding)
    wav = _tone(n, freq=300.0) + _tone(n, freq=1250.0)
    loss = MultiResolutionSTFTLoss(scaled_resolutions(16000))
    sc0, mag0 = loss(wav, wav)
    assert sc0.item() == pytest.approx(0.0, abs=1e-6) and mag0.item() == pytest.approx(0.0, abs=1e-6)
    sc_near, mag_near = loss(wav + 0.01 * torch.randn_like(wav), wav)
    sc_far, mag_far = loss(0.3 * torch.randn_like(wav), wav)
    assert 0 < sc_near.item() < sc_far.item()
    assert 0 < mag_near.item() < mag_far.item()
    # (B, T) input gives the same result as (B, 1, T).
    sc_2d, mag_2d = loss(wav.view(1, -1) * 0.9, wav.view(1, -1))
    sc_3d, mag_3d = loss(wav * 0.9, wav)
    torch.testing.assert_close((sc_2d, mag_2d), (sc_3d, mag_3d))


def test_spectral_convergence_of_a_scaled_signal() -> None:
    # S_hat = 0.5 S exactly, so ||S - S_hat|| / ||S|| = 0.5 and |log S - log S_hat| = log 2 wherever
    # the power floor does not bite (a dense noise signal keeps every bin above it).
    torch.manual_seed(3)
    wav = torch.randn(2, 2048)
    sc, mag = MultiResolutionSTFTLoss(((256, 64, 256),))(0.5 * wav, wav)
    assert sc.item() == pytest.approx(0.5, rel=1e-4)
    assert mag.item() == pytest.approx(math.log(2), rel=1e-3)


def test_scaled_resolutions() -> None:
    assert scaled_resolutions(24000) == PWG_RESOLUTIONS
    for n_fft, hop, win in scaled_resolutions(16000):
        assert win <= n_fft and n_fft & (n_fft - 1) == 0 and hop >= 1
    assert scaled_resolutions(16000)[0] == (1024, 80, 400)


def test_generator_loss_applies_the_named_weights() -> None:
    one = torch.tensor(1.0)
    weights = HiFiGANLossWeights()
    assert generator_loss(weights, one, one, one).item() == pytest.approx(1.0 + 2.0 + 45.0)
    # The STFT terms count only when their weight is non-zero.
    assert generator_loss(weights, one, one, one, (one, one)).item() == pytest.approx(48.0)
    with_stft = HiFiGANLossWeights(stft=2.5)
    assert generator_loss(with_stft, one, one, one, (one, 0.5 * one)).item() == pytest.approx(48.0 + 2.5 * 1.5)
