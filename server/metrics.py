"""Prometheus metrics of one server: request outcomes, admission gauges, latency histograms.

Each :class:`ServerMetrics` owns its own :class:`~prometheus_client.CollectorRegistry` (never the
process-wide default one), so several servers in one process keep apart. The servicer reports
every RPC's outcome and every synthesized audio here; the queue depth and the jobs in flight are
read from :class:`~server.admission.Admission` when Prometheus scrapes, so they are never stale and
cost nothing between scrapes. ``ganspeech serve --metrics-port PORT`` exposes them over HTTP.

Label values are bounded whatever clients send: a voice the server does not serve is counted as
``unknown``, and so is a vocoder number outside the proto's enum.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Iterator
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from server.admission import Admission
from tts.errors import UserError
from tts.synthesizer import Timings
from tts.units import MS_PER_S
from vocoders.kinds import VocoderKind

logger = logging.getLogger(__name__)

PREFIX = "ganspeech"
# The label value of a voice or vocoder a client named that this server does not have.
UNKNOWN = "unknown"
# The label value where an RPC has no voice or vocoder (ListVoices, or refused before one was known).
NONE = "-"
# Seconds from a request's arrival to its first audio: a stream's first chunk of a GAN vocoder
# comes within tens of milliseconds, a long unary WaveNet request after a minute or more.
FIRST_AUDIO_BUCKETS_S = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 180.0)
# Vocoder seconds per audio second: GAN vocoders run far below 1 on a CPU, WaveNet around or above it.
RTF_BUCKETS = (0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0)
# Seconds one stage (frontend, text-to-mel, vocoder) of one request took.
STAGE_BUCKETS_S = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 120.0)
_VOCODER_NAMES = frozenset(kind.value for kind in VocoderKind)


class _AdmissionCollector(Collector):
    """Queue depth and jobs in flight, read from the admission gates at scrape time."""

    def __init__(self, admission: Admission) -> None:
        self._admission = admission

    def collect(self) -> Iterator[GaugeMetricFamily]:
        queue = GaugeMetricFamily(
            f"{PREFIX}_queue_depth", "Requests waiting for a worker (at most --max-queue)."
        )
        queue.add_metric([], self._admission.workers.waiting)
        yield queue
        jobs = GaugeMetricFamily(
            f"{PREFIX}_jobs_in_flight",
            "Slots held by running synthesis jobs: gate=worker counts every vocoder (a batch holds one), "
            "gate=sequential the WaveNet jobs among them.",
            labels=["gate"],
        )
        jobs.add_metric(["worker"], self._admission.workers.in_use)
        jobs.add_metric(["sequential"], self._admission.sequential.in_use)
        yield jobs


class ServerMetrics:
    """The metrics of one server, in a registry of their own, and their optional HTTP endpoint."""

    def __init__(self, admission: Admission) -> None:
        self.registry = CollectorRegistry()
        self._voices: frozenset[str] = frozenset()
        self._http: WSGIServer | None = None
        self._thread: threading.Thread | None = None
        self.requests = Counter(
            f"{PREFIX}_requests",
            "RPCs by outcome: code is the gRPC status the client got (OK, INVALID_ARGUMENT, "
            "RESOURCE_EXHAUSTED, CANCELLED, DEADLINE_EXCEEDED, ...).",
            ["rpc", "voice", "vocoder", "code"],
            registry=self.registry,
        )
        self.first_audio = Histogram(
            f"{PREFIX}_time_to_first_audio_seconds",
            "From a request's arrival to its first audio (a stream's first chunk; a unary response's "
            "whole audio), queueing included; requests that ended OK.",
            ["rpc", "voice", "vocoder"],
            buckets=FIRST_AUDIO_BUCKETS_S,
            registry=self.registry,
        )
        self.vocoder_rtf = Histogram(
            f"{PREFIX}_vocoder_rtf",
            "Vocoder time divided by the audio's duration, per synthesized audio (a batch's whole pass "
            "for each request in it).",
            ["voice", "vocoder"],
            buckets=RTF_BUCKETS,
            registry=self.registry,
        )
        self.stage = Histogram(
            f"{PREFIX}_stage_seconds",
            "Time of one synthesis stage (frontend, text2mel, vocoder) per synthesized audio.",
            ["stage", "voice", "vocoder"],
            buckets=STAGE_BUCKETS_S,
            registry=self.registry,
        )
        self.registry.register(_AdmissionCollector(admission))

    def serve_voices(self, names: Iterable[str]) -> None:
        """The voices whose names are label values; any other name a client sends is ``unknown``."""
        self._voices = frozenset(names)

    def request_done(
        self, rpc: str, voice: str, vocoder: str, code: str, first_audio_ms: float | None = None
    ) -> None:
        """Count one RPC's outcome; ``first_audio_ms``: when it sent audio first (None: it sent none)."""
        labels = (rpc, self._voice(voice), _vocoder(vocoder))
        self.requests.labels(*labels, code).inc()
        if first_audio_ms is not None:
            self.first_audio.labels(*labels).observe(first_audio_ms / MS_PER_S)

    def synthesized(self, voice: str, timings: Timings, audio_seconds: float) -> None:
        """Record one synthesized audio's stage times and vocoder real-time factor."""
        voice, vocoder = self._voice(voice), _vocoder(timings.vocoder)
        for stage, ms in (
            ("frontend", timings.frontend_ms),
            ("text2mel", timings.text2mel_ms),
            ("vocoder", timings.vocoder_ms),
        ):
            self.stage.labels(stage, voice, vocoder).observe(ms / MS_PER_S)
        if audio_seconds > 0:
            self.vocoder_rtf.labels(voice, vocoder).observe(timings.vocoder_ms / MS_PER_S / audio_seconds)

    # The HTTP endpoint.

    def start_http(self, host: str, port: int) -> None:
        """Serve ``/metrics`` on ``host:port`` from a daemon thread; a port taken is a UserError."""
        try:
            self._http, self._thread = start_http_server(port, addr=host, registry=self.registry)
        except OSError as exc:
            raise UserError(f"cannot serve metrics on {host}:{port}: {exc.strerror or exc}") from exc
        logger.info("Prometheus metrics on http://%s:%d/metrics", _url_host(host), port)

    def stop_http(self) -> None:
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
            self._http = None

    def _voice(self, voice: str) -> str:
        return voice if voice == NONE or voice in self._voices else UNKNOWN


def _vocoder(vocoder: str) -> str:
    """``vocoder`` when made of known kinds (Compare's is ``gan+wavenet``), else ``unknown``."""
    if vocoder == NONE or all(part in _VOCODER_NAMES for part in vocoder.split("+")):
        return vocoder
    return UNKNOWN


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
