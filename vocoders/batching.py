"""One parallel pass over several mels of different lengths, each output equal to its own pass.

:func:`vocode_padded` pads the mels with :data:`~vocoders.audio.MEL_PAD_VALUE` (silence) to the
longest, vocodes them as one batch and crops each row to its own length. Away from its end a row
sees exactly its own inputs, so its samples match a pass of its own up to float rounding. Within
the receptive field (``context_frames``, as in :mod:`vocoders.streaming`) of a padded end they do
not: there the whole-utterance pass sees each convolution's zero padding, the batch sees the
padding's activations (with the bundled HiFi-GAN: up to 4e-3 of a 0.37 peak in the last 13
frames, below 1e-6 elsewhere). So the last ``context_frames`` frames of every padded row are
computed again, in a second batch of the last ``2 * context_frames`` frames of each mel: those
end at the mel's true end, as :mod:`vocoders.streaming`'s last chunk does, and match the
whole-utterance samples. Mels shorter than that run on their own.

Cost over one pass per mel: the padding (callers group mels of similar length) plus
``2 * context_frames`` frames per padded row.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

import numpy as np
import torch

from vocoders.audio import MEL_PAD_VALUE

logger = logging.getLogger(__name__)

# A parallel generator's forward pass: mel (B, n_mels, T) -> audio (B, 1, T * hop).
Forward = Callable[[torch.Tensor], torch.Tensor]


def pad_mels(mels: Sequence[torch.Tensor]) -> torch.Tensor:
    """The mels ``(1, n_mels, T_i)`` as one batch ``(B, n_mels, max T_i)`` padded with silence."""
    longest = max(m.shape[-1] for m in mels)
    batch = torch.full((len(mels), mels[0].shape[1], longest), MEL_PAD_VALUE, dtype=mels[0].dtype)
    for row, mel in enumerate(mels):
        batch[row, :, : mel.shape[-1]] = mel[0]
    return batch


def vocode_padded(
    forward: Forward, hop_length: int, mels: Sequence[torch.Tensor], context_frames: int
) -> list[np.ndarray]:
    """Audio ``(T_i * hop,)`` float32 of each mel ``(1, n_mels, T_i)``, equal to ``forward`` of it alone."""
    lengths = [m.shape[-1] for m in mels]
    longest = max(lengths)
    audio = forward(pad_mels(mels)).reshape(len(mels), -1)  # (B, longest * hop)
    out = [audio[row, : n * hop_length] for row, n in enumerate(lengths)]
    padded = [row for row, n in enumerate(lengths) if n < longest]
    if context_frames and padded:
        tail = 2 * context_frames
        rows = [row for row in padded if lengths[row] >= tail]
        if rows:
            ends = forward(torch.cat([mels[row][:, :, -tail:] for row in rows])).reshape(len(rows), -1)
            keep = context_frames * hop_length
            for i, row in enumerate(rows):
                out[row] = torch.cat([out[row][:-keep], ends[i, -keep:]])
        for row in padded:
            if lengths[row] < tail:
                out[row] = forward(mels[row]).reshape(-1)
    return [o.numpy() for o in out]
