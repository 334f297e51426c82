"""LJSpeech-format loader: metadata, splits, the feature cache and the datasets."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from tts.corpus import dataset as ds
from tts.frontend.pipeline import Frontend
from vocoders.audio import AudioConfig, load_audio, mel_spectrogram, num_frames

SOURCE_SR = 22050  # LJSpeech 1.1's rate; the cache resamples to the config's 16 kHz
AUDIO = AudioConfig(
    sample_rate=16000, n_fft=256, hop_length=64, win_length=256, n_mels=20, fmin=0.0, fmax=8000.0
)
TONE_HZ = 440.0
GOOD = {
    "LJ001-0001": ("The cat sat on the mat.", 1.0),
    "LJ001-0002": ("A bird flew over the house.", 1.2),
    "LJ002-0001": ("Water runs down the hill.", 0.9),
    "LJ002-0002": ("Bring me the red ball now.", 1.1),
    "LJ003-0001": ("Dr. Smith paid five dollars.", 0.25),
}
SEGMENT = 32 * AUDIO.hop_length  # 2048 samples: shorter than every clip (the 0.25 s one has 62 frames)
LONG_SEGMENT = 80 * AUDIO.hop_length  # longer than the 0.25 s clip: it gets padded


def _clip(seconds: float, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(int(seconds * SOURCE_SR)) / SOURCE_SR
    wav = 0.3 * np.sin(2 * np.pi * TONE_HZ * t) + 0.02 * rng.standard_normal(t.size)
    return wav.astype(np.float32)


@pytest.fixture()
def corpus_dir(tmp_path: Path) -> Path:
    """Five good rows at 22.05 kHz, one row whose wav is missing, one with empty text."""
    root = tmp_path / "lj"
    (root / "wavs").mkdir(parents=True)
    rng = np.random.default_rng(0)
    lines = []
    for utt_id, (text, seconds) in GOOD.items():
        sf.write(root / "wavs" / f"{utt_id}.wav", _clip(seconds, rng), SOURCE_SR)
        lines.append(f"{utt_id}|{text}|{text}")
    lines[1] = "LJ001-0002|A bird flew over the house."  # two columns: the text is its own normalised form
    lines.append("LJ004-0001|This clip was never recorded.|This clip was never recorded.")
    sf.write(root / "wavs" / "LJ004-0002.wav", _clip(1.0, rng), SOURCE_SR)
    lines.append("LJ004-0002||")
    (root / "metadata.csv").write_text("\n".join(lines) + "\n")
    return root


@pytest.fixture(scope="module")
def frontend() -> Frontend:
    return Frontend("en-us")


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "tts.corpus.dataset" and r.levelno == logging.WARNING
    ]


def test_read_metadata_prefers_column_three(corpus_dir: Path) -> None:
    rows = {r.id: r for r in ds.read_metadata(corpus_dir)}
    assert rows["LJ001-0002"].normalized == "A bird flew over the house."
    assert rows["LJ004-0002"].normalized == ""
    (corpus_dir / "metadata.csv").write_text("x|Dr. Who|Doctor Who\n")
    assert ds.read_metadata(corpus_dir)[0] == ds.Row("x", "Dr. Who", "Doctor Who")


def test_hash_split_without_split_files_is_a_stable_partition(corpus_dir: Path) -> None:
    ids = [r.id for r in ds.read_metadata(corpus_dir)]
    parts = [ds.split_ids(corpus_dir, s) for s in ds.SPLITS]
    assert sorted(i for p in parts for i in p) == sorted(ids)
    assert parts == [ds.split_ids(corpus_dir, s) for s in ds.SPLITS]
    many = [f"LJ{c:03d}-{k:04d}" for c in range(1, 51) for k in range(1, 201)]  # 10,000 ids
    test_share = sum(ds._hash_split(i) == "test" for i in many) / len(many)
    assert test_share == pytest.approx(ds.HASH_TEST_PER_MILLE / 1000, abs=0.005)


def test_split_files_are_used_when_present(corpus_dir: Path) -> None:
    (corpus_dir / "val.txt").write_text("LJ002-0001\n\nLJ001-0001\n")
    assert ds.split_ids(corpus_dir, "val") == ["LJ002-0001", "LJ001-0001"]
    with pytest.raises(ValueError, match="unknown split"):
        ds.split_ids(corpus_dir, "dev")


def test_build_resamples_skips_bad_rows_once_and_matches_the_mel(
    corpus_dir: Path, frontend: Frontend, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="tts.corpus.dataset"):
        cache = ds.FeatureCache.build(corpus_dir, AUDIO, frontend)
    assert sorted(cache.entries) == sorted(GOOD)
    (message,) = _warnings(caplog)
    assert "skipped 2 of 7 rows" in message
    assert "1 with empty text" in message and "1 with missing audio" in message
    assert cache.root.parent == corpus_dir / ds.CACHE_DIRNAME
    assert (cache.root / ds.INDEX_NAME).is_file()
    for utt_id, (text, seconds) in GOOD.items():
        entry = cache.entries[utt_id]
        resampled = load_audio(corpus_dir / "wavs" / f"{utt_id}.wav", AUDIO.sample_rate)
        assert abs(resampled.size - round(seconds * AUDIO.sample_rate)) <= 1
        mel = cache.mel(utt_id)
        assert mel.dtype == np.float32 and mel.shape == (AUDIO.n_mels, num_frames(resampled.size, AUDIO))
        assert entry.n_frames == mel.shape[1]
        expected = mel_spectrogram(torch.from_numpy(resampled)[None], AUDIO)[0].numpy()
        np.testing.assert_allclose(mel, expected, atol=1e-5)
        audio = cache.audio_samples(utt_id)
        assert audio.dtype == np.float32 and audio.size == entry.n_frames * AUDIO.hop_length
        assert entry.tokens == tuple(frontend.symbols.encode(entry.phonemes)) and entry.tokens
    # Resampled for real: the tone is still at 440 Hz when read at 16 kHz.
    audio = cache.audio_samples("LJ001-0001")
    spectrum = np.abs(np.fft.rfft(audio))
    assert np.fft.rfftfreq(audio.size, 1 / AUDIO.sample_rate)[spectrum.argmax()] == pytest.approx(
        TONE_HZ, abs=2
    )
    assert cache.entries["LJ003-0001"].text == "Doctor Smith paid five dollars."


def test_second_build_reuses_the_cache(
    corpus_dir: Path, frontend: Frontend, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = ds.FeatureCache.build(corpus_dir, AUDIO, frontend)
    assert first.n_computed == len(GOOD)
    mtimes = {p.name: p.stat().st_mtime_ns for p in first.root.iterdir()}

    def no_mel(*args: object, **kwargs: object) -> None:
        raise AssertionError("a cached row was recomputed")

    monkeypatch.setattr(ds, "mel_spectrogram", no_mel)
    second = ds.FeatureCache.build(corpus_dir, AUDIO, frontend)
    assert second.n_computed == 0 and second.entries == first.entries
    assert {p.name: p.stat().st_mtime_ns for p in second.root.iterdir()} == mtimes
    monkeypatch.undo()

    # A changed recording is recomputed, and only it.
    wav = corpus_dir / "wavs" / "LJ001-0001.wav"
    sf.write(wav, _clip(1.5, np.random.default_rng(1)), SOURCE_SR)
    os.utime(wav, ns=(wav.stat().st_atime_ns, wav.stat().st_mtime_ns + 10**9))
    third = ds.FeatureCache.build(corpus_dir, AUDIO, frontend)
    assert third.n_computed == 1
    assert third.entries["LJ001-0001"].n_frames == num_frames(24000, AUDIO)

    # Another audio config gets its own cache directory.
    other = AudioConfig(sample_rate=16000, n_fft=256, hop_length=32, win_length=256, n_mels=20, fmax=8000.0)
    fourth = ds.FeatureCache.build(corpus_dir, other, frontend)
    assert fourth.root != first.root and fourth.n_computed == len(GOOD)


def test_unreadable_short_and_unspeakable_rows_are_skipped(
    tmp_path: Path, frontend: Frontend, caplog: pytest.LogCaptureFixture
) -> None:
    root = tmp_path / "bad"
    (root / "wavs").mkdir(parents=True)
    rng = np.random.default_rng(2)
    sf.write(root / "wavs" / "ok.wav", _clip(1.0, rng), SOURCE_SR)
    (root / "wavs" / "junk.wav").write_bytes(b"not a wav file at all")
    sf.write(root / "wavs" / "tiny.wav", _clip(0.02, rng), SOURCE_SR)
    sf.write(root / "wavs" / "marks.wav", _clip(1.0, rng), SOURCE_SR)
    (root / "metadata.csv").write_text(
        "ok|A fine sentence.|A fine sentence.\njunk|Some words here.|Some words here.\n"
        "tiny|A much longer sentence than this clip can hold.|"
        "A much longer sentence than this clip can hold.\n"
        "marks|!!! ...|!!! ...\n"
    )
    with caplog.at_level(logging.WARNING, logger="tts.corpus.dataset"):
        cache = ds.FeatureCache.build(root, AUDIO, frontend, cache_dir=tmp_path / "elsewhere")
    assert list(cache.entries) == ["ok"]
    (message,) = _warnings(caplog)
    for reason in ("1 with unreadable audio", "1 too short for their text", "1 with unspeakable text"):
        assert reason in message
    assert cache.root.is_relative_to(tmp_path / "elsewhere")


def test_text2mel_items_and_collate(corpus_dir: Path, frontend: Frontend) -> None:
    cache = ds.FeatureCache.build(corpus_dir, AUDIO, frontend)
    (corpus_dir / "train.txt").write_text("\n".join(GOOD) + "\nLJ004-0001\n")  # a skipped id is ignored
    data = ds.Text2MelDataset(cache, "train")
    assert len(data) == len(GOOD)
    items = [data[i] for i in range(3)]
    assert items[0]["id"] == "LJ001-0001" and items[0]["tokens"].dtype == torch.long
    tokens, token_lens, mels, mel_lens = ds.collate_text2mel(items)
    assert tokens.shape == (3, int(token_lens.max())) and mels.shape == (3, AUDIO.n_mels, int(mel_lens.max()))
    for b, it in enumerate(items):
        assert token_lens[b] == it["tokens"].numel() and mel_lens[b] == it["mel"].shape[1]
        assert torch.equal(tokens[b, : token_lens[b]], it["tokens"])
        assert (tokens[b, token_lens[b] :] == 0).all()
        assert torch.equal(mels[b, :, : mel_lens[b]], it["mel"])
        assert (mels[b, :, mel_lens[b] :] == ds.MEL_PAD_VALUE).all()
    assert ds.MEL_PAD_VALUE == pytest.approx(np.log(1e-5))


@pytest.fixture()
def cache(corpus_dir: Path, frontend: Frontend) -> ds.FeatureCache:
    c = ds.FeatureCache.build(corpus_dir, AUDIO, frontend)
    (corpus_dir / "train.txt").write_text("\n".join(GOOD) + "\n")
    return c


def _offset(segment: torch.Tensor, audio: np.ndarray) -> int:
    """Frame at which ``segment`` starts inside ``audio``."""
    hop = AUDIO.hop_length
    for start in range(audio.size // hop):
        if np.array_equal(audio[start * hop : start * hop + segment.numel()], segment.numpy()):
            return start
    raise AssertionError("segment is not a frame-aligned slice of the clip")


def test_vocoder_segments_are_aligned_slices(cache: ds.FeatureCache) -> None:
    segments = ds.VocoderSegments(cache, "train", SEGMENT)
    frames = SEGMENT // AUDIO.hop_length
    for i, entry in enumerate(segments.entries):
        audio, mel = segments.item(i, torch.Generator().manual_seed(i))
        assert audio.shape == (SEGMENT,) and mel.shape == (AUDIO.n_mels, frames)
        start = _offset(audio, cache.audio_samples(entry.id))
        assert torch.equal(mel, torch.from_numpy(cache.mel(entry.id)[:, start : start + frames]))
    audio, mel = segments.batch([0, 1])
    assert audio.shape == (2, SEGMENT) and mel.shape == (2, AUDIO.n_mels, frames)
    with pytest.raises(ValueError, match="multiple of hop"):
        ds.VocoderSegments(cache, "train", SEGMENT + 1)


def test_short_clip_is_padded(cache: ds.FeatureCache) -> None:
    segments = ds.VocoderSegments(cache, "train", LONG_SEGMENT)
    idx = [e.id for e in segments.entries].index("LJ003-0001")
    audio, mel = segments.item(idx)
    n = cache.entries["LJ003-0001"].n_frames
    hop = AUDIO.hop_length
    assert audio.shape == (LONG_SEGMENT,)
    assert torch.equal(audio[: n * hop], torch.from_numpy(cache.audio_samples("LJ003-0001")))
    assert (audio[n * hop :] == 0).all()
    assert (mel[:, n:] == ds.MEL_PAD_VALUE).all()


def test_segment_offsets_follow_the_generator(cache: ds.FeatureCache) -> None:
    segments = ds.VocoderSegments(cache, "train", SEGMENT)

    def offsets(seed: int) -> list[int]:
        generator = torch.Generator().manual_seed(seed)
        return [
            _offset(segments.item(i, generator)[0], cache.audio_samples(e.id))
            for i, e in enumerate(segments.entries)
        ]

    assert offsets(0) == offsets(0)
    assert offsets(0) != offsets(1)


def test_predicted_mels_replace_cached_ones(cache: ds.FeatureCache, tmp_path: Path) -> None:
    mel_dir = tmp_path / "gta"
    mel_dir.mkdir()
    for utt_id in GOOD:
        np.save(mel_dir / f"{utt_id}.npy", cache.mel(utt_id) + 1.0)
    segments = ds.VocoderSegments(cache, "train", SEGMENT, mel_dir=mel_dir)
    audio, mel = segments.item(0, torch.Generator().manual_seed(0))
    utt_id = segments.entries[0].id
    frames = SEGMENT // AUDIO.hop_length
    start = _offset(audio, cache.audio_samples(utt_id))
    expected = torch.from_numpy(cache.mel(utt_id)[:, start : start + frames] + 1.0)
    assert torch.equal(mel, expected)
    (mel_dir / "LJ002-0002.npy").unlink()
    with pytest.raises(ValueError, match="lacks predicted mels"):
        ds.VocoderSegments(cache, "train", SEGMENT, mel_dir=mel_dir)


class _FakeSymbols:
    def encode(self, phonemes: str) -> list[int]:
        return [2 + ord(c) % 50 for c in phonemes]

    def to_list(self) -> list[str]:
        return ["_", " "] + [chr(0x100 + i) for i in range(50)]


class _FakeFrontend:
    """Any object with the Frontend interface works: letters stand in for phonemes."""

    language = "xx"
    symbols = _FakeSymbols()

    def phonemize_sentence(self, text: str) -> tuple[str, str]:
        return text.lower(), "".join(c for c in text.lower() if c.isalpha())


def test_cache_accepts_any_frontend_like_object(corpus_dir: Path) -> None:
    cache = ds.FeatureCache.build(corpus_dir, AUDIO, _FakeFrontend())
    assert cache.entries["LJ001-0001"].phonemes == "thecatsatonthemat"
    assert len(cache.entries["LJ001-0001"].tokens) == len("thecatsatonthemat")


def test_two_builds_of_one_cache_at_once_both_succeed(
    corpus_dir: Path, frontend: Frontend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A second build that runs to completion while the first is renaming its index into place
    (two trainings started on one corpus at once) leaves both builds and the cache intact."""
    real_os_replace, real_path_replace = os.replace, Path.replace
    interleaved: list[ds.FeatureCache] = []
    started = []

    def other_build_first(src: object, dst: object) -> None:
        if Path(dst).name == ds.INDEX_NAME and not started:
            started.append(True)
            interleaved.append(ds.FeatureCache.build(corpus_dir, AUDIO, frontend))

    def os_replace(src: os.PathLike[str] | str, dst: os.PathLike[str] | str) -> None:
        other_build_first(src, dst)
        real_os_replace(src, dst)

    def path_replace(self: Path, target: os.PathLike[str] | str) -> Path:
        other_build_first(self, target)
        return real_path_replace(self, target)

    monkeypatch.setattr(os, "replace", os_replace)
    monkeypatch.setattr(Path, "replace", path_replace)
    first = ds.FeatureCache.build(corpus_dir, AUDIO, frontend)
    monkeypatch.undo()
    assert interleaved and interleaved[0].entries == first.entries
    reread = ds.FeatureCache.build(corpus_dir, AUDIO, frontend)
    assert reread.n_computed == 0 and reread.entries == first.entries
    assert not list(first.root.glob("*.tmp")), "temporary files were left behind"
