"""HiFi-GAN training losses as pure functions, plus Parallel WaveGAN's multi-resolution STFT loss.

The generator objective is a weighted sum of the terms below; the weights live in
:class:`HiFiGANLossWeights` (HiFi-GAN hard-codes the factor 2 of the feature-matching loss
inside the function and the 45 of the mel loss in the training script; here both are explicit).
Adversarial losses are least-squares GAN (LSGAN) losses, as in HiFi-GAN.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from vocoders.audio import AudioConfig, mel_spectrogram

logger = logging.getLogger(__name__)

# Floor under the STFT power before its square root: keeps log and gradient finite in silence
# (Parallel WaveGAN's clamp value).
STFT_POWER_FLOOR = 1e-7

# Parallel WaveGAN's (n_fft, hop, win) resolutions, tuned at 24 kHz.
PWG_RESOLUTIONS: tuple[tuple[int, int, int], ...] = ((1024, 120, 600), (2048, 240, 1200), (512, 50, 240))
PWG_SAMPLE_RATE = 24000


@dataclass(frozen=True)
class HiFiGANLossWeights:
    """Weights of the generator loss terms (the published HiFi-GAN values)."""

    mel: float = 45.0  # L1 on log-mel; dominates early training and fixes the spectral envelope
    feature_matching: float = 2.0  # L1 between discriminator features of real and generated audio
    adversarial: float = 1.0  # LSGAN generator term
    stft: float = 0.0  # multi-resolution STFT (sc + mag); HiFi-GAN does not use it, PWG-style runs may


def discriminator_loss(real_outs: Sequence[torch.Tensor], fake_outs: Sequence[torch.Tensor]) -> torch.Tensor:
    """LSGAN discriminator loss: sum over discriminators of ``mean((1 - D(x))^2) + mean(D(G(s))^2)``.

    ``real_outs`` / ``fake_outs``: per discriminator, its scores ``(B, N_d)``. Returns a scalar.
    """
    if len(real_outs) != len(fake_outs) or not real_outs:
        raise ValueError(f"need as many real as fake outputs, got {len(real_outs)} and {len(fake_outs)}")
    terms = [torch.mean((1.0 - r) ** 2) + torch.mean(g**2) for r, g in zip(real_outs, fake_outs)]
    return torch.stack(terms).sum()


def generator_adversarial_loss(fake_outs: Sequence[torch.Tensor]) -> torch.Tensor:
    """LSGAN generator loss: sum over discriminators of ``mean((1 - D(G(s)))^2)``. Returns a scalar."""
    if not fake_outs:
        raise ValueError("need at least one discriminator output")
    return torch.stack([torch.mean((1.0 - g) ** 2) for g in fake_outs]).sum()


def feature_matching_loss(
    real_fmaps: Sequence[Sequence[torch.Tensor]], fake_fmaps: Sequence[Sequence[torch.Tensor]]
) -> torch.Tensor:
    """Sum over discriminators and layers of the mean L1 distance between feature maps (unweighted).

    The real features are detached: they are the target the generator moves towards, and this
    loss must not train the discriminator. Returns a scalar.
    """
    if len(real_fmaps) != len(fake_fmaps) or not real_fmaps:
        counts = f"{len(real_fmaps)} and {len(fake_fmaps)}"
        raise ValueError(f"need equally many real and fake feature lists, got {counts}")
    total = []
    for rs, gs in zip(real_fmaps, fake_fmaps):
        if len(rs) != len(gs):
            raise ValueError(f"a discriminator gave {len(rs)} real but {len(gs)} fake feature maps")
        total.extend(torch.mean(torch.abs(r.detach() - g)) for r, g in zip(rs, gs))
    return torch.stack(total).sum()


def loss_audio_config(audio_cfg: AudioConfig, fmax_loss: float | None = None) -> AudioConfig:
    """The audio config of the mel used in the mel loss.

    HiFi-GAN's loss mel spans up to Nyquist (its ``fmax_for_loss=None``): pass
    ``fmax_loss=sample_rate / 2`` for that. ``None`` keeps the conditioning mel's ``fmax``.
    Targets for :func:`mel_l1_loss` must be computed with this same config.
    """
    if fmax_loss is None or fmax_loss == audio_cfg.fmax:
        return audio_cfg
    return dataclasses.replace(audio_cfg, fmax=fmax_loss)


def mel_l1_loss(
    wav_hat: torch.Tensor,
    mel_target: torch.Tensor,
    audio_cfg: AudioConfig,
    fmax_loss: float | None = None,
) -> torch.Tensor:
    """Mean L1 between the log-mel of ``wav_hat`` ``(B, 1, T)`` and ``mel_target`` ``(B, n_mels, F)``.

    ``F = T // hop``: the target is the mel of the reference audio the generator imitates.

    The mel of ``wav_hat`` is computed with :func:`loss_audio_config` ``(audio_cfg, fmax_loss)``;
    ``mel_target`` must come from that same config. Returns an unweighted scalar.
    """
    cfg = loss_audio_config(audio_cfg, fmax_loss)
    if wav_hat.dim() == 3:
        wav_hat = wav_hat.squeeze(1)  # (B, 1, T) -> (B, T)
    mel_hat = mel_spectrogram(wav_hat, cfg)
    if mel_hat.shape != mel_target.shape:
        # A silent crop would hide an off-by-a-frame bug in the data pipeline.
        raise ValueError(f"mel of generated audio {tuple(mel_hat.shape)} != target {tuple(mel_target.shape)}")
    return F.l1_loss(mel_hat, mel_target)


def scaled_resolutions(
    sample_rate: int, resolutions: Sequence[tuple[int, int, int]] = PWG_RESOLUTIONS
) -> tuple[tuple[int, int, int], ...]:
    """``resolutions`` (tuned at 24 kHz) with hop and window scaled to ``sample_rate``.

    The FFT size is scaled too and rounded up to a power of two (at least the window), so the
    resolutions are unchanged at 24 kHz. At 16 kHz: (1024, 80, 400), (2048, 160, 800), (512, 33, 160).
    """
    ratio = sample_rate / PWG_SAMPLE_RATE
    out = []
    for n_fft, hop, win in resolutions:
        new_win = max(1, round(win * ratio))
        new_hop = max(1, round(hop * ratio))
        new_fft = 1 << (max(new_win, round(n_fft * ratio)) - 1).bit_length()
        out.append((new_fft, new_hop, new_win))
    return tuple(out)


class MultiResolutionSTFTLoss(nn.Module):
    """Spectral convergence and log-magnitude L1, averaged over several STFT resolutions.

    Parallel WaveGAN (Yamamoto et al., 2020): for each ``(n_fft, hop, win)``,
    ``sc = ||S - S_hat||_F / ||S||_F`` and ``mag = mean |log S - log S_hat|`` with ``S`` the STFT
    magnitude. The signal must be longer than ``n_fft / 2`` samples (reflect padding).
    """

    def __init__(self, resolutions: Sequence[tuple[int, int, int]] = PWG_RESOLUTIONS) -> None:
        super().__init__()
        if not resolutions:
            raise ValueError("need at least one STFT resolution")
        for n_fft, hop, win in resolutions:
            if win > n_fft or hop < 1:
                raise ValueError(f"bad STFT resolution (n_fft {n_fft}, hop {hop}, win {win})")
        self.resolutions = tuple(tuple(r) for r in resolutions)
        for i, (_, _, win) in enumerate(self.resolutions):
            # Buffers follow the module across devices and stay out of the state dict.
            self.register_buffer(f"window_{i}", torch.hann_window(win), persistent=False)

    def _magnitude(self, wav: torch.Tensor, i: int) -> torch.Tensor:
        n_fft, hop, win = self.resolutions[i]
        window = getattr(self, f"window_{i}")
        spec = torch.stft(wav, n_fft, hop_length=hop, win_length=win, window=window, return_complex=True)
        power = spec.real.pow(2) + spec.imag.pow(2)
        return torch.sqrt(torch.clamp(power, min=STFT_POWER_FLOOR))  # (B, n_fft // 2 + 1, frames)

    def forward(self, wav_hat: torch.Tensor, wav: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(sc, mag)`` for generated ``wav_hat`` and reference ``wav``, each ``(B, 1, T)`` or ``(B, T)``.

        Both are unweighted scalars, averaged over the resolutions.
        """
        if wav_hat.shape != wav.shape:
            raise ValueError(f"shapes differ: {tuple(wav_hat.shape)} vs {tuple(wav.shape)}")
        if wav.dim() == 3:
            wav_hat, wav = wav_hat.squeeze(1), wav.squeeze(1)  # (B, 1, T) -> (B, T)
        sc_total = wav.new_zeros(())
        mag_total = wav.new_zeros(())
        for i in range(len(self.resolutions)):
            s_hat = self._magnitude(wav_hat, i)
            s = self._magnitude(wav, i)
            sc_total = sc_total + torch.linalg.norm(s - s_hat) / torch.linalg.norm(s)
            mag_total = mag_total + F.l1_loss(torch.log(s_hat), torch.log(s))
        n = len(self.resolutions)
        return sc_total / n, mag_total / n


def generator_loss(
    weights: HiFiGANLossWeights,
    adversarial: torch.Tensor,
    feature_matching: torch.Tensor,
    mel: torch.Tensor,
    stft: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> torch.Tensor:
    """The weighted generator objective from its unweighted terms (``stft`` is ``(sc, mag)``)."""
    total = weights.adversarial * adversarial + weights.feature_matching * feature_matching
    total = total + weights.mel * mel
    if stft is not None and weights.stft:
        total = total + weights.stft * (stft[0] + stft[1])
    return total
