"""Mu-law companding and quantisation of audio in [-1, 1] to ``n_classes`` integer classes.

Both functions accept a torch tensor or a numpy array and return the same kind. The arithmetic
runs in float64 either way, so torch and numpy callers get identical classes and samples.
"""

from __future__ import annotations

import logging
from typing import TypeVar

import numpy as np
import torch

logger = logging.getLogger(__name__)

ArrayT = TypeVar("ArrayT", torch.Tensor, np.ndarray)

DEFAULT_CLASSES = 256  # 8-bit mu-law, as in the WaveNet paper


def mu_law_encode(x: ArrayT, n_classes: int = DEFAULT_CLASSES) -> ArrayT:
    """Classes in ``[0, n_classes - 1]`` (int64) of audio ``x`` in [-1, 1] (any shape).

    Values outside [-1, 1] are clipped first; rounding is to the nearest class.
    """
    mu = n_classes - 1
    if isinstance(x, torch.Tensor):
        xd = x.double().clamp(-1.0, 1.0)
        y = torch.sign(xd) * torch.log1p(mu * xd.abs()) / np.log1p(mu)
        return torch.floor((y + 1.0) / 2.0 * mu + 0.5).long()
    xa = np.clip(np.asarray(x, dtype=np.float64), -1.0, 1.0)
    ya = np.sign(xa) * np.log1p(mu * np.abs(xa)) / np.log1p(mu)
    return np.floor((ya + 1.0) / 2.0 * mu + 0.5).astype(np.int64)


def mu_law_decode(q: ArrayT, n_classes: int = DEFAULT_CLASSES) -> ArrayT:
    """Float32 audio in [-1, 1] for classes ``q`` (any shape, any integer dtype)."""
    mu = n_classes - 1
    if isinstance(q, torch.Tensor):
        y = 2.0 * q.double() / mu - 1.0
        return (torch.sign(y) * torch.expm1(y.abs() * np.log1p(mu)) / mu).float()
    ya = 2.0 * np.asarray(q, dtype=np.float64) / mu - 1.0
    return (np.sign(ya) * np.expm1(np.abs(ya) * np.log1p(mu)) / mu).astype(np.float32)


def silence_class(n_classes: int = DEFAULT_CLASSES) -> int:
    """The class of 0.0: the autoregressive models' start symbol."""
    return int(mu_law_encode(np.zeros(1), n_classes)[0])


def mu_law_thresholds(n_classes: int = DEFAULT_CLASSES) -> np.ndarray:
    """Class boundaries ``(n_classes - 1,)`` float64, increasing: class ``j + 1`` starts at entry ``j``.

    The amplitudes where :func:`mu_law_encode` rounds half-way between two classes. Counting the
    boundaries at or below ``x`` (:func:`mu_law_quantize`) takes comparisons only, so two sample
    loops that quantise the same float64 value get the same class whatever their ``log1p``.
    """
    mu = n_classes - 1
    y = 2.0 * (np.arange(mu, dtype=np.float64) + 0.5) / mu - 1.0
    return np.sign(y) * np.expm1(np.abs(y) * np.log1p(mu)) / mu


def mu_law_quantize(x: torch.Tensor, thresholds: torch.Tensor) -> torch.Tensor:
    """Classes (int64, shape of ``x``) of float64 ``x``: the boundaries of :func:`mu_law_thresholds`
    at or below each value (values outside [-1, 1] land in the end classes)."""
    return torch.searchsorted(thresholds.to(x.device), x.double().contiguous(), right=True)
