"""Settings of one server process: where it listens, which voices it serves, and its limits."""

from __future__ import annotations

from dataclasses import dataclass

from tts.errors import UserError

# gRPC's default receive limit on clients (grpcurl's too): a unary response must fit in it. The
# server receives requests up to the same size; gRPC refuses larger ones itself.
GRPC_DEFAULT_MAX_MESSAGE_BYTES = 4 * 1024 * 1024
# Room left in a unary response for everything besides the audio bytes (latency, text, framing).
UNARY_OVERHEAD_BYTES = 64 * 1024
# A batch window longer than this would cost an idle server's requests more than any batch saves.
MAX_BATCH_WAIT_MS = 1000.0


@dataclass(frozen=True)
class VoiceSpec:
    """One voice to serve: a request names it by ``name``; ``path`` ``None`` is the bundled voice."""

    name: str | None  # None: take the name from the voice's manifest
    path: str | None  # voice directory; None: the voice bundled with the package

    @classmethod
    def parse(cls, text: str) -> VoiceSpec:
        """``NAME=DIR`` or ``DIR`` (the manifest's name) as given to ``ganspeech serve --voice``."""
        name, sep, path = text.partition("=")
        if not sep:
            return cls(name=None, path=text)
        if not name or not path:
            raise UserError(f"--voice {text!r}: expected NAME=DIR or DIR")
        return cls(name=name, path=path)


@dataclass(frozen=True)
class ServerConfig:
    """Everything ``ganspeech serve`` can set; the defaults suit a small CPU machine."""

    host: str = "127.0.0.1"  # loopback only: exposing the port is a deliberate choice
    port: int = 50051  # the conventional gRPC port (Riva's too); 0 picks a free one
    metrics_port: int = 0  # Prometheus /metrics on the same host; 0: no metrics endpoint
    voices: tuple[VoiceSpec, ...] = ()  # empty: the bundled voice; the first listed is the default
    # Synthesis jobs running at once, all vocoders together; torch gets cores // workers threads each.
    workers: int = 2
    # Jobs of sequential (non-parallel) vocoders, i.e. WaveNet, running at once; kept below `workers`
    # so they can never take every worker from the parallel ones.
    max_wavenet_jobs: int = 1
    # Requests that may wait for a worker; beyond that, RESOURCE_EXHAUSTED instead of a growing queue.
    max_queue: int = 16
    # About two minutes of prose at normal speed: long enough for paragraphs, short enough to bound
    # one job's cost.
    max_text_chars: int = 2000
    # Longest audio one request may produce, checked right after text-to-mel: text that expands
    # (digits, speaking_rate 0.25) is refused before a vocoder runs. Three minutes leave room for
    # max_text_chars of prose (about 115 s with the bundled voice) and bound a job's time and memory.
    max_audio_seconds: float = 180.0
    # Largest unary audio payload: what still fits in a client's default 4 MiB message limit.
    max_unary_audio_bytes: int = GRPC_DEFAULT_MAX_MESSAGE_BYTES - UNARY_OVERHEAD_BYTES
    # On SIGTERM, how long in-flight requests may run on before they are cancelled.
    grace_s: float = 10.0
    # HiFi-GAN mel frames per streamed chunk (0.5 s at 16 kHz / hop 256): small enough for a quick
    # first chunk, large enough that per-chunk overhead stays negligible.
    stream_chunk_frames: int = 32
    # Unary requests for one voice and parallel vocoder that may share a vocoder pass; 1 (off: each
    # request runs alone, as a stream always does) because on a CPU a GAN vocoder's cost is per
    # sample: one thread vocoding 4 or 8 equal mels batched took 0.8-1.35x the time of as many single
    # passes (HiFi-GAN, Vocos base), so batching added latency without adding throughput there.
    max_batch: int = 1
    # How long an idle server's first request waits for others to join its batch. Under load,
    # requests join while the batch waits for a worker; idle, this is all the latency batching adds.
    batch_wait_ms: float = 2.0
    wavenet_impl: str = "fast"  # "fast" (numba sample loop) or "reference" (the PyTorch one)
    gan_backend: str = "auto"  # HiFi-GAN inference path; "auto" = fastest measured (torchscript on CPU)

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise UserError(f"port {self.port} is out of range 0..65535")
        if not 0 <= self.metrics_port <= 65535:
            raise UserError(
                f"--metrics-port {self.metrics_port} is out of range 1..65535 (0 turns metrics off)"
            )
        if self.metrics_port and self.metrics_port == self.port:
            raise UserError(f"--metrics-port {self.metrics_port} must differ from the gRPC --port")
        if self.workers < 2:
            raise UserError(
                f"--workers must be at least 2 (got {self.workers}): one for WaveNet, one for GAN"
            )
        if not 1 <= self.max_wavenet_jobs < self.workers:
            raise UserError(
                f"--max-wavenet-jobs must be between 1 and workers - 1 = {self.workers - 1} "
                f"(got {self.max_wavenet_jobs}) so parallel-vocoder requests always have a worker"
            )
        if self.max_queue < 0:
            raise UserError(f"--max-queue must be 0 or more (got {self.max_queue})")
        if self.max_text_chars < 1:
            raise UserError(f"--max-text-chars must be positive (got {self.max_text_chars})")
        if not self.max_audio_seconds > 0:
            raise UserError(f"--max-audio-seconds must be positive (got {self.max_audio_seconds})")
        if self.grace_s < 0:
            raise UserError(f"--grace must be 0 or more seconds (got {self.grace_s})")
        if self.max_batch < 1:
            raise UserError(f"--max-batch must be at least 1 (1: no batching), got {self.max_batch}")
        if not 0 <= self.batch_wait_ms <= MAX_BATCH_WAIT_MS:
            raise UserError(
                f"--batch-wait-ms must be between 0 and {MAX_BATCH_WAIT_MS:g} (got {self.batch_wait_ms})"
            )
        if self.stream_chunk_frames < 1:
            raise UserError(f"stream chunk size must be positive (got {self.stream_chunk_frames})")
