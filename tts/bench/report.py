"""What a bench run produces: its settings, texts, per-case samples and summaries, and the report.

The report is written as ``bench.json`` (schema: ``tts/data/bench_schema.json``) by
:mod:`tts.bench.render`; :func:`compute_ratios` and :func:`compute_impl_speedups` derive its
cross-case figures from the cases. Rows are told apart by what their vocoder kind is
(:attr:`vocoders.base.Vocoder.parallel`), never by its name.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tts.errors import UserError
from tts.machine import MachineInfo
from tts.units import MS_PER_S
from vocoders.kinds import FAST, REFERENCE, VocoderKind

if TYPE_CHECKING:  # the command line builds BenchConfig before torch is imported
    from tts.synthesizer import Synthesizer

SCHEMA_VERSION = 2  # 2: every result names its generator; every parallel vocoder gets its ratios
SCHEMA_PATH = Path(__file__).parent.parent / "data" / "bench_schema.json"

# The pair the gRPC load test (server.loadtest) measures when given no vocoders: the kinds its
# proto names. The local bench measures every vocoder of the voice instead.
GAN_VOCODER = VocoderKind.HIFIGAN
AUTOREGRESSIVE_VOCODER = VocoderKind.WAVENET
STAGES = ("frontend_ms", "text2mel_ms", "vocoder_ms")
# Per-run metrics summarised over repeats; all are costs (lower is better).
METRICS = (
    "frontend_ms",
    "text2mel_ms",
    "vocoder_ms",
    "total_ms",
    "rtf",
    "vocoder_rtf",
    "ttfa_ms",
    "stream_total_ms",
)
P90 = 90.0
STATUS_OK, STATUS_PARTIAL, STATUS_SKIPPED = "ok", "partial", "skipped"
# WaveNet sample loops a run can time; "both" gives a reference and a fast row.
# "both" times each autoregressive vocoder with its reference and its fast sample loop.
BOTH_IMPLS = "both"
WAVENET_IMPL_CHOICES = (FAST, REFERENCE, BOTH_IMPLS)


@dataclass(frozen=True)
class BenchConfig:
    """What :func:`run_bench` measures and how often."""

    repeats: int = 3  # timed runs per case; the median of 3 already shrugs off one noisy run
    warmup: int = 1  # untimed runs first: torch's first call allocates and picks kernels
    # Streaming chunk of the parallel vocoders (mel frames): 32 frames is 0.5 s at 16 kHz / hop 256,
    # small enough for a quick first chunk, large enough that context overlap costs little.
    chunk_frames: int = 32
    stream: bool = True  # also time synthesize_stream for the time to first audio
    # Wall-clock budget of one (vocoder, text) case, warm-up included, seconds; keeps plain
    # `ganspeech bench` at a few minutes on 2 cores by skipping or shortening the long WaveNet cases
    # (with a note), yet measures WaveNet on the short and medium texts (3.1 s and 9.9 s of audio)
    # up to a vocoder RTF of 1.1, more than twice the 0.45-0.49 its fast loop ran at on 2 cores.
    case_budget_s: float = 45.0
    seed: int = 0  # WaveNet's sampling seed, fixed so every repeat does identical work

    def __post_init__(self) -> None:
        if self.repeats < 1:
            raise UserError("--repeats must be at least 1")
        if self.warmup < 0:
            raise UserError("--warmup cannot be negative")
        if self.chunk_frames < 1:
            raise UserError("--chunk-frames must be at least 1")
        if not self.case_budget_s > 0:
            raise UserError("--case-budget must be positive")


@dataclass(frozen=True)
class BenchText:
    """One text to time, with what the frontend and text-to-mel made of it."""

    name: str  # "short", "medium", "long", or "t1".. for --texts
    text: str
    words: int = 0
    sentences: int = 0
    audio_seconds: float = 0.0  # predicted from the text-to-mel frames, before any vocoder runs


def is_parallel(vocoder: str) -> bool:
    """Whether ``vocoder`` (a kind's name) makes a whole utterance in one pass, as the GAN vocoders do."""
    from vocoders.registry import vocoder_class  # imports torch: only once a bench runs

    return vocoder_class(vocoder).parallel


@dataclass(frozen=True)
class Target:
    """One row family of the table: a vocoder, with the autoregressive sample loop it uses."""

    label: str  # the kind ("vocos", "hifigan"), or kind-loop ("wavenet-fast") for an autoregressive one
    vocoder: str  # the vocoder kind's name
    impl: str | None  # the autoregressive sample loop; None for a parallel vocoder and in server mode
    synth: Synthesizer | None = None  # None in server mode
    generator: str | None = None  # what runs (Vocoder.generator_name); None in server mode

    @property
    def parallel(self) -> bool:
        return is_parallel(self.vocoder)


class CaseError(Exception):
    """A run that could not be made (a server refusing the request); the case keeps what it has."""


@dataclass
class RunSample:
    """One timed run of one case."""

    frontend_ms: float
    text2mel_ms: float
    vocoder_ms: float
    total_ms: float
    audio_seconds: float
    ttfa_ms: float | None = None  # first non-empty streamed chunk
    stream_total_ms: float | None = None

    @property
    def rtf(self) -> float:
        return self.total_ms / MS_PER_S / self.audio_seconds

    @property
    def vocoder_rtf(self) -> float:
        return self.vocoder_ms / MS_PER_S / self.audio_seconds

    def to_dict(self) -> dict[str, float | None]:
        return {
            "frontend_ms": self.frontend_ms,
            "text2mel_ms": self.text2mel_ms,
            "vocoder_ms": self.vocoder_ms,
            "total_ms": self.total_ms,
            "audio_seconds": self.audio_seconds,
            "rtf": self.rtf,
            "vocoder_rtf": self.vocoder_rtf,
            "ttfa_ms": self.ttfa_ms,
            "stream_total_ms": self.stream_total_ms,
        }


def summarize(values: Sequence[float]) -> dict[str, float] | None:
    """Median, p90 and min of ``values``; None when there are none."""
    if not values:
        return None
    import numpy as np  # here, not at the top: the command line imports this module for BenchConfig

    arr = np.asarray(values, dtype=np.float64)
    return {"median": float(np.median(arr)), "p90": float(np.percentile(arr, P90)), "min": float(arr.min())}


@dataclass
class CaseResult:
    """Every run of one vocoder on one text, and why there may be fewer than asked for."""

    label: str
    vocoder: str
    impl: str | None
    text: str  # BenchText.name
    planned_repeats: int
    status: str = STATUS_OK
    note: str | None = None
    runs: list[RunSample] = field(default_factory=list)
    peak_rss_mb: float | None = None
    wall_s: float = 0.0  # everything this case took, warm-up included
    generator: str | None = None  # what ran (Vocoder.generator_name); None when the server does not say

    @property
    def audio_seconds(self) -> float | None:
        return self.runs[0].audio_seconds if self.runs else None

    def stats(self) -> dict[str, dict[str, float] | None]:
        out: dict[str, dict[str, float] | None] = {}
        for metric in METRICS:
            vals = [v for r in self.runs if (v := getattr(r, metric)) is not None]
            out[metric] = summarize(vals)
        return out

    def median(self, metric: str) -> float | None:
        s = self.stats().get(metric)
        return s["median"] if s else None

    @property
    def x_real_time(self) -> float | None:
        """Seconds of audio made per second of computing, from the median total."""
        total = self.median("total_ms")
        if total is None or self.audio_seconds is None or total <= 0:
            return None
        return self.audio_seconds / (total / MS_PER_S)

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "vocoder": self.vocoder,
            "generator": self.generator,
            "impl": self.impl,
            "text": self.text,
            "status": self.status,
            "note": self.note,
            "planned_repeats": self.planned_repeats,
            "repeats": len(self.runs),
            "audio_seconds": self.audio_seconds,
            "stats": self.stats(),
            "x_real_time": self.x_real_time,
            "peak_rss_mb": self.peak_rss_mb,
            "wall_s": self.wall_s,
            "runs": [r.to_dict() for r in self.runs],
        }


@dataclass
class Ratio:
    """How many times faster a parallel (GAN) vocoder row is than an autoregressive one on one text."""

    text: str
    gan: str  # the parallel row's label
    autoregressive: str  # the autoregressive row's label
    total_speedup: float | None  # autoregressive median total / GAN median total
    vocoder_speedup: float | None  # the same for the vocoder stage alone
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class BenchReport:
    """Everything one ``ganspeech bench`` run measured; :meth:`to_dict` is ``bench.json``."""

    machine: MachineInfo
    voice: dict[str, Any]
    settings: dict[str, Any]
    texts: list[BenchText]
    cases: list[CaseResult]
    ratios: list[Ratio]
    impl_speedups: list[dict[str, Any]]
    peak_rss_mb: float
    peak_rss_scope: str  # "case" when each case's peak was measured alone, else "process"
    notes: list[str]
    created: str
    mode: str = "local"  # "local" or "server"
    server: dict[str, Any] | None = None  # server mode: address, and the load test with --concurrency

    def to_dict(self) -> dict[str, Any]:
        return _finite(
            {
                "schema_version": SCHEMA_VERSION,
                "tool": "ganspeech bench",
                "created": self.created,
                "mode": self.mode,
                "machine": self.machine.to_dict(),
                "voice": self.voice,
                "settings": self.settings,
                "texts": [t.__dict__ for t in self.texts],
                "results": [c.to_dict() for c in self.cases],
                "ratios": [r.to_dict() for r in self.ratios],
                "impl_speedups": self.impl_speedups,
                "peak_rss_mb": self.peak_rss_mb,
                "peak_rss_scope": self.peak_rss_scope,
                "server": self.server,
                "notes": self.notes,
            }
        )


def _finite(obj: Any) -> Any:
    """Replace inf/NaN (not valid JSON) with None, recursively."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj



def compute_ratios(cases: Sequence[CaseResult], texts: Sequence[BenchText]) -> list[Ratio]:
    """Each parallel row's speed over each autoregressive row's, for every text, in table order."""
    by_key = {(c.label, c.text): c for c in cases}
    labels = list(dict.fromkeys(c.label for c in cases))
    parallel = {c.label: is_parallel(c.vocoder) for c in cases}
    gans = [label for label in labels if parallel[label]]
    ars = [label for label in labels if not parallel[label]]
    ratios = []
    for text in texts:
        for gan in gans:
            for ar in ars:
                g, a = by_key[(gan, text.name)], by_key[(ar, text.name)]
                if g.runs and a.runs:
                    ratios.append(
                        Ratio(
                            text.name,
                            gan,
                            ar,
                            _div(a.median("total_ms"), g.median("total_ms")),
                            _div(a.median("vocoder_ms"), g.median("vocoder_ms")),
                        )
                    )
                else:
                    missing = a if not a.runs else g
                    ratios.append(Ratio(text.name, gan, ar, None, None, f"{missing.label} was not measured"))
    return ratios


def compute_impl_speedups(cases: Sequence[CaseResult], texts: Sequence[BenchText]) -> list[dict[str, Any]]:
    """The fast sample loop's speed-up over the reference one, per text and vocoder (when both ran)."""
    by_key = {(c.vocoder, c.impl, c.text): c for c in cases}
    vocoders = list(dict.fromkeys(c.vocoder for c in cases if c.impl is not None))
    out = []
    for text in texts:
        for vocoder in vocoders:
            ref, fast = by_key.get((vocoder, REFERENCE, text.name)), by_key.get((vocoder, FAST, text.name))
            if ref is None or fast is None:
                continue
            out.append(_impl_speedup(text, vocoder, ref, fast))
    return out


def _impl_speedup(text: BenchText, vocoder: str, ref: CaseResult, fast: CaseResult) -> dict[str, Any]:
    return {
        "text": text.name,
        "vocoder": vocoder,
        "reference_vocoder_rtf": ref.median("vocoder_rtf"),
        "fast_vocoder_rtf": fast.median("vocoder_rtf"),
        "vocoder_speedup": _div(ref.median("vocoder_ms"), fast.median("vocoder_ms")),
    }


def _div(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None



def load_schema() -> dict[str, Any]:
    """The JSON Schema ``bench.json`` follows."""
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
