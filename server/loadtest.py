"""The bench through the gRPC service: per-case timings from a client, and concurrent load tests.

:func:`run_server_bench` measures the same cases as :func:`tts.bench.runner.run_bench`, but each
request goes to a running server, so the totals include the RPC, queueing and encoding; with a
concurrency it then load-tests every measured case (:func:`load_test`): a parallel vocoder twice,
with the server's dynamic batching and with every request asking to run alone, optionally with
WaveNet clients running beside it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from datetime import datetime, timezone
from typing import Any

import grpc
import numpy as np

from server.client import SynthesisClient, vocoder_name
from tts.bench.report import (
    AUTOREGRESSIVE_VOCODER,
    GAN_VOCODER,
    BenchConfig,
    BenchReport,
    BenchText,
    CaseError,
    RunSample,
    Target,
    compute_ratios,
)
from tts.bench.runner import Measure, run_cases
from tts.errors import UserError
from tts.machine import machine_info, peak_rss_mb
from tts.units import MS_PER_S
from vocoders.kinds import VocoderKind

# Per-request deadline: a long WaveNet request can take minutes on a small CPU.
SERVER_REQUEST_TIMEOUT_S = 600.0
# How long to wait for a server that does not answer its health check.
HEALTH_TIMEOUT_S = 10.0
SERVING = "SERVING"
P50, P99 = 50.0, 99.0
# Requests of one load test per concurrent client, when --requests is not given.
LOAD_REQUESTS_PER_CLIENT = 4
# A background WaveNet client refused for capacity waits this long before it asks again, as a
# well-behaved client backs off.
BACKGROUND_BACKOFF_S = 0.5
SERVER_LABEL_NOTE = (
    "server mode: frontend, text2mel and vocoder are the server's own stage times; total and first audio "
    "are measured by this client and include the RPC, waiting for a worker and encoding"
)


def _rpc_message(exc: Exception) -> str:
    code = getattr(exc, "code", None)
    details = getattr(exc, "details", None)
    if callable(code) and callable(details):
        return f"the server answered {code().name}: {details()}"
    return f"the request failed: {exc}"


def _server_measure(client: Any, voice: str) -> Measure:
    """Measure through ``client`` (a :class:`server.client.SynthesisClient`): unary, then streamed."""

    def measure(target: Target, text: str, config: BenchConfig) -> RunSample:
        try:
            t0 = time.perf_counter()
            resp = client.synthesize(
                text, vocoder=target.vocoder, voice=voice, encoding="linear16", seed=config.seed
            )
            total_ms = (time.perf_counter() - t0) * MS_PER_S
            ttfa = stream_total = None
            if config.stream:
                streamed = client.stream_audio(text, vocoder=target.vocoder, voice=voice, seed=config.seed)
                ttfa, stream_total = streamed.client_first_chunk_ms, streamed.client_total_ms
        except grpc.RpcError as exc:
            raise CaseError(_rpc_message(exc)) from exc
        lat = resp.latency
        return RunSample(
            lat.frontend_ms, lat.text2mel_ms, lat.vocoder_ms, total_ms, resp.audio_seconds, ttfa, stream_total
        )

    return measure


def _probe_texts(
    client: Any, texts: Sequence[tuple[str, str]], voice: str, probe: str | None
) -> list[BenchText]:
    """Audio length and sentence count of each text, from one streamed request with a parallel vocoder."""
    prepared = []
    for name, text in texts:
        seconds, sentences = 0.0, 0
        if probe is not None:
            try:
                for msg in client.stream(text, vocoder=probe, voice=voice):
                    kind = msg.WhichOneof("content")
                    if kind == "chunk":
                        sentences = max(sentences, msg.chunk.sentence_index + 1)
                    elif kind == "summary":
                        seconds = msg.summary.audio_seconds
            except grpc.RpcError as exc:
                raise UserError(f"text {name!r}: {_rpc_message(exc)}") from exc
        prepared.append(BenchText(name, text, len(text.split()), sentences, round(seconds, 4)))
    return prepared


class _BackgroundWaveNet:
    """``clients`` threads sending unary WaveNet requests in a loop until :meth:`stop`."""

    def __init__(self, client: Any, text: str, voice: str, clients: int) -> None:
        self.clients = clients
        self.completed = 0
        self.codes: dict[str, int] = {}
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [
            threading.Thread(target=self._loop, args=(client, text, voice), daemon=True)
            for _ in range(clients)
        ]
        for t in self._threads:
            t.start()

    def _loop(self, client: Any, text: str, voice: str) -> None:
        while not self._stop.is_set():
            try:
                client.synthesize(text, vocoder=VocoderKind.WAVENET, voice=voice, encoding="linear16")
            except grpc.RpcError as exc:
                with self._lock:
                    self.codes[exc.code().name] = self.codes.get(exc.code().name, 0) + 1
                self._stop.wait(BACKGROUND_BACKOFF_S)
                continue
            with self._lock:
                self.completed += 1

    def stop(self) -> dict[str, Any]:
        """Stop (each thread ends after its request in flight) and report what they got."""
        self._stop.set()
        for t in self._threads:
            t.join()
        return {"clients": self.clients, "completed": self.completed, "error_codes": dict(self.codes)}


def load_test(
    client: Any,
    vocoder: str,
    text: BenchText,
    voice: str,
    concurrency: int,
    requests: int,
    budget_s: float,
    seed: int = 0,
    batching: bool = True,
    background_wavenet_clients: int = 0,
) -> dict[str, Any]:
    """``concurrency`` clients sending unary requests until ``requests`` were sent or ``budget_s`` passed.

    Bounded both ways, so a slow vocoder cannot make the test run away; refused requests (the
    server's RESOURCE_EXHAUSTED when its queue is full) are counted by status code, not timed.
    ``batching`` False asks the server to run every request alone; ``background_wavenet_clients``
    send WaveNet requests beside the test (backing off when refused) while it runs.
    """

    background = (
        _BackgroundWaveNet(client, text.text, voice, background_wavenet_clients)
        if background_wavenet_clients
        else None
    )
    lock = threading.Lock()
    issued = 0
    latencies: list[float] = []
    audio_seconds: list[float] = []
    batch_sizes: list[int] = []  # as the server reports them: 1 when it ran a request alone
    errors: dict[str, int] = {}
    start = time.perf_counter()
    deadline = start + budget_s

    def one_client() -> None:
        nonlocal issued
        while True:
            with lock:
                if issued >= requests or time.perf_counter() > deadline:
                    return
                issued += 1
            t0 = time.perf_counter()
            try:
                resp = client.synthesize(
                    text.text, vocoder=vocoder, voice=voice, encoding="linear16", seed=seed, batching=batching
                )
            except grpc.RpcError as exc:
                with lock:
                    errors[exc.code().name] = errors.get(exc.code().name, 0) + 1
                continue
            with lock:
                latencies.append((time.perf_counter() - t0) * MS_PER_S)
                audio_seconds.append(resp.audio_seconds)
                batch_sizes.append(resp.latency.batch_size or 1)

    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="bench-client") as pool:
        for future in [pool.submit(one_client) for _ in range(concurrency)]:
            future.result()
    duration = time.perf_counter() - start
    lat = np.asarray(latencies)
    return {
        "vocoder": vocoder,
        "text": text.name,
        "streaming": False,
        "batching": batching,
        "mean_batch_size": float(np.mean(batch_sizes)) if batch_sizes else None,
        "background_wavenet": background.stop() if background is not None else None,
        "concurrency": concurrency,
        "requests": issued,
        "errors": sum(errors.values()),
        "error_codes": errors,
        "duration_s": duration,
        "throughput_rps": len(latencies) / duration if duration > 0 else None,
        "audio_seconds_per_s": sum(audio_seconds) / duration if duration > 0 else None,
        "latency_ms": None
        if not latencies
        else {
            "p50": float(np.percentile(lat, P50)),
            "p99": float(np.percentile(lat, P99)),
            "min": float(lat.min()),
            "max": float(lat.max()),
        },
    }


def run_server_bench(
    address: str,
    texts: Sequence[tuple[str, str]],
    vocoders: Sequence[str] = (GAN_VOCODER, AUTOREGRESSIVE_VOCODER),
    config: BenchConfig = BenchConfig(),
    voice: str = "",
    concurrency: int | None = None,
    requests: int | None = None,
    progress: bool | None = None,
    background_wavenet_clients: int = 0,
) -> BenchReport:
    """The same measurements through the gRPC service at ``address``; with ``concurrency``, load tests too.

    Every case is first timed one request at a time (unary and streamed). With ``concurrency``,
    each measured case is then load-tested: ``requests`` (default :data:`LOAD_REQUESTS_PER_CLIENT`
    per client) unary requests from ``concurrency`` clients at once, within the case budget; a
    parallel vocoder's case twice, batched and unbatched, each beside
    ``background_wavenet_clients`` WaveNet clients.
    """
    if concurrency is not None and concurrency < 1:
        raise UserError("--concurrency must be at least 1")
    if background_wavenet_clients < 0:
        raise UserError("--background-wavenet-clients must be 0 or more")
    if background_wavenet_clients and concurrency is None:
        raise UserError("--background-wavenet-clients runs beside a load test: give --concurrency too")
    if requests is not None and requests < 1:
        raise UserError("--requests must be at least 1")
    if not vocoders:
        raise UserError("give at least one vocoder")
    client = SynthesisClient(address, timeout=SERVER_REQUEST_TIMEOUT_S)
    try:
        try:
            status = client.health(timeout=HEALTH_TIMEOUT_S)
            listing = client.list_voices(timeout=HEALTH_TIMEOUT_S)
        except grpc.RpcError as exc:
            raise UserError(f"cannot use the server at {address}: {_rpc_message(exc)}") from exc
        if status != SERVING:
            raise UserError(f"the server at {address} is {status}, not {SERVING}")
        voice_info = _server_voice(listing, voice)
        offered = {vocoder_name(v) for v in voice_info.vocoders}
        for voc in vocoders:
            if voc not in offered:
                raise UserError(
                    f"voice {voice_info.name!r} on {address} has no {voc!r}; it offers {sorted(offered)}"
                )
        targets = [Target(voc, voc, None, None) for voc in vocoders]
        parallel = {vocoder_name(v.vocoder) for v in voice_info.vocoder_info if v.parallel}
        probe = next((voc for voc in vocoders if voc in parallel), None)
        prepared = _probe_texts(client, texts, voice, probe)
        notes = [SERVER_LABEL_NOTE, "peak memory is this client's process, not the server's"]
        if probe is None:
            notes.append(
                "without a parallel vocoder the texts' audio lengths were not probed: no case is skipped "
                "in advance"
            )
        if not voice_info.trained:
            notes.append(
                "the voice is randomly initialised (a test fixture): its timings are not a real voice's"
            )
        cases = run_cases(targets, prepared, config, progress, _server_measure(client, voice), notes, False)
        load = None
        if concurrency is not None:
            n_requests = requests or LOAD_REQUESTS_PER_CLIENT * concurrency
            by_name = {t.name: t for t in prepared}
            load = []
            for case in cases:
                if not case.runs:
                    notes.append(f"load test {case.label} / {case.text}: skipped, the case was not measured")
                    continue
                # Batching applies to parallel vocoders only; the unbatched run is the baseline.
                for batching in (False, True) if case.vocoder in parallel else (False,):
                    load.append(
                        load_test(
                            client,
                            case.vocoder,
                            by_name[case.text],
                            voice,
                            concurrency,
                            n_requests,
                            config.case_budget_s,
                            config.seed,
                            batching=batching,
                            background_wavenet_clients=background_wavenet_clients
                            if case.vocoder in parallel
                            else 0,
                        )
                    )
    finally:
        client.close()
    return BenchReport(
        machine=machine_info(),
        voice={
            "name": voice_info.name,
            "dir": None,
            "trained": voice_info.trained,
            "sample_rate": voice_info.native_sample_rate_hz,
            "vocoders": sorted(offered),
        },
        settings={
            "vocoders": list(vocoders),
            "wavenet_impl": "server",
            **asdict(config),  # every BenchConfig field: the report records all that shaped the run
            "server": address,
            **({"concurrency": concurrency} if concurrency is not None else {}),
            **(
                {"background_wavenet_clients": background_wavenet_clients}
                if background_wavenet_clients
                else {}
            ),
        },
        texts=prepared,
        cases=cases,
        ratios=compute_ratios(cases, prepared),
        impl_speedups=[],
        peak_rss_mb=round(peak_rss_mb(), 1),
        peak_rss_scope="process",
        notes=notes,
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        mode="server",
        server={"address": address, "voice": voice_info.name, "load": load},
    )


def _server_voice(listing: Any, voice: str) -> Any:
    """The ListVoices entry of ``voice`` (empty: the server's default)."""
    for v in listing.voices:
        if (voice and v.name == voice) or (not voice and v.is_default):
            return v
    names = ", ".join(v.name for v in listing.voices)
    raise UserError(f"the server has no voice {voice!r}; it offers: {names}")
