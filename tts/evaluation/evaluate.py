"""Offline evaluation of a voice against its teacher's recordings.

For every sentence of a split of an LJSpeech-format corpus (the Flite-built training corpus):

* ``teacher`` — the teacher's own recording: the recogniser's WER on it is the floor that
  every synthetic system is read against.
* ``<vocoder> copy`` — copy synthesis (:mod:`tts.evaluation.copysynth`) of the recording with Griffin-Lim
  and each neural vocoder: WER, and PESQ-wb and STOI against the recording. Copy synthesis keeps
  the recording's timing sample for sample, so these intrusive metrics apply; it measures the
  vocoder alone.
* ``text2mel+<vocoder>`` — the full pipeline on the sentence's normalised text: WER, and MCD
  against the recording (DTW-aligned, since the timing is the model's own).

Every row with a vocoder also names the generator that ran (``Vocoder.generator_name``) and reports
its real-time factor (vocoder time over audio time, pooled over sentences). WER is pooled over the
corpus; MCD, PESQ and STOI are means over sentences. A metric that fails on one sentence (PESQ
finds no speech in a silent output, say) is logged, counted in ``failures`` and left out of that
mean; it does not stop the evaluation.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tts.corpus.layout import wav_path
from tts.errors import UserError
from tts.evaluation.asr import Recognizer
from tts.evaluation.copysynth import GRIFFIN_LIM, copy_synthesize, generator_name
from tts.evaluation.metrics import MCD_N_CEPSTRA, mel_cepstral_distortion, pesq_wb, stoi, word_errors
from tts.synthesizer import Synthesizer
from tts.units import MS_PER_S
from tts.voice import voice_label
from vocoders.audio import load_audio
from vocoders.kinds import VocoderKind

logger = logging.getLogger(__name__)

TEACHER = "teacher"
KIND_TEACHER = "teacher"
KIND_COPY = "copy"
KIND_TEXT2MEL = "text2mel"
DEFAULT_OUTPUT = "eval.json"
SCHEMA_VERSION = 1
MCD_RECIPE = (
    f"MFCC-style mel-cepstral distortion, c1..c{MCD_N_CEPSTRA}, DTW-aligned "
    "(tts.evaluation.metrics.mel_cepstral_distortion)"
)
PERCENT = 100.0


def copy_row(vocoder: str) -> str:
    return f"{vocoder} copy"


def text2mel_row(vocoder: str) -> str:
    return f"text2mel+{vocoder}"


@dataclass(frozen=True)
class EvalOptions:
    """What :func:`evaluate` scores."""

    vocoders: tuple[VocoderKind, ...] | None = None  # neural vocoders to score; None: every one of the voice
    limit: int | None = None  # the first N sentences of the split; None scores them all
    copysynth: bool = True  # also score copy synthesis (Griffin-Lim and each vocoder) of the recordings
    seed: int = 0  # WaveNet's sampling seed and Griffin-Lim's initial phase, for reproducible numbers


@dataclass(frozen=True)
class Sentence:
    id: str
    text: str  # the normalised transcript: what was spoken and what WER is scored against
    wav_path: Path


@dataclass
class SystemScore:
    """One system on one sentence."""

    hypothesis: str
    word_errors: int
    reference_words: int
    audio_seconds: float
    vocoder_ms: float | None = None
    mcd_db: float | None = None
    pesq_wb: float | None = None
    stoi: float | None = None
    failures: list[str] = field(default_factory=list)  # metrics that could not be computed, with why


@dataclass
class RowSummary:
    """One line of the results table: a system pooled over every sentence."""

    name: str
    kind: str  # teacher, copy or text2mel
    vocoder: str | None
    generator: str | None  # what vocoded: architecture, size and inference path; None for the teacher
    n_sentences: int
    wer: float | None  # fraction; pooled edits over pooled reference words
    mcd_db: float | None
    pesq_wb: float | None
    stoi: float | None
    vocoder_rtf: float | None
    failures: int  # metric computations left out of the means


@dataclass
class EvalReport:
    rows: list[RowSummary]
    sentences: list[dict[str, Any]]
    meta: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {**self.meta, "rows": [asdict(r) for r in self.rows], "sentences": self.sentences}

    def row(self, name: str) -> RowSummary:
        for r in self.rows:
            if r.name == name:
                return r
        raise KeyError(name)

    def format_table(self) -> str:
        """The rows as an aligned text table (``-`` where a metric does not apply), then each generator."""
        header = ("system", "WER %", "MCD dB", "PESQ", "STOI", "vocoder RTF")
        lines = [header]
        for r in self.rows:
            lines.append(
                (
                    r.name,
                    _fmt(r.wer, 1, PERCENT),
                    _fmt(r.mcd_db, 2),
                    _fmt(r.pesq_wb, 2),
                    _fmt(r.stoi, 3),
                    _fmt(r.vocoder_rtf, 3),
                )
            )
        widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
        out = []
        for n, line in enumerate(lines):
            cells = [line[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(line[1:], widths[1:])]
            out.append("  ".join(cells))
            if n == 0:
                out.append("  ".join("-" * w for w in widths))
        # The names are long, so they follow the table once per vocoder instead of filling a column.
        generators = {r.vocoder: r.generator for r in self.rows if r.vocoder and r.generator}
        out += [""] + [f"{vocoder}: {generator}" for vocoder, generator in generators.items()]
        return "\n".join(out)


def _fmt(value: float | None, digits: int, scale: float = 1.0) -> str:
    return "-" if value is None else f"{value * scale:.{digits}f}"


def load_sentences(data_dir: str | Path, split: str, limit: int | None = None) -> list[Sentence]:
    """The first ``limit`` sentences of ``split`` (corpus order of the split file)."""
    from tts.corpus.dataset import read_metadata, split_ids

    data_dir = Path(data_dir)
    if limit is not None and limit < 1:
        raise UserError(f"--limit must be at least 1, got {limit}")
    rows = {row.id: row for row in read_metadata(data_dir)}
    ids = list(split_ids(data_dir, split))
    if not ids:
        raise UserError(f"split {split!r} of {data_dir} holds no sentences")
    sentences = []
    for utt_id in ids[:limit]:
        if utt_id not in rows:
            raise UserError(f"{data_dir}: {split} lists {utt_id!r}, which metadata.csv does not hold")
        row = rows[utt_id]
        sentences.append(Sentence(utt_id, row.normalized or row.text, wav_path(data_dir, utt_id)))
    return sentences


def _try(score: SystemScore, name: str, metric: Callable[..., float], *args: Any) -> float | None:
    """``metric(*args)``; on failure record why and return None so the evaluation goes on."""
    try:
        value = metric(*args)
    except ValueError as exc:
        logger.warning("%s failed: %s", name, exc)
        score.failures.append(f"{name}: {exc}")
        return None
    if not math.isfinite(value):
        score.failures.append(f"{name}: not finite ({value})")
        return None
    return value


class _Scorer:
    """Transcribes and scores one system's audio of one sentence."""

    def __init__(self, recognizer: Recognizer, sample_rate: int) -> None:
        self.recognizer = recognizer
        self.sample_rate = sample_rate

    def score(self, sentence: Sentence, audio: np.ndarray, vocoder_ms: float | None = None) -> SystemScore:
        hyp = self.recognizer.transcribe(audio, self.sample_rate)
        errors, n_words = word_errors(sentence.text, hyp)
        return SystemScore(hyp, errors, n_words, len(audio) / self.sample_rate, vocoder_ms)


def _row_names(vocoders: Sequence[str], copysynth: bool) -> list[tuple[str, str, str | None]]:
    rows: list[tuple[str, str, str | None]] = [(TEACHER, KIND_TEACHER, None)]
    if copysynth:
        rows += [(copy_row(v), KIND_COPY, v) for v in (GRIFFIN_LIM, *vocoders)]
    rows += [(text2mel_row(v), KIND_TEXT2MEL, v) for v in vocoders]
    return rows


def _mean(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return float(np.mean(present)) if present else None


def summarize(
    name: str, kind: str, vocoder: str | None, scores: list[SystemScore], generator: str | None = None
) -> RowSummary:
    """Pool one system's per-sentence scores into a table row; ``generator`` names what vocoded."""
    n_words = sum(s.reference_words for s in scores)
    vocoder_ms = [s.vocoder_ms for s in scores if s.vocoder_ms is not None]
    seconds = sum(s.audio_seconds for s in scores if s.vocoder_ms is not None)
    return RowSummary(
        name=name,
        kind=kind,
        vocoder=vocoder,
        generator=generator,
        n_sentences=len(scores),
        wer=sum(s.word_errors for s in scores) / n_words if n_words else None,
        mcd_db=_mean([s.mcd_db for s in scores]),
        pesq_wb=_mean([s.pesq_wb for s in scores]),
        stoi=_mean([s.stoi for s in scores]),
        vocoder_rtf=sum(vocoder_ms) / MS_PER_S / seconds if vocoder_ms and seconds > 0 else None,
        failures=sum(len(s.failures) for s in scores),
    )


def evaluate(
    data_dir: str | Path,
    split: str,
    synth: Synthesizer,
    options: EvalOptions = EvalOptions(),
    recognizer: Recognizer | None = None,
    progress: bool = True,
) -> EvalReport:
    """Score the teacher, copy synthesis and text-to-mel + vocoder on ``split`` of ``data_dir``."""
    from tqdm import tqdm

    kinds = synth.vocoders if options.vocoders is None else options.vocoders
    if not kinds:
        raise UserError("name at least one vocoder to score")
    vocoders = [synth.check_vocoder(kind).kind.value for kind in kinds]
    generators = {v: generator_name(v, synth) for v in (GRIFFIN_LIM, *vocoders)}
    sentences = load_sentences(data_dir, split, options.limit)
    recognizer = recognizer or Recognizer()
    sr = synth.sample_rate
    scorer = _Scorer(recognizer, sr)
    rows = _row_names(vocoders, options.copysynth)
    per_row: dict[str, list[SystemScore]] = {name: [] for name, _, _ in rows}
    details: list[dict[str, Any]] = []
    for sentence in tqdm(sentences, desc="eval", unit="sentence", disable=not progress):
        try:
            teacher = load_audio(sentence.wav_path, sr)
        except (OSError, RuntimeError, ValueError) as exc:
            raise UserError(f"cannot read the recording of {sentence.id}: {exc}") from exc
        scores: dict[str, SystemScore] = {TEACHER: scorer.score(sentence, teacher)}
        if options.copysynth:
            for vocoder in (GRIFFIN_LIM, *vocoders):
                audio, ms = copy_synthesize(teacher, vocoder, synth, seed=options.seed)
                s = scorer.score(sentence, audio, ms)
                s.pesq_wb = _try(s, "pesq_wb", pesq_wb, teacher, audio, sr)
                s.stoi = _try(s, "stoi", stoi, teacher, audio, sr)
                scores[copy_row(vocoder)] = s
        for vocoder in vocoders:
            result = synth.synthesize(sentence.text, vocoder=vocoder, seed=options.seed)
            s = scorer.score(sentence, result.audio, result.timings.vocoder_ms)
            s.mcd_db = _try(s, "mcd", mel_cepstral_distortion, teacher, result.audio, sr)
            scores[text2mel_row(vocoder)] = s
        for name, score in scores.items():
            per_row[name].append(score)
        details.append(
            {"id": sentence.id, "text": sentence.text, "systems": {k: asdict(v) for k, v in scores.items()}}
        )
    summaries = [
        summarize(name, kind, vocoder, per_row[name], generators.get(vocoder) if vocoder else None)
        for name, kind, vocoder in rows
    ]
    meta = {
        "schema_version": SCHEMA_VERSION,
        "data_dir": str(data_dir),
        "split": split,
        "n_sentences": len(sentences),
        "voice": voice_label(synth.voice_dir),
        "voice_name": synth.manifest.name,
        "voice_trained": synth.manifest.trained,
        "sample_rate": sr,
        "vocoders": vocoders,
        "generators": {v: generators[v] for v in vocoders},
        "copysynth": options.copysynth,
        "seed": options.seed,
        "wavenet_temperature": synth.wavenet_temperature,
        "recognizer": recognizer.description,
        "wer": "pooled word edits / reference words after tts.evaluation.metrics.normalize_words",
        "mcd": MCD_RECIPE,
        "pesq": "ITU-T P.862.2 wide-band at 16 kHz (package pesq), copy synthesis vs recording",
        "stoi": "pystoi, copy synthesis vs recording",
        "vocoder_rtf": "vocoder seconds / audio seconds, pooled",
    }
    return EvalReport(summaries, details, meta)


def write_report(report: EvalReport, path: str | Path) -> Path:
    """Write the report as JSON (missing metrics are ``null``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report.to_dict(), indent=2, allow_nan=False) + "\n")
    return path
