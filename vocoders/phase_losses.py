"""Anti-wrapping phase losses (APNet, Ai & Ling 2023; NSPP), as pure functions.

A phase is only defined modulo 2π, so a plain L1 between two phases punishes a prediction that is
right up to a whole turn. The anti-wrapping function ``f_AW(x) = |x - 2π · round(x / 2π)|`` maps a
difference to its distance from the nearest multiple of 2π, in ``[0, π]``. On it three losses
compare a predicted phase spectrum ``(B, F, T)`` with the target's:

- instantaneous phase (IP): ``f_AW(φ̂ - φ)`` bin by bin;
- group delay (GD): ``f_AW(Δ_F φ̂ - Δ_F φ)``, the phase difference between neighbouring bins;
- instantaneous angular frequency (IAF): ``f_AW(Δ_T φ̂ - Δ_T φ)``, between neighbouring frames.

The phase of a bin that holds almost no energy is noise and inaudible, so each loss is a mean
weighted by the target magnitude (APNet weights uniformly; weighting follows the observation that
unweighted IP stays at chance level on speech, whose silent bins dominate the count).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import torch

logger = logging.getLogger(__name__)

TWO_PI = 2.0 * math.pi
# Keeps the weighted mean finite when the target is silent everywhere.
WEIGHT_EPS = 1e-8


@dataclass(frozen=True)
class PhaseLosses:
    """The three unweighted phase losses, each a scalar in ``[0, π]``."""

    instantaneous: torch.Tensor
    group_delay: torch.Tensor
    frequency: torch.Tensor


def anti_wrap(x: torch.Tensor) -> torch.Tensor:
    """``|x - 2π · round(x / 2π)|``: the distance of ``x`` from the nearest multiple of 2π, in ``[0, π]``."""
    return torch.abs(x - TWO_PI * torch.round(x / TWO_PI))


def _weighted_mean(values: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    return (values * weights).sum() / (weights.sum() + WEIGHT_EPS)


def phase_losses(
    phase_hat: torch.Tensor, phase: torch.Tensor, magnitude: torch.Tensor | None = None
) -> PhaseLosses:
    """IP, GD and IAF losses of ``phase_hat`` against ``phase``, both ``(B, F, T)`` in radians.

    ``magnitude`` ``(B, F, T)``, the target's, weights every bin (GD and IAF use the smaller of the
    two bins each difference spans, so a difference involving a silent bin counts little);
    ``None`` weights all bins alike.
    """
    if phase_hat.shape != phase.shape:
        raise ValueError(f"phase shapes differ: {tuple(phase_hat.shape)} vs {tuple(phase.shape)}")
    if phase.dim() != 3 or phase.shape[1] < 2 or phase.shape[2] < 2:
        raise ValueError(f"expected phases (B, F >= 2, T >= 2), got {tuple(phase.shape)}")
    weights = torch.ones_like(phase) if magnitude is None else magnitude.detach()
    if weights.shape != phase.shape:
        raise ValueError(f"magnitude {tuple(weights.shape)} does not match phase {tuple(phase.shape)}")
    error = phase_hat - phase
    ip = _weighted_mean(anti_wrap(error), weights)
    gd = _weighted_mean(anti_wrap(torch.diff(error, dim=1)), torch.minimum(weights[:, 1:], weights[:, :-1]))
    iaf = _weighted_mean(
        anti_wrap(torch.diff(error, dim=2)), torch.minimum(weights[:, :, 1:], weights[:, :, :-1])
    )
    return PhaseLosses(instantaneous=ip, group_delay=gd, frequency=iaf)
