"""Chunked vocoding for parallel vocoders whose concatenated output equals the whole-utterance output.

A convolutional generator's output sample depends only on mel frames within a fixed distance:
its receptive field. :func:`stream_vocode` vocodes each chunk of frames together with
``context_frames`` of real mel on both sides and keeps only the samples of the chunk itself.
When the context covers the receptive field (each generator computes its own:
:func:`vocoders.hifigan.receptive_field_frames`, :func:`vocoders.vocos.receptive_field_frames`),
every kept sample sees exactly the inputs it sees in the whole-utterance pass, so the stream
matches it up to float rounding. At the utterance edges no context exists and none is needed:
there the whole pass sees the same zero padding as the chunk.

Cost: each chunk recomputes up to ``2 * context_frames`` frames, i.e. a factor of about
``(chunk + 2 * context) / chunk`` over one whole pass; time-to-first-audio is the cost of the
first chunk alone, which ``first_chunk_frames`` can keep small.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

import torch

logger = logging.getLogger(__name__)

# Frames of a stream's first chunk when the chunks that follow are longer: time to first audio is
# the cost of the first chunk alone, and 16 frames (256 ms at 16 kHz, hop 256) play for far longer
# than the next chunk takes to vocode.
FIRST_CHUNK_FRAMES = 16


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
    generator: Callable[[torch.Tensor], torch.Tensor],
    hop_length: int,
    mel: torch.Tensor,
    chunk_frames: int,
    context_frames: int,
    first_chunk_frames: int | None = None,
) -> Iterator[torch.Tensor]:
    """Yield waveform chunks ``(1, 1, n_i * hop)`` of mel ``(1, n_mels, T)``, in order.

    ``generator`` maps a mel ``(1, n_mels, n)`` to a waveform ``(1, 1, n * hop_length)``. The
    chunks' concatenation along the last axis is ``generator(mel)``: exactly, up to float rounding,
    when ``context_frames`` is at least the generator's receptive field; a smaller context is
    cheaper but the seams then differ slightly. The first chunk holds ``first_chunk_frames``
    (default ``chunk_frames``) frames, the rest ``chunk_frames``, the last whatever remains.
    Runs without autograd.
    """
    if mel.dim() != 3 or mel.shape[0] != 1:
        raise ValueError(f"expected one mel (1, n_mels, T), got {tuple(mel.shape)}")
    if context_frames < 0:
        raise ValueError(f"context_frames must be >= 0, got {context_frames}")
    n_frames = mel.shape[-1]
    spans = chunk_spans(n_frames, chunk_frames, first_chunk_frames)
    logger.debug("streaming %d frames: %d chunks, %d context frames", n_frames, len(spans), context_frames)
    for start, end in spans:
        lo, hi = max(0, start - context_frames), min(n_frames, end + context_frames)
        with torch.no_grad():
            wav = generator(mel[..., lo:hi])  # (1, 1, (hi - lo) * hop)
        # Drop the context's samples; what remains is the chunk's own audio.
        yield wav[..., (start - lo) * hop_length : (end - lo) * hop_length]
