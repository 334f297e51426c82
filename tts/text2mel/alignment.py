"""Learned text-to-audio alignment without an external aligner (RAD-TTS / FastPitch style).

A soft aligner scores every (mel frame, token) pair, biased by a diagonal beta-binomial prior; the
forward-sum (CTC) loss trains it to explain every frame by the token sequence in order; monotonic
alignment search (MAS, Glow-TTS) turns the soft alignment into hard 0/1 alignments whose column
sums are the token durations; the binarisation loss pulls the soft alignment towards the hard one.
"""

from __future__ import annotations

import functools
import logging

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

logger = logging.getLogger(__name__)

# Added to the prior before its log so cells the prior rules out stay finite (RAD-TTS's value).
PRIOR_EPS = 1e-8
# Scale of the negative squared query-key distance; RAD-TTS's value, tuned for mel-sized vectors.
ALIGNER_TEMPERATURE = 0.0005
# Shapes whose prior is kept; a (600 x 150) prior is 360 kB, so this bounds the cache near 100 MB
# on long-sentence corpora while still covering most of a small corpus's distinct shapes.
PRIOR_CACHE_SIZE = 256
# Stands in for log(0) on padded tokens inside the CTC loss: finite, so no NaN gradients.
CTC_MASKED_LOGPROB = -1e4
# Floor of the soft alignment under a log, so a zero probability costs a large but finite loss.
BINARIZATION_EPS = 1e-12


@functools.lru_cache(maxsize=PRIOR_CACHE_SIZE)
def beta_binomial_prior(n_tokens: int, n_frames: int, scaling: float = 1.0) -> np.ndarray:
    """Diagonal alignment prior ``(n_frames, n_tokens)`` (RAD-TTS / FastPitch); each row sums to 1.

    Frame ``i`` (1-based) is a beta-binomial over token indices with ``a = scaling * i`` and
    ``b = scaling * (n_frames + 1 - i)``, so its mass slides from the first token to the last.
    Cached by shape; the returned array is read-only because callers share it.
    """
    # Imported here: scipy.stats is slow to import and only training builds priors.
    from scipy.stats import betabinom

    if n_tokens < 1 or n_frames < 1:
        raise ValueError(f"prior needs at least one token and one frame, got {n_tokens}, {n_frames}")
    frames = np.arange(1, n_frames + 1, dtype=np.float64)[:, None]  # (T, 1)
    tokens = np.arange(n_tokens)[None, :]  # (1, L)
    prior = betabinom(n_tokens - 1, scaling * frames, scaling * (n_frames + 1 - frames)).pmf(tokens)
    prior = prior.astype(np.float32)
    prior.flags.writeable = False
    return prior


def batch_log_prior(
    token_lens: torch.Tensor, mel_lens: torch.Tensor, n_frames: int, n_tokens: int, scaling: float = 1.0
) -> torch.Tensor:
    """Log of the padded priors ``(B, n_frames, n_tokens)``; cells outside an item hold log(PRIOR_EPS)."""
    prior = torch.zeros(len(token_lens), n_frames, n_tokens)
    for b, (n_tok, n_mel) in enumerate(zip(token_lens.tolist(), mel_lens.tolist())):
        item = beta_binomial_prior(int(n_tok), int(n_mel), float(scaling))
        prior[b, :n_mel, :n_tok] = torch.from_numpy(item.copy())
    return torch.log(prior + PRIOR_EPS)


def maximum_path(log_attn: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Monotonic alignment search: hard 0/1 alignment ``(B, T_mel, L)`` maximising the summed log scores.

    ``log_attn`` ``(B, T_mel, L)`` log scores; ``mask`` ``(B, T_mel, L)`` true on (real frame, real
    token) cells, i.e. the outer product of each item's frame and token masks. Every real frame gets
    exactly one token, tokens never go backwards, and when ``T_mel >= L`` the path starts at the first
    token, ends at the last and gives every token at least one frame. With fewer frames than tokens
    each frame gets a different token (some tokens get none). Padded cells are 0. No gradient.
    """
    # Imported here: the numba kernels (and numba itself) are needed by training only, not by inference.
    from tts.text2mel.mas import mas_every_token, mas_fewer_frames

    scores = log_attn.detach().float().cpu().numpy()
    valid = mask.detach().bool().cpu().numpy()
    out = np.zeros(scores.shape, dtype=np.float32)
    for b in range(scores.shape[0]):
        n_frames = int(valid[b].any(axis=1).sum())
        n_tokens = int(valid[b].any(axis=0).sum())
        if n_frames == 0 or n_tokens == 0:
            continue
        item = np.ascontiguousarray(scores[b, :n_frames, :n_tokens], dtype=np.float64)
        solve = mas_every_token if n_frames >= n_tokens else mas_fewer_frames
        out[b, :n_frames, :n_tokens] = solve(item)
    return torch.from_numpy(out).to(device=log_attn.device, dtype=log_attn.dtype)


def durations_from_path(path: torch.Tensor) -> torch.Tensor:
    """Frames per token ``(B, L)`` (long) of a hard alignment ``(B, T_mel, L)``."""
    return path.sum(dim=1).round().long()


def forward_sum_loss(
    attn_logprob: torch.Tensor, token_lens: torch.Tensor, mel_lens: torch.Tensor, blank_logprob: float = -1.0
) -> torch.Tensor:
    """RAD-TTS forward-sum loss: CTC likelihood of tokens ``1..L`` in order given the alignment scores.

    ``attn_logprob`` ``(B, 1, T_mel, L)`` (``-inf`` allowed on padded tokens); a blank column of
    ``blank_logprob`` is prepended because CTC needs a blank class, and each frame's scores are
    renormalised over the item's real tokens plus blank. Per-item losses are divided by the token
    count (CTC's "mean") and averaged over the batch; impossible items (``T_mel < L``) count 0.
    """
    logp = attn_logprob.squeeze(1).float()  # (B, T, L)
    n_batch, _, n_tokens = logp.shape
    token_lens = token_lens.to(logp.device).long()
    mel_lens = mel_lens.to(logp.device).long()
    token_mask = torch.arange(n_tokens, device=logp.device).unsqueeze(0) < token_lens.unsqueeze(1)  # (B, L)
    # Padded tokens get a finite tiny score instead of -inf so the softmax below has no NaN
    # gradients; it equals slicing each item to its own tokens up to exp(CTC_MASKED_LOGPROB).
    logp = logp.masked_fill(~token_mask.unsqueeze(1), CTC_MASKED_LOGPROB)
    logp = F.pad(logp, (1, 0), value=blank_logprob)  # (B, T, L + 1), class 0 is blank
    logp = F.log_softmax(logp, dim=-1).transpose(0, 1)  # (T, B, L + 1): CTC's (time, batch, class)
    targets = torch.arange(1, n_tokens + 1, device=logp.device).repeat(n_batch, 1)  # (B, L)
    return F.ctc_loss(
        logp, targets, input_lengths=mel_lens, target_lengths=token_lens, reduction="mean", zero_infinity=True
    )


def binarization_loss(hard: torch.Tensor, soft: torch.Tensor) -> torch.Tensor:
    """``-sum(log soft[hard == 1]) / sum(hard)``: pulls the soft alignment ``(B, T, L)`` onto the hard one."""
    log_soft = torch.log(torch.clamp(soft[hard == 1], min=BINARIZATION_EPS))
    return -log_soft.sum() / hard.sum().clamp(min=1.0)


class AlignmentEncoder(nn.Module):
    """RAD-TTS aligner: squared distance between projected mel frames and projected token embeddings.

    Keys are a small conv stack over token embeddings, queries one over mel frames; the scores
    ``-ALIGNER_TEMPERATURE * ||q - k||^2`` are log-softmaxed over tokens and the log prior is added.
    """

    def __init__(self, n_mels: int, text_dim: int, attn_dim: int) -> None:
        super().__init__()
        # Widths and kernels as in RAD-TTS: a 3-wide conv for local context, then 1x1 projections.
        self.key_proj = nn.Sequential(
            nn.Conv1d(text_dim, 2 * text_dim, 3, padding=1),
            nn.ReLU(),
            nn.Conv1d(2 * text_dim, attn_dim, 1),
        )
        self.query_proj = nn.Sequential(
            nn.Conv1d(n_mels, 2 * n_mels, 3, padding=1),
            nn.ReLU(),
            nn.Conv1d(2 * n_mels, n_mels, 1),
            nn.ReLU(),
            nn.Conv1d(n_mels, attn_dim, 1),
        )

    def forward(
        self,
        mels: torch.Tensor,
        text: torch.Tensor,
        token_mask: torch.Tensor,
        log_prior: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Soft alignment ``attn_soft`` and its log scores ``attn_logprob``, both ``(B, 1, T, L)``.

        ``mels`` ``(B, n_mels, T)`` (zeros past each item's end), ``text`` token embeddings
        ``(B, text_dim, L)``, ``token_mask`` ``(B, L)`` true on real tokens, ``log_prior``
        ``(B, T, L)`` or None. ``attn_logprob`` is ``-inf`` on padded tokens; ``attn_soft`` sums to 1
        over each frame's real tokens.
        """
        # The distance of 80-dimensional vectors scaled by 5e-4 loses too much in bfloat16.
        with torch.autocast(mels.device.type, enabled=False):
            q = self.query_proj(mels.float()).transpose(1, 2)  # (B, A, T) -> (B, T, A)
            k = self.key_proj(text.float()).transpose(1, 2)  # (B, A, L) -> (B, L, A)
            # ||q - k||^2 expanded, so the (B, T, L, A) difference tensor is never built.
            dist = (
                (q * q).sum(-1, keepdim=True)
                - 2 * torch.bmm(q, k.transpose(1, 2))
                + (k * k).sum(-1).unsqueeze(1)
            )
            scores = (-ALIGNER_TEMPERATURE * dist).masked_fill(~token_mask.unsqueeze(1), float("-inf"))
            scores = F.log_softmax(scores, dim=-1)  # (B, T, L), normalised over real tokens only
            if log_prior is not None:
                scores = scores + log_prior
            scores = scores.unsqueeze(1)  # (B, 1, T, L)
            soft = torch.softmax(scores, dim=-1)
        return soft, scores
