"""Aligner building blocks: beta-binomial prior, monotonic alignment search, forward-sum and binarisation losses."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from tts.text2mel.alignment import (
    AlignmentEncoder,
    batch_log_prior,
    beta_binomial_prior,
    binarization_loss,
    durations_from_path,
    forward_sum_loss,
    maximum_path,
)

# Log-probability of a cell the hand-written examples rule out.
IMPOSSIBLE = -9.0


def _full_mask(n_frames: int, n_tokens: int) -> torch.Tensor:
    return torch.ones(1, n_frames, n_tokens, dtype=torch.bool)


def _tokens_of(path: torch.Tensor) -> list[int]:
    """Token index of each frame of a 0/1 path ``(T, L)``."""
    return path.argmax(dim=1).tolist()


def _path_score(logp: np.ndarray, tokens: list[int]) -> float:
    return float(sum(logp[t, j] for t, j in enumerate(tokens)))


def _monotonic_paths(n_frames: int, n_tokens: int) -> list[list[int]]:
    """Every per-frame token list that starts at 0, ends at L-1 and moves by 0 or 1 per frame."""
    paths = []
    for cuts in itertools.combinations(range(1, n_frames), n_tokens - 1):
        bounds = (0, *cuts, n_frames)
        paths.append([j for j in range(n_tokens) for _ in range(bounds[j + 1] - bounds[j])])
    return paths


def test_maximum_path_matches_hand_computed_path() -> None:
    # Frame-wise argmax (0, 2, 1, 2) is not monotonic; the best monotonic path is 0, 1, 1, 2
    # (score -3) against 0, 0, 1, 2 (-9) and 0, 1, 2, 2 (-7).
    logp = torch.tensor(
        [
            [0.0, IMPOSSIBLE, IMPOSSIBLE],
            [IMPOSSIBLE, -3.0, 0.0],
            [IMPOSSIBLE, 0.0, -4.0],
            [IMPOSSIBLE, IMPOSSIBLE, 0.0],
        ]
    ).unsqueeze(0)
    path = maximum_path(logp, _full_mask(4, 3))
    expected = torch.tensor([[1, 0, 0], [0, 1, 0], [0, 1, 0], [0, 0, 1]], dtype=torch.float32)
    assert torch.equal(path[0], expected)
    assert durations_from_path(path).tolist() == [[1, 2, 1]]


def test_maximum_path_second_hand_example() -> None:
    # Best: 0, 1, 1, 2, 2 with every cell -1 (total -5); any other path uses a -2 or worse cell.
    logp = torch.tensor(
        [
            [-1.0, -2.0, IMPOSSIBLE],
            [-2.0, -1.0, IMPOSSIBLE],
            [IMPOSSIBLE, -1.0, -3.0],
            [-3.0, -2.0, -1.0],
            [IMPOSSIBLE, IMPOSSIBLE, -1.0],
        ]
    ).unsqueeze(0)
    path = maximum_path(logp, _full_mask(5, 3))
    assert _tokens_of(path[0]) == [0, 1, 1, 2, 2]
    assert durations_from_path(path).tolist() == [[1, 2, 2]]


@pytest.mark.parametrize(("n_frames", "n_tokens"), [(6, 3), (7, 4), (5, 5), (8, 1)])
def test_maximum_path_is_optimal_over_all_monotonic_paths(n_frames: int, n_tokens: int) -> None:
    rng = np.random.default_rng(n_frames * 10 + n_tokens)
    for _ in range(5):
        logp = rng.normal(size=(n_frames, n_tokens))
        path = maximum_path(torch.from_numpy(logp).unsqueeze(0), _full_mask(n_frames, n_tokens))
        best = max(_path_score(logp, p) for p in _monotonic_paths(n_frames, n_tokens))
        assert _tokens_of(path[0]) in _monotonic_paths(n_frames, n_tokens)
        assert _path_score(logp, _tokens_of(path[0])) == pytest.approx(best)


def test_maximum_path_on_padded_batch() -> None:
    torch.manual_seed(0)
    token_lens = torch.tensor([5, 3, 7, 4])
    mel_lens = torch.tensor([20, 9, 7, 31])
    n_tokens, n_frames = 7, 31
    mask = (torch.arange(n_frames)[None, :, None] < mel_lens[:, None, None]) & (
        torch.arange(n_tokens)[None, None, :] < token_lens[:, None, None]
    )
    path = maximum_path(torch.randn(4, n_frames, n_tokens), mask)
    durations = durations_from_path(path)
    assert torch.equal(durations.sum(dim=1), mel_lens)
    assert path[~mask].abs().sum() == 0
    for b in range(4):
        real = path[b, : int(mel_lens[b]), : int(token_lens[b])]
        assert torch.equal(real.sum(dim=1), torch.ones(int(mel_lens[b])))  # one token per frame
        steps = np.diff(_tokens_of(real))
        assert set(steps.tolist()) <= {0, 1}  # in order, none skipped
        assert (durations[b, : int(token_lens[b])] >= 1).all()
        assert (durations[b, int(token_lens[b]) :] == 0).all()


def test_maximum_path_with_fewer_frames_than_tokens() -> None:
    logp = torch.tensor([[0.0, -1.0, -5.0, -5.0, -5.0], [-5.0, -5.0, -5.0, -1.0, 0.0]]).unsqueeze(0)
    path = maximum_path(logp, _full_mask(2, 5))
    assert torch.equal(path[0].sum(dim=1), torch.ones(2))
    assert _tokens_of(path[0]) == [0, 4]


def test_beta_binomial_prior_is_a_monotonic_diagonal() -> None:
    n_tokens, n_frames = 13, 57
    prior = beta_binomial_prior(n_tokens, n_frames)
    assert prior.shape == (n_frames, n_tokens)
    np.testing.assert_allclose(prior.sum(axis=1), 1.0, rtol=1e-5)
    peaks = prior.argmax(axis=1)
    assert (np.diff(peaks) >= 0).all()
    assert peaks[0] == 0 and peaks[-1] == n_tokens - 1
    assert beta_binomial_prior(n_tokens, n_frames) is prior  # cached by shape
    assert not prior.flags.writeable


def test_batch_log_prior_pads_with_small_values() -> None:
    log_prior = batch_log_prior(torch.tensor([3, 2]), torch.tensor([6, 4]), n_frames=8, n_tokens=5)
    assert log_prior.shape == (2, 8, 5)
    np.testing.assert_allclose(log_prior[1, :4, :2].exp().numpy(), beta_binomial_prior(2, 4), atol=1e-6)
    assert log_prior[1, 4:].max() < math.log(1e-6)


def _onehot_logprob(tokens_per_frame: list[int], n_tokens: int, sharpness: float = 8.0) -> torch.Tensor:
    onehot = F.one_hot(torch.tensor(tokens_per_frame), n_tokens).float()  # (T, L)
    return F.log_softmax(sharpness * onehot, dim=-1)


def test_forward_sum_loss_prefers_diagonal_attention() -> None:
    torch.manual_seed(0)
    n_tokens, n_frames = 6, 18
    diagonal = _onehot_logprob([t * n_tokens // n_frames for t in range(n_frames)], n_tokens)
    uniform_random = F.log_softmax(torch.randn(n_frames, n_tokens), dim=-1)
    lens = (torch.tensor([n_tokens]), torch.tensor([n_frames]))
    diag_loss = forward_sum_loss(diagonal[None, None], *lens)
    random_loss = forward_sum_loss(uniform_random[None, None], *lens)
    assert torch.isfinite(diag_loss) and diag_loss >= 0
    assert diag_loss < 0.5 * random_loss


def test_forward_sum_loss_of_padded_batch_is_mean_of_items() -> None:
    torch.manual_seed(1)
    items = [(4, 11), (7, 15), (2, 5)]
    n_tokens, n_frames = 7, 15
    batch = torch.full((3, 1, n_frames, n_tokens), float("-inf"))
    losses = []
    for b, (n_tok, n_mel) in enumerate(items):
        logp = F.log_softmax(torch.randn(n_mel, n_tok), dim=-1)
        batch[b, 0, :n_mel, :n_tok] = logp
        batch[b, 0, n_mel:, :n_tok] = 0.0  # padded frames must not matter
        losses.append(forward_sum_loss(logp[None, None], torch.tensor([n_tok]), torch.tensor([n_mel])))
    token_lens = torch.tensor([i[0] for i in items])
    mel_lens = torch.tensor([i[1] for i in items])
    batch.requires_grad_(True)
    loss = forward_sum_loss(batch, token_lens, mel_lens)
    assert loss.item() == pytest.approx(torch.stack(losses).mean().item(), rel=1e-5)
    loss.backward()
    assert torch.isfinite(batch.grad).all()


def test_forward_sum_loss_ignores_impossible_items() -> None:
    logp = F.log_softmax(torch.randn(1, 1, 3, 5), dim=-1)  # 3 frames cannot emit 5 tokens
    assert forward_sum_loss(logp, torch.tensor([5]), torch.tensor([3])).item() == 0.0


def test_binarization_loss_hand_value() -> None:
    soft = torch.tensor([[[0.5, 0.5], [0.25, 0.75]]])
    hard = torch.tensor([[[1.0, 0.0], [0.0, 1.0]]])
    expected = -(math.log(0.5) + math.log(0.75)) / 2
    assert binarization_loss(hard, soft).item() == pytest.approx(expected)
    assert binarization_loss(hard, hard).item() == pytest.approx(0.0, abs=1e-6)


def test_alignment_encoder_masks_padded_tokens_and_normalises() -> None:
    torch.manual_seed(0)
    n_mels, text_dim = 10, 6
    aligner = AlignmentEncoder(n_mels, text_dim, attn_dim=4)
    token_lens, mel_lens = torch.tensor([5, 3]), torch.tensor([12, 8])
    token_mask = torch.arange(5)[None] < token_lens[:, None]
    log_prior = batch_log_prior(token_lens, mel_lens, 12, 5)
    soft, logprob = aligner(torch.randn(2, n_mels, 12), torch.randn(2, text_dim, 5), token_mask, log_prior)
    assert soft.shape == logprob.shape == (2, 1, 12, 5)
    torch.testing.assert_close(soft.sum(dim=-1), torch.ones(2, 1, 12))
    assert (soft[1, 0, :, 3:] == 0).all()
    assert torch.isinf(logprob[1, 0, :, 3:]).all()
    assert torch.isfinite(logprob[1, 0, :, :3]).all()


def test_alignment_encoder_prior_makes_untrained_attention_diagonal() -> None:
    torch.manual_seed(0)
    aligner = AlignmentEncoder(n_mels=10, text_dim=6, attn_dim=4)
    n_tokens, n_frames = 8, 40
    log_prior = batch_log_prior(torch.tensor([n_tokens]), torch.tensor([n_frames]), n_frames, n_tokens)
    soft, _ = aligner(
        torch.randn(1, 10, n_frames),
        torch.randn(1, 6, n_tokens),
        torch.ones(1, n_tokens, dtype=torch.bool),
        log_prior,
    )
    peaks = soft[0, 0].argmax(dim=-1)
    assert (peaks.diff() >= 0).all()
    assert peaks[0] == 0 and peaks[-1] == n_tokens - 1
