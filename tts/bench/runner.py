"""Latency benchmark: every vocoder of a voice, the same texts, one run, one machine.

:func:`run_bench` times every stage of :meth:`Synthesizer.synthesize` (frontend, text-to-mel,
vocoder, total) and the time to first audio of :meth:`Synthesizer.synthesize_stream`, for each
vocoder and text, repeated after warm-up; it reports median, p90 and min, the real-time factor, the
generator each row ran, each parallel (GAN) vocoder's speed ratio over the autoregressive one per
text, the peak memory of each case and the machine. The report
is written as ``bench.json`` (schema: ``tts/data/bench_schema.json``), ``bench.csv``, ``bench.md``
and two PNG plots by :func:`tts.bench.render.write_outputs`;
the same cases through the gRPC service are measured by :mod:`server.loadtest`.

WaveNet's cost grows linearly with audio length, so a long text can take minutes per run. Each case
has a time budget: a case whose warm-up and first run are projected (from the vocoder's RTF on a
shorter text) to exceed it is skipped, and a case whose repeats would exceed it stops early. Both
leave a note in the table, the JSON and the report; nothing is dropped silently.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from datetime import datetime, timezone

import numpy as np

from tts.bench.cost import CostModel
from tts.bench.report import (
    BOTH_IMPLS,
    STATUS_PARTIAL,
    STATUS_SKIPPED,
    WAVENET_IMPL_CHOICES,
    BenchConfig,
    BenchReport,
    BenchText,
    CaseError,
    CaseResult,
    RunSample,
    Target,
    compute_impl_speedups,
    compute_ratios,
)
from tts.bench.texts import prepare_texts
from tts.errors import UserError
from tts.machine import machine_info, peak_rss_mb, reset_peak_rss
from tts.synthesizer import Synthesizer
from tts.voice import voice_label
from vocoders.kinds import FAST, REFERENCE, VocoderKind

logger = logging.getLogger(__name__)



def build_targets(
    synth: Synthesizer, vocoders: Sequence[str | VocoderKind] | None, wavenet_impl: str
) -> list[Target]:
    """The rows to measure: one per parallel vocoder, one per sample loop of an autoregressive one.

    ``vocoders``: kinds of ``synth``'s voice, ``None`` for every one it holds;
    ``wavenet_impl="both"`` gives a reference and a fast row of each autoregressive vocoder.
    """
    if wavenet_impl not in WAVENET_IMPL_CHOICES:
        raise UserError(f"--wavenet-impl must be one of {', '.join(WAVENET_IMPL_CHOICES)}")
    if vocoders is not None and not vocoders:
        raise UserError("give at least one vocoder")
    targets: list[Target] = []
    for voc in synth.vocoders if vocoders is None else vocoders:
        vocoder = synth.check_vocoder(voc)
        name = vocoder.kind.value
        if vocoder.parallel:
            targets.append(Target(name, name, None, synth, vocoder.generator_name))
            continue
        impls = (REFERENCE, FAST) if wavenet_impl == BOTH_IMPLS else (wavenet_impl,)
        for impl in impls:
            # Synthesizers of one voice share their modules; only the sample loop differs.
            looped = synth.with_backend(vocoder.kind, impl)
            generator = looped.check_vocoder(vocoder.kind).generator_name
            targets.append(Target(f"{name}-{impl}", name, impl, looped, generator))
    return targets


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
    and one timed run cannot fit the budget is skipped before it starts. The budget covers the whole
    case, warm-up included; the first timed run is always made, so a case overruns it by at most one run.
    """
    case = CaseResult(
        target.label, target.vocoder, target.impl, text.name, config.repeats, generator=target.generator
    )
    planned = config.warmup + config.repeats
    # The parallel rows are the reference point of every ratio: they are shortened, never skipped.
    if cost is not None and text.audio_seconds > 0 and not target.parallel:
        projected = cost.run_seconds(text.audio_seconds) * (2 if config.stream else 1)
        if not cost.fits(text.audio_seconds, config):
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



def run_cases(
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
    vocoders: Sequence[str | VocoderKind] | None = None,
    wavenet_impl: str = FAST,
    config: BenchConfig = BenchConfig(),
    progress: bool | None = None,
) -> BenchReport:
    """Time each of ``vocoders`` (``None``: every vocoder of ``synth``'s voice) on every text.

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
    cases = run_cases(targets, prepared, config, progress, measure_once, notes, per_case_peak=True)
    peaks = [c.peak_rss_mb for c in cases if c.peak_rss_mb is not None] + [load_peak]
    return BenchReport(
        machine=machine_info(),
        voice={
            "name": synth.manifest.name,
            "dir": voice_label(synth.voice_dir),
            "trained": synth.manifest.trained,
            "sample_rate": synth.sample_rate,
            "vocoders": [kind.value for kind in synth.vocoders],
        },
        settings={
            "vocoders": list(dict.fromkeys(t.vocoder for t in targets)),
            "wavenet_impl": wavenet_impl,
            **asdict(config),  # every BenchConfig field: the report records all that shaped the run
            # Each vocoder's inference path as loaded ("auto" resolved); rows name the one they ran.
            "backends": synth.backends_in_use,
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
