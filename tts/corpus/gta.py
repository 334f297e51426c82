"""Ground-truth-aligned (GTA) mels: the text-to-mel model's teacher-forced output for every clip.

A vocoder trained on recorded mels meets the text-to-mel model's smoother, slightly wrong mels at
synthesis time. Fine-tuning it on the model's own predictions closes that gap (HiFi-GAN's
"fine-tuning" recipe). The predictions must stay frame-aligned with the recordings, so the model
runs teacher-forced: its durations are the aligner's path through the recorded mel, and every
predicted mel has exactly the frame count of the cached one. The output directory holds
``<id>.npy`` float32 ``(n_mels, F)`` log-mels, which ``ganspeech train hifigan|wavenet --mel-dir``
reads (:class:`tts.corpus.dataset.VocoderSegments`), plus ``gta.json`` saying which model made them.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from tts.corpus.dataset import Entry, FeatureCache, collate_text2mel
from tts.corpus.gta_defaults import DEFAULT_BATCH_SIZE, DEFAULT_SPLITS
from tts.errors import UserError, VoiceError
from tts.frontend.pipeline import Frontend
from tts.frontend.symbols import SymbolTable
from tts.synthesizer import load_text2mel_model
from tts.text2mel.model import Text2Mel
from tts.voice import VoiceManifest, read_manifest, resolve_voice_dir
from vocoders.audio import AudioConfigMismatch, check_compatible

logger = logging.getLogger(__name__)

REPORT_NAME = "gta.json"
MEL_SUFFIX = ".npy"
# Hex digits of the weights' SHA-1 kept as the model fingerprint: enough to tell models apart.
FINGERPRINT_CHARS = 16
# Bytes hashed per read when fingerprinting weights, so a large file is never read whole.
HASH_CHUNK_BYTES = 1 << 20


@dataclass
class GTAReport:
    """What one :func:`write_gta_mels` call did."""

    out_dir: Path
    written: int  # mels computed and saved by this call
    skipped: int  # mels already present with the right shape, left as they were
    total: int  # usable clips of the requested splits (written + skipped)
    text2mel_step: int | None  # training step of the model, when its metadata records one
    seconds: float  # wall time of the whole call, cache building included

    def to_dict(self) -> dict[str, Any]:
        return {
            "out_dir": str(self.out_dir),
            "written": self.written,
            "skipped": self.skipped,
            "total": self.total,
            "text2mel_step": self.text2mel_step,
            "seconds": self.seconds,
        }


def load_text2mel(voice: str | Path | None) -> tuple[VoiceManifest, Text2Mel, dict[str, Any]]:
    """The voice's manifest, its text-to-mel model in eval mode, and the model's metadata.

    Unlike :meth:`tts.synthesizer.Synthesizer.load` no vocoder is needed: GTA mels are made before
    the vocoder that will use them is fine-tuned, often before any vocoder exists.
    """
    voice_dir = resolve_voice_dir(voice)
    manifest = read_manifest(voice_dir)
    if "text2mel" not in manifest.models:
        raise VoiceError(
            f"voice {voice_dir} has no text2mel model; train one with `ganspeech train text2mel`"
        )
    try:
        model, meta = load_text2mel_model(voice_dir, manifest.models["text2mel"], manifest.audio)
    except AudioConfigMismatch as exc:
        raise VoiceError(str(exc)) from exc
    if model.cfg.n_mels != manifest.audio.n_mels:
        raise VoiceError(
            f"the text2mel model of {voice_dir} predicts {model.cfg.n_mels} mel bands "
            f"but the voice's audio config has {manifest.audio.n_mels}"
        )
    return manifest, model, meta


def _fingerprint(weights: Path) -> str:
    digest = hashlib.sha1()
    with weights.open("rb") as f:
        while chunk := f.read(HASH_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()[:FINGERPRINT_CHARS]


def _has_mel(path: Path, n_mels: int, n_frames: int) -> bool:
    """True when ``path`` already holds a mel of the expected shape (a changed clip is redone)."""
    if not path.is_file():
        return False
    try:
        # Memory-mapped: only the header is read to learn the shape.
        return np.load(path, mmap_mode="r").shape == (n_mels, n_frames)
    except (OSError, ValueError):
        return False


def _check_previous_run(out_dir: Path, fingerprint: str, overwrite: bool) -> None:
    """Refuse to add mels of one model to a directory holding another model's."""
    path = out_dir / REPORT_NAME
    if overwrite or not path.is_file():
        return
    try:
        previous = json.loads(path.read_text()).get("text2mel_sha1")
    except (ValueError, AttributeError):
        previous = None
    if previous is not None and previous != fingerprint:
        raise UserError(
            f"{out_dir} holds mels of another text2mel model ({path}); "
            "pass --overwrite or choose another directory"
        )


def _batches(entries: Sequence[Entry], batch_size: int) -> Iterator[list[Entry]]:
    # Sorted by length so each batch pads its clips to nearly their own length.
    ordered = sorted(entries, key=lambda e: (e.n_frames, e.id))
    for start in range(0, len(ordered), batch_size):
        yield ordered[start : start + batch_size]


def predict_gta(
    model: Text2Mel, cache: FeatureCache, entries: Sequence[Entry], device: torch.device
) -> list[np.ndarray]:
    """Teacher-forced ``mel_post`` of each entry, float32 ``(n_mels, F_i)`` with the cached ``F_i``."""
    items = [
        {
            "id": e.id,
            "tokens": torch.tensor(e.tokens, dtype=torch.long),
            "mel": torch.from_numpy(cache.mel(e.id)),
        }
        for e in entries
    ]
    tokens, token_lens, mels, mel_lens = collate_text2mel(items)
    with torch.inference_mode():
        out = model(tokens.to(device), token_lens.to(device), mels.to(device), mel_lens.to(device))
    post = out.mel_post.float().cpu().numpy()  # (B, n_mels, T_max)
    return [np.ascontiguousarray(post[b, :, : e.n_frames]) for b, e in enumerate(entries)]


def _save(path: Path, mel: np.ndarray) -> None:
    # Written beside and renamed: an interrupted run never leaves a truncated file that would be skipped.
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("wb") as f:
        np.save(f, mel.astype(np.float32, copy=False))
    tmp.replace(path)


def write_gta_mels(
    voice: str | Path | None,
    data_dir: str | Path,
    out_dir: str | Path,
    splits: Sequence[str] = DEFAULT_SPLITS,
    batch_size: int = DEFAULT_BATCH_SIZE,
    overwrite: bool = False,
    progress: bool = False,
    device: str | torch.device | None = None,
    cache_dir: str | Path | None = None,
) -> GTAReport:
    """Write the voice's teacher-forced mel ``<id>.npy`` ``(n_mels, F)`` of every usable clip of
    ``splits`` of the corpus ``data_dir`` into ``out_dir``.

    ``F`` equals the frame count of the corpus's cached mel, so ``--mel-dir out_dir`` pairs each
    prediction with its recording. Mels already present with the right shape are kept unless
    ``overwrite``. ``device`` defaults to CUDA when available; ``cache_dir`` is passed to
    :meth:`FeatureCache.build` (default: inside the corpus, shared with training).
    """
    t0 = time.perf_counter()
    if batch_size < 1:
        raise UserError(f"batch size must be at least 1, got {batch_size}")
    if not splits:
        raise UserError("give at least one split")
    voice_dir = resolve_voice_dir(voice)
    manifest, model, meta = load_text2mel(voice_dir)
    fingerprint = _fingerprint((voice_dir / manifest.models["text2mel"]).with_suffix(".safetensors"))
    out_dir = Path(out_dir)
    _check_previous_run(out_dir, fingerprint, overwrite)

    frontend = Frontend(manifest.language, SymbolTable(manifest.symbols))
    cache = FeatureCache.build(data_dir, manifest.audio, frontend, cache_dir=cache_dir, progress=progress)
    try:
        check_compatible(
            manifest.audio, cache.audio, f"voice {voice_dir} and the feature cache of {data_dir}"
        )
    except AudioConfigMismatch as exc:
        raise VoiceError(str(exc)) from exc

    seen: set[str] = set()
    entries: list[Entry] = []
    for split in splits:
        for e in cache.split(split):
            if e.id not in seen:
                seen.add(e.id)
                entries.append(e)
    if not entries:
        raise UserError(f"{data_dir} has no usable clips in split(s) {', '.join(splits)}")

    n_mels = manifest.audio.n_mels
    todo = [
        e for e in entries if overwrite or not _has_mel(out_dir / f"{e.id}{MEL_SUFFIX}", n_mels, e.n_frames)
    ]
    skipped = len(entries) - len(todo)
    if skipped:
        logger.info(
            "%d of %d mels already in %s; computing the other %d", skipped, len(entries), out_dir, len(todo)
        )
    out_dir.mkdir(parents=True, exist_ok=True)

    dev = (
        torch.device(device)
        if device is not None
        else torch.device("cuda" if torch.cuda.is_available() else "cpu")
    )
    model.to(dev)
    record = {
        "voice": str(voice_dir.resolve()),
        "voice_name": manifest.name,
        "text2mel_step": int(meta["step"]) if meta.get("step") is not None else None,
        "text2mel_sha1": fingerprint,
        "data": str(Path(data_dir).resolve()),
        "splits": list(splits),
        "audio": manifest.audio.to_dict(),
        "count": len(entries),
        # Written before the first mel so an interrupted run still tells which model its mels are
        # from; true once every mel of the splits is written.
        "complete": False,
    }
    _write_record(out_dir, record)
    bar = _progress_bar(len(todo), progress)
    for batch in _batches(todo, batch_size):
        for e, mel in zip(batch, predict_gta(model, cache, batch, dev)):
            _save(out_dir / f"{e.id}{MEL_SUFFIX}", mel)
        if bar is not None:
            bar.update(len(batch))
    if bar is not None:
        bar.close()

    _write_record(out_dir, {**record, "complete": True})
    report = GTAReport(
        out_dir=out_dir,
        written=len(todo),
        skipped=skipped,
        total=len(entries),
        text2mel_step=record["text2mel_step"],
        seconds=time.perf_counter() - t0,
    )
    logger.info(
        "wrote %d GTA mels to %s (%d kept) in %.1f s", report.written, out_dir, skipped, report.seconds
    )
    return report


def _write_record(out_dir: Path, record: dict[str, Any]) -> None:
    tmp = out_dir / (REPORT_NAME + ".tmp")
    tmp.write_text(json.dumps(record, indent=2) + "\n")
    tmp.replace(out_dir / REPORT_NAME)


def _progress_bar(total: int, enabled: bool) -> Any:  # a tqdm bar, or None when disabled
    if not enabled or total == 0:
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc="gta mels", unit="clip", dynamic_ncols=True)
