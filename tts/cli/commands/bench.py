"""``ganspeech bench``: time every vocoder of a voice on this machine and write a report."""

from __future__ import annotations

import argparse
import logging

from tts.errors import UserError

logger = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:
    from tts.bench.report import WAVENET_IMPL_CHOICES, BenchConfig
    from tts.bench.texts import DEFAULT_LENGTHS, LENGTH_TEXTS
    from vocoders.kinds import GAN_BACKENDS

    defaults = BenchConfig()
    p = sub.add_parser(
        "bench",
        help="measure latency and real-time factor of each vocoder on this machine",
        description="Time frontend, text-to-mel and vocoder for each vocoder and text length, print a table "
        "and write bench.json, bench.csv, bench.md and PNG plots to --out.",
    )
    p.add_argument(
        "--voice",
        default=None,
        help="voice directory (default: the bundled voice); with --server, a voice name",
    )
    p.add_argument(
        "--vocoders",
        default=None,
        help="comma-separated vocoder kinds (default: every vocoder of the voice; with --server, "
        "the server's default pair)",
    )
    texts = p.add_mutually_exclusive_group()
    texts.add_argument(
        "--lengths",
        default=",".join(DEFAULT_LENGTHS),
        help=f"built-in texts, comma-separated from {','.join(LENGTH_TEXTS)}",
    )
    texts.add_argument(
        "--texts", default=None, help="file with one text per non-empty line, instead of --lengths"
    )
    p.add_argument("--repeats", type=int, default=defaults.repeats, help="timed runs per case after warm-up")
    p.add_argument("--warmup", type=int, default=defaults.warmup, help="untimed runs per case first")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: all cores)")
    p.add_argument(
        "--wavenet-impl",
        default=None,
        choices=WAVENET_IMPL_CHOICES,
        help="WaveNet sample loop (default fast); both gives rows wavenet-reference and wavenet-fast",
    )
    p.add_argument(
        "--gan-backend",
        default=None,
        choices=GAN_BACKENDS,
        help="HiFi-GAN's inference path (default auto: the fastest measured; eager: the plain reference); "
        "every row names the generator it ran",
    )
    p.add_argument(
        "--chunk-frames",
        type=int,
        default=defaults.chunk_frames,
        help="streaming chunk of the parallel vocoders, in mel frames",
    )
    p.add_argument("--no-stream", action="store_true", help="skip the streaming (time to first audio) runs")
    p.add_argument(
        "--case-budget",
        type=float,
        default=defaults.case_budget_s,
        help="seconds per vocoder and text; longer cases are skipped or shortened with a note "
        f"(default {defaults.case_budget_s:.0f})",
    )
    p.add_argument("--server", default=None, metavar="HOST:PORT", help="measure through the gRPC service")
    p.add_argument(
        "--concurrency", type=int, default=None, help="with --server: concurrent clients (load test)"
    )
    p.add_argument("--requests", type=int, default=None, help="with --concurrency: requests per load test")
    p.add_argument(
        "--background-wavenet-clients",
        type=int,
        default=0,
        metavar="N",
        help="with --concurrency: N clients sending WaveNet requests beside each GAN load test",
    )
    p.add_argument("--out", default="bench_results", help="output directory (default: bench_results)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import torch

    from tts.bench.render import format_table, write_outputs
    from tts.bench.report import BenchConfig
    from tts.bench.texts import builtin_texts, parse_list, read_texts_file

    if args.threads is not None:
        if args.threads < 1:
            raise UserError("--threads must be at least 1")
        torch.set_num_threads(args.threads)
    if args.concurrency is not None and not args.server:
        raise UserError("--concurrency needs --server: the load test runs against the gRPC service")
    texts = read_texts_file(args.texts) if args.texts else builtin_texts(parse_list(args.lengths))
    vocoders = parse_list(args.vocoders) if args.vocoders is not None else None
    config = BenchConfig(
        repeats=args.repeats,
        warmup=args.warmup,
        chunk_frames=args.chunk_frames,
        stream=not args.no_stream,
        case_budget_s=args.case_budget,
    )
    progress = False if args.no_progress else None
    if args.server:
        from server.loadtest import run_server_bench

        if args.wavenet_impl is not None:
            raise UserError(
                "with --server the server's own --wavenet-impl decides; set it on `ganspeech serve`"
            )
        if args.gan_backend is not None:
            raise UserError("with --server the server decides the HiFi-GAN backend")
        report = run_server_bench(
            args.server,
            texts,
            config=config,
            **({} if vocoders is None else {"vocoders": vocoders}),
            voice=args.voice or "",
            concurrency=args.concurrency,
            requests=args.requests,
            progress=progress,
            background_wavenet_clients=args.background_wavenet_clients,
        )
    else:
        from tts.bench.runner import run_bench
        from tts.synthesizer import Synthesizer

        if args.requests is not None or args.background_wavenet_clients:
            raise UserError(
                "--requests and --background-wavenet-clients shape a --server --concurrency load test"
            )
        wavenet_impl = args.wavenet_impl or "fast"
        # "both" loads the fast loop; the reference row shares its modules.
        synth = Synthesizer.load(
            args.voice,
            wavenet_impl="fast" if wavenet_impl == "both" else wavenet_impl,
            gan_backend=args.gan_backend or "auto",
        )
        report = run_bench(synth, texts, vocoders, wavenet_impl, config, progress=progress)
    paths = write_outputs(report, args.out)
    print(format_table(report))
    print()
    print("wrote " + ", ".join(str(p) for p in paths.values()))
    return 0
