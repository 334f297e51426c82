"""Dynamic batching: concurrent unary requests share one vocoder pass, each gets its own audio."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import numpy as np
import pytest

from server import batching
from server.app import GanspeechServer, build_server
from server.client import SynthesisClient, response_audio
from server.config import ServerConfig, VoiceSpec
from server.voices import VoiceRegistry
from tts.synthesizer import Synthesizer
from vocoders.kinds import VocoderKind

VOICE = "tiny"
# Distinct texts, one of two sentences: each must come back with its own audio.
TEXTS = ["Hello there.", "Good morning to you. How are things?", "Numbers: 1, 2 and 3."]
PCM_LSB = 1.0 / 32767
# Long enough that every request sent at once joins the first one's batch on a loaded machine.
WINDOW_MS = 1000.0


@pytest.fixture(scope="module")
def synth(tiny_voice_dir: Path) -> Synthesizer:
    return Synthesizer.load(tiny_voice_dir)


def _server(synth: Synthesizer, **overrides) -> GanspeechServer:
    fields = {"port": 0, "voices": (VoiceSpec(VOICE, "unused"),), "workers": 2, "max_wavenet_jobs": 1}
    fields.update(overrides)
    srv = build_server(ServerConfig(**fields), loader=lambda _cfg: VoiceRegistry({VOICE: synth}))
    srv.start()
    srv.load_voices()
    return srv


@pytest.fixture(scope="module")
def batched(synth: Synthesizer) -> Iterator[GanspeechServer]:
    """Batches close when TEXTS are all in, or after WINDOW_MS."""
    srv = _server(synth, max_batch=len(TEXTS), batch_wait_ms=WINDOW_MS)
    yield srv
    srv.stop()


@pytest.fixture
def vocoder_calls(synth: Synthesizer, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The number of mels of each batched vocoder pass, and no padding limit on sharing one."""
    calls: list[int] = []
    original = synth.vocode_batch

    def counted(mels, vocoder):
        calls.append(len(mels))
        return original(mels, vocoder)

    monkeypatch.setattr(synth, "vocode_batch", counted)
    monkeypatch.setattr(batching, "MAX_PADDING_RATIO", float("inf"))
    return calls


def _concurrently(address: str, calls: list[dict]) -> list:
    """Send each call's Synthesize at once; the results (responses or RpcErrors) in order."""

    def one(kwargs: dict):
        with SynthesisClient(address, timeout=kwargs.pop("timeout", 60)) as c:
            try:
                return c.synthesize(encoding="linear16", **kwargs)
            except grpc.RpcError as exc:
                return exc

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(one, calls))


def test_distinct_texts_in_one_batch_each_get_their_own_audio(
    batched: GanspeechServer, synth: Synthesizer, vocoder_calls: list[int]
) -> None:
    kind = VocoderKind.HIFIGAN
    replies = _concurrently(batched.address, [{"text": t, "vocoder": kind} for t in TEXTS])
    sentences = sum(len(synth.analyze(t)) for t in TEXTS)
    assert vocoder_calls == [sentences]  # one model call for every sentence of every request
    for text, reply in zip(TEXTS, replies):
        assert not isinstance(reply, grpc.RpcError), reply
        alone = synth.synthesize(text, vocoder=kind).audio
        got = response_audio(reply)
        assert len(got) == len(alone)
        np.testing.assert_allclose(got, alone, atol=PCM_LSB)
        assert reply.normalized_text == synth.synthesize(text, vocoder=kind).normalized_text
        lat = reply.latency
        assert lat.batch_size == len(TEXTS)
        assert lat.vocoder_ms > 0 and lat.total_ms == pytest.approx(
            lat.frontend_ms + lat.text2mel_ms + lat.vocoder_ms
        )
        # Where the time went is visible: the batch's wait and the others' work are in server_ms.
        assert lat.server_ms >= lat.queue_ms + lat.batch_wait_ms + lat.total_ms


def test_a_deadline_in_a_batch_is_honoured_without_failing_the_others(
    batched: GanspeechServer, synth: Synthesizer, vocoder_calls: list[int]
) -> None:
    """The batch waits for a third member; the first (its leader) gives up, the second is served."""
    results: dict[str, object] = {}

    def send(name: str, text: str, timeout: float) -> None:
        results[name] = _concurrently(batched.address, [{"text": text, "timeout": timeout}])[0]

    hasty = threading.Thread(target=send, args=("hasty", TEXTS[0], 0.3))
    patient = threading.Thread(target=send, args=("patient", TEXTS[1], 60))
    t0 = time.monotonic()
    hasty.start()
    time.sleep(0.1)
    patient.start()
    hasty.join()
    assert time.monotonic() - t0 < WINDOW_MS / 1000  # told at its deadline, not when the batch ran
    patient.join()
    assert isinstance(results["hasty"], grpc.RpcError)
    assert results["hasty"].code() == grpc.StatusCode.DEADLINE_EXCEEDED
    reply = results["patient"]
    assert not isinstance(reply, grpc.RpcError), reply
    alone = synth.synthesize(TEXTS[1], vocoder=VocoderKind.HIFIGAN).audio  # the client's default vocoder
    np.testing.assert_allclose(response_audio(reply), alone, atol=PCM_LSB)
    assert reply.latency.batch_size == 1  # the stopped member's text was not even turned to mel
    assert reply.latency.batch_wait_ms > 0
    assert vocoder_calls == [len(synth.analyze(TEXTS[1]))]
    assert batched.admission.workers.in_use == 0


def test_one_members_refusal_or_failure_stays_its_own(
    synth: Synthesizer, vocoder_calls: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    short_s = synth.synthesize(TEXTS[0]).timings.audio_seconds
    srv = _server(synth, max_batch=2, batch_wait_ms=WINDOW_MS, max_audio_seconds=short_s * 1.5)
    try:
        too_long = " ".join(TEXTS * 3)
        replies = _concurrently(srv.address, [{"text": TEXTS[0]}, {"text": too_long}])
        assert response_audio(replies[0]).size
        assert (
            replies[1].code() == grpc.StatusCode.INVALID_ARGUMENT
            and "max_audio_seconds" in replies[1].details()
        )
        assert vocoder_calls == [1]  # the refused text never reached the vocoder

        def broken(mels, vocoder):
            raise RuntimeError("simulated model failure")

        monkeypatch.setattr(synth, "vocode_batch", broken)
        replies = _concurrently(srv.address, [{"text": TEXTS[0]}, {"text": TEXTS[0].upper()}])
        assert [r.code() for r in replies] == [grpc.StatusCode.INTERNAL] * 2
        monkeypatch.undo()
        assert response_audio(_concurrently(srv.address, [{"text": TEXTS[0]}])[0]).size  # still serving
        assert srv.admission.workers.in_use == 0
    finally:
        srv.stop()


def test_batching_off_runs_each_request_alone(
    synth: Synthesizer, vocoder_calls: list[int], batched: GanspeechServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    unbatched: list[str] = []
    original = synth.synthesize

    def alone(text, *args, **kwargs):
        unbatched.append(text)
        return original(text, *args, **kwargs)

    monkeypatch.setattr(synth, "synthesize", alone)
    srv = _server(synth, max_batch=1)
    try:
        assert srv.servicer.batcher is None
        replies = _concurrently(srv.address, [{"text": t} for t in TEXTS])
    finally:
        srv.stop()
    # A request that asks to run alone does so on a batching server too, and WaveNet is never batched.
    replies += _concurrently(batched.address, [{"text": TEXTS[0], "batching": False}])
    replies += _concurrently(batched.address, [{"text": TEXTS[1], "vocoder": VocoderKind.WAVENET}])
    assert sorted(unbatched) == sorted([*TEXTS, TEXTS[0], TEXTS[1]])
    assert vocoder_calls == []
    for reply in replies:
        assert reply.latency.batch_size == 1 and reply.latency.batch_wait_ms == 0
