"""The gRPC service end to end: real servers on free loopback ports, the tiny random test voice."""

from __future__ import annotations

import argparse
import io
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import numpy as np
import pytest
import soundfile as sf
from grpc_health.v1 import health_pb2
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase

from server.admission import Admission, JobGate, Overloaded, StoppedWaiting
from server.app import SERVICE_NAME, GanspeechServer, build_server
from server.client import SynthesisClient, response_audio
from server.config import GRPC_DEFAULT_MAX_MESSAGE_BYTES, ServerConfig, VoiceSpec
from server.generated.ganspeech.v1 import synthesis_pb2 as pb
from server.service import REQUEST_ID_KEY
from server.voices import VoiceRegistry
from tts.encoding import ENCODINGS, decode, encode, to_pcm16
from tts.errors import UserError
from tts.resample import SUPPORTED_SAMPLE_RATES, StreamResampler, resample
from tts.synthesizer import Synthesizer
from vocoders.kinds import VocoderKind
from vocoders.wavenet import GenerationCancelled

REPO = Path(__file__).resolve().parents[2]
VOICE = "tiny"
SHORT = "Hello there."
# Several sentences: enough audio that streaming yields many chunks and WaveNet takes seconds.
LONG = " ".join(
    [
        "The quick brown fox jumps over the lazy dog.",
        "A parallel vocoder renders every sample of an utterance at once.",
        "An autoregressive one must wait for each sample before the next.",
        "That difference is what this service lets you hear and measure.",
    ]
    * 3
)
PCM_LSB = 1.0 / 32767
# Slack for thread start-up and scheduling on a loaded two-core machine.
PROMPT_S = 2.0


def _poll(condition, timeout: float = 10.0, interval: float = 0.01) -> float:
    """Wait until ``condition()`` holds; returns the seconds it took (fails the test on timeout)."""
    t0 = time.monotonic()
    while not condition():
        if time.monotonic() - t0 > timeout:
            pytest.fail(f"condition not met within {timeout} s")
        time.sleep(interval)
    return time.monotonic() - t0


def _code(fn, *args, **kwargs) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.RpcError) as info:
        result = fn(*args, **kwargs)
        if isinstance(result, Iterator):
            list(result)
    return info.value.code(), info.value.details()


def _start(registry: VoiceRegistry, **overrides) -> GanspeechServer:
    fields = {
        "port": 0,
        "voices": (VoiceSpec(VOICE, "unused"),),
        "workers": 2,
        "max_wavenet_jobs": 1,
        "max_queue": 16,
        # Each unary request alone: these tests spy on Synthesizer.synthesize; the batched path has
        # tests of its own (test_dynamic_batching.py).
        "max_batch": 1,
    }
    fields.update(overrides)
    srv = build_server(ServerConfig(**fields), loader=lambda _cfg: registry)
    srv.start()
    srv.load_voices()
    return srv


@pytest.fixture(scope="module")
def synth(tiny_voice_dir: Path) -> Synthesizer:
    return Synthesizer.load(tiny_voice_dir)


@pytest.fixture(scope="module")
def registry(synth: Synthesizer) -> VoiceRegistry:
    return VoiceRegistry({VOICE: synth})


@pytest.fixture(scope="module")
def server(registry: VoiceRegistry) -> Iterator[GanspeechServer]:
    # Small stream chunks: even the short sentences of the random voice stream in several pieces.
    srv = _start(registry, max_text_chars=len(LONG) + 10, stream_chunk_frames=8)
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def client(server: GanspeechServer) -> Iterator[SynthesisClient]:
    with SynthesisClient(server.address, timeout=60) as c:
        yield c


@pytest.fixture(scope="module")
def slow_server(tiny_voice_dir: Path) -> Iterator[GanspeechServer]:
    """A server whose WaveNet is the reference loop: slow enough that deadlines land mid-generation."""
    reference = Synthesizer.load(tiny_voice_dir, wavenet_impl="reference")
    srv = _start(VoiceRegistry({VOICE: reference}), max_text_chars=len(LONG) + 10)
    yield srv
    srv.stop()


# Units: resampling, encoding, admission, configuration.


@pytest.mark.parametrize("target", SUPPORTED_SAMPLE_RATES)
def test_stream_resampler_matches_whole_resampling(target: int) -> None:
    rng = np.random.default_rng(target)
    x = rng.standard_normal(3000).astype(np.float32)
    whole = resample(x, 16000, target)
    assert len(whole) == -(-len(x) * target // 16000)
    rs = StreamResampler(16000, target)
    cuts = np.sort(rng.integers(0, len(x), size=12))
    pieces = [rs.push(p) for p in np.split(x, cuts)] + [rs.flush()]
    np.testing.assert_allclose(np.concatenate(pieces), whole, atol=1e-6)


def test_resampling_keeps_a_tone() -> None:
    sr, f = 16000, 440.0
    t = np.arange(sr) / sr
    out = resample(np.sin(2 * np.pi * f * t).astype(np.float32), sr, 22050)
    spectrum = np.abs(np.fft.rfft(out))
    assert abs(np.argmax(spectrum) * 22050 / len(out) - f) < 2.0


def test_encodings_hold_identical_samples() -> None:
    x = np.random.default_rng(0).uniform(-1.3, 1.3, 2000).astype(np.float32)
    ref = to_pcm16(x).astype(np.float32) / 32767
    for name in ENCODINGS:
        np.testing.assert_array_equal(decode(encode(x, 16000, name), name), ref)
    assert sf.info(io.BytesIO(encode(x, 22050, "flac"))).samplerate == 22050
    assert len(encode(x, 16000, "linear16")) == 2 * len(x)


def test_job_gate_bounds_running_and_waiting() -> None:
    gate = JobGate("test", capacity=1, max_waiting=1)
    gate.acquire()
    got = threading.Event()

    def waiter() -> None:
        gate.acquire()
        got.set()

    t = threading.Thread(target=waiter)
    t.start()
    _poll(lambda: gate.waiting == 1)
    with pytest.raises(Overloaded):  # one running, one waiting: a third is refused at once
        gate.acquire()
    assert not got.is_set()
    gate.release()
    assert got.wait(PROMPT_S)
    t.join()
    assert gate.in_use == 1 and gate.waiting == 0
    stop = threading.Event()
    stop.set()
    with pytest.raises(StoppedWaiting):
        gate.acquire(should_stop=stop.is_set)
    gate.release()
    assert gate.in_use == 0


def test_job_gate_serves_waiters_in_arrival_order() -> None:
    gate = JobGate("test", capacity=1, max_waiting=10)
    gate.acquire()
    order: list[int] = []

    def waiter(i: int) -> None:
        gate.acquire()
        order.append(i)
        gate.release()

    threads = []
    for i in range(10):
        threads.append(threading.Thread(target=waiter, args=(i,)))
        threads[-1].start()
        _poll(lambda i=i: gate.waiting == i + 1)  # queued in order 0..9
    gate.release()
    # The freed slot went to the longest waiter at once: nobody arriving now can take it first.
    assert gate.in_use == 1 and gate.waiting == 9
    threads.append(threading.Thread(target=waiter, args=(99,)))
    threads[-1].start()
    for t in threads:
        t.join(10)
    assert order == [*range(10), 99]
    assert gate.in_use == 0 and gate.waiting == 0


def test_job_gate_counts_refusals_and_drops_waiters_that_give_up() -> None:
    gate = JobGate("test", capacity=1, max_waiting=1)
    gate.acquire()
    stop = threading.Event()
    t = threading.Thread(target=lambda: pytest.raises(StoppedWaiting, gate.acquire, stop.is_set))
    t.start()
    _poll(lambda: gate.waiting == 1)
    for _ in range(3):
        with pytest.raises(Overloaded):
            gate.acquire()
    assert gate.refused == 3
    stop.set()
    t.join(10)
    assert gate.waiting == 0
    gate.release()  # nobody waits any more: the slot is free, not handed to the one who gave up
    assert gate.in_use == 0


def test_admission_refuses_wavenet_without_taking_a_worker() -> None:
    adm = Admission(workers=2, max_sequential_jobs=1, max_queue=0)
    with adm.job(parallel=False):
        with pytest.raises(Overloaded), adm.job(parallel=False):
            pass
        assert adm.workers.in_use == 1  # the refused WaveNet request holds nothing
        with adm.job(parallel=True):
            assert adm.workers.in_use == 2
    assert adm.workers.in_use == 0 and adm.sequential.in_use == 0


@pytest.mark.parametrize(
    "fields",
    [
        {"workers": 1},
        {"workers": 2, "max_wavenet_jobs": 2},
        {"max_wavenet_jobs": 0},
        {"max_queue": -1},
        {"port": 70000},
        {"max_audio_seconds": 0},
    ],
)
def test_config_rejects_settings_that_break_the_guarantees(fields: dict) -> None:
    with pytest.raises(UserError):
        ServerConfig(**fields)


def test_voice_spec_parsing() -> None:
    assert VoiceSpec.parse("a=/x/y") == VoiceSpec("a", "/x/y")
    assert VoiceSpec.parse("/x/y") == VoiceSpec(None, "/x/y")
    with pytest.raises(UserError):
        VoiceSpec.parse("=/x")


def test_registry_defaults_to_the_bundled_voice(monkeypatch: pytest.MonkeyPatch, synth: Synthesizer) -> None:
    seen = []

    def load(
        cls: type[Synthesizer],
        voice: str | Path | None,
        wavenet_impl: str = "fast",
        gan_backend: str = "auto",
    ) -> Synthesizer:
        seen.append((voice, wavenet_impl, gan_backend))
        return synth

    monkeypatch.setattr(Synthesizer, "load", classmethod(load))
    reg = VoiceRegistry.load((), wavenet_impl="reference", gan_backend="eager")
    # No spec means the bundled voice (None), loaded with the server's vocoder settings.
    assert seen == [(None, "reference", "eager")]
    assert reg.names == [synth.manifest.name] and reg.default == synth.manifest.name


# RPCs.


def test_list_voices_reports_voices_and_limits(client: SynthesisClient, server: GanspeechServer) -> None:
    reply = client.list_voices()
    assert [v.name for v in reply.voices] == [VOICE]
    voice = reply.voices[0]
    assert voice.language_code == "en-us" and voice.native_sample_rate_hz == 16000
    assert set(voice.vocoders) == {pb.VOCODER_HIFIGAN, pb.VOCODER_VOCOS, pb.VOCODER_WAVENET}
    assert voice.is_default and not voice.trained
    lim = reply.limits
    assert lim.max_text_chars == server.config.max_text_chars and lim.max_concurrent_jobs == 2
    per_vocoder = {v.vocoder: v.max_concurrent_jobs for v in lim.vocoder_limits}
    assert per_vocoder == {pb.VOCODER_HIFIGAN: 2, pb.VOCODER_VOCOS: 2, pb.VOCODER_WAVENET: 1}
    assert {pb.AUDIO_ENCODING_LINEAR16, pb.AUDIO_ENCODING_WAV, pb.AUDIO_ENCODING_FLAC} <= set(lim.encodings)
    assert list(lim.supported_sample_rates_hz) == list(SUPPORTED_SAMPLE_RATES)
    assert lim.max_audio_seconds == server.config.max_audio_seconds > 0
    assert client.list_voices("en").voices and not client.list_voices("de").voices


def test_synthesize_returns_the_library_audio_and_latency(
    client: SynthesisClient, synth: Synthesizer
) -> None:
    reply = client.synthesize(LONG, vocoder="hifigan", encoding="wav")
    direct = synth.synthesize(LONG, vocoder="hifigan")
    audio, sr = sf.read(io.BytesIO(reply.audio), dtype="int16")
    assert sr == reply.sample_rate_hz == 16000
    assert np.abs(audio.astype(np.int32) - to_pcm16(direct.audio)).max() <= 1
    assert reply.audio_seconds == pytest.approx(len(direct.audio) / 16000)
    assert reply.vocoder == pb.VOCODER_HIFIGAN and reply.voice == VOICE
    assert reply.normalized_text == direct.normalized_text
    lat = reply.latency
    assert min(lat.frontend_ms, lat.text2mel_ms, lat.vocoder_ms) > 0
    assert lat.total_ms == pytest.approx(lat.frontend_ms + lat.text2mel_ms + lat.vocoder_ms, rel=0.05)
    assert lat.server_ms >= lat.total_ms
    assert lat.rtf == pytest.approx(lat.total_ms / 1000 / reply.audio_seconds)


def test_encodings_and_resampling(client: SynthesisClient, synth: Synthesizer) -> None:
    by_encoding = {e: response_audio(client.synthesize(SHORT, encoding=e)) for e in ENCODINGS}
    np.testing.assert_array_equal(by_encoding["wav"], by_encoding["linear16"])
    np.testing.assert_array_equal(by_encoding["flac"], by_encoding["linear16"])
    reply = client.synthesize(SHORT, encoding="flac", sample_rate_hz=22050)
    assert reply.sample_rate_hz == 22050 and sf.info(io.BytesIO(reply.audio)).samplerate == 22050
    expected = resample(synth.synthesize(SHORT, vocoder="hifigan").audio, 16000, 22050)
    np.testing.assert_allclose(response_audio(reply), to_pcm16(expected) / 32767, atol=1e-6)


def test_wavenet_is_seeded(client: SynthesisClient, synth: Synthesizer) -> None:
    a = client.synthesize(SHORT, vocoder="wavenet", encoding="linear16", seed=3)
    b = client.synthesize(SHORT, vocoder="wavenet", encoding="linear16", seed=3)
    c = client.synthesize(SHORT, vocoder="wavenet", encoding="linear16", seed=4)
    assert a.vocoder == pb.VOCODER_WAVENET and a.audio == b.audio and a.audio != c.audio
    direct = synth.synthesize(SHORT, vocoder="wavenet", seed=3)
    np.testing.assert_allclose(response_audio(a), to_pcm16(direct.audio) / 32767, atol=1e-6)


@pytest.mark.parametrize("sample_rate", [0, 22050])
def test_stream_equals_unary_audio(client: SynthesisClient, sample_rate: int) -> None:
    messages = list(client.stream(LONG, vocoder="hifigan", sample_rate_hz=sample_rate))
    kinds = [m.WhichOneof("content") for m in messages]
    assert kinds[0] == "format" and kinds[-1] == "summary" and set(kinds[1:-1]) == {"chunk"}
    fmt, summary = messages[0].format, messages[-1].summary
    rate = sample_rate or 16000
    assert fmt.sample_rate_hz == rate and fmt.encoding == pb.AUDIO_ENCODING_LINEAR16 and fmt.channels == 1
    chunks = [m.chunk for m in messages[1:-1]]
    # Finer than per sentence for the GAN vocoder: more chunks than sentences (+ their pauses).
    n_sentences = max(c.sentence_index for c in chunks) + 1
    assert n_sentences > 1 and len(chunks) > 2 * n_sentences - 1 and summary.chunks == len(chunks)
    assert [c.sentence_index for c in chunks] == sorted(c.sentence_index for c in chunks)
    streamed = np.concatenate([decode(c.audio, "linear16") for c in chunks])
    unary = response_audio(client.synthesize(LONG, encoding="linear16", sample_rate_hz=sample_rate))
    assert len(streamed) == len(unary)
    assert np.abs(streamed - unary).max() <= 2 * PCM_LSB  # seamless: same audio up to rounding
    lat = summary.latency
    assert 0 < lat.first_chunk_ms < lat.total_ms
    assert chunks[0].elapsed_ms == pytest.approx(lat.first_chunk_ms)
    assert summary.audio_seconds == pytest.approx(len(streamed) / rate)


def test_wavenet_stream_yields_per_sentence(client: SynthesisClient, server: GanspeechServer) -> None:
    text = "One. Two."
    result = client.stream_audio(text, vocoder="wavenet", seed=1)
    unary = response_audio(client.synthesize(text, vocoder="wavenet", encoding="linear16", seed=1))
    assert result.chunks == 3  # sentence, pause, sentence
    assert len(result.audio) == len(unary)
    # The first sentence draws the same uniforms either way (later ones are seeded per batch row).
    first = client.stream(text, vocoder="wavenet", seed=1)
    next(first)
    first_sentence = decode(next(first).chunk.audio, "linear16")
    first.cancel()  # the rest is not needed: the server stops and frees the WaveNet slot
    _poll(lambda: server.admission.sequential.in_use == 0, timeout=PROMPT_S * 2)
    np.testing.assert_array_equal(first_sentence, unary[: len(first_sentence)])
    assert result.format.vocoder == pb.VOCODER_WAVENET


def test_compare_runs_both_vocoders(client: SynthesisClient) -> None:
    reply = client.compare(SHORT, encoding="wav", seed=2)
    assert reply.gan.vocoder == pb.VOCODER_VOCOS  # the voice's preferred GAN vocoder
    assert reply.wavenet.vocoder == pb.VOCODER_WAVENET
    gan, wn = response_audio(reply.gan), response_audio(reply.wavenet)
    assert len(gan) == len(wn) > 0  # one mel, two vocoders
    assert not np.array_equal(gan, wn)
    assert reply.vocoder_speed_ratio == pytest.approx(
        reply.wavenet.latency.vocoder_ms / reply.gan.latency.vocoder_ms
    )
    assert reply.total_speed_ratio == pytest.approx(
        reply.wavenet.latency.total_ms / reply.gan.latency.total_ms
    )
    seeded = response_audio(client.synthesize(SHORT, vocoder="wavenet", encoding="wav", seed=2))
    np.testing.assert_array_equal(wn, seeded)


# Bad input: INVALID_ARGUMENT before any model runs.

BAD_REQUESTS = {
    "empty text": ({"text": ""}, "empty"),
    "blank text": ({"text": "  \n "}, "empty"),
    "text over the limit": ({"text": "word " * 1000}, "at most"),
    "unknown voice": ({"voice": "nobody"}, "unknown voice"),
    "unspecified vocoder": ({"vocoder": pb.VOCODER_UNSPECIFIED}, "vocoder is required"),
    "unknown vocoder": ({"vocoder": 7}, "unknown vocoder"),
    "unspecified encoding": ({"encoding": pb.AUDIO_ENCODING_UNSPECIFIED}, "encoding is required"),
    "unknown encoding": ({"encoding": 9}, "unknown encoding"),
    "unsupported sample rate": ({"sample_rate_hz": 12345}, "sample_rate_hz"),
    "negative sample rate": ({"sample_rate_hz": -16000}, "sample_rate_hz"),
    "speaking rate too fast": ({"speaking_rate": 9.0}, "speaking_rate"),
    "negative speaking rate": ({"speaking_rate": -1.0}, "speaking_rate"),
}


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


@pytest.mark.parametrize("case", list(BAD_REQUESTS))
def test_bad_input_is_invalid_argument(
    case: str, server: GanspeechServer, client: SynthesisClient, model_spy
) -> None:
    fields, phrase = BAD_REQUESTS[case]
    request = {"text": SHORT, "vocoder": pb.VOCODER_HIFIGAN, "encoding": pb.AUDIO_ENCODING_WAV} | fields
    code, details = _code(client.stub.Synthesize, pb.SynthesizeRequest(**request), timeout=30)
    assert code == grpc.StatusCode.INVALID_ARGUMENT and phrase in details
    stream_request = pb.SynthesizeRequest(**(request | {"encoding": pb.AUDIO_ENCODING_LINEAR16} | fields))
    if "encoding" not in fields:
        code, details = _code(client.stub.SynthesizeStream, stream_request, timeout=30)
        assert code == grpc.StatusCode.INVALID_ARGUMENT and phrase in details
    if "vocoder" not in fields:
        compare = {k: v for k, v in request.items() if k != "vocoder"}
        code, details = _code(client.stub.Compare, pb.CompareRequest(**compare), timeout=30)
        assert code == grpc.StatusCode.INVALID_ARGUMENT and phrase in details
    assert model_spy == []
    assert server.admission.workers.in_use == 0


def test_stream_requires_linear16(client: SynthesisClient, model_spy) -> None:
    request = pb.SynthesizeRequest(text=SHORT, vocoder=pb.VOCODER_HIFIGAN, encoding=pb.AUDIO_ENCODING_WAV)
    code, details = _code(client.stub.SynthesizeStream, request, timeout=30)
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "AUDIO_ENCODING_LINEAR16" in details
    assert model_spy == []


def test_unspeakable_text_is_invalid_argument(client: SynthesisClient, model_spy) -> None:
    code, details = _code(client.synthesize, "  ...  !!  ")
    assert code == grpc.StatusCode.INVALID_ARGUMENT and details
    assert model_spy == []


def test_voice_without_the_vocoder_is_invalid_argument(tiny_voice_dir: Path, synth: Synthesizer) -> None:
    gan_only = Synthesizer(
        synth.manifest, synth.text2mel, {VocoderKind.HIFIGAN: synth.check_vocoder("hifigan")}, tiny_voice_dir
    )
    srv = _start(VoiceRegistry({"gan-only": gan_only}))
    try:
        with SynthesisClient(srv.address, timeout=30) as c:
            code, details = _code(c.synthesize, SHORT, vocoder="wavenet")
            assert code == grpc.StatusCode.INVALID_ARGUMENT and "offers VOCODER_HIFIGAN" in details
            code, details = _code(c.compare, SHORT)
            assert code == grpc.StatusCode.INVALID_ARGUMENT and "has no VOCODER_WAVENET" in details
            assert c.synthesize(SHORT).audio
    finally:
        srv.stop()


# The synthesizer's per-sentence streaming step: it runs the vocoder chunk by chunk, on demand.
STREAM_STEP = "_stream_sentence"


@pytest.fixture
def vocoder_spy(synth: Synthesizer, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Records every vocoder run of ``synth``: unary, and each streamed chunk as it is made."""
    calls: list[str] = []
    original_vocode, original_step = synth.vocode, getattr(synth, STREAM_STEP)

    def vocode(*args, **kwargs):
        calls.append("vocode")
        return original_vocode(*args, **kwargs)

    def step(*args, **kwargs):
        for piece in original_step(*args, **kwargs):
            calls.append("chunk")
            yield piece

    monkeypatch.setattr(synth, "vocode", vocode)
    monkeypatch.setattr(synth, STREAM_STEP, step)
    return calls


def test_unary_audio_over_the_message_limit_points_to_streaming(
    registry: VoiceRegistry, synth: Synthesizer, vocoder_spy: list[str]
) -> None:
    one_output = len(synth.synthesize(SHORT).audio) * 2 + 1024  # PCM bytes + header allowance
    vocoder_spy.clear()
    # Room for one output but not two: Compare must be refused before either vocoder runs.
    srv = _start(registry, max_unary_audio_bytes=int(one_output * 1.5), max_text_chars=len(LONG) + 10)
    try:
        with SynthesisClient(srv.address, timeout=30) as c:
            t0 = time.monotonic()
            code, details = _code(c.synthesize, LONG)
            assert code == grpc.StatusCode.INVALID_ARGUMENT and "SynthesizeStream" in details
            code, details = _code(c.compare, SHORT)
            assert code == grpc.StatusCode.INVALID_ARGUMENT and "unary response" in details
            assert time.monotonic() - t0 < PROMPT_S
            assert vocoder_spy == [], "refused requests must not reach a vocoder"
            assert c.synthesize(SHORT, encoding="linear16").audio  # one output fits
            assert c.stream_audio(LONG).audio.size > 500  # the long text streams fine
    finally:
        srv.stop()


def test_audio_over_max_audio_seconds_is_refused_before_any_vocoder(
    registry: VoiceRegistry, synth: Synthesizer, vocoder_spy: list[str]
) -> None:
    long_s = len(synth.synthesize(LONG).audio) / synth.sample_rate
    short_s = len(synth.synthesize(SHORT).audio) / synth.sample_rate
    vocoder_spy.clear()
    assert short_s < long_s / 2
    srv = _start(registry, max_audio_seconds=long_s / 2, max_text_chars=len(LONG) + 10)
    try:
        with SynthesisClient(srv.address, timeout=30) as c:
            assert c.list_voices().limits.max_audio_seconds == pytest.approx(long_s / 2)
            t0 = time.monotonic()
            calls = [
                lambda: c.synthesize(LONG),
                lambda: c.synthesize(LONG, vocoder="wavenet"),
                lambda: list(c.stream(LONG)),
                lambda: list(c.stream(LONG, vocoder="wavenet")),
                lambda: c.compare(LONG),
            ]
            for fn in calls:
                code, details = _code(fn)
                assert code == grpc.StatusCode.INVALID_ARGUMENT and "max_audio_seconds" in details
            assert time.monotonic() - t0 < len(calls) * PROMPT_S
            assert vocoder_spy == [], "refused requests must not reach a vocoder"
            assert srv.admission.workers.in_use == 0 and srv.admission.sequential.in_use == 0
            assert c.synthesize(SHORT).audio and c.stream_audio(SHORT).audio.size
    finally:
        srv.stop()


def test_ssml_breaks_and_a_lower_pitch_count_towards_max_audio_seconds(
    registry: VoiceRegistry, synth: Synthesizer, vocoder_spy: list[str]
) -> None:
    """Silence asked for in SSML and the stretch of a lower pitch make audio too: both are counted
    before any vocoder runs."""
    short_s = len(synth.synthesize(SHORT).audio) / synth.sample_rate
    low_s = len(synth.synthesize(SHORT, pitch=-12).audio) / synth.sample_rate
    assert low_s > 1.5 * short_s
    vocoder_spy.clear()
    srv = _start(registry, max_audio_seconds=1.2 * short_s)
    try:
        with SynthesisClient(srv.address, timeout=30) as c:
            assert c.synthesize(SHORT).audio
            vocoder_spy.clear()
            paused = f'<speak>{SHORT} <break time="{2 * short_s:.2f}s"/></speak>'
            for fn in (lambda: c.synthesize(paused), lambda: list(c.stream(paused)),
                       lambda: c.synthesize(SHORT, pitch=-12)):
                code, details = _code(fn)
                assert code == grpc.StatusCode.INVALID_ARGUMENT and "max_audio_seconds" in details
            assert vocoder_spy == [], "refused requests must not reach a vocoder"
    finally:
        srv.stop()


def test_request_over_the_receive_limit_is_resource_exhausted(client: SynthesisClient, model_spy) -> None:
    # The README's advice differs from a full queue's: the message tells the two apart.
    code, details = _code(client.synthesize, "a" * (GRPC_DEFAULT_MAX_MESSAGE_BYTES + 1))
    assert code == grpc.StatusCode.RESOURCE_EXHAUSTED and "larger than max" in details
    assert model_spy == []


def test_long_voice_name_is_invalid_argument(client: SynthesisClient, model_spy) -> None:
    name = "v" * 9000
    for fn in (
        lambda: client.synthesize(SHORT, voice=name),
        lambda: list(client.stream(SHORT, voice=name)),
        lambda: client.stub.Compare(
            pb.CompareRequest(text=SHORT, voice=name, encoding=pb.AUDIO_ENCODING_WAV)
        ),
    ):
        code, details = _code(fn)
        assert code == grpc.StatusCode.INVALID_ARGUMENT and "unknown voice" in details
        assert "(9000 chars)" in details and len(details) < 500
    assert model_spy == []


# Failures, overload, deadlines, cancellation.


def test_internal_error_is_contained(
    server: GanspeechServer, client: SynthesisClient, synth: Synthesizer, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args, **kwargs):
        raise RuntimeError("simulated model failure\nINFO server.service: req=FORGED status=OK")

    with monkeypatch.context() as m:
        m.setattr(synth, "synthesize", broken)
        code, details = _code(client.synthesize, SHORT)
    assert code == grpc.StatusCode.INTERNAL and "request" in details
    assert "simulated" not in details  # internals stay in the server log
    assert server.admission.workers.in_use == 0
    assert client.synthesize(SHORT).audio  # still serving


def test_deadline_stops_wavenet_and_frees_the_worker(
    slow_server: GanspeechServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    synth = slow_server.servicer._registry.get(VOICE)[1]
    outcomes: list[str] = []
    original = synth.synthesize

    def watched(*args, **kwargs):
        try:
            result = original(*args, **kwargs)
        except GenerationCancelled:
            outcomes.append("cancelled")
            raise
        outcomes.append("finished")
        return result

    monkeypatch.setattr(synth, "synthesize", watched)
    adm = slow_server.admission
    with SynthesisClient(slow_server.address) as c:
        t0 = time.monotonic()
        code, _ = _code(c.synthesize, LONG, vocoder="wavenet", timeout=1.0)
        assert code == grpc.StatusCode.DEADLINE_EXCEEDED
        freed_after = _poll(lambda: adm.sequential.in_use == 0 and adm.workers.in_use == 0, timeout=PROMPT_S * 2)
        assert outcomes == ["cancelled"], "the sample loop should have been stopped, not run to the end"
        assert time.monotonic() - t0 < 1.0 + PROMPT_S * 2
        assert freed_after < PROMPT_S
        # The WaveNet slot is free again: a new WaveNet request is admitted and finishes.
        assert c.synthesize("Hi.", vocoder="wavenet", timeout=60).audio


def test_wavenet_limit_gives_resource_exhausted_while_gan_is_served(slow_server: GanspeechServer) -> None:
    adm = slow_server.admission
    with SynthesisClient(slow_server.address) as c:
        busy = c.stream(LONG, vocoder="wavenet", timeout=120)
        first = next(busy)  # the format message: the job holds its slots now
        assert first.WhichOneof("content") == "format"
        assert adm.sequential.in_use == 1
        t0 = time.monotonic()
        code, details = _code(c.synthesize, SHORT, vocoder="wavenet", timeout=30)
        assert code == grpc.StatusCode.RESOURCE_EXHAUSTED and "WaveNet" in details
        code, _ = _code(c.compare, SHORT, timeout=30)
        assert code == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert time.monotonic() - t0 < PROMPT_S  # refused at once, not queued
        reply = c.synthesize(SHORT, vocoder="hifigan", timeout=30)  # GAN still has a worker
        assert reply.audio and reply.vocoder == pb.VOCODER_HIFIGAN
        assert adm.sequential.in_use == 1, "the long WaveNet job should still be running"
        busy.cancel()  # the client gives up: generation stops and the worker is freed
        freed_after = _poll(lambda: adm.sequential.in_use == 0 and adm.workers.in_use == 0, timeout=PROMPT_S * 2)
        assert freed_after < PROMPT_S


def test_sixteen_concurrent_gan_clients(server: GanspeechServer, synth: Synthesizer) -> None:
    n = 16
    texts = [f"Request number {i} says {['yes', 'no', 'maybe', 'hello'][i % 4]}." for i in range(n)]
    expected = [to_pcm16(synth.synthesize(t, vocoder="hifigan").audio) / 32767 for t in texts]
    barrier = threading.Barrier(n)

    def one(i: int) -> np.ndarray:
        with SynthesisClient(server.address, timeout=120) as c:
            c.list_voices()  # connect first so the barrier releases requests together
            barrier.wait()
            if i % 2:
                return c.stream_audio(texts[i]).audio
            return response_audio(c.synthesize(texts[i], encoding="linear16"))

    with ThreadPoolExecutor(n) as pool:
        results = list(pool.map(one, range(n)))
    for got, want in zip(results, expected):
        assert len(got) == len(want)
        assert np.abs(got - want).max() <= 2 * PCM_LSB
    assert server.admission.workers.in_use == 0


def _held(synth: Synthesizer, monkeypatch: pytest.MonkeyPatch, release: threading.Event) -> list[str]:
    """Make ``synth.synthesize`` wait for ``release`` before working; returns the texts in start order."""
    started: list[str] = []
    original = synth.synthesize

    def held(text, *args, **kwargs):
        started.append(text)
        release.wait(30)
        return original(text, *args, **kwargs)

    monkeypatch.setattr(synth, "synthesize", held)
    return started


def test_queued_requests_are_served_in_arrival_order(
    registry: VoiceRegistry, synth: Synthesizer, monkeypatch: pytest.MonkeyPatch
) -> None:
    srv = _start(registry, workers=2, max_queue=5)
    hold_a, hold_b = threading.Event(), threading.Event()
    holds = {"A.": hold_a, "B.": hold_b}
    started: list[str] = []
    original = synth.synthesize

    def held(text, *args, **kwargs):
        started.append(text)
        if text in holds:
            holds[text].wait(30)
        return original(text, *args, **kwargs)

    monkeypatch.setattr(synth, "synthesize", held)
    adm = srv.admission
    try:
        with SynthesisClient(srv.address, timeout=60) as c, ThreadPoolExecutor(7) as pool:
            running = [pool.submit(c.synthesize, "A."), pool.submit(c.synthesize, "B.")]
            _poll(lambda: adm.workers.in_use == 2 and len(started) == 2)
            texts = [f"Number {i}." for i in range(5)]
            queued = []
            for i, text in enumerate(texts):
                queued.append(pool.submit(c.synthesize, text))
                _poll(lambda i=i: adm.workers.waiting == i + 1)
            # A keeps one worker; B's worker then serves the queue one job at a time.
            hold_b.set()
            assert all(f.result(60).audio for f in queued)
            assert started[2:] == texts
            hold_a.set()
            assert all(f.result(60).audio for f in running)
    finally:
        hold_a.set()
        hold_b.set()
        srv.stop()


def test_health_and_voices_answer_while_the_queue_is_full(
    registry: VoiceRegistry,
    synth: Synthesizer,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    release = threading.Event()
    _held(synth, monkeypatch, release)
    srv = _start(registry, workers=2, max_queue=1)
    adm = srv.admission
    n_over = 12  # more than gRPC's old concurrency cap (workers + queue + 4) could take at once
    try:
        with (
            caplog.at_level("INFO", logger="server.service"),
            SynthesisClient(srv.address, timeout=60) as c,
            ThreadPoolExecutor(3 + n_over) as pool,
        ):
            running = [pool.submit(c.synthesize, SHORT) for _ in range(3)]  # 2 run, 1 waits
            _poll(lambda: adm.workers.in_use == 2 and adm.workers.waiting == 1)
            over = [pool.submit(_code, c.synthesize, SHORT) for _ in range(n_over)]
            for _ in range(5):
                assert c.health(timeout=PROMPT_S) == "SERVING"
                assert c.list_voices(timeout=PROMPT_S).voices
            results = [f.result(30) for f in over]
            assert all(code == grpc.StatusCode.RESOURCE_EXHAUSTED for code, _ in results)
            # Each was refused by the server's admission control (its message, its count, its log).
            assert all("slots are busy" in details for _, details in results)
            assert adm.refused == n_over
            refused_lines = [r for r in caplog.records if "status=RESOURCE_EXHAUSTED" in r.getMessage()]
            assert len(refused_lines) == n_over
            release.set()
            assert all(f.result(60).audio for f in running)
    finally:
        release.set()
        srv.stop()


def test_gan_queue_overflow_is_resource_exhausted(
    registry: VoiceRegistry, synth: Synthesizer, monkeypatch
) -> None:
    release = threading.Event()
    original = synth.synthesize

    def held(*args, **kwargs):
        release.wait(30)
        return original(*args, **kwargs)

    srv = _start(registry, workers=2, max_queue=1)
    monkeypatch.setattr(synth, "synthesize", held)
    try:
        with SynthesisClient(srv.address, timeout=60) as c, ThreadPoolExecutor(3) as pool:
            running = [pool.submit(c.synthesize, SHORT) for _ in range(3)]  # 2 run, 1 waits
            _poll(lambda: srv.admission.workers.in_use == 2 and srv.admission.workers.waiting == 1)
            code, details = _code(c.synthesize, SHORT)
            assert code == grpc.StatusCode.RESOURCE_EXHAUSTED and "retry" in details
            release.set()
            assert all(f.result(60).audio for f in running)
    finally:
        release.set()
        srv.stop()


# Health, reflection, lifecycle.


def test_health_transitions(registry: VoiceRegistry) -> None:
    loaded = threading.Event()

    def slow_loader(_cfg: ServerConfig) -> VoiceRegistry:
        loaded.wait(30)
        return registry

    srv = build_server(ServerConfig(port=0, grace_s=5), loader=slow_loader)
    srv.start()
    loader_thread = threading.Thread(target=srv.load_voices)
    loader_thread.start()
    try:
        with SynthesisClient(srv.address, timeout=10) as c:
            assert c.health() == "NOT_SERVING" and c.health(SERVICE_NAME) == "NOT_SERVING"
            code, details = _code(c.synthesize, SHORT)
            assert code == grpc.StatusCode.UNAVAILABLE and "loading" in details
            watch = c.health_stub.Watch(health_pb2.HealthCheckRequest(service=SERVICE_NAME), timeout=30)
            assert next(watch).status == health_pb2.HealthCheckResponse.NOT_SERVING
            loaded.set()
            loader_thread.join(10)
            assert next(watch).status == health_pb2.HealthCheckResponse.SERVING
            assert c.health() == "SERVING" and c.health(SERVICE_NAME) == "SERVING"
            assert c.synthesize(SHORT).audio
            t0 = time.monotonic()
            drainer = threading.Thread(target=srv.drain)
            drainer.start()
            assert next(watch).status == health_pb2.HealthCheckResponse.NOT_SERVING
            drainer.join(10)
            # The open Watch stream must not hold the drain for the whole grace period.
            assert not drainer.is_alive() and time.monotonic() - t0 < 5
            code, _ = _code(c.synthesize, SHORT)
            assert code == grpc.StatusCode.UNAVAILABLE
    finally:
        loaded.set()
        srv.stop()


def test_reflection_lists_the_services(server: GanspeechServer) -> None:
    with grpc.insecure_channel(server.address) as channel:
        db = ProtoReflectionDescriptorDatabase(channel)
        services = set(db.get_services())
        assert {SERVICE_NAME, "grpc.health.v1.Health", "grpc.reflection.v1alpha.ServerReflection"} <= services
        proto = db.FindFileContainingSymbol(SERVICE_NAME)
        methods = {m.name for m in proto.service[0].method}
        assert methods == {"Synthesize", "SynthesizeStream", "Compare", "ListVoices"}


def test_drain_finishes_in_flight_work_and_refuses_new(
    registry: VoiceRegistry, synth: Synthesizer, monkeypatch: pytest.MonkeyPatch
) -> None:
    srv = _start(registry, grace_s=30)
    original = synth.synthesize_stream

    def after_drain_began(*args, **kwargs):
        # Hold the job until the drain has begun, so it is certainly in flight during the drain.
        _poll(lambda: srv.servicer.draining)
        yield from original(*args, **kwargs)

    monkeypatch.setattr(synth, "synthesize_stream", after_drain_began)
    with SynthesisClient(srv.address, timeout=60) as c:
        in_flight = c.stream(LONG, vocoder="wavenet")
        assert next(in_flight).WhichOneof("content") == "format"
        drainer = threading.Thread(target=srv.drain)
        drainer.start()
        kinds = [m.WhichOneof("content") for m in in_flight]
        assert kinds[-1] == "summary" and "chunk" in kinds  # finished normally within the grace period
        drainer.join(10)
        assert not drainer.is_alive()
        code, _ = _code(c.synthesize, SHORT, timeout=5)
        assert code == grpc.StatusCode.UNAVAILABLE


def test_drain_cancels_work_that_outlives_the_grace_period(tiny_voice_dir: Path) -> None:
    reference = Synthesizer.load(tiny_voice_dir, wavenet_impl="reference")
    srv = _start(VoiceRegistry({VOICE: reference}), grace_s=0.3, max_text_chars=len(LONG) + 10)
    with SynthesisClient(srv.address, timeout=120) as c:
        in_flight = c.stream(LONG, vocoder="wavenet")
        assert next(in_flight).WhichOneof("content") == "format"
        t0 = time.monotonic()
        finished = srv.drain()
        assert not finished and time.monotonic() - t0 < 0.3 + PROMPT_S
        assert srv.admission.workers.in_use == 0 and srv.servicer.active_requests == 0
        code, _ = _code(list, in_flight)
        assert code == grpc.StatusCode.CANCELLED


def test_grace_expiry_cancels_gan_work_and_logs_what_the_client_saw(
    registry: VoiceRegistry,
    synth: Synthesizer,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    srv = _start(registry, grace_s=0.3, max_text_chars=len(LONG) + 10, stream_chunk_frames=8)
    chunks_made: list[float] = []
    stream_closed = threading.Event()
    original_step, original_synthesize = getattr(synth, STREAM_STEP), synth.synthesize

    def slow_pieces(*args, **kwargs):
        try:
            for piece in original_step(*args, **kwargs):
                chunks_made.append(time.monotonic())
                time.sleep(0.1)  # a long stream: it outlives the grace period
                yield piece
        finally:
            stream_closed.set()

    def unary_outliving_the_grace(*args, **kwargs):
        # A unary HiFi-GAN pass cannot be interrupted: it finishes after the cancel.
        _poll(lambda: cancelled_at, timeout=30)
        return original_synthesize(*args, **kwargs)

    cancelled_at: list[float] = []
    cancel_all = srv.servicer.cancel_all

    def timed_cancel_all() -> None:
        t = time.monotonic()
        cancel_all()
        cancelled_at.append(t)

    monkeypatch.setattr(synth, STREAM_STEP, slow_pieces)
    monkeypatch.setattr(synth, "synthesize", unary_outliving_the_grace)
    monkeypatch.setattr(srv.servicer, "cancel_all", timed_cancel_all)
    request = pb.SynthesizeRequest(text=LONG, vocoder=pb.VOCODER_HIFIGAN, encoding=pb.AUDIO_ENCODING_LINEAR16)
    with caplog.at_level("INFO", logger="server"), SynthesisClient(srv.address, timeout=60) as c:
        stream = c.stub.SynthesizeStream(request, metadata=((REQUEST_ID_KEY, "grace-stream"),))
        assert next(stream).WhichOneof("content") == "format"
        unary = c.stub.Synthesize.future(request, metadata=((REQUEST_ID_KEY, "grace-unary"),))
        _poll(lambda: srv.servicer.active_requests == 2)
        assert not srv.drain()
        code, _ = _code(list, stream)
        assert code == grpc.StatusCode.CANCELLED
        with pytest.raises(grpc.RpcError) as info:
            unary.result(30)
        assert info.value.code() == grpc.StatusCode.CANCELLED and "shut down" in info.value.details()
    assert stream_closed.is_set(), "the stream's vocoder loop should have been closed"
    # The chunk being made when the cancel came is the last: the stream stops between chunks.
    assert len(cancelled_at) == 1 and len([t for t in chunks_made if t > cancelled_at[0]]) <= 1
    for rid in ("grace-stream", "grace-unary"):
        lines = [r.getMessage() for r in caplog.records if f"req={rid} " in r.getMessage()]
        assert len(lines) == 1 and "status=CANCELLED" in lines[0], lines


def test_request_log_line(client: SynthesisClient, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("INFO", logger="server.service"):
        client.stub.Synthesize(
            pb.SynthesizeRequest(text=SHORT, vocoder=pb.VOCODER_HIFIGAN, encoding=pb.AUDIO_ENCODING_WAV),
            metadata=(("x-request-id", "abc-123"),),
            timeout=30,
        )
    lines = [r.getMessage() for r in caplog.records if "req=abc-123" in r.getMessage()]
    assert len(lines) == 1
    line = lines[0]
    assert "vocoder=hifigan" in line and f"chars={len(SHORT)}" in line and "status=OK" in line
    assert re.search(r"total_ms=\d+\.\d", line) and re.search(r"server_ms=\d+\.\d", line)


FORGED = "\nINFO server.service: req=FORGED0001 rpc=Synthesize status=OK"


@pytest.mark.parametrize(
    "voice",
    ["x" + FORGED, "nul\x00byte", "\u2028sep" + FORGED, "v" * 100_000],
    ids=["newline", "nul", "line-separator", "100k-chars"],
)
def test_no_logged_field_can_start_a_new_log_line(
    client: SynthesisClient, caplog: pytest.LogCaptureFixture, voice: str
) -> None:
    with caplog.at_level("INFO", logger="server"):
        for fn in (
            lambda: client.synthesize(SHORT, voice=voice),
            lambda: list(client.stream(SHORT, voice=voice)),
            lambda: client.stub.Compare(
                pb.CompareRequest(text=SHORT, voice=voice, encoding=pb.AUDIO_ENCODING_WAV)
            ),
        ):
            code, _ = _code(fn)
            assert code == grpc.StatusCode.INVALID_ARGUMENT
    messages = [r.getMessage() for r in caplog.records if r.name.startswith("server")]
    assert len(messages) == 3
    for message in messages:
        assert message.isprintable(), repr(message)  # no newline, NUL or line separator
        assert "status=INVALID_ARGUMENT" in message and len(message) < 1000


def test_internal_error_log_is_one_line(
    client: SynthesisClient,
    synth: Synthesizer,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(*args, **kwargs):
        raise RuntimeError("model failure" + FORGED)

    monkeypatch.setattr(synth, "synthesize", broken)
    with caplog.at_level("INFO", logger="server"):
        code, _ = _code(client.synthesize, SHORT)
    assert code == grpc.StatusCode.INTERNAL
    records = [r for r in caplog.records if r.name.startswith("server")]
    assert len(records) == 2  # the traceback and the request line
    for record in records:
        assert record.getMessage().isprintable() and record.exc_info is None
    assert "Traceback" in records[0].getMessage() and "status=INTERNAL" in records[1].getMessage()


# Command line: `ganspeech serve` under SIGTERM and `ganspeech client`.


def _client_cli(argv: list[str]) -> int:
    from tts.cli.commands import client as client_command

    parser = argparse.ArgumentParser()
    client_command.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["client", *argv])
    return args.func(args)


def test_client_command(server: GanspeechServer, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "a.flac"
    assert (
        _client_cli(
            ["synthesize", SHORT, "--server", server.address, "-o", str(out), "--sample-rate", "8000"]
        )
        == 0
    )
    assert sf.info(str(out)).samplerate == 8000 and sf.info(str(out)).format == "FLAC"
    out = tmp_path / "s.wav"
    assert _client_cli(["stream", LONG, "--server", server.address, "-o", str(out)]) == 0
    assert sf.info(str(out)).samplerate == 16000 and sf.info(str(out)).frames > 16000
    assert _client_cli(["compare", SHORT, "--server", server.address, "-o", str(tmp_path / "c.wav")]) == 0
    assert (tmp_path / "c_vocos.wav").is_file() and (tmp_path / "c_wavenet.wav").is_file()
    capsys.readouterr()
    assert _client_cli(["voices", "--server", server.address, "--json"]) == 0
    assert '"name": "tiny"' in capsys.readouterr().out
    assert _client_cli(["synthesize", "", "--server", server.address, "-o", str(tmp_path / "x.wav")]) == 1
    assert "INVALID_ARGUMENT" in capsys.readouterr().err


SERVE_SCRIPT = """
import argparse, logging, sys
logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
from tts.cli.commands import serve
parser = argparse.ArgumentParser()
serve.register(parser.add_subparsers(dest="command"))
args = parser.parse_args(sys.argv[1:])
sys.exit(args.func(args))
"""


def test_serve_command_shuts_down_on_sigterm(tiny_voice_dir: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", SERVE_SCRIPT, "serve", "--port", "0", "--voice", f"{VOICE}={tiny_voice_dir}"],
        cwd=REPO,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ, PYTHONPATH=str(REPO)),
    )
    try:
        address = None
        log: list[str] = []
        while True:
            line = proc.stderr.readline()
            assert line, f"the server exited early: {''.join(log)}"
            log.append(line)
            found = re.search(r"serving voices \S+ on (\S+):", line)
            if found:
                address = found.group(1)
                break
        with SynthesisClient(address, timeout=30) as c:
            assert c.health() == "SERVING"
            assert c.synthesize(SHORT).audio
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
        rest = proc.stderr.read()
        assert re.search(
            r"req=\w+ rpc=Synthesize voice=tiny vocoder=hifigan chars=12 status=OK", rest + "".join(log)
        )
        assert "server stopped" in rest
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
