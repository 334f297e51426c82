"""Learned text-to-audio alignment without an external aligner (RAD-TTS / FastPitch style).

A soft aligner scores every (mel frame, token) pair, biased by a diagonal beta-binomial prior; the
forward-sum (CTC) loss trains it to explain every frame by a monotonic token sequence; monotonic
alignment search (MAS, Glow-TTS) turns the soft alignment into hard durations.
"""

from __future__ import annotations

import functools
import logging

import numba
import numpy as np
import torch
import torch.nn.functional as F
from scipy.stats import betabinom
from torch import nn

logger = logging.getLogger(__name__)

# Added before the log of the prior so zero-probability cells stay finite.
PRIOR_EPS = 1e-8
# RAD-TTS's scale of the negative squared distance between query and key.
ALIGNER_TEMPERATURE = 0.0005


@functools.lru_cache(maxsize=4096)
def beta_binomial_prior(n_tokens: int, n_frames: int, scaling: float = 1.0) -> np.ndarray:
    """Diagonal prior ``(n_frames, n_tokens)``: frame i favours tokens near ``i * n_tokens / n_frames``."""
    support = np.arange(n_tokens)
    rows = [
        betabinom(n_tokens - 1, scaling * i, scaling * (n_frames + 1 - i)).pmf(support)
        for i in range(1, n_frames + 1)
    ]
    return np.asarray(rows, dtype=np.float32)


def batch_prior(token_lens: torch.Tensor, mel_lens: torch.Tensor) -> torch.Tensor:
    """Padded priors ``(B, T_max, L_max)`` for a batch (zeros outside each item)."""
    out = torch.zeros(len(token_lens), int(mel_lens.max()), int(token_lens.max()))
    for b, (n_tok, n_mel) in enumerate(zip(token_lens.tolist(), mel_lens.tolist())):
        out[b, :n_mel, :n_tok] = torch.from_numpy(beta_binomial_prior(n_tok, n_mel))
    return out


@numba.njit(cache=True)
def _mas(logp: np.ndarray, n_frames: int, n_tokens: int) -> np.ndarray:  # pragma: no cover - numba
    path = np.zeros(logp.shape, dtype=np.float32)
    value = np.full((n_frames, n_tokens), -np.inf)
    value[0, 0] = logp[0, 0]
    for t in range(1, n_frames):
        for j in range(min(n_tokens, t + 1)):
            stay = value[t - 1, j]
            move = value[t - 1, j - 1] if j > 0 else -np.inf
            value[t, j] = max(stay, move) + logp[t, j]
    j = n_tokens - 1
    for t in range(n_frames - 1, -1, -1):
        path[t, j] = 1.0
        # Move to the previous token when forced (j == t) or when it scores at least as well.
        if t > 0 and j > 0 and (j == t or value[t - 1, j - 1] >= value[t - 1, j]):
            j -= 1
    return path


def maximum_path(log_attn: torch.Tensor, token_lens: torch.Tensor, mel_lens: torch.Tensor) -> torch.Tensor:
    """Monotonic alignment search: hard 0/1 alignment ``(B, T, L)`` from log scores ``(B, T, L)``.

    Every frame goes to exactly one token, tokens in order, every token gets at least one frame
    (items need ``mel_len >= token_len``; the data loader drops those that do not).
    """
    scores = log_attn.detach().float().cpu().numpy()
    out = np.zeros_like(scores, dtype=np.float32)
    for b, (n_tok, n_mel) in enumerate(zip(token_lens.tolist(), mel_lens.tolist())):
        if n_mel < n_tok:
            raise ValueError(f"item {b}: {n_mel} frames cannot align {n_tok} tokens")
        out[b, :n_mel, :n_tok] = _mas(np.ascontiguousarray(scores[b, :n_mel, :n_tok]), n_mel, n_tok)
    return torch.from_numpy(out).to(log_attn.device)


def durations_from_path(path: torch.Tensor) -> torch.Tensor:
    """Frames per token ``(B, L)`` of a hard alignment ``(B, T, L)``."""
    return path.sum(dim=1).long()


def forward_sum_loss(
    attn_logprob: torch.Tensor, token_lens: torch.Tensor, mel_lens: torch.Tensor, blank_logprob: float = -1.0
) -> torch.Tensor:
    """RAD-TTS forward-sum loss: CTC of the token sequence 1..L given per-frame scores.

    ``attn_logprob``: ``(B, 1, T, L)``. A blank column is prepended so CTC's blank symbol exists.
    """
    padded = F.pad(attn_logprob, (1, 0), value=blank_logprob)  # (B, 1, T, L + 1)
    total = attn_logprob.new_zeros(())
    for b in range(padded.shape[0]):
        n_tok, n_mel = int(token_lens[b]), int(mel_lens[b])
        target = torch.arange(1, n_tok + 1, device=padded.device).unsqueeze(0)  # (1, L)
        scores = padded[b, 0, :n_mel, : n_tok + 1].unsqueeze(1)  # (T, 1, L + 1): CTC's (time, batch, class)
        scores = F.log_softmax(scores, dim=-1)
        total = total + F.ctc_loss(
            scores,
            target,
            input_lengths=torch.tensor([n_mel]),
            target_lengths=torch.tensor([n_tok]),
            zero_infinity=True,
        )
    return total / padded.shape[0]


def binarization_loss(hard: torch.Tensor, soft: torch.Tensor) -> torch.Tensor:
    """``-mean log soft`` over the hard path's cells; both ``(B, T, L)``."""
    log_soft = torch.log(torch.clamp(soft[hard == 1], min=1e-12))
    return -log_soft.sum() / hard.sum().clamp(min=1.0)


class AlignmentEncoder(nn.Module):
    """RAD-TTS aligner: distance between projected mel frames and projected token embeddings."""

    def __init__(self, n_mels: int, text_dim: int, attn_dim: int) -> None:
        super().__init__()
        self.key_proj = nn.Sequential(
            nn.Conv1d(text_dim, 2 * text_dim, 3, padding=1), nn.ReLU(), nn.Conv1d(2 * text_dim, attn_dim, 1)
        )
        self.query_proj = nn.Sequential(
            nn.Conv1d(n_mels, 2 * n_mels, 3, padding=1),
            nn.ReLU(),
            nn.Conv1d(2 * n_mels, n_mels, 1),
            nn.ReLU(),
            nn.Conv1d(n_mels, attn_dim, 1),
        )

    def forward(
        self, mels: torch.Tensor, text: torch.Tensor, token_mask: torch.Tensor, prior: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Soft alignment and its log scores, both ``(B, 1, T, L)``.

        ``mels`` ``(B, n_mels, T)``, ``text`` ``(B, text_dim, L)``, ``token_mask`` ``(B, L)`` True
        on real tokens, ``prior`` ``(B, T, L)``.
        """
        q = self.query_proj(mels).transpose(1, 2)  # (B, T, A)
        k = self.key_proj(text).transpose(1, 2)  # (B, L, A)
        # ||q - k||^2 expanded, so the (B, A, T, L) difference tensor is never built.
        dist = (q * q).sum(-1, keepdim=True) - 2 * torch.bmm(q, k.transpose(1, 2)) + (k * k).sum(-1).unsqueeze(1)
        scores = F.log_softmax(-ALIGNER_TEMPERATURE * dist, dim=-1) + torch.log(prior + PRIOR_EPS)
        scores = scores.masked_fill(~token_mask.unsqueeze(1), float("-inf")).unsqueeze(1)  # (B, 1, T, L)
        soft = torch.softmax(scores, dim=-1)
        return soft, scores
