"""One loader for any LJSpeech-format corpus, with features computed once and cached.

LJSpeech format: ``metadata.csv`` with ``id|text|normalized text`` rows and ``wavs/<id>.wav``;
optional ``train.txt`` / ``val.txt`` / ``test.txt`` id lists (the corpus builder writes them;
without them a stable hash of the id picks the split). The cache (resampled audio, log-mel,
phonemes and ids) lives in ``<corpus>/.ganspeech_cache/<key>/`` where the key hashes the audio
config, language and symbol table, so it is rebuilt only when one of them changes. Bad rows
(missing or unreadable audio, empty or unspeakable text, too short) are skipped with one warning.
"""

from __future__ import annotations

import hashlib
import json
import logging
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from tts.errors import UserError
from tts.frontend import Frontend
from vocoders.audio import LOG_CLAMP, AudioConfig, load_audio, mel_spectrogram

logger = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")
CACHE_DIRNAME = ".ganspeech_cache"
INDEX_NAME = "index.json"
# Hash split for corpora without split files: per mille going to test and validation.
HASH_TEST_PER_MILLE = 20
HASH_VAL_PER_MILLE = 10
# Clips shorter than this many frames carry too little to train on.
MIN_FRAMES = 8
# Value of padded mel frames: the log-mel of silence.
MEL_PAD_VALUE = float(np.log(LOG_CLAMP))


@dataclass(frozen=True)
class Row:
    id: str
    text: str
    normalized: str


def read_metadata(data_dir: str | Path) -> list[Row]:
    path = Path(data_dir) / "metadata.csv"
    if not path.is_file():
        raise UserError(f"{data_dir} is not an LJSpeech-format corpus: {path} is missing")
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.rstrip("\n").split("|")
        if not parts or not parts[0].strip():
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
    listing = Path(data_dir) / f"{split}.txt"
    if listing.is_file():
        return [s.strip() for s in listing.read_text().splitlines() if s.strip()]
    return [r.id for r in read_metadata(data_dir) if _hash_split(r.id) == split]


def cache_key(audio: AudioConfig, language: str, symbols: Sequence[str]) -> str:
    blob = json.dumps({"audio": audio.to_dict(), "language": language, "symbols": list(symbols)}, sort_keys=True)
    return hashlib.sha1(blob.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Entry:
    id: str
    text: str  # normalised text
    phonemes: str
    tokens: tuple[int, ...]
    n_frames: int


class FeatureCache:
    """Cached features of a corpus; build once with :meth:`build`, then read items by id."""

    def __init__(self, root: Path, audio: AudioConfig, entries: dict[str, Entry], data_dir: Path) -> None:
        self.root = root
        self.audio = audio
        self.entries = entries
        self.data_dir = data_dir

    @classmethod
    def build(
        cls, data_dir: str | Path, audio: AudioConfig, frontend: Frontend, cache_dir: str | Path | None = None
    ) -> "FeatureCache":
        data_dir = Path(data_dir)
        key = cache_key(audio, frontend.language, frontend.symbols.to_list())
        root = Path(cache_dir) if cache_dir else data_dir / CACHE_DIRNAME / key
        index_path = root / INDEX_NAME
        known: dict[str, Entry] = {}
        if index_path.is_file():
            known = {e["id"]: Entry(**{**e, "tokens": tuple(e["tokens"])}) for e in json.loads(index_path.read_text())}
        rows = read_metadata(data_dir)
        root.mkdir(parents=True, exist_ok=True)
        entries: dict[str, Entry] = {}
        skipped: dict[str, int] = {}
        for row in rows:
            if row.id in known and (root / f"{row.id}.mel.npy").is_file():
                entries[row.id] = known[row.id]
                continue
            reason = cls._add(row, data_dir, root, audio, frontend, entries)
            if reason:
                skipped[reason] = skipped.get(reason, 0) + 1
        if skipped:
            logger.warning(
                "skipped %d of %d rows of %s: %s",
                sum(skipped.values()), len(rows), data_dir, ", ".join(f"{n} {r}" for r, n in sorted(skipped.items())),
            )
        if not entries:
            raise UserError(f"no usable rows in {data_dir}")
        index_path.write_text(json.dumps([e.__dict__ | {"tokens": list(e.tokens)} for e in entries.values()]))
        return cls(root, audio, entries, data_dir)

    @staticmethod
    def _add(row: Row, data_dir: Path, root: Path, audio: AudioConfig, frontend: Frontend,
             entries: dict[str, Entry]) -> str | None:
        """Cache one row; returns why it was skipped, or None."""
        if not row.normalized.strip():
            return "with empty text"
        wav_path = data_dir / "wavs" / f"{row.id}.wav"
        if not wav_path.is_file():
            return "with missing audio"
        try:
            wav = load_audio(wav_path, audio.sample_rate)
        except Exception:  # noqa: BLE001 - any decoder failure means the same: unreadable
            return "with unreadable audio"
        normalized, phonemes = frontend.phonemize_sentence(row.normalized)
        tokens = frontend.symbols.encode(phonemes)
        if not tokens:
            return "with unspeakable text"
        mel = mel_spectrogram(torch.from_numpy(wav)[None], audio)[0].numpy()  # (n_mels, F)
        if mel.shape[1] < max(MIN_FRAMES, len(tokens)):
            return "too short for their text"
        np.save(root / f"{row.id}.wav.npy", wav[: mel.shape[1] * audio.hop_length])
        np.save(root / f"{row.id}.mel.npy", mel.astype(np.float32))
        entries[row.id] = Entry(row.id, normalized, phonemes, tuple(tokens), int(mel.shape[1]))
        return None

    def split(self, split: str) -> list[Entry]:
        return [self.entries[i] for i in split_ids(self.data_dir, split) if i in self.entries]

    def mel(self, utt_id: str) -> np.ndarray:
        return np.load(self.root / f"{utt_id}.mel.npy")

    def audio_samples(self, utt_id: str) -> np.ndarray:
        return np.load(self.root / f"{utt_id}.wav.npy")


class Text2MelDataset(torch.utils.data.Dataset):
    """Items ``{"id", "tokens" (L,), "mel" (n_mels, T)}`` of one split."""

    def __init__(self, cache: FeatureCache, split: str) -> None:
        self.cache = cache
        self.entries = cache.split(split)

    def __len__(self) -> int:
        return len(self.entries)

    def __getitem__(self, i: int) -> dict:
        e = self.entries[i]
        return {"id": e.id, "tokens": torch.tensor(e.tokens, dtype=torch.long), "mel": torch.from_numpy(self.cache.mel(e.id))}


def collate_text2mel(items: list[dict]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Padded ``tokens (B, L)``, ``token_lens (B,)``, ``mels (B, n_mels, T)``, ``mel_lens (B,)``."""
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

    Offsets are drawn from torch's global RNG, whose state the training checkpoint saves, so a
    resumed run draws the same segments. ``mel_dir`` substitutes predicted (ground-truth-aligned)
    mels ``<id>.npy`` for the cached ones, to fine-tune a vocoder on text-to-mel output.
    """

    def __init__(self, cache: FeatureCache, split: str, segment_samples: int, mel_dir: Path | None = None) -> None:
        hop = cache.audio.hop_length
        if segment_samples % hop:
            raise ValueError(f"segment_samples {segment_samples} must be a multiple of hop {hop}")
        self.cache = cache
        self.entries = cache.split(split)
        self.segment_frames = segment_samples // hop
        self.mel_dir = mel_dir

    def __len__(self) -> int:
        return len(self.entries)

    def mel(self, utt_id: str) -> np.ndarray:
        return np.load(self.mel_dir / f"{utt_id}.npy") if self.mel_dir else self.cache.mel(utt_id)

    def item(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Audio ``(segment_samples,)`` and mel ``(n_mels, segment_frames)``."""
        e = self.entries[i]
        hop, seg = self.cache.audio.hop_length, self.segment_frames
        audio = torch.from_numpy(self.cache.audio_samples(e.id))
        mel = torch.from_numpy(self.mel(e.id))
        n = min(mel.shape[1], audio.shape[0] // hop)
        if n >= seg:
            start = int(torch.randint(0, n - seg + 1, (1,)))
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
