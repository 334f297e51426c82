"""Prometheus metrics end to end: a real server, real requests, the endpoint scraped over HTTP."""

from __future__ import annotations

import socket
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from prometheus_client.parser import text_string_to_metric_families

from server.app import GanspeechServer, build_server
from server.client import SynthesisClient, synthesize_request
from server.config import ServerConfig, VoiceSpec
from server.voices import VoiceRegistry
from tts.cli.main import main
from tts.synthesizer import Synthesizer

VOICE = "tiny"
TEXT = "Hello there. How are you?"
Labels = dict[str, str]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(registry: VoiceRegistry, metrics_port: int) -> GanspeechServer:
    config = ServerConfig(
        port=0, metrics_port=metrics_port, voices=(VoiceSpec(VOICE, "unused"),), max_batch=1, max_queue=4
    )
    srv = build_server(config, loader=lambda _cfg: registry)
    srv.start()
    srv.load_voices()
    return srv


def _scrape(port: int) -> dict[tuple[str, frozenset], float]:
    """Every sample of ``/metrics``: (name, labels) -> value."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as reply:
        text = reply.read().decode()
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def _value(samples: dict[tuple[str, frozenset], float], name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def _poll(condition, timeout: float = 10.0) -> None:
    t0 = time.monotonic()
    while not condition():
        assert time.monotonic() - t0 < timeout, "condition not met in time"
        time.sleep(0.02)


@pytest.fixture(scope="module")
def registry(tiny_voice_dir: Path) -> VoiceRegistry:
    return VoiceRegistry({VOICE: Synthesizer.load(tiny_voice_dir)})


@pytest.fixture(scope="module")
def served(registry: VoiceRegistry) -> Iterator[tuple[GanspeechServer, int]]:
    port = _free_port()
    srv = _start(registry, port)
    yield srv, port
    srv.stop()


@pytest.fixture(scope="module")
def client(served: tuple[GanspeechServer, int]) -> Iterator[SynthesisClient]:
    with SynthesisClient(served[0].address, timeout=60) as c:
        yield c


def test_requests_are_counted_by_rpc_voice_vocoder_and_status(
    served: tuple[GanspeechServer, int], client: SynthesisClient
) -> None:
    _, port = served
    before = _scrape(port)
    assert client.synthesize(TEXT, vocoder="hifigan").audio
    assert client.stream_audio(TEXT, vocoder="vocos").audio.size
    with pytest.raises(grpc.RpcError) as empty:
        client.synthesize("", vocoder="hifigan")
    assert empty.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.RpcError) as stranger:
        client.synthesize(TEXT, voice="no-such-voice\n", vocoder="hifigan")
    assert stranger.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    after = _scrape(port)

    def moved(name: str, **labels: str) -> float:
        return _value(after, name, **labels) - _value(before, name, **labels)

    requests = "ganspeech_requests_total"
    assert moved(requests, rpc="Synthesize", voice=VOICE, vocoder="hifigan", code="OK") == 1
    assert moved(requests, rpc="SynthesizeStream", voice=VOICE, vocoder="vocos", code="OK") == 1
    assert moved(requests, rpc="Synthesize", voice=VOICE, vocoder="hifigan", code="INVALID_ARGUMENT") == 1
    # A voice the server does not have never becomes a label value of its own.
    assert moved(requests, rpc="Synthesize", voice="unknown", vocoder="hifigan", code="INVALID_ARGUMENT") == 1
    assert not any("no-such-voice" in dict(labels).get("voice", "") for _, labels in after)

    first = "ganspeech_time_to_first_audio_seconds_count"
    assert moved(first, rpc="Synthesize", voice=VOICE, vocoder="hifigan") == 1
    assert moved(first, rpc="SynthesizeStream", voice=VOICE, vocoder="vocos") == 1
    # Refused requests made no audio: no first-audio time for them.
    assert _value(after, first, rpc="Synthesize", voice="unknown", vocoder="hifigan") == 0
    for vocoder in ("hifigan", "vocos"):
        assert moved("ganspeech_vocoder_rtf_count", voice=VOICE, vocoder=vocoder) == 1
        assert moved("ganspeech_vocoder_rtf_sum", voice=VOICE, vocoder=vocoder) > 0
        for stage in ("frontend", "text2mel", "vocoder"):
            assert moved("ganspeech_stage_seconds_count", stage=stage, voice=VOICE, vocoder=vocoder) == 1


def test_refusals_and_admission_gauges(served: tuple[GanspeechServer, int], client: SynthesisClient) -> None:
    srv, port = served
    before = _scrape(port)
    # Hold the one WaveNet slot and both workers, as running jobs would.
    srv.admission.sequential.acquire()
    srv.admission.workers.acquire()
    srv.admission.workers.acquire()
    try:
        with pytest.raises(grpc.RpcError) as busy:
            client.synthesize(TEXT, vocoder="wavenet")
        assert busy.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        held = _scrape(port)
        assert _value(held, "ganspeech_jobs_in_flight", gate="worker") == 2
        assert _value(held, "ganspeech_jobs_in_flight", gate="sequential") == 1
        assert _value(held, "ganspeech_queue_depth") == 0
        with pytest.raises(grpc.RpcError) as late:
            # Queued behind the held workers until its deadline passes.
            client.synthesize(TEXT, vocoder="hifigan", timeout=0.5)
        assert late.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    finally:
        srv.admission.workers.release()
        srv.admission.workers.release()
        srv.admission.sequential.release()
    requests = "ganspeech_requests_total"
    refused = {"rpc": "Synthesize", "voice": VOICE, "vocoder": "wavenet", "code": "RESOURCE_EXHAUSTED"}
    expired = {"rpc": "Synthesize", "voice": VOICE, "vocoder": "hifigan", "code": "DEADLINE_EXCEEDED"}
    # The handler of the late request ends after its client has seen the deadline pass.
    _poll(lambda: _value(_scrape(port), requests, **expired) == _value(before, requests, **expired) + 1)
    after = _scrape(port)
    assert _value(after, requests, **refused) - _value(before, requests, **refused) == 1
    assert _value(after, "ganspeech_jobs_in_flight", gate="worker") == 0


def test_queue_depth_counts_waiting_requests(
    served: tuple[GanspeechServer, int], client: SynthesisClient
) -> None:
    srv, port = served
    srv.admission.workers.acquire()
    srv.admission.workers.acquire()
    try:
        request = synthesize_request(TEXT, "hifigan", "", "wav", 0, 1.0, 0)
        call = client.stub.Synthesize.future(request, timeout=60)
        _poll(lambda: _value(_scrape(port), "ganspeech_queue_depth") == 1)
        call.cancel()
    finally:
        srv.admission.workers.release()
        srv.admission.workers.release()
    _poll(lambda: _value(_scrape(port), "ganspeech_queue_depth") == 0)


def test_each_server_has_its_own_registry(
    registry: VoiceRegistry, served: tuple[GanspeechServer, int]
) -> None:
    other_port = _free_port()
    other = _start(registry, other_port)
    try:
        before = _scrape(served[1])
        with SynthesisClient(other.address, timeout=60) as c:
            c.synthesize(TEXT, vocoder="hifigan")
        labels = {"rpc": "Synthesize", "voice": VOICE, "vocoder": "hifigan", "code": "OK"}
        assert _value(_scrape(other_port), "ganspeech_requests_total", **labels) == 1
        assert _value(_scrape(served[1]), "ganspeech_requests_total", **labels) == _value(
            before, "ganspeech_requests_total", **labels
        )
    finally:
        other.stop()
    with pytest.raises(OSError):  # the endpoint stops with its server
        _scrape(other_port)


@pytest.mark.parametrize("bad", ["-1", "70000", "taken"])
def test_bad_metrics_port_is_one_error_line(
    bad: str, tiny_voice_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = str(busy.getsockname()[1]) if bad == "taken" else bad
        code = main(["serve", "--port", "0", "--voice", f"{VOICE}={tiny_voice_dir}", "--metrics-port", port])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and "metrics" in err[0], err
    assert err[0].startswith("ganspeech serve: error:")
