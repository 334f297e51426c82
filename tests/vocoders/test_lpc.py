"""Linear prediction from the mel: Levinson-Durbin on a known process, prediction of AR-filtered
noise from its own log-mel, and the comparison-only mu-law quantiser the LPC sample loops use."""

from __future__ import annotations

import math

import numpy as np
import torch

from vocoders.audio import AudioConfig, mel_spectrogram
from vocoders.lpc import levinson_durbin, lpc_from_mel, predict
from vocoders.mulaw import mu_law_encode, mu_law_quantize, mu_law_thresholds

AUDIO = AudioConfig(sample_rate=16000, n_fft=256, hop_length=64, win_length=256, n_mels=20)


def ar_autocorrelation(a: tuple[float, float], n_lags: int) -> torch.Tensor:
    """Autocorrelation ``(n_lags + 1,)`` of ``s_t = a1 s_{t-1} + a2 s_{t-2} + w_t`` (Yule-Walker)."""
    a1, a2 = a
    r = [1.0, a1 / (1.0 - a2)]
    for _ in range(2, n_lags + 1):
        r.append(a1 * r[-1] + a2 * r[-2])
    return torch.tensor(r, dtype=torch.float64)


def ar_noise(a: tuple[float, ...], n: int, seed: int = 0) -> np.ndarray:
    """White noise through the all-pole filter ``1 / (1 - sum_k a_k z^-k)``, scaled to peak 0.5."""
    w = np.random.default_rng(seed).standard_normal(n)
    s = np.zeros(n)
    for t in range(n):
        s[t] = w[t] + sum(a[k] * s[t - 1 - k] for k in range(len(a)) if t > k)
    return (0.5 * s / np.abs(s).max()).astype(np.float32)


def test_levinson_durbin_recovers_an_ar2_process() -> None:
    a = (1.2, -0.7)
    r = ar_autocorrelation(a, 4)
    torch.testing.assert_close(
        levinson_durbin(r[:3]), torch.tensor(a, dtype=torch.float64), rtol=0, atol=1e-12
    )
    # Higher orders add nothing to an AR(2) process.
    torch.testing.assert_close(
        levinson_durbin(r), torch.tensor([*a, 0.0, 0.0], dtype=torch.float64), rtol=0, atol=1e-12
    )
    # Batched rows are solved independently; an empty spectrum predicts nothing.
    batch = torch.stack([r, torch.zeros(5, dtype=torch.float64)])
    assert torch.equal(levinson_durbin(batch)[1], torch.zeros(4, dtype=torch.float64))


def test_lpc_from_the_mel_predicts_ar_filtered_noise() -> None:
    # Poles at 0.95 exp(+-0.5j) (a resonance near 1.3 kHz) and at 0.7: a formant-like spectrum.
    a = (2 * 0.95 * math.cos(0.5) + 0.7, -(0.95**2) - 2 * 0.95 * math.cos(0.5) * 0.7, 0.7 * 0.95**2)
    n_frames = 60
    s = torch.from_numpy(ar_noise(a, n_frames * AUDIO.hop_length))[None]  # (1, T)
    mel = mel_spectrogram(s, AUDIO)  # (1, n_mels, n_frames)
    coeffs = lpc_from_mel(mel, AUDIO, order=8)
    assert coeffs.shape == (1, n_frames, 8) and coeffs.dtype == torch.float64
    e = s.double() - predict(s, coeffs, AUDIO.hop_length)
    skip = AUDIO.hop_length  # the first samples have no past to predict from
    gain_db = 10 * math.log10(float((s[:, skip:].double() ** 2).sum() / (e[:, skip:] ** 2).sum()))
    # The true predictor's gain (signal power over innovation power) bounds it from above.
    w = s.double()[:, 3:] - sum(a[k] * s.double()[:, 2 - k : s.shape[1] - 1 - k] for k in range(3))
    ideal_db = 10 * math.log10(float((s[:, 3:].double() ** 2).sum() / (w**2).sum()))
    assert gain_db > 10.0 and gain_db > ideal_db - 6.0, (gain_db, ideal_db)
    # Computed per utterance: the same coefficients alone and in a batch.
    assert torch.equal(lpc_from_mel(torch.cat([mel, mel.flip(-1)]), AUDIO, 8)[:1], coeffs)


def test_predict_sums_the_past_in_order() -> None:
    s = torch.tensor([[1.0, 2.0, 3.0, 4.0]])
    coeffs = torch.tensor([[[0.5, 0.25], [1.0, -1.0]]], dtype=torch.float64)  # 2 frames of hop 2
    p = predict(s, coeffs, hop_length=2)
    assert p.tolist() == [[0.0, 0.5, 3.0 - 2.0, 3.0 * 1.0 - 2.0 * 1.0]]


def test_quantizing_by_class_boundaries_is_mu_law_encoding() -> None:
    th = torch.from_numpy(mu_law_thresholds(256))
    assert th.shape == (255,) and bool((th[1:] > th[:-1]).all())
    x = torch.cat([torch.linspace(-1.2, 1.2, 20001, dtype=torch.float64), torch.zeros(1)])
    assert torch.equal(mu_law_quantize(x, th), mu_law_encode(x))
    # On a boundary itself the upper class (log1p's last bit may round mu_law_encode either way).
    assert torch.equal(mu_law_quantize(th, th), torch.arange(1, 256))
    assert (mu_law_encode(th) - torch.arange(1, 256)).abs().max() <= 1
