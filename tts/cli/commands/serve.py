"""``ganspeech serve``: the gRPC synthesis service (see :mod:`server.app`)."""

from __future__ import annotations

import argparse
import logging

# server.config is plain dataclasses: importing it here keeps `ganspeech --help` free of grpc.
from server.config import ServerConfig, VoiceSpec

logger = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:
    from vocoders.kinds import GAN_BACKENDS, WAVENET_IMPLS

    d = ServerConfig()
    p = sub.add_parser(
        "serve",
        help="run the gRPC synthesis service",
        description="Serve ganspeech.v1.Synthesizer (plus gRPC health and reflection) until SIGTERM or "
        "Ctrl-C.",
    )
    p.add_argument("--host", default=d.host, help=f"address to listen on (default {d.host}; 0.0.0.0 for all)")
    p.add_argument("--port", type=int, default=d.port, help=f"port (default {d.port}; 0 picks a free one)")
    p.add_argument(
        "--metrics-port",
        type=int,
        default=d.metrics_port,
        help="serve Prometheus metrics at http://HOST:PORT/metrics (default 0: off)",
    )
    p.add_argument(
        "--voice",
        action="append",
        default=[],
        metavar="[NAME=]DIR",
        help="voice directory to serve, repeatable; the first is the default (default: the bundled voice)",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=d.workers,
        help=f"synthesis jobs at once, all vocoders (default {d.workers})",
    )
    p.add_argument(
        "--max-wavenet-jobs",
        type=int,
        default=d.max_wavenet_jobs,
        help=f"WaveNet jobs at once, below --workers (default {d.max_wavenet_jobs}); more get "
        "RESOURCE_EXHAUSTED",
    )
    p.add_argument(
        "--max-queue",
        type=int,
        default=d.max_queue,
        help=f"requests that may wait for a worker (default {d.max_queue}); more get RESOURCE_EXHAUSTED",
    )
    p.add_argument(
        "--max-text-chars",
        type=int,
        default=d.max_text_chars,
        help=f"longest text accepted (default {d.max_text_chars})",
    )
    p.add_argument(
        "--max-audio-seconds",
        type=float,
        default=d.max_audio_seconds,
        help=f"longest audio one request may produce (default {d.max_audio_seconds:g}); longer is refused "
        "with INVALID_ARGUMENT before any vocoder runs",
    )
    p.add_argument(
        "--max-batch",
        type=int,
        default=d.max_batch,
        help=f"unary requests for one voice and GAN vocoder that may share a vocoder pass (default "
        f"{d.max_batch}; 1 turns batching off)",
    )
    p.add_argument(
        "--batch-wait-ms",
        type=float,
        default=d.batch_wait_ms,
        help=f"how long an idle server's first request waits for others to join its batch (default "
        f"{d.batch_wait_ms:g})",
    )
    p.add_argument(
        "--grace",
        type=float,
        default=d.grace_s,
        help=f"seconds in-flight requests may finish after SIGTERM before being cancelled (default "
        f"{d.grace_s})",
    )
    p.add_argument(
        "--wavenet-impl", default=d.wavenet_impl, choices=WAVENET_IMPLS, help="WaveNet sample loop"
    )
    p.add_argument(
        "--gan-backend",
        default=d.gan_backend,
        choices=GAN_BACKENDS,
        help="HiFi-GAN inference path (default auto: the fastest measured on this CPU)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from server.app import serve

    config = ServerConfig(
        host=args.host,
        port=args.port,
        metrics_port=args.metrics_port,
        voices=tuple(VoiceSpec.parse(v) for v in args.voice),
        workers=args.workers,
        max_wavenet_jobs=args.max_wavenet_jobs,
        max_queue=args.max_queue,
        max_text_chars=args.max_text_chars,
        max_audio_seconds=args.max_audio_seconds,
        max_batch=args.max_batch,
        batch_wait_ms=args.batch_wait_ms,
        grace_s=args.grace,
        wavenet_impl=args.wavenet_impl,
        gan_backend=args.gan_backend,
    )
    # The per-request log lines are the server's output: show them without needing --verbose.
    server_logger = logging.getLogger("server")
    if server_logger.getEffectiveLevel() > logging.INFO:
        server_logger.setLevel(logging.INFO)
    return serve(config)
