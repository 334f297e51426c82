"""Float audio to the bytes a response carries: raw 16-bit PCM, WAV or FLAC.

Every encoding goes through the same float -> int16 conversion, so a WAV, a FLAC and a stream
of raw chunks of one utterance hold identical samples.
"""

from __future__ import annotations

import io

import numpy as np
import soundfile as sf

# Encodings by the names the library and the client use (the proto enum maps onto these).
LINEAR16 = "linear16"
WAV = "wav"
FLAC = "flac"
ENCODINGS = (LINEAR16, WAV, FLAC)
# Full scale of 16-bit PCM; libsndfile uses the same factor, so files round-trip exactly.
PCM16_FULL_SCALE = 32767
BYTES_PER_SAMPLE = 2
_CONTAINER_FORMATS = {WAV: "WAV", FLAC: "FLAC"}


def to_pcm16(audio: np.ndarray) -> np.ndarray:
    """Float audio ``(T,)`` in [-1, 1] (clipped beyond) as int16 ``(T,)``."""
    clipped = np.clip(np.asarray(audio, dtype=np.float32), -1.0, 1.0)
    return np.round(clipped * PCM16_FULL_SCALE).astype(np.int16)


def pcm16_bytes(audio: np.ndarray) -> bytes:
    """Float audio ``(T,)`` as little-endian 16-bit samples, no header."""
    return to_pcm16(audio).astype("<i2").tobytes()


def encode(audio: np.ndarray, sample_rate: int, encoding: str) -> bytes:
    """Float audio ``(T,)`` as ``encoding`` (one of :data:`ENCODINGS`)."""
    if encoding == LINEAR16:
        return pcm16_bytes(audio)
    if encoding not in _CONTAINER_FORMATS:
        raise ValueError(f"unknown encoding {encoding!r}; expected one of {ENCODINGS}")
    buf = io.BytesIO()
    sf.write(buf, to_pcm16(audio), sample_rate, subtype="PCM_16", format=_CONTAINER_FORMATS[encoding])
    return buf.getvalue()


def decode(data: bytes, encoding: str) -> np.ndarray:
    """Bytes of ``encoding`` back to float32 ``(T,)`` in [-1, 1] (the inverse of :func:`encode`)."""
    if encoding == LINEAR16:
        return np.frombuffer(data, dtype="<i2").astype(np.float32) / PCM16_FULL_SCALE
    if encoding not in _CONTAINER_FORMATS:
        raise ValueError(f"unknown encoding {encoding!r}; expected one of {ENCODINGS}")
    samples, _ = sf.read(io.BytesIO(data), dtype="int16")
    return samples.astype(np.float32) / PCM16_FULL_SCALE
