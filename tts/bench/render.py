"""A bench report as text: the on-screen table, ``bench.csv``, ``bench.md``, and all files at once."""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tts.bench.plots import LATENCY_PLOT, STAGES_PLOT, plot_latency, plot_stages
from tts.bench.report import METRICS, STATUS_OK, BenchReport
from tts.machine import MachineInfo


def _fmt(value: float | None, digits: int = 0) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def table_rows(report: BenchReport) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the results table (medians, plus total p90/min)."""
    header = [
        "vocoder",
        "text",
        "audio s",
        "frontend ms",
        "text2mel ms",
        "vocoder ms",
        "total ms",
        "p90 ms",
        "min ms",
        "RTF",
        "x real time",
        "first audio ms",
        "peak MB",
        "runs",
    ]
    rows = []
    for c in report.cases:
        s = c.stats()
        total = s["total_ms"]
        rows.append(
            [
                c.label,
                c.text,
                _fmt(c.audio_seconds, 2),
                _fmt(c.median("frontend_ms"), 1),
                _fmt(c.median("text2mel_ms"), 1),
                _fmt(c.median("vocoder_ms"), 1),
                _fmt(total["median"] if total else None, 1),
                _fmt(total["p90"] if total else None, 1),
                _fmt(total["min"] if total else None, 1),
                _fmt(c.median("rtf"), 3),
                _fmt(c.x_real_time, 1),
                _fmt(c.median("ttfa_ms"), 1),
                _fmt(c.peak_rss_mb, 0),
                f"{len(c.runs)}/{c.planned_repeats}" + ("" if c.status == STATUS_OK else f" {c.status}"),
            ]
        )
    return header, rows


def generators(report: BenchReport) -> dict[str, str]:
    """Each row label's generator (what ran), in table order; rows whose generator is unknown are left out."""
    return {c.label: c.generator for c in report.cases if c.generator}


def ratio_lines(report: BenchReport) -> list[str]:
    lines = []
    for r in report.ratios:
        if r.total_speedup is None:
            lines.append(f"{r.text}: {r.gan} vs {r.autoregressive}: no ratio ({r.note})")
        else:
            lines.append(
                f"{r.text}: {r.gan} is {r.total_speedup:,.1f}x faster than {r.autoregressive} end to end "
                f"({r.vocoder_speedup:,.1f}x in the vocoder stage)"
            )
    for s in report.impl_speedups:
        if s["vocoder_speedup"] is not None:
            lines.append(
                f"{s['text']}: {s['vocoder']}'s fast loop is {s['vocoder_speedup']:,.1f}x faster than its "
                "reference loop "
                f"(vocoder RTF {s['reference_vocoder_rtf']:.2f} -> {s['fast_vocoder_rtf']:.2f})"
            )
    return lines


def load_lines(report: BenchReport) -> list[str]:
    """One line per load test (server mode with --concurrency)."""
    lines = []
    for t in (report.server or {}).get("load") or []:
        lat = t["latency_ms"]
        timing = f"p50 {lat['p50']:,.0f} ms, p99 {lat['p99']:,.0f} ms" if lat else "no request succeeded"
        throughput = _fmt(t["throughput_rps"], 2)
        codes = ", ".join(f"{n} {code}" for code, n in sorted(t.get("error_codes", {}).items()))
        failed = f"{t['errors']} failed: {codes}" if t["errors"] else "none failed"
        mode = f" batched (mean batch {t['mean_batch_size']:.1f})" if t.get("batching") and t.get("mean_batch_size") else ""
        background = t.get("background_wavenet")
        if background:
            mode += f" + {background['clients']} WaveNet clients ({background['completed']} served)"
        lines.append(
            f"load {t['vocoder']}{mode} / {t['text']}: {t['concurrency']} concurrent clients, "
            f"{t['requests']} requests ({failed}) in {t['duration_s']:.1f} s: {throughput} requests/s, "
            f"{_fmt(t['audio_seconds_per_s'], 1)} s of audio/s, {timing}"
        )
    return lines


def machine_line(m: MachineInfo) -> str:
    return (
        f"{m.cpu_model}; {m.available_cores} of {m.logical_cores} cores available, torch {m.torch_version} "
        f"with {m.torch_threads} threads on {m.device}"
    )


def format_table(report: BenchReport) -> str:
    """The plain-text report printed on screen."""
    header, rows = table_rows(report)
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]
    right = set(range(2, len(header)))

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths))
        )

    out = [f"machine: {machine_line(report.machine)}", f"voice: {report.voice.get('name')}", ""]
    out += [line(header), line(["-" * w for w in widths])]
    out += [line(r) for r in rows]
    out.append("")
    named = generators(report)
    if named:
        out += [f"{label}: {generator}" for label, generator in named.items()] + [""]
    out += ratio_lines(report)
    out += load_lines(report)
    out.append(f"peak memory (RSS): {report.peak_rss_mb:,.0f} MB")
    if report.notes:
        out.append("")
        out += [f"note: {n}" for n in report.notes]
    return "\n".join(out)


CSV_STAT_METRICS = METRICS


def write_csv(report: BenchReport, path: Path) -> None:
    """One row per case: medians, p90 and min of every metric, flat."""
    stat_cols = [f"{m}_{k}" for m in CSV_STAT_METRICS for k in ("median", "p90", "min")]
    cols = ["label", "vocoder", "generator", "impl", "text", "status", "repeats", "audio_seconds", *stat_cols]
    cols += ["x_real_time", "peak_rss_mb", "note"]
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=cols)
        w.writeheader()
        for c in report.cases:
            row: dict[str, Any] = {
                "label": c.label,
                "vocoder": c.vocoder,
                "generator": c.generator or "",
                "impl": c.impl or "",
                "text": c.text,
                "status": c.status,
                "repeats": len(c.runs),
                "audio_seconds": c.audio_seconds,
                "x_real_time": c.x_real_time,
                "peak_rss_mb": c.peak_rss_mb,
                "note": c.note or "",
            }
            for m, s in c.stats().items():
                for k in ("median", "p90", "min"):
                    row[f"{m}_{k}"] = s[k] if s else ""
            w.writerow(row)



def markdown_report(report: BenchReport) -> str:
    header, rows = table_rows(report)
    m = report.machine
    md = [
        "# ganspeech bench",
        "",
        f"{report.created}, voice `{report.voice.get('name')}`, mode {report.mode}.",
        "",
        f"**Machine:** {machine_line(m)}; Python {m.python_version}; {m.platform}.",
        "",
        (
            f"**Settings:** {report.settings['repeats']} repeats after {report.settings['warmup']} warm-up; "
            f"vocoders {', '.join(report.settings['vocoders'])} (WaveNet {report.settings['wavenet_impl']}); "
            f"streaming chunk {report.settings['chunk_frames']} frames; case budget "
            f"{report.settings['case_budget_s']:.0f} s."
        ),
        "",
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" if i < 2 else "---:" for i in range(len(header))) + "|",
    ]
    md += ["| " + " | ".join(r) + " |" for r in rows]
    md += ["", "Medians over the timed runs; p90 and min of the total. RTF = processing time / audio time."]
    named = generators(report)
    if named:
        md += ["", "## Generators", "", "| row | generator |", "|---|---|"]
        md += [f"| {label} | {generator} |" for label, generator in named.items()]
    md += ["", "## Parallel (GAN) / autoregressive speed ratios", ""]
    md += [f"- {line}" for line in ratio_lines(report)] or [
        "- (needs a parallel and an autoregressive vocoder)"
    ]
    md += [
        "",
        (
            f"Peak memory: {report.peak_rss_mb:,.0f} MB resident "
            "(whole process: weights, torch, interpreter; "
            f"{'measured per case' if report.peak_rss_scope == 'case' else 'process-wide peak'})."
        ),
    ]
    if report.server:
        md += ["", "## Server", "", f"Measured through the gRPC service at `{report.server['address']}`.", ""]
        md += [f"- {line}" for line in load_lines(report)]
    if report.notes:
        md += ["", "## Notes", ""] + [f"- {n}" for n in report.notes]
    md += ["", "## Texts", ""]
    md += [f"- **{t.name}** ({t.words} words, {t.audio_seconds:.1f} s): {t.text}" for t in report.texts]
    md += [
        "",
        f"![latency versus audio length]({LATENCY_PLOT})",
        "",
        f"![stage breakdown]({STAGES_PLOT})",
        "",
    ]
    return "\n".join(md)


def write_outputs(report: BenchReport, out_dir: str | Path) -> dict[str, Path]:
    """Write ``bench.json``, ``bench.csv``, ``bench.md`` and the two plots; returns their paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "json": out / "bench.json",
        "csv": out / "bench.csv",
        "markdown": out / "bench.md",
        "latency_plot": out / LATENCY_PLOT,
        "stages_plot": out / STAGES_PLOT,
    }
    paths["json"].write_text(json.dumps(report.to_dict(), indent=2, allow_nan=False) + "\n", encoding="utf-8")
    write_csv(report, paths["csv"])
    paths["markdown"].write_text(markdown_report(report), encoding="utf-8")
    plot_latency(report, paths["latency_plot"])
    plot_stages(report, paths["stages_plot"])
    return paths
