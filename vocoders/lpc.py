"""Linear prediction from the log-mel: the spectral envelope as per-frame prediction coefficients.

An LPC WaveNet (LPCNet, Valin & Skoglund 2019) leaves the spectral shaping to a linear predictor
derived from the mel it is given and models only the prediction residual. The coefficients come
from the mel alone, so training and inference derive them identically:

log-mel ``(B, n_mels, F)`` -> magnitude ``(B, F, n_bins)`` through the transposed, normalised Slaney
filterbank of :func:`vocoders.audio.mel_basis` (each band's mean magnitude spread back over the
bins it covers) -> power -> autocorrelation by ``irfft`` -> lag window and white-noise correction
-> Levinson-Durbin -> predictor ``a`` ``(B, F, order)`` with ``p_t = sum_k a[k - 1] s[t - k]``.

The transposed filterbank rather than the pseudo-inverse: the pseudo-inverse is the minimum-norm
spectrum, negative in about 2% of its bins on the bundled corpus, and both give the same prediction
gain there (order 16, first 8 utterances: 20.8 dB transposed, 20.9 dB pseudo-inverse, 20.9 dB from
the true STFT power), so the one that needs no clamping is used.

Everything runs in float64 on the CPU, one utterance at a time, so an utterance's coefficients do
not depend on the batch it is in.
"""

from __future__ import annotations

import logging
import math

import torch

from vocoders.audio import AudioConfig, mel_basis

logger = logging.getLogger(__name__)

# Power floor relative to each frame's peak bin: keeps the autocorrelation of a spectrum with empty
# bands (silence, band-limited frames) well conditioned without tilting real envelopes.
POWER_FLOOR = 1e-9
# Gaussian lag window of this bandwidth (Hz), as in G.729: widens sharp formant peaks so that the
# predictor stays stable and its gain bounded when the envelope is a coarse estimate.
LAG_WINDOW_HZ = 60.0
# White-noise correction: R[0] scaled by 1 + 1e-4, i.e. a noise floor 40 dB under the signal,
# which bounds the condition number of the Toeplitz system Levinson-Durbin solves.
WHITE_NOISE_CORRECTION = 1.0001
# Guards the divisions by a filter's total weight and by a frame's peak power against zero.
_TINY = 1e-30


def mel_to_power(mel: torch.Tensor, audio: AudioConfig) -> torch.Tensor:
    """Linear power spectrum ``(B, F, n_fft // 2 + 1)`` float64 of log-mel ``(B, n_mels, F)``."""
    w = mel_basis(audio).double()  # (n_mels, n_bins)
    band_mean = torch.exp(mel.double()).transpose(1, 2) / w.sum(dim=1).clamp_min(_TINY)  # (B, F, n_mels)
    coverage = w.sum(dim=0)  # (n_bins,)
    # Edge bins no filter covers (0 Hz with fmin = 0) take the floor below.
    mag = (band_mean @ w) / coverage.clamp_min(_TINY)  # (B, F, n_bins)
    power = mag * mag
    floor = POWER_FLOOR * power.amax(dim=-1, keepdim=True).clamp_min(_TINY)
    return torch.maximum(power, floor)


def autocorrelation(power: torch.Tensor, order: int, sample_rate: int) -> torch.Tensor:
    """Lag-windowed, noise-corrected autocorrelation ``(..., order + 1)`` of power ``(..., n_bins)``."""
    r = torch.fft.irfft(power, dim=-1)[..., : order + 1]
    lags = torch.arange(order + 1, dtype=torch.float64)
    window = torch.exp(-0.5 * (2.0 * math.pi * LAG_WINDOW_HZ * lags / sample_rate) ** 2)
    window[0] = WHITE_NOISE_CORRECTION
    return r * window


def levinson_durbin(r: torch.Tensor) -> torch.Tensor:
    """Predictor ``a`` ``(..., order)`` float64 of autocorrelation ``r`` ``(..., order + 1)``.

    ``a`` minimises ``E[(s_t - sum_k a[k - 1] s_{t - k})^2]`` for a process with autocorrelation
    ``r``. Rows with ``r[0] <= 0`` get all-zero coefficients.
    """
    r = r.double()
    order = r.shape[-1] - 1
    a = torch.zeros(*r.shape[:-1], order, dtype=torch.float64)
    err = r[..., 0].clone()
    ok = err > 0
    err = torch.where(ok, err, torch.ones_like(err))
    for i in range(order):
        # Reflection coefficient: the part of r[i + 1] the order-i predictor does not explain.
        acc = r[..., i + 1] - (a[..., :i] * r[..., 1 : i + 1].flip(-1)).sum(-1)
        k = acc / err
        prev = a[..., :i].clone()
        a[..., :i] = prev - k.unsqueeze(-1) * prev.flip(-1)
        a[..., i] = k
        err = err * (1.0 - k * k)
    return torch.where(ok.unsqueeze(-1), a, torch.zeros_like(a))


def lpc_from_mel(mel: torch.Tensor, audio: AudioConfig, order: int) -> torch.Tensor:
    """Predictor coefficients ``(B, F, order)`` float64 (CPU) of log-mel ``(B, n_mels, F)``.

    Each utterance is computed alone, so its coefficients are the same in any batch.
    """
    mel = mel.detach().to("cpu")
    rows = [
        levinson_durbin(autocorrelation(mel_to_power(m[None], audio), order, audio.sample_rate)) for m in mel
    ]
    return torch.cat(rows) if rows else torch.zeros(0, mel.shape[-1], order, dtype=torch.float64)


def predict(signal: torch.Tensor, coeffs: torch.Tensor, hop_length: int) -> torch.Tensor:
    """Teacher-forced prediction ``p`` ``(B, T)`` float64 of ``signal`` ``(B, T)`` (before sample 0: zeros).

    ``p[t] = a[1] s[t-1] + a[2] s[t-2] + ... + a[order] s[t-order]`` with ``a = coeffs[:, t // hop_length]``
    ``(B, F, order)``, summed in that order in float64, each term rounded as the sample loops round it.
    """
    b, t = signal.shape
    order = coeffs.shape[-1]
    frames = torch.arange(t, device=coeffs.device) // hop_length
    a = coeffs[:, frames].to(signal.device)  # (B, T, order)
    s = signal.double()
    p = torch.zeros(b, t, dtype=torch.float64, device=signal.device)
    for k in range(1, order + 1):
        past = torch.nn.functional.pad(s, (k, 0))[:, :t]  # s[t - k], zero before the start
        p = p + a[..., k - 1] * past
    return p
