"""Output sample-rate conversion, whole-utterance and streaming, with identical results.

Both use scipy's polyphase resampler (what ``librosa.resample(res_type="polyphase")`` calls). Its
filter reaches only a few input samples to each side, so :class:`StreamResampler` can convert a
stream chunk by chunk, holding back just that reach, and still give exactly what
:func:`resample` gives for the concatenated audio: no clicks at chunk boundaries.
"""

from __future__ import annotations

import math

import numpy as np

# Output rates a request may ask for besides the voice's own: the usual telephony and audio rates.
SUPPORTED_SAMPLE_RATES = (8000, 11025, 16000, 22050, 24000, 32000, 44100, 48000)
# scipy's resample_poly designs a low-pass of 2 * HALF_LEN_PER_RATE * max(up, down) + 1 taps.
HALF_LEN_PER_RATE = 10
# Extra input samples of context beyond the filter's reach, against off-by-one rounding.
CONTEXT_MARGIN = 2


def _ratio(orig_sr: int, target_sr: int) -> tuple[int, int]:
    g = math.gcd(orig_sr, target_sr)
    return target_sr // g, orig_sr // g


def _resample_poly(audio: np.ndarray, up: int, down: int) -> np.ndarray:
    # Imported on first use: importing scipy.signal costs 0.8-1.1 CPU seconds (2 busy cores), and
    # most audio is written at the voice's own rate, so a one-shot synthesis never needs it.
    from scipy.signal import resample_poly

    return resample_poly(audio, up, down)


def resample(audio: np.ndarray, orig_sr: int, target_sr: int) -> np.ndarray:
    """``audio`` ``(T,)`` at ``orig_sr`` as float32 ``(ceil(T * target_sr / orig_sr),)``."""
    if orig_sr == target_sr:
        return np.asarray(audio, dtype=np.float32)
    up, down = _ratio(orig_sr, target_sr)
    return _resample_poly(np.asarray(audio, dtype=np.float64), up, down).astype(np.float32)


class StreamResampler:
    """Resample audio that arrives in pieces; the pieces out concatenate to :func:`resample`'s output.

    Output sample ``n`` sits at input position ``n * down / up`` and depends on input samples
    within ``reach`` of it. A piece is emitted once the input to its right is known; the buffer
    keeps only the input still needed, and starts on a multiple of ``down`` so that its local
    output indices map to whole global ones.
    """

    def __init__(self, orig_sr: int, target_sr: int) -> None:
        self.passthrough = orig_sr == target_sr
        self.up, self.down = _ratio(orig_sr, target_sr)
        self.reach = math.ceil(HALF_LEN_PER_RATE * max(self.up, self.down) / self.up) + CONTEXT_MARGIN
        self._buf = np.zeros(0, dtype=np.float64)
        self._buf_start = 0  # absolute input index of _buf[0]; a multiple of `down`
        self._n_in = 0
        self._n_out = 0  # output samples emitted so far

    def _emit(self, end: int) -> np.ndarray:
        """Output samples ``[_n_out, end)`` computed from the buffer, then drop input no longer needed."""
        if end <= self._n_out:
            return np.zeros(0, dtype=np.float32)
        offset = self._buf_start * self.up // self.down  # global index of the buffer's output 0
        local = _resample_poly(self._buf, self.up, self.down)
        out = local[self._n_out - offset : end - offset].astype(np.float32)
        self._n_out = end
        # The next output's filter reaches back to input n_out * down / up - reach.
        first_needed = max(0, self._n_out * self.down // self.up - self.reach - 1)
        new_start = first_needed // self.down * self.down
        if new_start > self._buf_start:
            self._buf = self._buf[new_start - self._buf_start :]
            self._buf_start = new_start
        return out

    def push(self, chunk: np.ndarray) -> np.ndarray:
        """Take the next ``(T_in,)`` input piece; return the output that is now final (maybe empty)."""
        if self.passthrough:
            return np.asarray(chunk, dtype=np.float32)
        self._buf = np.concatenate([self._buf, np.asarray(chunk, dtype=np.float64)])
        self._n_in += len(chunk)
        # Outputs whose filter reaches no further right than the last input received.
        last_safe_input = self._n_in - 1 - self.reach
        if last_safe_input < 0:
            return np.zeros(0, dtype=np.float32)
        return self._emit(last_safe_input * self.up // self.down + 1)

    def flush(self) -> np.ndarray:
        """The remaining output once the input has ended (zeros beyond its end, as :func:`resample`)."""
        if self.passthrough:
            return np.zeros(0, dtype=np.float32)
        return self._emit(-(-self._n_in * self.up // self.down))  # ceil(n_in * up / down)
