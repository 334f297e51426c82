"""The server process: gRPC wiring, health and reflection, model loading, graceful shutdown.

Life of a server: :meth:`GanspeechServer.start` binds the port with health NOT_SERVING (requests
get UNAVAILABLE), :meth:`~GanspeechServer.load_voices` loads the models and flips health to
SERVING, and :meth:`~GanspeechServer.drain` (on SIGTERM/SIGINT in :func:`serve`) flips it back to
NOT_SERVING, refuses new RPCs, lets in-flight work finish within the grace period and cancels
what is left through the servicer, so those clients get CANCELLED and the jobs stop (the sample
loops notice within one block, streams between chunks); only then is gRPC itself stopped.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import grpc
import torch
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from server.admission import Admission
from server.batching import Batcher
from server.config import GRPC_DEFAULT_MAX_MESSAGE_BYTES, ServerConfig
from server.generated.ganspeech.v1 import synthesis_pb2 as pb
from server.generated.ganspeech.v1 import synthesis_pb2_grpc as pb_grpc
from server.metrics import ServerMetrics
from server.service import SynthesisServicer
from server.voices import VoiceRegistry
from tts.errors import UserError

logger = logging.getLogger(__name__)

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["Synthesizer"].full_name
# Health is reported for the whole server ("") and for the synthesis service by name.
HEALTH_SERVICES = ("", SERVICE_NAME)
# Handler threads beyond running and queued jobs, so ListVoices, health checks and RESOURCE_EXHAUSTED
# refusals are answered at once even when every worker is busy and the queue is full.
EXTRA_HANDLER_THREADS = 4
# After the grace period, how long cancelled jobs get to notice: one WaveNet block is ~0.2 s, but a
# unary HiFi-GAN pass cannot be interrupted and takes seconds for --max-audio-seconds of audio.
CANCEL_WAIT_S = 15.0
# Once every handler has returned, how long gRPC may take to send their final messages and statuses.
FLUSH_S = 1.0
# How often the drain loop checks for an idle server or a second signal.
DRAIN_POLL_S = 0.1

VoiceLoader = Callable[[ServerConfig], VoiceRegistry]


def _load_configured_voices(config: ServerConfig) -> VoiceRegistry:
    return VoiceRegistry.load(config.voices, wavenet_impl=config.wavenet_impl, gan_backend=config.gan_backend)


def torch_threads_per_job(workers: int) -> int:
    """Intra-op threads per job so that ``workers`` concurrent jobs do not oversubscribe the cores."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, cores // workers)


class GanspeechServer:
    """One gRPC server with the synthesis, health and reflection services."""

    def __init__(self, config: ServerConfig, loader: VoiceLoader | None = None) -> None:
        self.config = config
        self.admission = Admission(config.workers, config.max_wavenet_jobs, config.max_queue)
        batcher = (
            Batcher(self.admission, config.max_batch, config.batch_wait_ms) if config.max_batch > 1 else None
        )
        self.metrics = ServerMetrics(self.admission)
        self.servicer = SynthesisServicer(config, self.admission, batcher, self.metrics)
        self.health = health.HealthServicer()
        for name in HEALTH_SERVICES:
            self.health.set(name, health_pb2.HealthCheckResponse.NOT_SERVING)
        self._loader = loader or _load_configured_voices
        # Every running or queued job holds a handler thread; the extra threads answer everything
        # else (health, ListVoices, refusals) at once. gRPC's own concurrency cap stays off: it
        # would refuse health checks too, and without a log line; admission refuses instead.
        # With batching, each running or queued job is a batch of up to max_batch requests.
        handler_threads = self.admission.max_handler_threads * config.max_batch + EXTRA_HANDLER_THREADS
        self._pool = ThreadPoolExecutor(max_workers=handler_threads, thread_name_prefix="ganspeech-rpc")
        self.server = grpc.server(
            self._pool,
            maximum_concurrent_rpcs=None,
            # Stated rather than implied: the README tells clients what a request over it gets.
            options=[("grpc.max_receive_message_length", GRPC_DEFAULT_MAX_MESSAGE_BYTES)],
        )
        pb_grpc.add_SynthesizerServicer_to_server(self.servicer, self.server)
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        reflection.enable_server_reflection(
            (
                SERVICE_NAME,
                health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
                reflection.SERVICE_NAME,
            ),
            self.server,
        )
        self.port: int | None = None
        self._stopped = False

    @property
    def address(self) -> str:
        """``host:port`` clients dial (brackets around an IPv6 host)."""
        host = f"[{self.config.host}]" if ":" in self.config.host else self.config.host
        return f"{host}:{self.port if self.port is not None else self.config.port}"

    def start(self) -> int:
        """Bind and start answering (health NOT_SERVING until :meth:`load_voices`); returns the port."""
        host = f"[{self.config.host}]" if ":" in self.config.host else self.config.host
        if self.config.metrics_port:
            self.metrics.start_http(self.config.host, self.config.metrics_port)
        try:
            port = self.server.add_insecure_port(f"{host}:{self.config.port}")
        except RuntimeError as exc:
            raise UserError(f"cannot listen on {host}:{self.config.port}: {exc}") from exc
        if port == 0:
            raise UserError(
                f"cannot listen on {host}:{self.config.port}: the port is taken or the host is not local"
            )
        self.port = port
        self.server.start()
        logger.info("listening on %s (loading models, health NOT_SERVING)", self.address)
        return port

    def load_voices(self) -> VoiceRegistry:
        """Load the models and start serving them (health SERVING)."""
        threads = torch_threads_per_job(self.config.workers)
        torch.set_num_threads(threads)
        registry = self._loader(self.config)
        self.servicer.set_registry(registry)
        for name in HEALTH_SERVICES:
            self.health.set(name, health_pb2.HealthCheckResponse.SERVING)
        logger.info(
            "serving voices %s on %s: %d workers (%d torch threads each), at most %d sequential-vocoder "
            "(WaveNet) jobs, queue %d, batches of up to %d (%.0f ms window)",
            ", ".join(registry.names),
            self.address,
            self.config.workers,
            threads,
            self.config.max_wavenet_jobs,
            self.config.max_queue,
            self.config.max_batch,
            self.config.batch_wait_ms,
        )
        return registry

    def drain(self, grace_s: float | None = None, force: threading.Event | None = None) -> bool:
        """Shut down gracefully; True when every request finished within the grace period.

        Health turns NOT_SERVING and new RPCs get UNAVAILABLE at once; requests in flight run on
        for up to ``grace_s`` (default: the config's) or until ``force`` is set, then are
        cancelled with CANCELLED. gRPC is stopped last, once their statuses have been sent.
        """
        grace = self.config.grace_s if grace_s is None else grace_s
        logger.info("draining: %d requests in flight, grace %.1f s", self.servicer.active_requests, grace)
        self.health.enter_graceful_shutdown()
        self.servicer.begin_drain()
        deadline = time.monotonic() + grace
        finished = False
        while not (force is not None and force.is_set()):
            left = deadline - time.monotonic()
            finished = self.servicer.wait_idle(max(0.0, min(left, DRAIN_POLL_S)))
            if finished or left <= 0:
                break
        if not finished:
            logger.warning(
                "cancelling %d requests still running after the grace period", self.servicer.active_requests
            )
            self.servicer.cancel_all()
            if not self.servicer.wait_idle(CANCEL_WAIT_S):
                logger.error(
                    "%d requests did not stop within %.0f s of being cancelled; gRPC ends them (UNAVAILABLE)",
                    self.servicer.active_requests,
                    CANCEL_WAIT_S,
                )
        # The handlers have returned: gRPC gets FLUSH_S to send their last messages and statuses,
        # then ends what never ends by itself (health Watch streams).
        self.server.stop(FLUSH_S).wait()
        self.servicer.grpc_stopped()
        self._pool.shutdown(wait=False)
        self.metrics.stop_http()
        self._stopped = True
        logger.info("server stopped")
        return finished

    def stop(self) -> None:
        """Stop at once, cancelling everything in flight (for errors and tests)."""
        if not self._stopped:
            self.health.enter_graceful_shutdown()
            self.servicer.cancel_all()
            self.server.stop(None).wait()
            self.servicer.grpc_stopped()
            self._pool.shutdown(wait=False)
            self.metrics.stop_http()
            self._stopped = True


def build_server(config: ServerConfig, loader: VoiceLoader | None = None) -> GanspeechServer:
    """A server for ``config``, not yet started; ``loader`` replaces voice loading (tests)."""
    return GanspeechServer(config, loader)


def serve(config: ServerConfig) -> int:
    """Run a server until SIGTERM or SIGINT, then drain it (a second signal cuts the grace short)."""
    stop_requested = threading.Event()
    force = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        if stop_requested.is_set():
            logger.warning("%s again: cancelling in-flight requests now", signal.Signals(signum).name)
            force.set()
        else:
            logger.info("%s: shutting down", signal.Signals(signum).name)
            stop_requested.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    server = build_server(config)
    try:
        server.start()
        server.load_voices()
        # A timed wait keeps the main thread returning to the interpreter, where signal handlers run.
        while not stop_requested.wait(DRAIN_POLL_S * 10):
            pass
        server.drain(force=force)
    finally:
        server.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0
