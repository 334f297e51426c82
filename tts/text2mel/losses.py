"""Text-to-mel training losses and the binarisation schedule (pure functions of the model outputs).

Alignment warm-up ("the aligner warms up on its own prior"): the recipe calls
``model(..., use_prior_durations=step < aligner_only_steps)``. During those first steps the decoder
and duration predictor train on the MAS path through the beta-binomial prior alone (a near-uniform
diagonal), while the forward-sum loss trains the aligner; afterwards the durations come from the
aligner's own (prior-biased) soft attention. The binarisation loss is 0 until ``bin_start`` and
then ramps in (:func:`binarization_weight`), pulling the soft attention onto its MAS path.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import torch

from tts.text2mel.alignment import binarization_loss, forward_sum_loss
from tts.text2mel.model import Text2MelOutput

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Text2MelLossWeights:
    """Weights of the summed text-to-mel loss."""

    mel: float = 1.0  # L1 of the decoder output in normalised-mel units
    postnet: float = 1.0  # L1 after the postnet; equal weight, as in Tacotron 2
    # MSE of log(d + 1); FastPitch's 0.1. The predictor's input is detached, so with Adam this
    # weight mostly sets its share of the global gradient-norm clip.
    duration: float = 0.1
    forward_sum: float = 1.0  # the aligner's CTC objective (FastPitch's attention loss scale)
    binarization: float = 1.0  # full strength once binarization_weight has ramped to 1


def binarization_weight(step: int, start: int, ramp_steps: int) -> float:
    """Schedule of the binarisation loss: 0 before ``start``, then linear up to 1 over ``ramp_steps``."""
    if step < start:
        return 0.0
    if ramp_steps <= 0:
        return 1.0
    return min(1.0, (step - start + 1) / ramp_steps)


def masked_l1(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean absolute error over real frames; ``pred``, ``target`` ``(B, C, T)``, ``mask`` ``(B, T)``."""
    m = mask.unsqueeze(1).to(pred.dtype)  # (B, 1, T)
    return (torch.abs(pred - target) * m).sum() / (m.sum() * pred.shape[1]).clamp(min=1.0)


def duration_loss(
    log_dur_pred: torch.Tensor, durations: torch.Tensor, token_mask: torch.Tensor
) -> torch.Tensor:
    """MSE between ``log_dur_pred`` and ``log(durations + 1)`` over real tokens; all ``(B, L)``."""
    m = token_mask.to(log_dur_pred.dtype)
    target = torch.log1p(durations.to(log_dur_pred.dtype))
    return (((log_dur_pred - target) ** 2) * m).sum() / m.sum().clamp(min=1.0)


def text2mel_loss(
    out: Text2MelOutput,
    mels: torch.Tensor,
    mel_lens: torch.Tensor,
    token_lens: torch.Tensor,
    bin_weight: float,
    weights: Text2MelLossWeights = Text2MelLossWeights(),
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Weighted total loss and its unweighted, detached parts.

    ``mels`` ``(B, n_mels, T)`` are the target log-mels given to the model; the mel losses are
    measured in the model's normalised space (divided by ``out.mel_std``). ``bin_weight`` is the
    schedule factor from :func:`binarization_weight`. Parts: mel, postnet, duration, forward_sum,
    binarization.
    """
    scale = out.mel_std.to(mels.dtype)
    target = mels / scale
    mel = masked_l1(out.mel_pred.float() / scale, target, out.mel_mask)
    post = masked_l1(out.mel_post.float() / scale, target, out.mel_mask)
    dur = duration_loss(out.log_dur_pred.float(), out.durations, out.token_mask)
    fs = forward_sum_loss(out.attn_logprob, token_lens, mel_lens)
    binz = binarization_loss(out.attn_hard, out.attn_soft)
    total = (
        weights.mel * mel
        + weights.postnet * post
        + weights.duration * dur
        + weights.forward_sum * fs
        + bin_weight * weights.binarization * binz
    )
    parts = {"mel": mel, "postnet": post, "duration": dur, "forward_sum": fs, "binarization": binz}
    return total, {k: v.detach() for k, v in parts.items()}
