"""Anti-wrapping phase losses: blind to whole turns, positive for any other difference."""

from __future__ import annotations

import math

import pytest
import torch

from vocoders.phase_losses import anti_wrap, phase_losses


def _phases(seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return (torch.rand(2, 9, 7, generator=gen) * 2 - 1) * math.pi  # (B, F, T)


def test_anti_wrap_is_the_distance_to_the_nearest_whole_turn() -> None:
    x = torch.tensor([0.0, 2 * math.pi, -4 * math.pi, 0.5, 2 * math.pi + 0.5, -0.5, math.pi - 0.1, math.pi + 0.1])
    expected = torch.tensor([0.0, 0.0, 0.0, 0.5, 0.5, 0.5, math.pi - 0.1, math.pi - 0.1])
    assert torch.allclose(anti_wrap(x), expected, atol=1e-6)


@pytest.mark.parametrize("turns", [1, -1, 3])
def test_phases_that_differ_by_whole_turns_cost_nothing(turns: int) -> None:
    phase = _phases()
    # Whole turns on some bins only: per-bin offsets also change GD and IAF differences by 2*pi*k.
    offsets = torch.randint(-2, 3, phase.shape, generator=torch.Generator().manual_seed(1)) * turns
    losses = phase_losses(phase + 2 * math.pi * offsets, phase, torch.rand(phase.shape) + 0.1)
    for value in (losses.instantaneous, losses.group_delay, losses.frequency):
        assert value.item() == pytest.approx(0.0, abs=1e-5)


def test_any_other_difference_costs_something() -> None:
    phase = _phases()
    other = _phases(seed=3)
    losses = phase_losses(other, phase)
    assert losses.instantaneous > 0.3 and losses.group_delay > 0.3 and losses.frequency > 0.3
    # A constant offset leaves the differences along frequency and time intact: only IP sees it.
    shifted = phase_losses(phase + 0.7, phase)
    assert shifted.instantaneous.item() == pytest.approx(0.7, abs=1e-5)
    assert shifted.group_delay.item() == pytest.approx(0.0, abs=1e-5)
    assert shifted.frequency.item() == pytest.approx(0.0, abs=1e-5)


def test_errors_in_silent_bins_are_not_counted() -> None:
    phase = _phases()
    magnitude = torch.ones_like(phase)
    magnitude[:, 4] = 0.0  # one silent frequency row
    wrong = phase.clone()
    wrong[:, 4] += 1.0
    losses = phase_losses(wrong, phase, magnitude)
    assert losses.instantaneous.item() == pytest.approx(0.0, abs=1e-6)
    assert losses.group_delay.item() == pytest.approx(0.0, abs=1e-6)
    assert phase_losses(wrong, phase).instantaneous > 0


def test_gradients_flow_to_the_prediction() -> None:
    phase = _phases()
    pred = (phase + 0.3).requires_grad_()
    losses = phase_losses(pred, phase)
    (losses.instantaneous + losses.group_delay + losses.frequency).backward()
    assert pred.grad is not None and pred.grad.abs().sum() > 0


def test_shape_mismatch_is_an_error() -> None:
    with pytest.raises(ValueError):
        phase_losses(torch.zeros(1, 4, 4), torch.zeros(1, 4, 5))
    with pytest.raises(ValueError):
        phase_losses(torch.zeros(1, 4, 4), torch.zeros(1, 4, 4), torch.ones(1, 4, 5))
