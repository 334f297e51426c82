"""Quality per CPU hour: the validation PESQ / STOI of vocoder training runs against compute spent.

Every vocoder recipe writes ``{"split": "val", "cpu_hours", "val_pesq", "val_stoi", "val_mel_l1"}``
lines to its run folder's ``metrics.jsonl`` (:mod:`tts.training.vocoder_validation`). This module
reads them and draws one line per run, so vocoders trained on the same machine can be compared at
equal compute, with optional reference levels (e.g. Griffin-Lim's scores on the same clips).
"""

from __future__ import annotations

import csv
import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path

from tts.errors import UserError

logger = logging.getLogger(__name__)

METRICS_NAME = "metrics.jsonl"
PLOT_NAME = "quality_vs_cpu_hours.png"
CSV_NAME = "quality_vs_cpu_hours.csv"
PLOT_DPI = 110
# (metrics key, axis title) of the panels, left to right.
PANELS = (("pesq", "Wide-band PESQ (MOS-LQO)"), ("stoi", "STOI"))


@dataclass(frozen=True)
class QualityPoint:
    """One validation pass of one run."""

    run: str  # the run's label
    step: int
    cpu_hours: float
    pesq: float | None  # None where PESQ found no speech in every clip
    stoi: float
    mel_l1: float


def read_quality(metrics: Path, label: str) -> list[QualityPoint]:
    """The validation passes in ``metrics`` (a run folder or its metrics.jsonl), in step order.

    Lines without ``cpu_hours`` or STOI (other recipes, older runs) are skipped.
    """
    path = metrics / METRICS_NAME if metrics.is_dir() else metrics
    if not path.is_file():
        raise UserError(f"{metrics}: no {METRICS_NAME} (give a vocoder run folder or its metrics file)")
    points = []
    for line in path.read_text().splitlines():
        row = json.loads(line)
        if row.get("split") != "val" or "cpu_hours" not in row or "val_stoi" not in row:
            continue
        pesq = row.get("val_pesq")
        points.append(QualityPoint(label, row["step"], row["cpu_hours"], pesq, row["val_stoi"], row["val_mel_l1"]))
    # A resumed run may have re-validated a step: the latest line wins.
    by_step = {p.step: p for p in points}
    if not by_step:
        raise UserError(f"{path}: no validation lines with cpu_hours and val_stoi")
    return [by_step[s] for s in sorted(by_step)]


def write_csv(points: list[QualityPoint], path: Path) -> None:
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(asdict(points[0])))
        writer.writeheader()
        writer.writerows(asdict(p) for p in points)


def plot_quality(
    runs: dict[str, list[QualityPoint]], path: Path, references: dict[str, tuple[float, float]] | None = None
) -> None:
    """PESQ and STOI against CPU hours, one line per run; ``references`` maps a name to its
    ``(pesq, stoi)``, drawn as horizontal dashed lines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(PANELS), figsize=(11, 4.2))
    for panel, (ax, (key, title)) in enumerate(zip(axes, PANELS)):
        for label, points in runs.items():
            xs = [p.cpu_hours for p in points if getattr(p, key) is not None]
            ys = [getattr(p, key) for p in points if getattr(p, key) is not None]
            ax.plot(xs, ys, marker="o", markersize=3, label=label)
        for i, (name, levels) in enumerate((references or {}).items()):
            ax.axhline(levels[panel], linestyle="--", color=f"C{len(runs) + i}", label=name)
        ax.set_xlabel("CPU hours of training")
        ax.set_title(title)
        ax.grid(True, alpha=0.3)
    axes[0].legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=PLOT_DPI)
    plt.close(fig)
