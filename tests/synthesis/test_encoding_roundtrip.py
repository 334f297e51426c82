"""Every encoding round-trips through a decoder; G.711 matches libsndfile's independent codec."""

from __future__ import annotations

import io

import numpy as np
import pytest
import soundfile as sf

from tts import encoding as enc

SR = 16000


def _tone(sample_rate: int = SR, seconds: float = 0.5) -> np.ndarray:
    t = np.arange(int(sample_rate * seconds)) / sample_rate
    return (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)


def _snr_db(ref: np.ndarray, test: np.ndarray) -> float:
    return float(10 * np.log10(np.sum(ref**2) / max(np.sum((ref - test) ** 2), 1e-20)))


def test_supported_encodings_follow_libsndfile() -> None:
    supported = enc.supported_encodings()
    for always in (enc.LINEAR16, enc.WAV, enc.FLAC, enc.MULAW, enc.ALAW):
        assert always in supported
    assert (enc.OGG_OPUS in supported) == ("OPUS" in sf.available_subtypes("OGG"))
    assert (enc.MP3 in supported) == ("MP3" in sf.available_formats())


@pytest.mark.parametrize("name", [enc.LINEAR16, enc.WAV, enc.FLAC])
def test_lossless_encodings_round_trip_exactly(name: str) -> None:
    audio = _tone()
    decoded = enc.decode(enc.encode(audio, SR, name), name)
    np.testing.assert_array_equal(enc.to_pcm16(decoded), enc.to_pcm16(audio))


@pytest.mark.parametrize(
    ("name", "subtype", "encoder", "decoder"),
    [
        (enc.MULAW, "ULAW", enc.linear_to_ulaw, enc.ulaw_to_linear),
        (enc.ALAW, "ALAW", enc.linear_to_alaw, enc.alaw_to_linear),
    ],
)
def test_g711_matches_libsndfile(name: str, subtype: str, encoder, decoder) -> None:
    codes = np.arange(256, dtype=np.uint8)
    reference, _ = sf.read(
        io.BytesIO(codes.tobytes()), format="RAW", subtype=subtype, samplerate=8000, channels=1, dtype="int16"
    )
    np.testing.assert_array_equal(decoder(codes), reference)
    # Encoding a decoded value gives its code back (μ-law's two zeros both decode to 0).
    again = encoder(decoder(codes))
    assert np.mean(again == codes) >= 255 / 256
    # libsndfile rounds at segment steps slightly differently from the G.711 reference code: the
    # same byte for nearly every 16-bit value, the neighbouring level (a 16th of its segment) at the rest.
    pcm = np.arange(-32768, 32768, dtype=np.int16)
    buf = io.BytesIO()
    sf.write(buf, pcm, 8000, format="RAW", subtype=subtype)
    theirs = np.frombuffer(buf.getvalue(), dtype=np.uint8)
    ours = encoder(pcm)
    assert np.mean(ours == theirs) > 0.99
    step = np.abs(pcm.astype(int)) / 16 + 16
    assert np.all(np.abs(decoder(ours).astype(int) - decoder(theirs).astype(int)) <= step)
    audio = _tone(8000)
    data = enc.encode(audio, 8000, name)
    assert len(data) == len(audio)  # one byte a sample
    assert _snr_db(audio, enc.decode(data, name)) > 30  # G.711's ~38 dB on a loud tone


@pytest.mark.parametrize("name", [enc.OGG_OPUS, enc.MP3])
def test_compressed_encodings_round_trip(name: str) -> None:
    if name not in enc.supported_encodings():
        pytest.skip(f"this libsndfile cannot write {name}")
    audio = _tone(seconds=1.0)
    decoded = enc.decode(enc.encode(audio, SR, name), name)
    assert abs(len(decoded) - len(audio)) < SR // 10
    # Lossy codecs may delay the signal: compare at the best lag.
    n = min(len(decoded), len(audio)) - 2000
    lags = range(1500)
    best = max(
        float(np.dot(audio[1000 : 1000 + n - 1500], decoded[1000 + k : 1000 + k + n - 1500])) for k in lags
    )
    energy = float(np.dot(audio[1000 : 1000 + n - 1500], audio[1000 : 1000 + n - 1500]))
    assert best / energy > 0.8


def test_unsupported_requests_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown encoding"):
        enc.encode(_tone(), SR, "aiff")
    if enc.OGG_OPUS in enc.supported_encodings():
        with pytest.raises(ValueError, match="Opus"):
            enc.encode(_tone(22050), 22050, enc.OGG_OPUS)


@pytest.mark.parametrize(
    ("name", "encoder"), [("lin2ulaw", enc.linear_to_ulaw), ("lin2alaw", enc.linear_to_alaw)]
)
def test_g711_encoder_matches_the_reference(name: str, encoder) -> None:
    """CPython's audioop (removed in 3.13) is the G.711 reference code: bit-exact where it exists."""
    audioop = pytest.importorskip("audioop")
    pcm = np.arange(-32768, 32768, dtype=np.int16)
    reference = np.frombuffer(getattr(audioop, name)(pcm.tobytes(), 2), dtype=np.uint8)
    np.testing.assert_array_equal(encoder(pcm), reference)
