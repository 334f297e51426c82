"""Monotonic alignment search (Glow-TTS MAS) kernels, compiled with numba.

Separate from :mod:`tts.text2mel.alignment` so that loading a text-to-mel model for inference
imports no numba: only training aligns (:func:`tts.text2mel.alignment.maximum_path` imports these).
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True)
def mas_every_token(logp: np.ndarray) -> np.ndarray:  # pragma: no cover - compiled
    """Glow-TTS MAS for ``T >= L``: best path from (0, 0) to (T-1, L-1), each step stays or moves by one."""
    n_frames, n_tokens = logp.shape
    value = np.full((n_frames, n_tokens), -np.inf)
    value[0, 0] = logp[0, 0]
    for t in range(1, n_frames):
        # Token j is reachable at frame t only if j <= t, and can still reach the last token only
        # if the remaining frames cover the remaining tokens.
        lo = max(0, n_tokens - n_frames + t)
        hi = min(n_tokens - 1, t)
        for j in range(lo, hi + 1):
            stay = value[t - 1, j]
            move = value[t - 1, j - 1] if j > 0 else -np.inf
            value[t, j] = max(stay, move) + logp[t, j]
    path = np.zeros((n_frames, n_tokens), dtype=np.float32)
    j = n_tokens - 1
    for t in range(n_frames - 1, -1, -1):
        path[t, j] = 1.0
        # Glow-TTS tie rule: move to the previous token only when forced or strictly better.
        if t > 0 and j > 0 and (j == t or value[t - 1, j - 1] > value[t - 1, j]):
            j -= 1
    return path


@numba.njit(cache=True)
def mas_fewer_frames(logp: np.ndarray) -> np.ndarray:  # pragma: no cover - compiled
    """Best strictly increasing token per frame when ``T < L``: as many tokens as possible get a frame."""
    n_frames, n_tokens = logp.shape
    value = np.full((n_frames, n_tokens), -np.inf)
    back = np.zeros((n_frames, n_tokens), dtype=np.int64)
    for j in range(n_tokens - n_frames + 1):
        value[0, j] = logp[0, j]
    for t in range(1, n_frames):
        best = -np.inf
        arg = 0
        # Frame t's token j needs t earlier tokens below it and n_frames - 1 - t tokens above it.
        for j in range(t, n_tokens - n_frames + t + 1):
            if value[t - 1, j - 1] > best:
                best = value[t - 1, j - 1]
                arg = j - 1
            value[t, j] = best + logp[t, j]
            back[t, j] = arg
    path = np.zeros((n_frames, n_tokens), dtype=np.float32)
    j = n_frames - 1
    for k in range(n_frames - 1, n_tokens):
        if value[n_frames - 1, k] > value[n_frames - 1, j]:
            j = k
    for t in range(n_frames - 1, -1, -1):
        path[t, j] = 1.0
        j = back[t, j]
    return path
