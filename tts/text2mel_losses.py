"""Text-to-mel training losses (pure functions of the model outputs)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from tts.alignment import binarization_loss, forward_sum_loss
from tts.text2mel import Text2MelOutput


@dataclass(frozen=True)
class Text2MelLossWeights:
    mel: float = 1.0  # L1 of the decoder output (normalised mels)
    postnet: float = 1.0  # L1 after the postnet
    duration: float = 0.1  # MSE of log durations; small so it does not dominate early
    forward_sum: float = 1.0  # the aligner's CTC objective
    binarization: float = 1.0  # multiplied by the ramped schedule weight


def binarization_weight(step: int, start: int, ramp_steps: int) -> float:
    """0 before ``start``, then a linear ramp to 1 over ``ramp_steps``."""
    if step < start:
        return 0.0
    return min(1.0, (step - start + 1) / max(ramp_steps, 1))


def masked_l1(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean L1 over real frames; ``pred``/``target`` ``(B, C, T)``, ``mask`` ``(B, T)``."""
    m = mask.unsqueeze(1).to(pred.dtype)
    return (torch.abs(pred - target) * m).sum() / (m.sum() * pred.shape[1]).clamp(min=1.0)


def text2mel_loss(
    out: Text2MelOutput,
    token_lens: torch.Tensor,
    mel_lens: torch.Tensor,
    bin_weight: float,
    weights: Text2MelLossWeights = Text2MelLossWeights(),
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Total loss and its unweighted parts."""
    mel = masked_l1(out.mel_pred, out.mel_target, out.mel_mask)
    post = masked_l1(out.mel_post, out.mel_target, out.mel_mask)
    tm = out.token_mask.float()
    log_dur = torch.log(out.durations.float().clamp(min=1.0))
    dur = (((out.log_dur_pred - log_dur) ** 2) * tm).sum() / tm.sum().clamp(min=1.0)
    fs = forward_sum_loss(out.attn_logprob, token_lens, mel_lens)
    binz = binarization_loss(out.attn_hard, out.attn_soft)
    total = (
        weights.mel * mel
        + weights.postnet * post
        + weights.duration * dur
        + weights.forward_sum * fs
        + bin_weight * weights.binarization * binz
    )
    return total, {"mel": mel.detach(), "postnet": post.detach(), "duration": dur.detach(),
                   "forward_sum": fs.detach(), "binarization": binz.detach()}
