"""One loader for any LJSpeech-format corpus, with features computed once and cached.

LJSpeech format: ``metadata.csv`` with ``id|text|normalized text`` rows (the third column is
optional) and ``wavs/<id>.wav`` at any sample rate; optional ``train.txt`` / ``val.txt`` /
``test.txt`` id lists (the corpus builder writes them; without them a stable hash of the id picks
the split). The cache (resampled audio, log-mel, phonemes and ids) lives in
``<corpus>/.ganspeech_cache/<key>/`` where the key hashes the audio config, language and symbol
table, so it is rebuilt only when one of them changes; a row is recomputed only when its text or
its wav file changed. Bad rows (missing or unreadable audio, empty or unspeakable text, too short)
are skipped with one warning that counts them by reason.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import tempfile
import zlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch

from tts.corpus.layout import SPLITS, metadata_path, split_path, wav_path
from tts.errors import UserError
from tts.frontend.symbols import SILENT_SYMBOLS
from vocoders.audio import MEL_PAD_VALUE, AudioConfig, load_audio, mel_spectrogram

logger = logging.getLogger(__name__)

CACHE_DIRNAME = ".ganspeech_cache"
INDEX_NAME = "index.json"
INDEX_VERSION = 2
# Hash split for corpora without split files: per mille going to test and validation
# (LJSpeech 1.1's 13,100 clips give about 260 test and 130 validation clips).
HASH_TEST_PER_MILLE = 20
HASH_VAL_PER_MILLE = 10
# Clips shorter than this many frames carry too little to train on.
MIN_FRAMES = 8


class SymbolsLike(Protocol):
    def encode(self, phonemes: str) -> list[int]: ...

    def to_list(self) -> list[str]: ...


class FrontendLike(Protocol):
    """What the cache needs of :class:`tts.frontend.pipeline.Frontend`."""

    language: str
    symbols: SymbolsLike

    def phonemize_sentence(self, text: str) -> tuple[str, str]: ...


@dataclass(frozen=True)
class Row:
    id: str
    text: str
    normalized: str  # column 3, or column 2 when column 3 is missing or empty


def read_metadata(data_dir: str | Path) -> list[Row]:
    """Rows of ``<data_dir>/metadata.csv``; lines without an id are ignored."""
    path = metadata_path(data_dir)
    if not path.is_file():
        raise UserError(f"{data_dir} is not an LJSpeech-format corpus: {path} is missing")
    rows = []
    for line in path.read_text(encoding="utf-8-sig").splitlines():
        parts = line.split("|")
        if not parts[0].strip():
            continue
        text = parts[1].strip() if len(parts) > 1 else ""
        normalized = parts[2].strip() if len(parts) > 2 and parts[2].strip() else text
        rows.append(Row(parts[0].strip(), text, normalized))
    return rows


def _hash_split(utt_id: str) -> str:
    bucket = zlib.crc32(utt_id.encode()) % 1000
    if bucket < HASH_TEST_PER_MILLE:
        return "test"
    return "val" if bucket < HASH_TEST_PER_MILLE + HASH_VAL_PER_MILLE else "train"


def split_ids(data_dir: str | Path, split: str) -> list[str]:
    """Ids of ``split`` from ``<split>.txt``, else by a stable hash of the id."""
    if split not in SPLITS:
        raise UserError(f"unknown split {split!r}; choose one of {SPLITS}")
    listing = split_path(data_dir, split)
    if listing.is_file():
        return [s.strip() for s in listing.read_text().splitlines() if s.strip()]
    return [r.id for r in read_metadata(data_dir) if _hash_split(r.id) == split]


def cache_key(audio: AudioConfig, language: str, symbols: Sequence[str]) -> str:
    blob = json.dumps(
        {"audio": audio.to_dict(), "language": language, "symbols": list(symbols)}, sort_keys=True
    )
    return hashlib.sha1(blob.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Entry:
    id: str
    text: str  # normalised text
    phonemes: str
    tokens: tuple[int, ...]
    n_frames: int
    source: str = ""  # text and wav size/mtime it was computed from; a change means recompute


def _source_stamp(row: Row, wav_file: Path) -> str:
    st = wav_file.stat()
    return hashlib.sha1(f"{row.normalized}\0{st.st_size}\0{st.st_mtime_ns}".encode()).hexdigest()[:16]


def _read_index(path: Path) -> dict[str, Entry]:
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text())
        items = data["entries"] if isinstance(data, dict) else data
        return {e["id"]: Entry(**{**e, "tokens": tuple(e["tokens"])}) for e in items}
    except (ValueError, KeyError, TypeError):
        logger.warning("ignoring unreadable cache index %s; rebuilding", path)
        return {}


class FeatureCache:
    """Cached features of a corpus; build once with :meth:`build`, then read items by id."""

    def __init__(self, root: Path, audio: AudioConfig, entries: dict[str, Entry], data_dir: Path) -> None:
        self.root = root
        self.audio = audio
        self.entries = entries
        self.data_dir = data_dir
        self.n_computed = 0  # rows computed (not reused) by the build that made this object

    @classmethod
    def build(
        cls,
        data_dir: str | Path,
        audio: AudioConfig,
        frontend: FrontendLike,
        cache_dir: str | Path | None = None,
        progress: bool = False,
    ) -> FeatureCache:
        """Compute what is missing or stale and return the cache.

        ``cache_dir`` defaults to ``<data_dir>/.ganspeech_cache``; the features live in its
        ``<key>`` subdirectory (a custom ``cache_dir`` also separates corpora by their path).
        Raises ``UserError`` when no row is usable.
        """
        data_dir = Path(data_dir)
        symbols = frontend.symbols.to_list()
        key = cache_key(audio, frontend.language, symbols)
        if cache_dir is None:
            root = data_dir / CACHE_DIRNAME / key
        else:
            corpus_tag = hashlib.sha1(str(data_dir.resolve()).encode()).hexdigest()[:8]
            root = Path(cache_dir) / f"{data_dir.name}-{corpus_tag}" / key
        index_path = root / INDEX_NAME
        known = _read_index(index_path)
        rows = read_metadata(data_dir)
        root.mkdir(parents=True, exist_ok=True)
        silent_ids = frozenset(i for i, s in enumerate(symbols) if s in SILENT_SYMBOLS)
        entries: dict[str, Entry] = {}
        skipped: dict[str, int] = {}
        n_computed = 0
        for row in _maybe_progress(rows, progress):
            wav_file = wav_path(data_dir, row.id)
            old = known.get(row.id)
            if (
                old is not None
                and wav_file.is_file()
                and old.source == _source_stamp(row, wav_file)
                and (root / f"{row.id}.mel.npy").is_file()
                and (root / f"{row.id}.wav.npy").is_file()
            ):
                entries[row.id] = old
                continue
            reason = cls._add(row, wav_file, root, audio, frontend, silent_ids, entries)
            if reason:
                skipped[reason] = skipped.get(reason, 0) + 1
            else:
                n_computed += 1
        if skipped:
            logger.warning(
                "skipped %d of %d rows of %s: %s",
                sum(skipped.values()),
                len(rows),
                data_dir,
                ", ".join(f"{n} {r}" for r, n in sorted(skipped.items())),
            )
        if not entries:
            raise UserError(f"no usable rows in {data_dir}")
        if n_computed or set(entries) != set(known):
            index = {
                "version": INDEX_VERSION,
                "data_dir": str(data_dir),
                "audio": audio.to_dict(),
                "language": frontend.language,
                "symbols": symbols,
                "entries": [asdict(e) | {"tokens": list(e.tokens)} for e in entries.values()],
            }
            _replace_atomically(index_path, json.dumps(index, ensure_ascii=False).encode())
        cache = cls(root, audio, entries, data_dir)
        cache.n_computed = n_computed
        return cache

    @staticmethod
    def _add(
        row: Row,
        wav_file: Path,
        root: Path,
        audio: AudioConfig,
        frontend: FrontendLike,
        silent_ids: frozenset[int],
        entries: dict[str, Entry],
    ) -> str | None:
        """Cache one row; returns why it was skipped, or None."""
        if not row.normalized.strip():
            return "with empty text"
        if not wav_file.is_file():
            return "with missing audio"
        try:
            wav = load_audio(wav_file, audio.sample_rate)
        except Exception:  # noqa: BLE001 - any decoder failure means the same: unreadable
            return "with unreadable audio"
        normalized, phonemes = frontend.phonemize_sentence(row.normalized)
        tokens = frontend.symbols.encode(phonemes)
        if all(t in silent_ids for t in tokens):
            return "with unspeakable text"
        mel = mel_spectrogram(torch.from_numpy(wav)[None], audio)[0].numpy()  # (1, n_mels, F) -> (n_mels, F)
        if mel.shape[1] < max(MIN_FRAMES, len(tokens)):
            return "too short for their text"
        _save_array(root / f"{row.id}.wav.npy", wav[: mel.shape[1] * audio.hop_length])
        _save_array(root / f"{row.id}.mel.npy", mel.astype(np.float32))
        entries[row.id] = Entry(
            row.id, normalized, phonemes, tuple(tokens), int(mel.shape[1]), _source_stamp(row, wav_file)
        )
        return None

    def split(self, split: str) -> list[Entry]:
        """Usable entries of ``split``, in the order of its id list."""
        return [self.entries[i] for i in split_ids(self.data_dir, split) if i in self.entries]

    def mel(self, utt_id: str) -> np.ndarray:
        """Log-mel ``(n_mels, F)`` float32."""
        return np.load(self.root / f"{utt_id}.mel.npy")

    def audio_samples(self, utt_id: str) -> np.ndarray:
        """Audio ``(F * hop,)`` float32 at the cache's sample rate, cut to whole frames."""
        return np.load(self.root / f"{utt_id}.wav.npy")


def _replace_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file of this writer's own.

    Two trainings started on one corpus at once build its cache side by side: a shared temporary
    name would let one writer rename the other's half-written file away.
    """
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _save_array(path: Path, array: np.ndarray) -> None:
    """``np.save`` that readers never see half-written (see :func:`_replace_atomically`)."""
    buf = io.BytesIO()
    np.save(buf, array)
    _replace_atomically(path, buf.getvalue())


def _maybe_progress(rows: list[Row], enabled: bool) -> Sequence[Row]:
    if not enabled:
        return rows
    from tqdm import tqdm

    return tqdm(rows, desc="features", unit="clip")


class Text2MelDataset(torch.utils.data.Dataset):
    """Items ``{"id", "tokens" (L,), "mel" (n_mels, T)}`` of one split."""

    def __init__(self, cache: FeatureCache, split: str) -> None:
        self.cache = cache
        self.entries = cache.split(split)

    def __len__(self) -> int:
        return len(self.entries)

    def __getitem__(self, i: int) -> dict[str, Any]:
        e = self.entries[i]
        return {
            "id": e.id,
            "tokens": torch.tensor(e.tokens, dtype=torch.long),
            "mel": torch.from_numpy(self.cache.mel(e.id)),
        }


def collate_text2mel(
    items: list[dict[str, Any]],
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Padded ``tokens (B, L)`` (pad id 0), ``token_lens (B,)``, ``mels (B, n_mels, T)`` (padded with
    the log of silence), ``mel_lens (B,)``."""
    token_lens = torch.tensor([len(it["tokens"]) for it in items])
    mel_lens = torch.tensor([it["mel"].shape[1] for it in items])
    tokens = torch.zeros(len(items), int(token_lens.max()), dtype=torch.long)
    mels = torch.full((len(items), items[0]["mel"].shape[0], int(mel_lens.max())), MEL_PAD_VALUE)
    for b, it in enumerate(items):
        tokens[b, : len(it["tokens"])] = it["tokens"]
        mels[b, :, : it["mel"].shape[1]] = it["mel"]
    return tokens, token_lens, mels, mel_lens


class VocoderSegments:
    """Random frame-aligned (audio, mel) segments of one split for vocoder training.

    Offsets are drawn from ``generator`` when one is given, else from torch's global RNG (whose
    state the training checkpoint saves, so a resumed run draws the same segments). ``mel_dir``
    substitutes predicted (ground-truth-aligned) mels ``<id>.npy`` ``(n_mels, F)`` for the cached
    ones, to fine-tune a vocoder on text-to-mel output.
    """

    def __init__(
        self, cache: FeatureCache, split: str, segment_samples: int, mel_dir: Path | None = None
    ) -> None:
        hop = cache.audio.hop_length
        if segment_samples <= 0 or segment_samples % hop:
            raise ValueError(f"segment_samples {segment_samples} must be a positive multiple of hop {hop}")
        self.cache = cache
        self.entries = cache.split(split)
        self.segment_frames = segment_samples // hop
        self.mel_dir = Path(mel_dir) if mel_dir is not None else None
        if self.mel_dir is not None:
            missing = [e.id for e in self.entries if not (self.mel_dir / f"{e.id}.npy").is_file()]
            if missing:
                raise UserError(
                    f"{self.mel_dir} lacks predicted mels of {len(missing)} clips, e.g. {missing[0]}.npy"
                )

    def __len__(self) -> int:
        return len(self.entries)

    def mel(self, utt_id: str) -> np.ndarray:
        """Conditioning mel ``(n_mels, F)``: predicted when ``mel_dir`` is set, else cached."""
        return np.load(self.mel_dir / f"{utt_id}.npy") if self.mel_dir else self.cache.mel(utt_id)

    def item(self, i: int, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Audio ``(segment_samples,)`` and mel ``(n_mels, segment_frames)``; clips shorter than a
        segment are padded with zeros and with the log of silence."""
        e = self.entries[i]
        hop, seg = self.cache.audio.hop_length, self.segment_frames
        audio = torch.from_numpy(self.cache.audio_samples(e.id))
        mel = torch.from_numpy(self.mel(e.id))
        # A predicted mel may differ from the audio by a frame; use the frames both have.
        n = min(mel.shape[1], audio.shape[0] // hop)
        if n >= seg:
            start = int(torch.randint(0, n - seg + 1, (1,), generator=generator))
            return audio[start * hop : (start + seg) * hop], mel[:, start : start + seg]
        a = torch.zeros(seg * hop)
        m = torch.full((mel.shape[0], seg), MEL_PAD_VALUE)
        a[: n * hop] = audio[: n * hop]
        m[:, :n] = mel[:, :n]
        return a, m

    def batch(self, indices: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
        """``audio (B, T)``, ``mel (B, n_mels, T // hop)``."""
        pairs = [self.item(i) for i in indices]
        return torch.stack([p[0] for p in pairs]), torch.stack([p[1] for p in pairs])
