"""Build the teacher corpus: the bundled sentences spoken by Flite, in LJSpeech format.

Layout written under ``out_dir``::

    wavs/<id>.wav     16-bit PCM mono at ``sample_rate``, silence trimmed, loudness normalised
    metadata.csv      id|text|normalized text
    train.txt val.txt test.txt   ids, one a line; no sentence is in two of them
    corpus.json       engine, voice, sample rate, counts, sentence source

Flite is given the normalised text, so the recording says exactly the words of the third
column that the frontend later phonemizes. A sentence's split is decided by the hash of its
normalised text, ranked within the whole bundled list (the lowest ``N_TEST`` hashes are test,
the next ``N_VAL`` validation), so a sentence lands in the same split whatever ``n_sentences``
is. Building is resumable: an id whose wav exists is not synthesised again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TypeVar

import librosa
import numpy as np
import soundfile as sf

from tts.corpus.layout import SPLITS, WAV_DIRNAME, metadata_path, split_path
from tts.errors import UserError

logger = logging.getLogger(__name__)

ENGINES = ("flite",)
SENTENCES_PATH = Path(__file__).parent.parent / "data" / "sentences.txt"
SENTENCE_SOURCE = "LJ Speech Dataset 1.1 transcripts (Keith Ito, 2017; public domain), tts/data/sentences.txt"
# Flite's voices are all English; the normalised column is written for this language.
CORPUS_LANGUAGE = "en-us"
# Held-out sentences of the full bundled list; a subset of N sentences keeps each one's split.
N_TEST = 200
N_VAL = 100
# Salts the split hash so it is independent of any other hash-based ordering of the sentences
# (the bundled file is itself ordered by a hash; unsalted, its first lines would all be test).
SPLIT_HASH_SALT = "ganspeech-split\0"
# Trimming: frames more than this far below the clip's peak count as silence.
TRIM_TOP_DB = 40.0
# Silence kept before and after the speech, so onsets and final decays are not clipped.
TRIM_MARGIN_SECONDS = 0.05
# Analysis frames of the trim (32 ms / 8 ms at 16 kHz): fine enough that the margin, not the
# frame size, sets how much silence is left.
TRIM_FRAME_LENGTH = 512
TRIM_HOP_LENGTH = 128
# Loudness target: RMS over the trimmed clip, then the peak is limited below full scale.
TARGET_RMS_DBFS = -20.0
PEAK_LIMIT = 0.95
# Below this RMS a clip is treated as silent: Flite produced no speech for the sentence.
SILENT_RMS = 1e-4
FLITE_TIMEOUT_S = 120
ID_PREFIX = "s"
ID_DIGITS = 5
CORPUS_JSON = "corpus.json"

_T = TypeVar("_T")


@dataclass(frozen=True)
class CorpusSummary:
    """What a build left in ``out_dir``."""

    out_dir: Path
    engine: str
    voice: str
    sample_rate: int
    n_sentences: int  # rows in metadata.csv
    n_train: int
    n_val: int
    n_test: int
    n_synthesized: int  # wavs made by this run
    n_reused: int  # wavs already present from an earlier run
    n_failed: int  # sentences Flite gave no usable audio for (left out of metadata.csv)
    total_seconds: float  # audio of all rows

    def line(self) -> str:
        """One-line human summary."""
        return (
            f"{self.n_sentences} sentences ({self.n_train} train, {self.n_val} val, {self.n_test} test), "
            f"{self.total_seconds / 60:.1f} min of {self.engine}/{self.voice} audio at {self.sample_rate} Hz "
            f"in {self.out_dir} "
            f"({self.n_synthesized} synthesised, {self.n_reused} reused, {self.n_failed} failed)"
        )


def load_sentences(path: Path = SENTENCES_PATH) -> list[str]:
    """The sentence list: one per line; blank lines and ``#`` comments are ignored."""
    lines = (line.strip() for line in path.read_text(encoding="utf-8").splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def _normalize(text: str) -> str:
    from tts.frontend.normalize import normalize_text

    return normalize_text(text, CORPUS_LANGUAGE)


def sentence_hash(normalized: str) -> int:
    """Stable 64-bit hash of a normalised sentence (case and spacing do not matter)."""
    key = SPLIT_HASH_SALT + " ".join(normalized.casefold().split())
    return int.from_bytes(hashlib.sha1(key.encode("utf-8")).digest()[:8], "big")


def assign_splits(normalized: list[str], n_test: int = N_TEST, n_val: int = N_VAL) -> list[str]:
    """Split name of each sentence: the ``n_test`` lowest hashes are test, the next ``n_val`` val.

    Duplicates (same normalised text) share a hash, hence a split.
    """
    distinct = sorted({sentence_hash(s) for s in normalized})
    test = set(distinct[:n_test])
    val = set(distinct[n_test : n_test + n_val])
    splits = []
    for s in normalized:
        h = sentence_hash(s)
        splits.append("test" if h in test else "val" if h in val else "train")
    return splits


def utterance_id(index: int) -> str:
    """Id of the ``index``-th (0-based) bundled sentence, e.g. ``s00001``."""
    return f"{ID_PREFIX}{index + 1:0{ID_DIGITS}d}"


def find_flite() -> str:
    """Path of the flite binary; raises ``UserError`` saying how to install it."""
    path = shutil.which("flite")
    if path is None:
        raise UserError(
            "flite is not installed: run `sudo apt-get install flite` (Debian/Ubuntu) "
            "or put the flite binary on PATH"
        )
    return path


def flite_voices(flite: str) -> list[str]:
    """Built-in voices of this flite (``flite -lv``)."""
    out = subprocess.run([flite, "-lv"], capture_output=True, text=True, check=True).stdout
    return out.split(":", 1)[1].split() if ":" in out else out.split()


def _check_voice(flite: str, voice: str) -> None:
    if voice.endswith(".flitevox") and Path(voice).is_file():
        return
    voices = flite_voices(flite)
    if voice not in voices:
        raise UserError(f"flite has no voice {voice!r}; available: {', '.join(voices)} (or a .flitevox file)")


def process_audio(audio: np.ndarray, sr: int, sample_rate: int) -> np.ndarray:
    """Resample to ``sample_rate``, trim silence (keeping margins) and normalise loudness.

    ``audio`` ``(T,)`` float; returns float32 ``(T',)``. Raises ``ValueError`` when it is silent.
    """
    audio = np.asarray(audio, dtype=np.float32)
    if sr != sample_rate:
        audio = librosa.resample(audio, orig_sr=sr, target_sr=sample_rate)
    if audio.size == 0 or float(np.sqrt(np.mean(audio**2))) < SILENT_RMS:
        raise ValueError("silent audio")
    _, (start, end) = librosa.effects.trim(
        audio, top_db=TRIM_TOP_DB, frame_length=TRIM_FRAME_LENGTH, hop_length=TRIM_HOP_LENGTH
    )
    margin = round(TRIM_MARGIN_SECONDS * sample_rate)
    audio = audio[max(0, start - margin) : min(audio.size, end + margin)]
    rms = float(np.sqrt(np.mean(audio**2)))
    gain = 10 ** (TARGET_RMS_DBFS / 20) / rms
    peak = float(np.abs(audio).max())
    gain = min(gain, PEAK_LIMIT / peak)
    return (audio * gain).astype(np.float32)


def _synthesize_one(flite: str, voice: str, text: str, wav_path: Path, sample_rate: int) -> None:
    """Speak ``text`` with flite into ``wav_path``; written atomically so a crash leaves no partial wav."""
    fd, raw_name = tempfile.mkstemp(suffix=".wav", prefix=".flite_", dir=wav_path.parent)
    os.close(fd)
    raw = Path(raw_name)
    try:
        subprocess.run(
            [flite, "-voice", voice, "-t", text, "-o", str(raw)],
            check=True,
            capture_output=True,
            timeout=FLITE_TIMEOUT_S,
        )
        data, sr = sf.read(str(raw), dtype="float32", always_2d=True)
        audio = process_audio(data.mean(axis=1), sr, sample_rate)  # (T, C) -> (T,)
        sf.write(str(raw), audio, sample_rate, subtype="PCM_16", format="WAV")
        os.replace(raw, wav_path)
    finally:
        raw.unlink(missing_ok=True)


def _synthesize_all(
    flite: str,
    voice: str,
    jobs: list[tuple[str, str]],
    wav_dir: Path,
    sample_rate: int,
    workers: int,
    progress: bool,
) -> set[str]:
    """Speak ``(id, text)`` jobs ``workers`` at a time; returns the ids flite gave no usable audio for."""
    failed: set[str] = set()
    # Threads suffice: the time is spent in flite subprocesses and numpy, both outside the GIL.
    pool = ThreadPoolExecutor(max_workers=workers)
    try:
        futures = {
            utt_id: pool.submit(_synthesize_one, flite, voice, text, wav_dir / f"{utt_id}.wav", sample_rate)
            for utt_id, text in jobs
        }
        for utt_id, fut in _progress(futures.items(), progress, len(futures)):
            try:
                fut.result()
            except (subprocess.SubprocessError, ValueError, OSError) as exc:
                logger.debug("flite failed on %s: %s", utt_id, exc)
                failed.add(utt_id)
    finally:
        # On Ctrl-C, drop the queued sentences instead of speaking them all first; finished wavs stay.
        pool.shutdown(wait=True, cancel_futures=True)
    return failed


def _check_existing(out_dir: Path, engine: str, voice: str, sample_rate: int) -> None:
    """Refuse to resume into a corpus of another voice or rate: the wavs would be mixed."""
    path = out_dir / CORPUS_JSON
    if not path.is_file():
        return
    old = json.loads(path.read_text())
    mine = {"engine": engine, "voice": voice, "sample_rate": sample_rate}
    diffs = [f"{k} {old.get(k)!r} (asked {v!r})" for k, v in mine.items() if old.get(k) != v]
    if diffs:
        raise UserError(f"{out_dir} already holds a corpus with {', '.join(diffs)}; use another --out")


def _progress(items: Iterable[_T], enabled: bool, total: int) -> Iterable[_T]:
    if not enabled:
        return items
    from tqdm import tqdm

    return tqdm(items, total=total, desc="flite", unit="sentence")


def _write_lines(path: Path, lines: list[str]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    os.replace(tmp, path)


def build_flite_corpus(
    out_dir: Path,
    voice: str = "rms",
    n_sentences: int | None = None,
    sample_rate: int = 16000,
    workers: int = 2,
    progress: bool = True,
) -> CorpusSummary:
    """Speak the first ``n_sentences`` bundled sentences (all when ``None``) with Flite ``voice``.

    Raises ``UserError`` when flite is missing, the voice is unknown, the arguments are out of
    range, or ``out_dir`` holds a corpus of another voice or sample rate.
    """
    out_dir = Path(out_dir)
    flite = find_flite()
    _check_voice(flite, voice)
    if sample_rate <= 0:
        raise UserError(f"sample rate must be positive, got {sample_rate}")
    if workers < 1:
        raise UserError(f"workers must be at least 1, got {workers}")
    _check_existing(out_dir, "flite", voice, sample_rate)
    sentences = load_sentences(SENTENCES_PATH)
    normalized_all = [_normalize(s) for s in sentences]
    # Ranked over the whole list, not the first n, so a sentence's split does not depend on n.
    splits_all = assign_splits(normalized_all, N_TEST, N_VAL)
    n = len(sentences) if n_sentences is None else n_sentences
    if not 1 <= n <= len(sentences):
        raise UserError(f"--sentences must be between 1 and {len(sentences)}, got {n}")
    wav_dir = out_dir / WAV_DIRNAME
    wav_dir.mkdir(parents=True, exist_ok=True)
    # Written before any audio, so an interrupted build still records whose voice its wavs are.
    identity = {"engine": "flite", "voice": voice, "sample_rate": sample_rate}
    if not (out_dir / CORPUS_JSON).is_file():
        (out_dir / CORPUS_JSON).write_text(json.dumps(identity, indent=2) + "\n")

    ids = [utterance_id(i) for i in range(n)]
    todo = [i for i in range(n) if not (wav_dir / f"{ids[i]}.wav").is_file()]
    failed = _synthesize_all(
        flite, voice, [(ids[i], normalized_all[i]) for i in todo], wav_dir, sample_rate, workers, progress
    )
    if failed:
        logger.warning("flite gave no usable audio for %d of %d sentences; they are left out", len(failed), n)
    failed_idx = {i for i in todo if ids[i] in failed}

    kept = [i for i in range(n) if i not in failed_idx]
    _write_lines(metadata_path(out_dir), [f"{ids[i]}|{sentences[i]}|{normalized_all[i]}" for i in kept])
    counts = {}
    for split in SPLITS:
        members = [ids[i] for i in kept if splits_all[i] == split]
        _write_lines(split_path(out_dir, split), members)
        counts[split] = len(members)
    total_seconds = sum(sf.info(str(wav_dir / f"{ids[i]}.wav")).duration for i in kept)
    summary = CorpusSummary(
        out_dir=out_dir,
        engine="flite",
        voice=voice,
        sample_rate=sample_rate,
        n_sentences=len(kept),
        n_train=counts["train"],
        n_val=counts["val"],
        n_test=counts["test"],
        n_synthesized=len(todo) - len(failed_idx),
        n_reused=n - len(todo),
        n_failed=len(failed_idx),
        total_seconds=round(total_seconds, 3),
    )
    meta = asdict(summary) | {
        "out_dir": str(out_dir),
        "sentence_source": SENTENCE_SOURCE,
        "language": CORPUS_LANGUAGE,
        "processing": {
            "trim_top_db": TRIM_TOP_DB,
            "trim_margin_seconds": TRIM_MARGIN_SECONDS,
            "target_rms_dbfs": TARGET_RMS_DBFS,
            "peak_limit": PEAK_LIMIT,
        },
    }
    (out_dir / CORPUS_JSON).write_text(json.dumps(meta, indent=2) + "\n")
    return summary


def build_corpus(out_dir: Path, engine: str = "flite", **options: Any) -> CorpusSummary:
    """Build a corpus with ``engine`` (only "flite" so far); ``options`` go to its builder."""
    if engine not in ENGINES:
        raise UserError(f"unknown corpus engine {engine!r}; choose one of: {', '.join(ENGINES)}")
    return build_flite_corpus(out_dir, **options)
