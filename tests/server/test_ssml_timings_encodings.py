"""SSML, pitch and volume, word and mark timings, and the telephony and compressed encodings over gRPC:
a real server on a free loopback port, the tiny random test voice."""

from __future__ import annotations

import io
import math
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import numpy as np
import pytest
import soundfile as sf

from server import service
from server.app import GanspeechServer, build_server
from server.client import SynthesisClient, response_audio
from server.config import ServerConfig, VoiceSpec
from server.generated.ganspeech.v1 import synthesis_pb2 as pb
from server.validation import ENCODING_ENUMS
from server.voices import VoiceRegistry
from tts.encoding import (
    ALAW,
    ENCODINGS,
    FLAC,
    LINEAR16,
    MP3,
    MULAW,
    OGG_OPUS,
    TELEPHONY_SAMPLE_RATE,
    WAV,
    decode,
    default_sample_rate,
    encode,
    supported_encodings,
    to_pcm16,
)
from tts.synthesizer import Synthesizer
from tts.timing import MarkTiming, WordTiming, to_sample

VOICE = "tiny"
NATIVE_RATE = 16000  # the tiny voice's
BREAK_S = 1.0
PLAIN = "<speak>Hello there. Good bye now.</speak>"
WITH_BREAK = f'<speak>Hello there. <break time="{BREAK_S:g}s"/> Good bye now.</speak>'
# Words, a mark between sentences and one at the very end (where no audio follows it).
MARKED = (
    '<speak>Hello <mark name="greeting"/> there, how are you today? '
    '<mark name="middle"/> Fine, <break time="300ms"/> thanks. <mark name="end"/></speak>'
)
PLAIN_TEXT = "The quick brown fox. It jumps over the lazy dog."
PCM_LSB = 1.0 / 32767
# Slack on a lossy codec's length: encoder delay and frame padding.
CODEC_SLACK_S = 0.1


@pytest.fixture(scope="module")
def synth(tiny_voice_dir: Path) -> Synthesizer:
    return Synthesizer.load(tiny_voice_dir)


def _start(synth: Synthesizer, **overrides) -> GanspeechServer:
    fields = {
        "port": 0,
        "voices": (VoiceSpec(VOICE, "unused"),),
        "workers": 2,
        "max_wavenet_jobs": 1,
        "stream_chunk_frames": 8,  # even the random voice's short sentences stream in several pieces
    }
    fields.update(overrides)
    srv = build_server(ServerConfig(**fields), loader=lambda _cfg: VoiceRegistry({VOICE: synth}))
    srv.start()
    srv.load_voices()
    return srv


@pytest.fixture(scope="module")
def server(synth: Synthesizer) -> Iterator[GanspeechServer]:
    srv = _start(synth)
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def client(server: GanspeechServer) -> Iterator[SynthesisClient]:
    with SynthesisClient(server.address, timeout=60) as c:
        yield c


@pytest.fixture
def model_spy(synth: Synthesizer, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Records every synthesis call that reaches the models."""
    calls: list[str] = []
    for name in ("synthesize", "synthesize_stream"):
        original = getattr(synth, name)

        def spy(*args, _original=original, _name=name, **kwargs):
            calls.append(_name)
            return _original(*args, **kwargs)

        monkeypatch.setattr(synth, name, spy)
    return calls


def _code(fn, *args, **kwargs) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.RpcError) as info:
        result = fn(*args, **kwargs)
        if isinstance(result, Iterator):
            list(result)
    return info.value.code(), info.value.details()


def _request(**fields) -> pb.SynthesizeRequest:
    base = {"text": "Hello there.", "vocoder": pb.VOCODER_HIFIGAN, "encoding": pb.AUDIO_ENCODING_LINEAR16}
    return pb.SynthesizeRequest(**(base | fields))


def _every_rpc(client: SynthesisClient, **fields) -> list[tuple[grpc.StatusCode, str]]:
    """The status and details of Synthesize, SynthesizeStream and Compare for one bad request."""
    request = _request(**fields)
    compare = pb.CompareRequest(
        text=request.text,
        encoding=request.encoding,
        ssml=request.ssml,
        pitch=request.pitch,
        volume_gain_db=request.volume_gain_db,
    )
    return [
        _code(client.stub.Synthesize, request, timeout=30),
        _code(client.stub.SynthesizeStream, request, timeout=30),
        _code(client.stub.Compare, compare, timeout=30),
    ]


def _longest_zero_run(audio: np.ndarray) -> int:
    zero = np.concatenate([[0], (audio == 0).astype(np.int8), [0]])
    edges = np.flatnonzero(np.diff(zero))
    return int((edges[1::2] - edges[::2]).max()) if len(edges) else 0


def _rms(audio: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(audio, dtype=np.float64))))


def _words(message) -> list[tuple[str, float, float]]:
    return [(w.word, w.start_s, w.end_s) for w in message.words]


def _marks(message) -> list[tuple[str, float]]:
    return [(m.name, m.time_s) for m in message.marks]


# SSML.


def test_ssml_break_adds_silence(client: SynthesisClient) -> None:
    plain = response_audio(client.synthesize(PLAIN, encoding=LINEAR16))
    broken = response_audio(client.synthesize(WITH_BREAK, encoding=LINEAR16))
    # The break replaces the sentence pause: exactly BREAK_S of silence where 0.2 s was.
    assert _longest_zero_run(broken) >= BREAK_S * NATIVE_RATE
    assert _longest_zero_run(plain) < BREAK_S * NATIVE_RATE / 2
    assert len(broken) - len(plain) >= (BREAK_S - 0.3) * NATIVE_RATE
    streamed = client.stream_audio(WITH_BREAK)
    assert len(streamed.audio) == len(broken) and _longest_zero_run(streamed.audio) >= BREAK_S * NATIVE_RATE


def test_ssml_flag_reads_text_without_speak_root_as_ssml(client: SynthesisClient) -> None:
    # With ssml=True, a document that is not one <speak> element is refused, not read aloud;
    # without it the same text is plain text.
    text = 'Hello <break time="1s"/> there.'
    code, details = _code(client.stub.Synthesize, _request(text=text, ssml=True), timeout=30)
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "SSML" in details
    assert client.synthesize(f"<speak>{text}</speak>", ssml=True, encoding=LINEAR16).audio


@pytest.mark.parametrize(
    "text, phrases",
    [
        ("<speak>Hello <shout>there</shout>.</speak>", ("<shout>", "line 1, column 14")),
        ('<speak>Hello <break tiem="1s"/> there.</speak>', ("tiem", "<break>", "line 1, column 14")),
        ("<speak>Hello <s>there.</speak>", ("line 1, column",)),
    ],
)
def test_malformed_ssml_is_invalid_argument(
    client: SynthesisClient, server: GanspeechServer, model_spy, text: str, phrases: tuple[str, ...]
) -> None:
    for code, details in _every_rpc(client, text=text):
        assert code == grpc.StatusCode.INVALID_ARGUMENT, details
        assert all(p in details for p in phrases), details
    assert model_spy == []  # refused before any model ran
    assert server.admission.workers.in_use == 0
    assert client.synthesize("Hello there.", encoding=LINEAR16).audio  # and the server still serves


# Pitch and volume.


@pytest.mark.parametrize(
    "fields, phrase",
    [
        ({"pitch": 12.5}, "pitch 12.5 is out of range: use -12 to +12 semitones"),
        ({"pitch": -13.0}, "pitch -13 is out of range: use -12 to +12 semitones"),
        ({"pitch": math.nan}, "pitch nan is out of range"),
        ({"volume_gain_db": 16.5}, "volume_gain_db 16.5 is out of range: use -96 to +16 dB"),
        ({"volume_gain_db": -100.0}, "volume_gain_db -100 is out of range: use -96 to +16 dB"),
    ],
)
def test_pitch_and_volume_out_of_range_are_invalid_argument(
    client: SynthesisClient, model_spy, fields: dict, phrase: str
) -> None:
    for code, details in _every_rpc(client, **fields):
        assert code == grpc.StatusCode.INVALID_ARGUMENT and phrase in details, details
    assert model_spy == []


def test_volume_gain_scales_the_audio(client: SynthesisClient, synth: Synthesizer) -> None:
    loud = response_audio(client.synthesize(PLAIN_TEXT, encoding=LINEAR16))
    quiet = response_audio(client.synthesize(PLAIN_TEXT, encoding=LINEAR16, volume_gain_db=-20.0))
    assert len(quiet) == len(loud)
    assert _rms(quiet) / _rms(loud) == pytest.approx(0.1, rel=0.05)  # -20 dB is a tenth of the amplitude
    streamed = client.stream_audio(PLAIN_TEXT, volume_gain_db=-20.0).audio
    np.testing.assert_allclose(streamed, quiet, atol=2 * PCM_LSB)


def test_pitch_reaches_the_synthesizer(client: SynthesisClient, synth: Synthesizer) -> None:
    shifted = client.synthesize(PLAIN_TEXT, encoding=LINEAR16, pitch=4.0)
    direct = synth.synthesize(PLAIN_TEXT, vocoder="hifigan", pitch=4.0)
    np.testing.assert_allclose(response_audio(shifted), to_pcm16(direct.audio) / 32767, atol=1e-6)
    assert shifted.audio != client.synthesize(PLAIN_TEXT, encoding=LINEAR16).audio


# Word and mark timings.


@pytest.mark.parametrize("sample_rate", [0, 8000, 22050])
def test_response_timings_match_the_library(
    client: SynthesisClient, synth: Synthesizer, sample_rate: int
) -> None:
    reply = client.synthesize(MARKED, encoding=LINEAR16, sample_rate_hz=sample_rate)
    words = _words(reply)
    assert [w for w, _, _ in words] == ["Hello", "there", "how", "are", "you", "today", "Fine", "thanks"]
    starts = [s for _, s, _ in words]
    assert starts == sorted(starts) and all(s < e for _, s, e in words)
    assert all(0 <= s and e <= reply.audio_seconds for _, s, e in words)
    assert [n for n, _ in _marks(reply)] == ["greeting", "middle", "end"]
    assert all(0 <= t <= reply.audio_seconds for _, t in _marks(reply))
    # Seconds: resampling to sample_rate_hz leaves them as the library computed them.
    direct = synth.synthesize(MARKED, vocoder="hifigan")
    assert words == [(w.word, w.start_s, w.end_s) for w in direct.words]
    assert _marks(reply) == [(m.name, m.time_s) for m in direct.marks]
    assert _marks(reply)[-1][1] == pytest.approx(reply.audio_seconds, abs=1 / NATIVE_RATE)


@pytest.mark.parametrize("sample_rate, encoding", [(0, LINEAR16), (22050, LINEAR16), (0, MULAW)])
def test_streamed_timings_equal_unary_ones(client: SynthesisClient, sample_rate: int, encoding: str) -> None:
    unary = client.synthesize(MARKED, encoding=LINEAR16, sample_rate_hz=sample_rate)
    messages = list(client.stream(MARKED, sample_rate_hz=sample_rate, encoding=encoding))
    fmt, summary = messages[0].format, messages[-1].summary
    chunks = [m.chunk for m in messages[1:-1]]
    assert len(chunks) > 3
    assert [w for c in chunks for w in _words(c)] == _words(summary) == _words(unary)
    assert [m for c in chunks for m in _marks(c)] == _marks(summary) == _marks(unary)
    # Each word and mark comes with the chunk whose audio it starts in (the end mark with the last).
    bytes_per_sample = 1 if encoding == MULAW else 2
    first = 0
    for i, c in enumerate(chunks):
        end = first + len(c.audio) // bytes_per_sample
        for t in [w.start_s for w in c.words] + [m.time_s for m in c.marks]:
            sample = to_sample(t, fmt.sample_rate_hz)
            assert first <= sample and (sample < end or i == len(chunks) - 1)
        first = end


def test_compare_carries_timings_and_prosody(client: SynthesisClient, synth: Synthesizer) -> None:
    reply = client.compare(MARKED, encoding=LINEAR16, volume_gain_db=-20.0)
    direct = synth.synthesize(MARKED, vocoder="hifigan")
    expected = [(w.word, w.start_s, w.end_s) for w in direct.words]
    # Timings come from the text-to-mel, so both vocoders' audio has the same ones.
    assert _words(reply.gan) == _words(reply.wavenet) == expected
    assert _marks(reply.gan) == _marks(reply.wavenet) == [(m.name, m.time_s) for m in direct.marks]
    loud = response_audio(client.synthesize(MARKED, vocoder="vocos", encoding=LINEAR16))
    assert _rms(response_audio(reply.gan)) / _rms(loud) == pytest.approx(0.1, rel=0.05)


def test_stream_places_timings_by_the_audio_sent() -> None:
    # The resampler holds back samples: a word goes with the chunk whose output audio holds its
    # start, not with the synthesizer's chunk it came with.
    rate = TELEPHONY_SAMPLE_RATE
    tally = service._StreamTally(MULAW, rate)
    tally.pending_words += [WordTiming("one", 0.05, 0.09), WordTiming("two", 0.1, 0.2)]
    tally.pending_marks += [MarkTiming("end", 0.2)]
    first = tally.chunk(np.zeros(int(0.1 * rate), np.float32), 0).chunk
    second = tally.chunk(np.zeros(int(0.1 * rate), np.float32), 0).chunk
    last = tally.chunk(np.zeros(0, np.float32), 0, last=True).chunk
    assert [w.word for w in first.words] == ["one"] and not first.marks
    assert [w.word for w in second.words] == ["two"] and not second.marks
    assert [m.name for m in last.marks] == ["end"] and len(first.audio) == int(0.1 * rate)
    assert [w.word for w in tally.words] == ["one", "two"] and [m.name for m in tally.marks] == ["end"]


def test_batched_requests_keep_their_own_timings_and_settings(synth: Synthesizer) -> None:
    requests = [
        {"text": MARKED},
        {"text": WITH_BREAK, "pitch": 3.0},
        {"text": PLAIN_TEXT, "volume_gain_db": -10.0, "sample_rate_hz": 8000},
    ]
    srv = _start(synth, max_batch=len(requests), batch_wait_ms=1000.0)
    try:
        with SynthesisClient(srv.address, timeout=60) as c:
            with ThreadPoolExecutor(len(requests)) as pool:
                replies = list(pool.map(lambda r: c.synthesize(encoding=LINEAR16, **r), requests))
            alone = [c.synthesize(encoding=LINEAR16, batching=False, **r) for r in requests]
    finally:
        srv.stop()
    assert [r.latency.batch_size for r in replies] == [len(requests)] * len(requests)
    for batched, single in zip(replies, alone):
        assert _words(batched) == _words(single) and _marks(batched) == _marks(single)
        assert batched.sample_rate_hz == single.sample_rate_hz
        np.testing.assert_allclose(response_audio(batched), response_audio(single), atol=4 * PCM_LSB)


# Encodings.


def test_list_voices_lists_the_supported_encodings(client: SynthesisClient) -> None:
    listed = list(client.list_voices().limits.encodings)
    assert listed == [ENCODING_ENUMS[e] for e in supported_encodings()]
    assert {pb.AUDIO_ENCODING_MULAW, pb.AUDIO_ENCODING_ALAW} <= set(listed)


@pytest.mark.parametrize("encoding", supported_encodings())
def test_each_supported_encoding_round_trips(client: SynthesisClient, encoding: str) -> None:
    reply = client.synthesize(PLAIN_TEXT, encoding=encoding)
    rate = default_sample_rate(encoding, NATIVE_RATE)
    assert reply.encoding == ENCODING_ENUMS[encoding] and reply.sample_rate_hz == rate
    pcm = response_audio(client.synthesize(PLAIN_TEXT, encoding=LINEAR16, sample_rate_hz=rate))
    audio = decode(reply.audio, encoding)
    if encoding in ENCODINGS:
        np.testing.assert_array_equal(audio, pcm)
    elif encoding in (MULAW, ALAW):
        # Raw 8-bit G.711, no header: one byte per sample, the samples companded from LINEAR16's.
        assert len(reply.audio) == len(pcm) == round(reply.audio_seconds * TELEPHONY_SAMPLE_RATE)
        np.testing.assert_array_equal(audio, decode(encode(pcm, rate, encoding), encoding))
    else:
        info = sf.info(io.BytesIO(reply.audio))
        assert info.samplerate == rate and info.format == {OGG_OPUS: "OGG", MP3: "MP3"}[encoding]
        assert abs(len(audio) / rate - reply.audio_seconds) < CODEC_SLACK_S


def test_opus_refuses_rates_it_cannot_code(client: SynthesisClient, model_spy) -> None:
    if OGG_OPUS not in supported_encodings():
        pytest.skip("this libsndfile has no Opus")
    request = _request(encoding=pb.AUDIO_ENCODING_OGG_OPUS, sample_rate_hz=22050)
    code, details = _code(client.stub.Synthesize, request, timeout=30)
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "sample_rate_hz" in details and "24000" in details
    assert model_spy == []
    assert default_sample_rate(OGG_OPUS, 22050) == 24000 and default_sample_rate(OGG_OPUS, 96000) == 48000


@pytest.mark.parametrize("encoding", [MULAW, ALAW])
def test_g711_stream(client: SynthesisClient, encoding: str) -> None:
    streamed = client.stream_audio(PLAIN_TEXT, encoding=encoding)
    assert streamed.format.encoding == ENCODING_ENUMS[encoding]
    assert streamed.format.sample_rate_hz == TELEPHONY_SAMPLE_RATE
    pcm = client.stream_audio(PLAIN_TEXT, sample_rate_hz=TELEPHONY_SAMPLE_RATE).audio
    np.testing.assert_array_equal(
        streamed.audio, decode(encode(pcm, TELEPHONY_SAMPLE_RATE, encoding), encoding)
    )
    unary = client.synthesize(PLAIN_TEXT, encoding=encoding)
    assert len(streamed.audio) == len(unary.audio)


@pytest.mark.parametrize("encoding", [WAV, FLAC, OGG_OPUS, MP3])
def test_stream_refuses_file_encodings(client: SynthesisClient, model_spy, encoding: str) -> None:
    request = _request(encoding=ENCODING_ENUMS[encoding])
    code, details = _code(client.stub.SynthesizeStream, request, timeout=30)
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert "AUDIO_ENCODING_LINEAR16, AUDIO_ENCODING_MULAW, AUDIO_ENCODING_ALAW" in details
    assert model_spy == []


def test_unsupported_encoding_is_refused(synth: Synthesizer, monkeypatch: pytest.MonkeyPatch) -> None:
    # A server whose libsndfile has neither Opus nor MP3.
    monkeypatch.setattr(service, "supported_encodings", lambda: (LINEAR16, WAV, FLAC, MULAW, ALAW))
    srv = _start(synth)
    try:
        with SynthesisClient(srv.address, timeout=60) as c:
            assert pb.AUDIO_ENCODING_MP3 not in c.list_voices().limits.encodings
            code, details = _code(c.stub.Synthesize, _request(encoding=pb.AUDIO_ENCODING_MP3), timeout=30)
    finally:
        srv.stop()
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert "AUDIO_ENCODING_MP3 is not available" in details and "AUDIO_ENCODING_MULAW" in details
    assert "AUDIO_ENCODING_OGG_OPUS" not in details


# The `ganspeech client` command.


def _unary_words(server: GanspeechServer, text: str, **settings) -> list[tuple[str, float, float]]:
    with SynthesisClient(server.address, timeout=60) as c:
        return _words(c.synthesize(text, encoding=LINEAR16, **settings))


def _client_cli(argv: list[str]) -> int:
    import argparse

    from tts.cli.commands import client as client_command

    parser = argparse.ArgumentParser()
    client_command.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["client", *argv])
    return args.func(args)


def test_client_command_ssml_prosody_timings_and_g711(
    server: GanspeechServer, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    import json

    out = tmp_path / "a.ulaw"
    settings = ["--pitch", "2", "--volume-db", "-20"]
    argv = ["synthesize", MARKED, "--server", server.address, "-o", str(out), *settings, "--json"]
    assert _client_cli(argv) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["sample_rate_hz"] == TELEPHONY_SAMPLE_RATE
    assert out.stat().st_size == round(report["audio_seconds"] * TELEPHONY_SAMPLE_RATE)
    assert [w["word"] for w in report["words"]][:2] == ["Hello", "there"]
    assert [m["name"] for m in report["marks"]] == ["greeting", "middle", "end"]
    pitched = _unary_words(server, MARKED, pitch=2.0)
    assert [(w["word"], w["start_s"], w["end_s"]) for w in report["words"]] == pitched
    out = tmp_path / "s.alaw"
    argv = ["stream", MARKED, "--server", server.address, "-o", str(out), *settings, "--json"]
    assert _client_cli(argv) == 0
    streamed = json.loads(capsys.readouterr().out)
    assert streamed["words"] == report["words"] and streamed["marks"] == report["marks"]
    assert out.stat().st_size == round(streamed["audio_seconds"] * TELEPHONY_SAMPLE_RATE)
    argv = ["synthesize", "Hi.", "--server", server.address, "-o", str(tmp_path / "x.wav"), "--pitch", "30"]
    assert _client_cli(argv) == 1
    assert "INVALID_ARGUMENT: pitch 30 is out of range" in capsys.readouterr().err
