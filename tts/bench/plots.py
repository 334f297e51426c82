"""The bench's two PNG plots: latency against audio length, and where the time goes per stage."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from tts.bench.report import STAGES, BenchReport, is_parallel
from tts.units import MS_PER_S

LATENCY_PLOT = "latency_vs_audio.png"
STAGES_PLOT = "stage_breakdown.png"
PLOT_DPI = 110
STAGE_COLORS = {"frontend_ms": "#8da0cb", "text2mel_ms": "#66c2a5", "vocoder_ms": "#fc8d62"}
PERCENT = 100.0
PERCENT_TICK = 20.0
LOG_TICK_SUBS = (1.0, 2.0, 5.0)  # ticks at 1, 2, 5 x 10^k
PLOT_X_MARGIN = 1.25  # room left and right of the outermost points on the log axis


def _log_axes(ax: Any) -> None:
    """Log-log axes with plain-number ticks (0.5, 1, 2, 5) rather than powers of ten."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    ax.set_xscale("log")
    ax.set_yscale("log")
    for axis in (ax.xaxis, ax.yaxis):
        axis.set_major_locator(LogLocator(base=10, subs=LOG_TICK_SUBS))
        axis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))
        axis.set_minor_formatter(NullFormatter())
    ax.grid(True, which="major", alpha=0.3)


def _points(report: BenchReport, label: str, metric: str) -> list[tuple[float, float, float, float]]:
    """``(audio s, median s, min s, p90 s)`` of ``metric`` for each measured case of row ``label``."""
    pts = []
    for c in report.cases:
        s = c.stats()[metric]
        if c.label == label and s and c.audio_seconds:
            pts.append((c.audio_seconds, s["median"] / MS_PER_S, s["min"] / MS_PER_S, s["p90"] / MS_PER_S))
    return sorted(pts)


def plot_latency(report: BenchReport, path: Path) -> None:
    """Median total latency (bars: min..p90) and streaming first and last audio versus audio length, log-log.

    On log-log axes a cost proportional to audio length is a line of slope 1: the dotted diagonal
    marks real time (latency = audio length), and a dashed slope-1 line in each autoregressive
    row's colour, anchored at its longest measured text, shows where linear growth would put it.
    The streaming panel shows, beside the time to first audio, when the last audio was ready
    (dashed, hollow markers): a row whose first audio comes as early as the others' can still end
    above the real-time diagonal, and a listener then hears it stall.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.6))
    labels = list(dict.fromkeys(c.label for c in report.cases))
    autoregressive = {c.label for c in report.cases if not is_parallel(c.vocoder)}
    xs_all = [c.audio_seconds for c in report.cases if c.audio_seconds] + [
        t.audio_seconds for t in report.texts if t.audio_seconds > 0
    ]
    xr = np.array([min(xs_all) * PLOT_X_MARGIN**-1, max(xs_all) * PLOT_X_MARGIN]) if xs_all else None
    for metric, ax, title in (
        ("total_ms", axes[0], "Latency of a whole utterance"),
        ("ttfa_ms", axes[1], "Streaming: first audio (solid), last audio (dashed)"),
    ):
        for label in labels:
            pts = _points(report, label, metric)
            if not pts:
                continue
            x, med, lo, hi = (np.array(v) for v in zip(*pts))
            yerr = np.vstack([med - lo, hi - med])
            line = ax.errorbar(x, med, yerr=yerr, marker="o", capsize=3, label=label)
            color = line.lines[0].get_color()
            if label in autoregressive and metric == "total_ms" and xr is not None:
                ax.plot(xr, med[-1] * xr / x[-1], linestyle="--", color=color, linewidth=1, alpha=0.6)
            ends = _points(report, label, "stream_total_ms") if metric == "ttfa_ms" else []
            if ends:
                x_end, end = np.array([p[0] for p in ends]), np.array([p[1] for p in ends])
                ax.plot(x_end, end, linestyle="--", marker="o", markerfacecolor="none", color=color)
        _log_axes(ax)
        ax.set_xlabel("audio length (s)")
        ax.set_ylabel("seconds")
        ax.set_title(title)
    if xr is not None:
        for ax in axes:
            ax.plot(xr, xr, linestyle=":", color="black", linewidth=1, label="real time")
        axes[0].plot([], [], linestyle="--", color="grey", linewidth=1, label="∝ audio length (slope 1)")
    axes[0].legend(fontsize=8)
    if any(axes[1].get_legend_handles_labels()[1]):
        axes[1].legend(fontsize=8)
    skipped = [f"{c.label}/{c.text}" for c in report.cases if not c.runs]
    suptitle = f"{report.machine.cpu_model}, {report.machine.torch_threads} threads"
    if skipped:
        suptitle += f" — not measured (see notes): {', '.join(skipped)}"
    fig.suptitle(suptitle, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=PLOT_DPI)
    plt.close(fig)


def plot_stages(report: BenchReport, path: Path) -> None:
    """Share of each stage in the median total, one bar per case, total latency written on the bar."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    measured = [c for c in report.cases if c.runs]
    fig, ax = plt.subplots(figsize=(9, 0.45 * max(len(measured), 1) + 1.5))
    names = [f"{c.label} · {c.text}" for c in measured]
    left = np.zeros(len(measured))
    for stage in STAGES:
        meds = np.array([c.median(stage) or 0.0 for c in measured])
        totals = np.array([sum(c.median(s) or 0.0 for s in STAGES) for c in measured])
        share = np.divide(meds, totals, out=np.zeros_like(meds), where=totals > 0) * PERCENT
        ax.barh(names, share, left=left, color=STAGE_COLORS[stage], label=stage.removesuffix("_ms"))
        left += share
    for i, c in enumerate(measured):
        ax.text(PERCENT + 1, i, f"{c.median('total_ms'):,.0f} ms", va="center", fontsize=8)
    ax.set_xlim(0, PERCENT * 1.22)
    ax.set_xticks(np.arange(0, PERCENT + 1, PERCENT_TICK))
    ax.set_xlabel("% of median latency")
    ax.invert_yaxis()
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=len(STAGES), fontsize=8, frameon=False)
    ax.set_title("Where the time goes")
    fig.tight_layout()
    fig.savefig(path, dpi=PLOT_DPI)
    plt.close(fig)
