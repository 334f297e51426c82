"""``ganspeech quality-curve``: validation quality of vocoder runs against the CPU hours they took."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from tts.errors import UserError

logger = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "quality-curve",
        help="plot validation PESQ/STOI of vocoder training runs against CPU hours",
        description="Read the metrics.jsonl of vocoder training runs and draw quality against compute "
        "(one line per run), plus a CSV of the points.",
    )
    p.add_argument("runs", nargs="+", help="run folders or metrics files, optionally LABEL=PATH")
    p.add_argument("--out", required=True, type=Path, help="directory for the PNG and the CSV")
    p.add_argument(
        "--reference",
        action="append",
        default=[],
        metavar="NAME=PESQ,STOI",
        help="a horizontal reference level, e.g. Griffin-Lim's scores on the same clips (repeatable)",
    )
    p.set_defaults(func=run)


def _label_and_path(arg: str) -> tuple[str, Path]:
    label, sep, path = arg.partition("=")
    return (label, Path(path)) if sep else (Path(arg).name, Path(arg))


def _reference(arg: str) -> tuple[str, tuple[float, float]]:
    name, sep, levels = arg.partition("=")
    try:
        pesq, stoi = (float(x) for x in levels.split(","))
    except ValueError:
        sep = ""
    if not sep or not name:
        raise UserError(f"--reference {arg!r}: expected NAME=PESQ,STOI, e.g. Griffin-Lim=1.86,0.950")
    return name, (pesq, stoi)


def run(args: argparse.Namespace) -> int:
    from tts.evaluation.quality_curve import CSV_NAME, PLOT_NAME, plot_quality, read_quality, write_csv

    references = dict(_reference(r) for r in args.reference)
    runs = {}
    for arg in args.runs:
        label, path = _label_and_path(arg)
        runs[label] = read_quality(path, label)
    args.out.mkdir(parents=True, exist_ok=True)
    plot_quality(runs, args.out / PLOT_NAME, references)
    write_csv([p for points in runs.values() for p in points], args.out / CSV_NAME)
    for label, points in runs.items():
        last = points[-1]
        pesq = f"{last.pesq:.2f}" if last.pesq is not None else "-"
        print(f"{label}: {last.cpu_hours:.2f} CPU h, step {last.step}: PESQ {pesq}, STOI {last.stoi:.3f}")
    print(f"wrote {args.out / PLOT_NAME} and {args.out / CSV_NAME}")
    return 0
