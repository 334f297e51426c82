"""Latency benchmark: both vocoders, the same texts, one run, one machine.

:func:`run_bench` times every stage of :meth:`Synthesizer.synthesize` (frontend, text-to-mel,
vocoder, total) and the time to first audio of :meth:`Synthesizer.synthesize_stream`, for each
vocoder and text, repeated after warm-up; it reports median, p90 and min, the real-time factor, the
GAN/autoregressive speed ratio per text, the peak memory of each case and the machine. The report
is written as ``bench.json`` (schema: ``tts/data/bench_schema.json``), ``bench.csv``, ``bench.md``
and two PNG plots by :func:`write_outputs`.

WaveNet's cost grows linearly with audio length, so a long text can take minutes per run. Each case
has a time budget: a case whose warm-up and first run are projected (from the vocoder's RTF on a
shorter text) to exceed it is skipped, and a case whose repeats would exceed it stops early. Both
leave a note in the table, the JSON and the report; nothing is dropped silently.
"""

from __future__ import annotations

import csv
import json
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from tts.errors import UserError
from tts.machine import MachineInfo, machine_info, peak_rss_mb, reset_peak_rss
from tts.synthesizer import MS_PER_S, SENTENCE_PAUSE_S, Synthesizer
from tts.voice import voice_label

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 1
SCHEMA_PATH = Path(__file__).parent.parent / "data" / "bench_schema.json"

# Each built-in text is one sentence, so audio length is the only thing that changes between them:
# with several sentences WaveNet vocodes them as one batch, which hides its per-sample cost. "long"
# stays under the frontend's 40-word limit, beyond which it would cut the sentence at a comma.
LENGTH_TEXTS: dict[str, str] = {
    "short": "The quick brown fox jumps over the lazy dog.",
    "medium": (
        "A parallel vocoder turns a whole spectrogram into sound in a single pass, "
        "while an autoregressive one must predict every sample from the ones before it."
    ),
    "long": (
        "When the sun finally rose over the quiet harbour, the fishermen who had waited through the long "
        "cold night pushed their small wooden boats into the grey water and called out to one another "
        "across the waves."
    ),
}
GAN_VOCODER = "hifigan"
AUTOREGRESSIVE_VOCODER = "wavenet"
WAVENET_IMPL_CHOICES = ("fast", "reference", "both")
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


@dataclass(frozen=True)
class BenchConfig:
    """What :func:`run_bench` measures and how often."""

    repeats: int = 3  # timed runs per case; the median of 3 already shrugs off one noisy run
    warmup: int = 1  # untimed runs first: torch's first call allocates and picks kernels
    # HiFi-GAN streaming chunk (mel frames): 32 frames is 0.5 s at 16 kHz / hop 256, small enough
    # for a quick first chunk, large enough that context overlap costs little.
    chunk_frames: int = 32
    stream: bool = True  # also time synthesize_stream for the time to first audio
    # Wall-clock budget of one (vocoder, text) case, warm-up included, seconds; keeps plain
    # `ganspeech bench` at a few minutes on 2 cores by skipping or shortening the long WaveNet cases
    # (with a note).
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


@dataclass(frozen=True)
class Target:
    """One row family of the table: a vocoder, with the WaveNet sample loop it uses."""

    label: str  # "hifigan", "wavenet-fast", "wavenet-reference" ("wavenet" through a server)
    vocoder: str
    impl: str | None  # WaveNet implementation; None for HiFi-GAN and in server mode
    synth: Synthesizer | None = None  # None in server mode


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
    """How many times faster the GAN vocoder is than an autoregressive one on one text."""

    text: str
    gan: str
    autoregressive: str
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


# ---------------------------------------------------------------- inputs


def parse_list(value: str) -> list[str]:
    """``"a, b,,c"`` -> ``["a", "b", "c"]``."""
    return [v.strip() for v in value.split(",") if v.strip()]


def builtin_texts(lengths: Sequence[str]) -> list[tuple[str, str]]:
    unknown = [n for n in lengths if n not in LENGTH_TEXTS]
    if unknown:
        raise UserError(f"unknown length {unknown[0]!r}; choose from {', '.join(LENGTH_TEXTS)}")
    if not lengths:
        raise UserError("give at least one length")
    return [(n, LENGTH_TEXTS[n]) for n in lengths]


def read_texts_file(path: str | Path) -> list[tuple[str, str]]:
    """One text per non-empty line, named ``t1``, ``t2``, ... in file order."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"texts file {path} does not exist")
    lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if not lines:
        raise UserError(f"texts file {path} has no non-empty line")
    return [(f"t{i}", line) for i, line in enumerate(lines, 1)]


def prepare_texts(synth: Synthesizer, texts: Sequence[tuple[str, str]]) -> list[BenchText]:
    """Analyse each text and predict its audio length from the text-to-mel frames (cheap: no vocoder)."""
    prepared = []
    hop_s = synth.audio_config.frame_seconds
    for name, text in texts:
        utts = synth.analyze(text)
        frames = sum(synth.text_to_mel(u).shape[-1] for u in utts)  # each mel is (1, n_mels, T_i)
        seconds = frames * hop_s + SENTENCE_PAUSE_S * (len(utts) - 1)
        prepared.append(BenchText(name, text, len(text.split()), len(utts), round(seconds, 4)))
    return prepared


def build_targets(synth: Synthesizer, vocoders: Sequence[str], wavenet_impl: str) -> list[Target]:
    """The rows to measure; ``wavenet_impl="both"`` gives a reference and a fast WaveNet row."""
    if wavenet_impl not in WAVENET_IMPL_CHOICES:
        raise UserError(f"--wavenet-impl must be one of {', '.join(WAVENET_IMPL_CHOICES)}")
    if not vocoders:
        raise UserError("give at least one vocoder")
    targets: list[Target] = []
    for voc in vocoders:
        synth.check_vocoder(voc)
        if voc != AUTOREGRESSIVE_VOCODER:
            targets.append(Target(voc, voc, None, synth))
            continue
        impls = ("reference", "fast") if wavenet_impl == "both" else (wavenet_impl,)
        for impl in impls:
            # Synthesizers of one voice share their modules; only the WaveNet sample loop differs.
            s = synth if impl == synth.wavenet_impl else _with_impl(synth, impl)
            targets.append(Target(f"{voc}-{impl}", voc, impl, s))
    return targets


def _with_impl(synth: Synthesizer, impl: str) -> Synthesizer:
    return Synthesizer(
        synth.manifest,
        synth.text2mel,
        synth.vocoder_models,
        synth.voice_dir,
        wavenet_impl=impl,
        gan_backend=synth.gan_backend,
    )


# ---------------------------------------------------------------- measuring


Measure = Callable[[Target, str, BenchConfig], RunSample]


def measure_once(target: Target, text: str, config: BenchConfig) -> RunSample:
    """One unary synthesis and, when ``config.stream``, one streamed synthesis of ``text``."""
    if target.synth is None:
        raise ValueError(f"target {target.label} has no synthesizer")
    result = target.synth.synthesize(text, vocoder=target.vocoder, seed=config.seed)
    t = result.timings
    ttfa = stream_total = None
    if config.stream:
        chunks = target.synth.synthesize_stream(
            text, vocoder=target.vocoder, seed=config.seed, chunk_frames=config.chunk_frames
        )
        for chunk in chunks:
            if ttfa is None and chunk.audio.size:
                ttfa = chunk.elapsed_ms
            if chunk.timings is not None:
                stream_total = chunk.timings.total_ms
    return RunSample(
        t.frontend_ms, t.text2mel_ms, t.vocoder_ms, t.total_ms, t.audio_seconds, ttfa, stream_total
    )


@dataclass(frozen=True)
class CostModel:
    """A run's cost predicted from a shorter text: fixed overhead plus vocoder time per audio second."""

    overhead_s: float  # frontend + text-to-mel, which barely grow with length
    vocoder_rtf: float  # vocoder seconds per audio second: what grows with length

    @classmethod
    def from_case(cls, case: CaseResult) -> CostModel | None:
        total, vocoder, rtf = case.median("total_ms"), case.median("vocoder_ms"), case.median("vocoder_rtf")
        if total is None or vocoder is None or rtf is None:
            return None
        return cls(max(total - vocoder, 0.0) / MS_PER_S, rtf)

    def run_seconds(self, audio_seconds: float) -> float:
        return self.overhead_s + self.vocoder_rtf * audio_seconds


def _run_case(
    target: Target,
    text: BenchText,
    config: BenchConfig,
    cost: CostModel | None,
    tick: Callable[[int], None],
    measure: Measure = measure_once,
) -> CaseResult:
    """Warm up, then time up to ``config.repeats`` runs within ``config.case_budget_s``.

    ``cost`` is this target's cost on a shorter text; with it an autoregressive case whose warm-up
    and one timed run cannot fit the budget is skipped before it starts. The budget covers the whole case, warm-up
    included; the first timed run is always made, so a case overruns it by at most one run.
    """
    case = CaseResult(target.label, target.vocoder, target.impl, text.name, config.repeats)
    planned = config.warmup + config.repeats
    calls_per_run = 2 if config.stream else 1
    # The GAN rows are the reference point of every ratio: they are shortened, never skipped.
    if cost is not None and text.audio_seconds > 0 and target.vocoder != GAN_VOCODER:
        projected = cost.run_seconds(text.audio_seconds) * calls_per_run
        if projected * (config.warmup + 1) > config.case_budget_s:
            case.status = STATUS_SKIPPED
            case.note = (
                f"skipped: one run is projected at {projected:.0f} s ({text.audio_seconds:.1f} s of audio, "
                f"vocoder RTF {cost.vocoder_rtf:.2f}{', unary and streamed' if config.stream else ''}), "
                "over the "
                f"{config.case_budget_s:.0f} s case budget with {config.warmup} warm-up; "
                "raise --case-budget to measure it"
            )
            tick(planned)
            return case
    start = time.perf_counter()
    done = 0
    run_walls: list[float] = []
    try:
        for _ in range(config.warmup):
            measure(target, text.text, config)
            done += 1
            tick(1)
        for i in range(config.repeats):
            # Estimated from timed runs only: a warm-up may carry one-off costs (JIT compilation).
            per_run = float(np.mean(run_walls)) if run_walls else 0.0
            if i and time.perf_counter() - start + per_run > config.case_budget_s:
                case.status = STATUS_PARTIAL
                case.note = (
                    f"{i} of {config.repeats} repeats: another run (~{per_run:.0f} s) would exceed the "
                    f"{config.case_budget_s:.0f} s case budget"
                )
                break
            t0 = time.perf_counter()
            case.runs.append(measure(target, text.text, config))
            run_walls.append(time.perf_counter() - t0)
            done += 1
            tick(1)
    except CaseError as exc:
        case.status = STATUS_PARTIAL if case.runs else STATUS_SKIPPED
        case.note = f"{len(case.runs)} of {config.repeats} repeats: {exc}"
    tick(planned - done)
    case.wall_s = time.perf_counter() - start
    return case


def compute_ratios(cases: Sequence[CaseResult], texts: Sequence[BenchText]) -> list[Ratio]:
    """GAN over autoregressive speed for every text and every WaveNet row."""
    by_key = {(c.label, c.text): c for c in cases}
    gans = sorted({c.label for c in cases if c.vocoder == GAN_VOCODER})
    ars = sorted({c.label for c in cases if c.vocoder == AUTOREGRESSIVE_VOCODER})
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
    """Fast WaveNet's speed-up over the reference sample loop, per text (when both were run)."""
    by_key = {(c.label, c.text): c for c in cases}
    ref_label, fast_label = f"{AUTOREGRESSIVE_VOCODER}-reference", f"{AUTOREGRESSIVE_VOCODER}-fast"
    out = []
    for text in texts:
        ref, fast = by_key.get((ref_label, text.name)), by_key.get((fast_label, text.name))
        if ref is None or fast is None:
            continue
        out.append(
            {
                "text": text.name,
                "reference_vocoder_rtf": ref.median("vocoder_rtf"),
                "fast_vocoder_rtf": fast.median("vocoder_rtf"),
                "vocoder_speedup": _div(ref.median("vocoder_ms"), fast.median("vocoder_ms")),
            }
        )
    return out


def _div(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def _run_cases(
    targets: Sequence[Target],
    texts: Sequence[BenchText],
    config: BenchConfig,
    progress: bool | None,
    measure: Measure,
    notes: list[str],
    per_case_peak: bool,
) -> list[CaseResult]:
    """Every target on every text, in table order; notes collect each skipped or shortened case."""
    from tqdm import tqdm

    # Shortest first, so a slow vocoder's RTF on a short text can predict whether a long one fits.
    order = sorted(texts, key=lambda t: t.audio_seconds)
    cases: list[CaseResult] = []
    total_runs = len(targets) * len(order) * (config.warmup + config.repeats)
    with tqdm(
        total=total_runs, desc="bench", unit="run", disable=None if progress is None else not progress
    ) as bar:
        for target in targets:
            cost: CostModel | None = None
            for text in order:
                bar.set_postfix_str(f"{target.label} / {text.name}")
                if per_case_peak:
                    reset_peak_rss()
                case = _run_case(target, text, config, cost, bar.update, measure)
                if per_case_peak and case.runs:
                    case.peak_rss_mb = round(peak_rss_mb(), 1)
                if case.runs:
                    cost = CostModel.from_case(case) or cost
                if case.note:
                    notes.append(f"{case.label} / {case.text}: {case.note}")
                    logger.warning("%s / %s: %s", case.label, case.text, case.note)
                cases.append(case)
    text_index = {t.name: i for i, t in enumerate(texts)}
    labels = [t.label for t in targets]
    cases.sort(key=lambda c: (labels.index(c.label), text_index[c.text]))
    return cases


def run_bench(
    synth: Synthesizer,
    texts: Sequence[tuple[str, str]],
    vocoders: Sequence[str] = (GAN_VOCODER, AUTOREGRESSIVE_VOCODER),
    wavenet_impl: str = "fast",
    config: BenchConfig = BenchConfig(),
    progress: bool | None = None,
) -> BenchReport:
    """Time every vocoder on every text with ``synth``'s voice.

    ``progress``: show a tqdm bar on stderr (None: only when stderr is a terminal).
    """
    targets = build_targets(synth, vocoders, wavenet_impl)
    prepared = prepare_texts(synth, texts)
    notes: list[str] = []
    per_case_peak = reset_peak_rss()
    load_peak = peak_rss_mb()
    if not per_case_peak:
        notes.append("peak memory could not be reset between cases: each value is the process peak so far")
    if not synth.manifest.trained:
        notes.append("the voice is randomly initialised (a test fixture): its timings are not a real voice's")
    cases = _run_cases(targets, prepared, config, progress, measure_once, notes, per_case_peak=True)
    peaks = [c.peak_rss_mb for c in cases if c.peak_rss_mb is not None] + [load_peak]
    return BenchReport(
        machine=machine_info(),
        voice={
            "name": synth.manifest.name,
            "dir": voice_label(synth.voice_dir),
            "trained": synth.manifest.trained,
            "sample_rate": synth.sample_rate,
            "vocoders": synth.vocoders,
        },
        settings={
            "vocoders": list(vocoders),
            "wavenet_impl": wavenet_impl,
            **asdict(config),  # every BenchConfig field: the report records all that shaped the run
            # The HiFi-GAN inference path actually used ("auto" resolved); None without a HiFi-GAN.
            "gan_backend": synth.gan_backend_in_use,
        },
        texts=prepared,
        cases=cases,
        ratios=compute_ratios(cases, prepared),
        impl_speedups=compute_impl_speedups(cases, prepared),
        peak_rss_mb=round(max(peaks), 1),
        peak_rss_scope="case" if per_case_peak else "process",
        notes=notes,
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
    )


# ---------------------------------------------------------------- through the gRPC service

# Per-request deadline: a long WaveNet request can take minutes on 2 cores.
SERVER_REQUEST_TIMEOUT_S = 600.0
# How long to wait for a server that does not answer its health check.
HEALTH_TIMEOUT_S = 10.0
SERVING = "SERVING"
P50, P99 = 50.0, 99.0
# Requests of one load test per concurrent client, when --requests is not given.
LOAD_REQUESTS_PER_CLIENT = 4
SERVER_LABEL_NOTE = (
    "server mode: frontend, text2mel and vocoder are the server's own stage times; total and first audio "
    "are measured by this client and include the RPC, waiting for a worker and encoding"
)


def _rpc_message(exc: Exception) -> str:
    code = getattr(exc, "code", None)
    details = getattr(exc, "details", None)
    if callable(code) and callable(details):
        return f"the server answered {code().name}: {details()}"
    return f"the request failed: {exc}"


def _server_measure(client: Any, voice: str) -> Measure:
    """Measure through ``client`` (a :class:`server.client.SynthesisClient`): unary, then streamed."""
    import grpc

    def measure(target: Target, text: str, config: BenchConfig) -> RunSample:
        try:
            t0 = time.perf_counter()
            resp = client.synthesize(
                text, vocoder=target.vocoder, voice=voice, encoding="linear16", seed=config.seed
            )
            total_ms = (time.perf_counter() - t0) * MS_PER_S
            ttfa = stream_total = None
            if config.stream:
                streamed = client.stream_audio(text, vocoder=target.vocoder, voice=voice, seed=config.seed)
                ttfa, stream_total = streamed.client_first_chunk_ms, streamed.client_total_ms
        except grpc.RpcError as exc:
            raise CaseError(_rpc_message(exc)) from exc
        lat = resp.latency
        return RunSample(
            lat.frontend_ms, lat.text2mel_ms, lat.vocoder_ms, total_ms, resp.audio_seconds, ttfa, stream_total
        )

    return measure


def _probe_texts(
    client: Any, texts: Sequence[tuple[str, str]], voice: str, probe: str | None
) -> list[BenchText]:
    """Audio length and sentence count of each text, from one streamed request with the GAN vocoder."""
    import grpc

    prepared = []
    for name, text in texts:
        seconds, sentences = 0.0, 0
        if probe is not None:
            try:
                for msg in client.stream(text, vocoder=probe, voice=voice):
                    kind = msg.WhichOneof("content")
                    if kind == "chunk":
                        sentences = max(sentences, msg.chunk.sentence_index + 1)
                    elif kind == "summary":
                        seconds = msg.summary.audio_seconds
            except grpc.RpcError as exc:
                raise UserError(f"text {name!r}: {_rpc_message(exc)}") from exc
        prepared.append(BenchText(name, text, len(text.split()), sentences, round(seconds, 4)))
    return prepared


def load_test(
    client: Any,
    vocoder: str,
    text: BenchText,
    voice: str,
    concurrency: int,
    requests: int,
    budget_s: float,
    seed: int = 0,
) -> dict[str, Any]:
    """``concurrency`` clients sending unary requests until ``requests`` were sent or ``budget_s`` passed.

    Bounded both ways, so a slow vocoder cannot make the test run away; refused requests (the
    server's RESOURCE_EXHAUSTED when its queue is full) are counted by status code, not timed.
    """
    import threading
    from concurrent.futures import ThreadPoolExecutor

    import grpc

    lock = threading.Lock()
    issued = 0
    latencies: list[float] = []
    audio_seconds: list[float] = []
    errors: dict[str, int] = {}
    start = time.perf_counter()
    deadline = start + budget_s

    def one_client() -> None:
        nonlocal issued
        while True:
            with lock:
                if issued >= requests or time.perf_counter() > deadline:
                    return
                issued += 1
            t0 = time.perf_counter()
            try:
                resp = client.synthesize(
                    text.text, vocoder=vocoder, voice=voice, encoding="linear16", seed=seed
                )
            except grpc.RpcError as exc:
                with lock:
                    errors[exc.code().name] = errors.get(exc.code().name, 0) + 1
                continue
            with lock:
                latencies.append((time.perf_counter() - t0) * MS_PER_S)
                audio_seconds.append(resp.audio_seconds)

    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="bench-client") as pool:
        for future in [pool.submit(one_client) for _ in range(concurrency)]:
            future.result()
    duration = time.perf_counter() - start
    lat = np.asarray(latencies)
    return {
        "vocoder": vocoder,
        "text": text.name,
        "streaming": False,
        "concurrency": concurrency,
        "requests": issued,
        "errors": sum(errors.values()),
        "error_codes": errors,
        "duration_s": duration,
        "throughput_rps": len(latencies) / duration if duration > 0 else None,
        "audio_seconds_per_s": sum(audio_seconds) / duration if duration > 0 else None,
        "latency_ms": None
        if not latencies
        else {
            "p50": float(np.percentile(lat, P50)),
            "p99": float(np.percentile(lat, P99)),
            "min": float(lat.min()),
            "max": float(lat.max()),
        },
    }


def run_server_bench(
    address: str,
    texts: Sequence[tuple[str, str]],
    vocoders: Sequence[str] = (GAN_VOCODER, AUTOREGRESSIVE_VOCODER),
    config: BenchConfig = BenchConfig(),
    voice: str = "",
    concurrency: int | None = None,
    requests: int | None = None,
    progress: bool | None = None,
) -> BenchReport:
    """The same measurements through the gRPC service at ``address``; with ``concurrency``, load tests too.

    Every case is first timed one request at a time (unary and streamed). With ``concurrency``,
    each measured case is then load-tested: ``requests`` (default :data:`LOAD_REQUESTS_PER_CLIENT`
    per client) unary requests from ``concurrency`` clients at once, within the case budget.
    """
    import grpc

    from server.client import SynthesisClient

    if concurrency is not None and concurrency < 1:
        raise UserError("--concurrency must be at least 1")
    if requests is not None and requests < 1:
        raise UserError("--requests must be at least 1")
    if not vocoders:
        raise UserError("give at least one vocoder")
    client = SynthesisClient(address, timeout=SERVER_REQUEST_TIMEOUT_S)
    try:
        try:
            status = client.health(timeout=HEALTH_TIMEOUT_S)
            listing = client.list_voices(timeout=HEALTH_TIMEOUT_S)
        except grpc.RpcError as exc:
            raise UserError(f"cannot use the server at {address}: {_rpc_message(exc)}") from exc
        if status != SERVING:
            raise UserError(f"the server at {address} is {status}, not {SERVING}")
        voice_info = _server_voice(listing, voice)
        offered = {_vocoder_name(v) for v in voice_info.vocoders}
        for voc in vocoders:
            if voc not in offered:
                raise UserError(
                    f"voice {voice_info.name!r} on {address} has no {voc!r}; it offers {sorted(offered)}"
                )
        targets = [Target(voc, voc, None, None) for voc in vocoders]
        probe = GAN_VOCODER if GAN_VOCODER in vocoders else None
        prepared = _probe_texts(client, texts, voice, probe)
        notes = [SERVER_LABEL_NOTE, "peak memory is this client's process, not the server's"]
        if probe is None:
            notes.append(
                "without hifigan the texts' audio lengths were not probed: no case is skipped in advance"
            )
        if not voice_info.trained:
            notes.append(
                "the voice is randomly initialised (a test fixture): its timings are not a real voice's"
            )
        cases = _run_cases(targets, prepared, config, progress, _server_measure(client, voice), notes, False)
        load = None
        if concurrency is not None:
            n_requests = requests or LOAD_REQUESTS_PER_CLIENT * concurrency
            by_name = {t.name: t for t in prepared}
            load = []
            for case in cases:
                if not case.runs:
                    notes.append(f"load test {case.label} / {case.text}: skipped, the case was not measured")
                    continue
                load.append(
                    load_test(
                        client,
                        case.vocoder,
                        by_name[case.text],
                        voice,
                        concurrency,
                        n_requests,
                        config.case_budget_s,
                        config.seed,
                    )
                )
    finally:
        client.close()
    return BenchReport(
        machine=machine_info(),
        voice={
            "name": voice_info.name,
            "dir": None,
            "trained": voice_info.trained,
            "sample_rate": voice_info.native_sample_rate_hz,
            "vocoders": sorted(offered),
        },
        settings={
            "vocoders": list(vocoders),
            "wavenet_impl": "server",
            **asdict(config),  # every BenchConfig field: the report records all that shaped the run
            "server": address,
            **({"concurrency": concurrency} if concurrency is not None else {}),
        },
        texts=prepared,
        cases=cases,
        ratios=compute_ratios(cases, prepared),
        impl_speedups=[],
        peak_rss_mb=round(peak_rss_mb(), 1),
        peak_rss_scope="process",
        notes=notes,
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        mode="server",
        server={"address": address, "voice": voice_info.name, "load": load},
    )


def _vocoder_name(value: int) -> str:
    from server.client import vocoder_name

    return vocoder_name(value)


def _server_voice(listing: Any, voice: str) -> Any:
    """The ListVoices entry of ``voice`` (empty: the server's default)."""
    for v in listing.voices:
        if (voice and v.name == voice) or (not voice and v.is_default):
            return v
    names = ", ".join(v.name for v in listing.voices)
    raise UserError(f"the server has no voice {voice!r}; it offers: {names}")


# ---------------------------------------------------------------- output


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
                f"{s['text']}: fast WaveNet is {s['vocoder_speedup']:,.1f}x faster than the reference loop "
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
        lines.append(
            f"load {t['vocoder']} / {t['text']}: {t['concurrency']} concurrent clients, "
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
    cols = ["label", "vocoder", "impl", "text", "status", "repeats", "audio_seconds", *stat_cols]
    cols += ["x_real_time", "peak_rss_mb", "note"]
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=cols)
        w.writeheader()
        for c in report.cases:
            row: dict[str, Any] = {
                "label": c.label,
                "vocoder": c.vocoder,
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


def plot_latency(report: BenchReport, path: Path) -> None:
    """Median total latency (bars: min..p90) and time to first audio versus audio length, log-log.

    On log-log axes a cost proportional to audio length is a line of slope 1: the dotted diagonal
    marks real time (latency = audio length), and a dashed slope-1 line in each autoregressive
    row's colour, anchored at its longest measured text, shows where linear growth would put it.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.6))
    labels = list(dict.fromkeys(c.label for c in report.cases))
    xs_all = [c.audio_seconds for c in report.cases if c.audio_seconds] + [
        t.audio_seconds for t in report.texts if t.audio_seconds > 0
    ]
    xr = np.array([min(xs_all) * PLOT_X_MARGIN**-1, max(xs_all) * PLOT_X_MARGIN]) if xs_all else None
    for metric, ax, title in (
        ("total_ms", axes[0], "Latency of a whole utterance"),
        ("ttfa_ms", axes[1], "Time to first audio (streaming)"),
    ):
        for label in labels:
            pts = []
            for c in report.cases:
                s = c.stats()[metric]
                if c.label == label and s and c.audio_seconds:
                    pts.append(
                        (c.audio_seconds, s["median"] / MS_PER_S, s["min"] / MS_PER_S, s["p90"] / MS_PER_S)
                    )
            if not pts:
                continue
            pts.sort()
            x, med, lo, hi = (np.array(v) for v in zip(*pts))
            yerr = np.vstack([med - lo, hi - med])
            line = ax.errorbar(x, med, yerr=yerr, marker="o", capsize=3, label=label)
            if label.startswith(AUTOREGRESSIVE_VOCODER) and metric == "total_ms" and xr is not None:
                color = line.lines[0].get_color()
                ax.plot(xr, med[-1] * xr / x[-1], linestyle="--", color=color, linewidth=1, alpha=0.6)
        _log_axes(ax)
        ax.set_xlabel("audio length (s)")
        ax.set_ylabel("seconds")
        ax.set_title(title)
    if xr is not None:
        axes[0].plot(xr, xr, linestyle=":", color="black", linewidth=1, label="real time")
        axes[0].plot([], [], linestyle="--", color="grey", linewidth=1, label="∝ audio length (slope 1)")
    axes[0].legend(fontsize=8)
    if axes[1].lines:
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
        ax.text(PERCENT + 1, i, f"{_fmt(c.median('total_ms'), 0)} ms", va="center", fontsize=8)
    ax.set_xlim(0, PERCENT * 1.22)
    ax.set_xticks(np.arange(0, PERCENT + 1, PERCENT_TICK))
    ax.set_xlabel("% of median latency")
    ax.invert_yaxis()
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=len(STAGES), fontsize=8, frameon=False)
    ax.set_title("Where the time goes")
    fig.tight_layout()
    fig.savefig(path, dpi=PLOT_DPI)
    plt.close(fig)


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
    md += ["", "## GAN / autoregressive speed ratio", ""]
    md += [f"- {line}" for line in ratio_lines(report)] or ["- (needs both vocoders)"]
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


def load_schema() -> dict[str, Any]:
    """The JSON Schema ``bench.json`` follows."""
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
