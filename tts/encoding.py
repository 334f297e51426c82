"""Float audio to the bytes a response carries: raw 16-bit PCM, WAV, FLAC, G.711 and compressed.

Every encoding goes through the same float -> int16 conversion, so a WAV, a FLAC and a stream
of raw chunks of one utterance hold identical samples. G.711 μ-law and A-law (``MULAW``,
``ALAW``) are headerless 8-bit companded samples, as telephony (Twilio, Asterisk) expects at
:data:`TELEPHONY_SAMPLE_RATE`; they are implemented here sample by sample after ITU-T G.711's
segment tables, so they need no codec library. Ogg-Opus and MP3 come from libsndfile when the
installed build has them: :func:`supported_encodings` says which.
"""

from __future__ import annotations

import io

import numpy as np
import soundfile as sf

# Encodings by the names the library and the client use (the proto enum maps onto these).
LINEAR16 = "linear16"
WAV = "wav"
FLAC = "flac"
MULAW = "mulaw"
ALAW = "alaw"
OGG_OPUS = "ogg_opus"
MP3 = "mp3"
ENCODINGS = (LINEAR16, WAV, FLAC)  # lossless 16-bit: the samples decode exactly as to_pcm16 made them
ALL_ENCODINGS = (LINEAR16, WAV, FLAC, MULAW, ALAW, OGG_OPUS, MP3)
# Headerless samples: pieces of audio encoded one by one concatenate to the whole (streams use these).
RAW_ENCODINGS = (LINEAR16, MULAW, ALAW)
TELEPHONY_SAMPLE_RATE = 8000  # G.711 is defined at 8 kHz
# Full scale of 16-bit PCM; libsndfile uses the same factor, so files round-trip exactly.
PCM16_FULL_SCALE = 32767
BYTES_PER_SAMPLE = 2
# libsndfile (format, subtype) of each container or codec it writes.
_SOUNDFILE_FORMATS = {
    WAV: ("WAV", "PCM_16"),
    FLAC: ("FLAC", "PCM_16"),
    OGG_OPUS: ("OGG", "OPUS"),
    MP3: ("MP3", "MPEG_LAYER_III"),
}
# Opus codes only these rates; libsndfile refuses others.
OPUS_SAMPLE_RATES = (8000, 12000, 16000, 24000, 48000)

# G.711 constants (ITU-T G.711; the segment tables of the reference g711.c).
_ULAW_BIAS = 0x84  # added to the magnitude so every segment has a leading one bit
_ULAW_CLIP = 8159  # largest 14-bit magnitude that fits after the bias
_ULAW_SEGMENT_ENDS = np.array([0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF])
_ALAW_SEGMENT_ENDS = np.array([0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF])
_ALAW_TOGGLE = 0x55  # even bits inverted on the line
_SIGN_BIT = 0x80
_QUANT_MASK = 0x0F
_SEG_SHIFT = 4
_SEG_MASK = 0x70


def supported_encodings() -> tuple[str, ...]:
    """The encodings :func:`encode` can produce with the installed libsndfile, in :data:`ALL_ENCODINGS` order."""
    formats = sf.available_formats()
    out = []
    for name in ALL_ENCODINGS:
        container = _SOUNDFILE_FORMATS.get(name)
        if container is None or (
            container[0] in formats and container[1] in sf.available_subtypes(container[0])
        ):
            out.append(name)
    return tuple(out)


def default_sample_rate(encoding: str, sample_rate: int) -> int:
    """The rate to write ``encoding`` at when the caller names none: 8 kHz for G.711, for Ogg-Opus
    the lowest Opus rate at or above ``sample_rate`` (the highest when none is), else ``sample_rate``."""
    if encoding in (MULAW, ALAW):
        return TELEPHONY_SAMPLE_RATE
    if encoding == OGG_OPUS and sample_rate not in OPUS_SAMPLE_RATES:
        return min((r for r in OPUS_SAMPLE_RATES if r >= sample_rate), default=max(OPUS_SAMPLE_RATES))
    return sample_rate


def to_pcm16(audio: np.ndarray) -> np.ndarray:
    """Float audio ``(T,)`` in [-1, 1] (clipped beyond) as int16 ``(T,)``."""
    clipped = np.clip(np.asarray(audio, dtype=np.float32), -1.0, 1.0)
    return np.round(clipped * PCM16_FULL_SCALE).astype(np.int16)


def pcm16_bytes(audio: np.ndarray) -> bytes:
    """Float audio ``(T,)`` as little-endian 16-bit samples, no header."""
    return to_pcm16(audio).astype("<i2").tobytes()


def linear_to_ulaw(pcm: np.ndarray) -> np.ndarray:
    """int16 samples ``(T,)`` -> G.711 μ-law bytes ``(T,)`` uint8."""
    value = pcm.astype(np.int32) >> 2  # 14-bit magnitude
    mask = np.where(value < 0, 0x7F, 0xFF)
    magnitude = np.minimum(np.abs(value), _ULAW_CLIP) + (_ULAW_BIAS >> 2)
    segment = np.searchsorted(_ULAW_SEGMENT_ENDS, magnitude, side="left")
    code = (segment << _SEG_SHIFT) | ((magnitude >> (segment + 1)) & _QUANT_MASK)
    code = np.where(segment >= len(_ULAW_SEGMENT_ENDS), 0x7F, code)  # beyond the last segment: full scale
    return (code ^ mask).astype(np.uint8)


def ulaw_to_linear(codes: np.ndarray) -> np.ndarray:
    """G.711 μ-law bytes ``(T,)`` -> int16 ``(T,)``."""
    u = ~codes.astype(np.int32) & 0xFF
    t = (((u & _QUANT_MASK) << 3) + _ULAW_BIAS) << ((u & _SEG_MASK) >> _SEG_SHIFT)
    return np.where(u & _SIGN_BIT, _ULAW_BIAS - t, t - _ULAW_BIAS).astype(np.int16)


def linear_to_alaw(pcm: np.ndarray) -> np.ndarray:
    """int16 samples ``(T,)`` -> G.711 A-law bytes ``(T,)`` uint8."""
    value = pcm.astype(np.int32) >> 3  # 13-bit
    mask = np.where(value >= 0, 0xD5, _ALAW_TOGGLE)
    magnitude = np.where(value >= 0, value, -value - 1)
    segment = np.searchsorted(_ALAW_SEGMENT_ENDS, magnitude, side="left")
    shift = np.where(segment < 2, 1, segment)
    code = (np.minimum(segment, 7) << _SEG_SHIFT) | ((magnitude >> shift) & _QUANT_MASK)
    code = np.where(segment >= len(_ALAW_SEGMENT_ENDS), 0x7F, code)
    return (code ^ mask).astype(np.uint8)


def alaw_to_linear(codes: np.ndarray) -> np.ndarray:
    """G.711 A-law bytes ``(T,)`` -> int16 ``(T,)``."""
    a = codes.astype(np.int32) ^ _ALAW_TOGGLE
    t = (a & _QUANT_MASK) << _SEG_SHIFT
    segment = (a & _SEG_MASK) >> _SEG_SHIFT
    t = np.where(segment == 0, t + 8, (t + 0x108) << np.maximum(segment - 1, 0))
    return np.where(a & _SIGN_BIT, t, -t).astype(np.int16)


def _check(encoding: str) -> None:
    if encoding not in ALL_ENCODINGS:
        raise ValueError(f"unknown encoding {encoding!r}; expected one of {ALL_ENCODINGS}")
    if encoding not in supported_encodings():
        raise ValueError(f"encoding {encoding!r} is not supported by the installed libsndfile")


def encode(audio: np.ndarray, sample_rate: int, encoding: str) -> bytes:
    """Float audio ``(T,)`` as ``encoding`` (one of :func:`supported_encodings`)."""
    _check(encoding)
    if encoding == LINEAR16:
        return pcm16_bytes(audio)
    if encoding == MULAW:
        return linear_to_ulaw(to_pcm16(audio)).tobytes()
    if encoding == ALAW:
        return linear_to_alaw(to_pcm16(audio)).tobytes()
    if encoding == OGG_OPUS and sample_rate not in OPUS_SAMPLE_RATES:
        raise ValueError(f"Ogg-Opus needs one of {OPUS_SAMPLE_RATES} Hz, got {sample_rate}")
    container, subtype = _SOUNDFILE_FORMATS[encoding]
    buf = io.BytesIO()
    sf.write(buf, to_pcm16(audio), sample_rate, subtype=subtype, format=container)
    return buf.getvalue()


def decode(data: bytes, encoding: str) -> np.ndarray:
    """Bytes of ``encoding`` back to float32 ``(T,)`` in [-1, 1] (the inverse of :func:`encode`)."""
    _check(encoding)
    if encoding == LINEAR16:
        return np.frombuffer(data, dtype="<i2").astype(np.float32) / PCM16_FULL_SCALE
    if encoding == MULAW:
        return ulaw_to_linear(np.frombuffer(data, dtype=np.uint8)).astype(np.float32) / PCM16_FULL_SCALE
    if encoding == ALAW:
        return alaw_to_linear(np.frombuffer(data, dtype=np.uint8)).astype(np.float32) / PCM16_FULL_SCALE
    samples, _ = sf.read(io.BytesIO(data), dtype="int16")
    return samples.astype(np.float32) / PCM16_FULL_SCALE
