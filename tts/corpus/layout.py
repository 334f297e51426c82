"""The on-disk corpus format (LJSpeech's), shared by its writer (:mod:`tts.corpus.builder`) and its readers.

::

    <corpus>/metadata.csv               id|text|normalized text
    <corpus>/wavs/<id>.wav              one clip per id
    <corpus>/train.txt val.txt test.txt ids, one a line (optional for readers)
"""

from __future__ import annotations

from pathlib import Path

SPLITS = ("train", "val", "test")  # in the order a build assigns them and reports list them
METADATA_NAME = "metadata.csv"
WAV_DIRNAME = "wavs"


def metadata_path(data_dir: str | Path) -> Path:
    return Path(data_dir) / METADATA_NAME


def wav_path(data_dir: str | Path, utt_id: str) -> Path:
    return Path(data_dir) / WAV_DIRNAME / f"{utt_id}.wav"


def split_path(data_dir: str | Path, split: str) -> Path:
    """The id list of ``split``, one of :data:`SPLITS`."""
    return Path(data_dir) / f"{split}.txt"
