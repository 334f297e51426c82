"""Griffin-Lim: a model-free vocoder that turns a log-mel back into a waveform.

Two steps:

1. Log-mel -> linear magnitude. The Slaney mel basis ``B`` ``(n_mels, F)`` has fewer rows than
   frequency bins, so ``B @ S = M`` is underdetermined; :func:`mel_to_linear` takes the
   minimum-norm least-squares solution (``torch.linalg.lstsq``, i.e. the pseudo-inverse) and
   clamps it at zero, since a magnitude cannot be negative.
2. Magnitude -> phase with fast Griffin-Lim (Perraudin, Balazs & Sondergaard, 2013): alternate
   projections onto the set of spectrograms with the target magnitude and the set of consistent
   spectrograms (those that are the STFT of some signal), extrapolating each consistent estimate
   by ``momentum`` times its change since the last iteration.

The STFT framing is :mod:`vocoders.audio`'s (reflect padding of ``(n_fft - hop) / 2``,
``center=False``), so ``T`` frames give exactly ``T * hop`` samples, like the neural vocoders.
It is the quality floor of the evaluation: whatever a neural vocoder adds over it is learned.
"""

from __future__ import annotations

import logging

import torch
import torch.nn.functional as F

from vocoders.audio import AudioConfig, mel_basis

logger = logging.getLogger(__name__)

# 60 iterations of the accelerated algorithm: more buys little audible quality.
DEFAULT_ITERATIONS = 60
# Perraudin et al.'s recommended extrapolation weight (also librosa's default).
DEFAULT_MOMENTUM = 0.99
# Keeps the phase normalisation finite where a bin's magnitude is exactly zero.
PHASE_EPS = 1e-8
# Overlap-add envelope values below this are treated as "no window covers this sample".
ENVELOPE_FLOOR = 1e-8


def mel_to_linear(mel: torch.Tensor, cfg: AudioConfig) -> torch.Tensor:
    """Linear magnitude ``(B, n_fft // 2 + 1, T)`` whose mel is closest to ``exp(mel)``.

    ``mel`` is a natural-log Slaney mel magnitude ``(B, n_mels, T)``, as
    :func:`vocoders.audio.mel_spectrogram` computes it.
    """
    basis = mel_basis(cfg).to(torch.float64)  # (n_mels, F)
    target = torch.exp(mel.to(torch.float64))  # (B, n_mels, T)
    batch, n_mels, frames = target.shape
    # Solve every frame of every item at once: columns of the right-hand side are frames.
    rhs = target.permute(1, 0, 2).reshape(n_mels, batch * frames)  # (n_mels, B*T)
    # gelsd is the SVD driver: it returns the minimum-norm solution of this rank-deficient system.
    solution = torch.linalg.lstsq(basis, rhs, driver="gelsd").solution  # (F, B*T)
    linear = solution.reshape(-1, batch, frames).permute(1, 0, 2)  # (F, B, T) -> (B, F, T)
    return linear.clamp_min(0.0).to(mel.dtype)


class _Stft:
    """Forward and inverse STFT with :mod:`vocoders.audio`'s framing, on padded signals."""

    def __init__(self, cfg: AudioConfig, dtype: torch.dtype) -> None:
        self.cfg = cfg
        self.pad = (cfg.n_fft - cfg.hop_length) // 2
        self.window = torch.hann_window(cfg.win_length, dtype=dtype)
        # torch.stft centres a shorter window inside n_fft; the inverse must use the same placement.
        left = (cfg.n_fft - cfg.win_length) // 2
        self.full_window = F.pad(self.window, (left, cfg.n_fft - cfg.win_length - left))  # (n_fft,)

    def padded_length(self, frames: int) -> int:
        return (frames - 1) * self.cfg.hop_length + self.cfg.n_fft

    def forward(self, padded: torch.Tensor) -> torch.Tensor:
        """Complex STFT ``(B, F, T)`` of ``padded`` ``(B, padded_length(T))``."""
        cfg = self.cfg
        return torch.stft(
            padded,
            cfg.n_fft,
            hop_length=cfg.hop_length,
            win_length=cfg.win_length,
            window=self.window,
            center=False,
            onesided=True,
            return_complex=True,
        )

    def inverse(self, spec: torch.Tensor) -> torch.Tensor:
        """Least-squares signal ``(B, padded_length(T))`` of a complex STFT ``(B, F, T)``.

        Weighted overlap-add divided by the summed squared window (Griffin & Lim's estimate);
        written out because ``torch.istft`` refuses ``center=False`` with a Hann window, whose
        envelope is zero at the very first sample.
        """
        cfg = self.cfg
        frames = spec.shape[-1]
        length = self.padded_length(frames)
        segments = torch.fft.irfft(spec, n=cfg.n_fft, dim=1) * self.full_window[:, None]  # (B, n_fft, T)
        fold = {"output_size": (1, length), "kernel_size": (1, cfg.n_fft), "stride": (1, cfg.hop_length)}
        signal = F.fold(segments, **fold).reshape(spec.shape[0], length)  # (B, 1, 1, L) -> (B, L)
        squared = self.full_window.pow(2)[None, :, None].expand(1, cfg.n_fft, frames)  # (1, n_fft, T)
        envelope = F.fold(squared, **fold).reshape(1, length)  # (1, 1, 1, L) -> (1, L)
        return signal / torch.where(envelope > ENVELOPE_FLOOR, envelope, torch.ones_like(envelope))


def _impose(magnitude: torch.Tensor, spec: torch.Tensor) -> torch.Tensor:
    """``spec``'s phase with ``magnitude``: the projection onto spectrograms of that magnitude."""
    return magnitude * spec / (spec.abs() + PHASE_EPS)


def griffin_lim(
    magnitude: torch.Tensor,
    cfg: AudioConfig,
    n_iter: int = DEFAULT_ITERATIONS,
    momentum: float = DEFAULT_MOMENTUM,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Waveform ``(B, T * hop)`` whose STFT magnitude approximates ``magnitude`` ``(B, F, T)``.

    Starts from random phase (``generator`` makes it reproducible). ``momentum=0`` is the plain
    Griffin-Lim algorithm.
    """
    if n_iter < 0:
        raise ValueError(f"n_iter must be >= 0, got {n_iter}")
    if not 0.0 <= momentum < 2.0:
        raise ValueError(f"momentum must be in [0, 2), got {momentum}")
    stft = _Stft(cfg, magnitude.dtype)
    phase = torch.rand(magnitude.shape, generator=generator, dtype=magnitude.dtype) * (2 * torch.pi)
    estimate = torch.polar(magnitude, phase)  # (B, F, T) complex: the extrapolated point t_n
    previous = None
    for _ in range(n_iter):
        # c_n = P_consistent(P_magnitude(t_{n-1})), then t_n = c_n + momentum * (c_n - c_{n-1}).
        consistent = stft.forward(stft.inverse(_impose(magnitude, estimate)))
        estimate = consistent if previous is None else consistent + momentum * (consistent - previous)
        previous = consistent
    padded = stft.inverse(_impose(magnitude, estimate))  # (B, T * hop + 2 * pad)
    frames = magnitude.shape[-1]
    return padded[:, stft.pad : stft.pad + frames * cfg.hop_length]


def griffin_lim_from_mel(
    mel: torch.Tensor,
    cfg: AudioConfig,
    n_iter: int = DEFAULT_ITERATIONS,
    momentum: float = DEFAULT_MOMENTUM,
    seed: int = 0,
) -> torch.Tensor:
    """Waveform ``(B, T * hop)`` from a log-mel ``(B, n_mels, T)`` (or ``(n_mels, T)``)."""
    if mel.dim() == 2:
        mel = mel.unsqueeze(0)
    if mel.dim() != 3 or mel.shape[1] != cfg.n_mels:
        raise ValueError(f"expected a mel of shape (B, {cfg.n_mels}, T), got {tuple(mel.shape)}")
    mel = mel.detach().to("cpu", torch.float32)
    with torch.no_grad():
        magnitude = mel_to_linear(mel, cfg)
        return griffin_lim(magnitude, cfg, n_iter, momentum, torch.Generator().manual_seed(seed))
