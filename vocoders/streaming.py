"""Chunked HiFi-GAN vocoding whose concatenated output equals the whole-utterance output.

The generator is fully convolutional, so an output sample depends only on mel frames within a
fixed distance: its receptive field. :func:`stream_vocode` vocodes each chunk of frames
together with ``context_frames`` of real mel on both sides and keeps only the samples of the
chunk itself. When the context covers the receptive field (the default,
:func:`receptive_field_frames`), every kept sample sees exactly the inputs it sees in the
whole-utterance pass, so the stream matches it up to float rounding. At the utterance edges no
context exists and none is needed: there the whole pass sees the same zero padding as the chunk.

Cost: each chunk recomputes up to ``2 * context_frames`` frames, i.e. a factor of about
``(chunk + 2 * context) / chunk`` over one whole pass; time-to-first-audio is the cost of the
first chunk alone, which ``first_chunk_frames`` can keep small.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import torch

from vocoders.hifigan import POST_KERNEL, PRE_KERNEL, HiFiGANConfig, HiFiGANGenerator, upsample_padding

logger = logging.getLogger(__name__)


def _mrf_reach(cfg: HiFiGANConfig) -> int:
    """One-sided reach, in samples of its own level, of one multi-receptive-field fusion block."""
    reaches = []
    for kernel, dilations in zip(cfg.resblock_kernel_sizes, cfg.resblock_dilation_sizes):
        half = (kernel - 1) // 2
        if cfg.resblock == "1":
            # Each dilation adds a dilated conv and an undilated one in series.
            reaches.append(sum(d * half + half for d in dilations))
        else:
            reaches.append(sum(d * half for d in dilations))
    # The branches run in parallel, so the widest one decides.
    return max(reaches)


def receptive_field_frames(cfg: HiFiGANConfig) -> int:
    """Context frames on each side that make a chunk's samples equal the whole-utterance ones.

    Walks from the samples of one frame back to the mel, tracking the interval of positions
    they depend on at every level: conv_post and each MRF widen it by their half-widths; a
    transposed conv (rate ``u``, kernel ``k``, padding ``p``) maps output positions ``[lo, hi]``
    to inputs ``[ceil((lo + p - k + 1) / u), floor((hi + p) / u)]``; conv_pre widens it in frames.
    It is not enough that the mel frames in reach lie inside the chunk: every intermediate
    position in reach must exist in the chunk's own pass too (a transposed conv's overhang past
    the chunk edge is cut off there, but feeds the next layer in the whole pass), so the result
    is the largest reach over all levels, each converted to whole frames. At hop 256 it is 13
    frames for V1 and 11 for V3; with the tiny preset at hop 64, 9.
    """
    mrf = _mrf_reach(cfg)
    samples_per_frame = cfg.hop_length
    lo, hi = 0, samples_per_frame - 1  # the samples of frame 0
    lo, hi = lo - POST_KERNEL // 2, hi + POST_KERNEL // 2
    left = right = 0
    for rate, kernel in zip(reversed(cfg.upsample_rates), reversed(cfg.upsample_kernel_sizes)):
        lo, hi = lo - mrf, hi + mrf
        # Positions needed at this level, in whole frames before / after frame 0 (ceil for left).
        left = max(left, -(lo // samples_per_frame))
        right = max(right, hi // samples_per_frame)
        pad, _ = upsample_padding(rate, kernel)
        lo, hi = -((-(lo + pad - kernel + 1)) // rate), (hi + pad) // rate
        samples_per_frame //= rate
    lo, hi = lo - PRE_KERNEL // 2, hi + PRE_KERNEL // 2
    return max(left, right, -lo, hi)


def chunk_spans(
    n_frames: int, chunk_frames: int, first_chunk_frames: int | None = None
) -> list[tuple[int, int]]:
    """``[start, end)`` spans tiling ``n_frames``: ``first_chunk_frames``, then ``chunk_frames`` each."""
    if chunk_frames < 1:
        raise ValueError(f"chunk_frames must be >= 1, got {chunk_frames}")
    if first_chunk_frames is not None and first_chunk_frames < 1:
        raise ValueError(f"first_chunk_frames must be >= 1, got {first_chunk_frames}")
    spans = []
    start = 0
    size = first_chunk_frames or chunk_frames
    while start < n_frames:
        end = min(n_frames, start + size)
        spans.append((start, end))
        start, size = end, chunk_frames
    return spans


def stream_vocode(
    generator: HiFiGANGenerator,
    mel: torch.Tensor,
    chunk_frames: int,
    context_frames: int | None = None,
    first_chunk_frames: int | None = None,
) -> Iterator[torch.Tensor]:
    """Yield waveform chunks ``(1, 1, n_i * hop)`` of mel ``(1, n_mels, T)``, in order.

    Their concatenation along the last axis is ``generator(mel)`` ``(1, 1, T * hop)``: exactly,
    up to float rounding, when ``context_frames`` is at least :func:`receptive_field_frames`
    (the default); a smaller context is cheaper but the seams then differ slightly. The first
    chunk holds ``first_chunk_frames`` (default ``chunk_frames``) frames, the rest
    ``chunk_frames``, the last whatever remains. Runs without autograd; use a generator whose
    weight norm is removed for speed (the output is the same either way).
    """
    if mel.dim() != 3 or mel.shape[0] != 1:
        raise ValueError(f"expected one mel (1, n_mels, T), got {tuple(mel.shape)}")
    if context_frames is None:
        context_frames = receptive_field_frames(generator.cfg)
    if context_frames < 0:
        raise ValueError(f"context_frames must be >= 0, got {context_frames}")
    n_frames = mel.shape[-1]
    hop = generator.hop_length
    spans = chunk_spans(n_frames, chunk_frames, first_chunk_frames)
    logger.debug("streaming %d frames: %d chunks, %d context frames", n_frames, len(spans), context_frames)
    for start, end in spans:
        lo, hi = max(0, start - context_frames), min(n_frames, end + context_frames)
        with torch.no_grad():
            wav = generator(mel[..., lo:hi])  # (1, 1, (hi - lo) * hop)
        # Drop the context's samples; what remains is the chunk's own audio.
        yield wav[..., (start - lo) * hop : (end - lo) * hop]
