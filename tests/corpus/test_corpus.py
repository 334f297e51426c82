"""The bundled sentences and the Flite corpus builder."""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tts.cli.commands import corpus as corpus_command
from tts.corpus import builder as corpus
from tts.errors import UserError
from tts.frontend.normalize import normalize_text

FLITE = shutil.which("flite")
needs_flite = pytest.mark.skipif(FLITE is None, reason="flite is not installed")
SMALL = [
    "Open the door.",
    "We like green tea.",
    "Turn off the light.",
    "Mr. Smith paid the bill.",
]
# RMS of the first and last 10 ms must stay this far below the clip's RMS: silence was trimmed
# to the margin, but the margin itself is near-silent.
EDGE_BELOW_CLIP_DB = 10.0


def _db(x: np.ndarray) -> float:
    return 20 * np.log10(np.sqrt(np.mean(x.astype(np.float64) ** 2)) + 1e-12)


# ---------------------------------------------------------------- the sentence file


def test_bundled_sentences_meet_the_selection_rules() -> None:
    sentences = corpus.load_sentences()
    assert len(sentences) >= 3600
    words = [len(s.split()) for s in sentences]
    assert min(words) >= 4 and max(words) <= 25
    assert len({s.casefold() for s in sentences}) == len(sentences)
    assert all("|" not in s and s.isascii() for s in sentences)
    header = corpus.SENTENCES_PATH.read_text().splitlines()[0]
    assert header.startswith("#")
    assert "public domain" in corpus.SENTENCES_PATH.read_text()[:1000]


def test_full_list_has_fixed_test_and_val_sizes() -> None:
    normalized = [normalize_text(s, corpus.CORPUS_LANGUAGE) for s in corpus.load_sentences()]
    splits = corpus.assign_splits(normalized)
    assert splits.count("test") == corpus.N_TEST
    assert splits.count("val") == corpus.N_VAL


def test_a_prefix_of_the_list_has_test_and_val_sentences() -> None:
    """The file order must not follow the split hash, or the first N sentences would all be test."""
    normalized = [normalize_text(s, corpus.CORPUS_LANGUAGE) for s in corpus.load_sentences()]
    prefix = corpus.assign_splits(normalized)[:1000]
    expected_test = 1000 * corpus.N_TEST / len(normalized)
    assert expected_test / 2 < prefix.count("test") < expected_test * 2
    assert prefix.count("val") > 0


def test_split_depends_on_the_sentence_not_its_position_or_case() -> None:
    sentences = [f"Sentence number {i} is here." for i in range(50)]
    splits = dict(zip(sentences, corpus.assign_splits(sentences, n_test=5, n_val=5)))
    reordered = sentences[::-1]
    assert dict(zip(reordered, corpus.assign_splits(reordered, n_test=5, n_val=5))) == splits
    assert corpus.sentence_hash("Open  the DOOR.") == corpus.sentence_hash("open the door.")
    assert sorted(splits.values()).count("test") == 5


# ---------------------------------------------------------------- errors without flite


def test_missing_flite_is_a_user_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty directory: no flite on PATH
    with pytest.raises(UserError, match="apt-get install flite"):
        corpus.build_flite_corpus(tmp_path / "out", n_sentences=1, progress=False)
    assert not (tmp_path / "out").exists()


def test_unknown_engine_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="unknown corpus engine"):
        corpus.build_corpus(tmp_path, engine="espeak")


def test_command_rejects_an_unknown_engine(tmp_path: Path) -> None:
    with pytest.raises(SystemExit):
        _parse(["--engine", "festival", "--out", str(tmp_path)])


def test_audio_processing_trims_and_normalises() -> None:
    sr = 8000
    t = np.arange(sr) / sr
    speech = 0.05 * np.sin(2 * np.pi * 200 * t)
    audio = np.concatenate([np.zeros(sr // 2), speech, np.zeros(sr // 2)])  # 0.5 s of silence each side
    out = corpus.process_audio(audio, sr, 16000)
    margin = corpus.TRIM_MARGIN_SECONDS
    # 1 s of tone at 16 kHz plus at most the margins and one trim frame each side.
    assert 16000 <= out.size <= 16000 + 2 * (margin * 16000 + corpus.TRIM_FRAME_LENGTH)
    assert _db(out) == pytest.approx(corpus.TARGET_RMS_DBFS, abs=0.1)
    with pytest.raises(ValueError):
        corpus.process_audio(np.zeros(1000), sr, 16000)


def test_peak_limit_wins_over_the_rms_target() -> None:
    sr = 16000
    clicks = np.zeros(sr)
    clicks[::1000] = 1.0  # peaky: reaching -20 dBFS RMS would need a peak far above full scale
    out = corpus.process_audio(clicks, sr, sr)
    assert np.abs(out).max() == pytest.approx(corpus.PEAK_LIMIT, rel=1e-4)


# ---------------------------------------------------------------- flite


@pytest.fixture(scope="module")
def small_list(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sentences") / "sentences.txt"
    path.write_text("# test sentences\n" + "\n".join(SMALL) + "\n")
    return path


@pytest.fixture()
def use_small_list(monkeypatch: pytest.MonkeyPatch, small_list: Path) -> None:
    """Four short sentences, one of them test and one validation."""
    monkeypatch.setattr(corpus, "SENTENCES_PATH", small_list)
    monkeypatch.setattr(corpus, "N_TEST", 1)
    monkeypatch.setattr(corpus, "N_VAL", 1)


@pytest.fixture(scope="module")
def three(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, corpus.CorpusSummary]:
    if FLITE is None:
        pytest.skip("flite is not installed")
    out = tmp_path_factory.mktemp("flite3")
    return out, corpus.build_flite_corpus(out, voice="rms", n_sentences=3, workers=2, progress=False)


@needs_flite
def test_three_sentence_corpus_is_ljspeech_format(three: tuple[Path, corpus.CorpusSummary]) -> None:
    out, summary = three
    sentences = corpus.load_sentences()[:3]
    rows = [line.split("|") for line in (out / "metadata.csv").read_text().splitlines()]
    assert [r[1] for r in rows] == sentences
    assert [r[2] for r in rows] == [normalize_text(s, "en-us") for s in sentences]
    for utt_id, _, _ in rows:
        info = sf.info(str(out / "wavs" / f"{utt_id}.wav"))
        assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16")
        audio, _ = sf.read(str(out / "wavs" / f"{utt_id}.wav"), dtype="float32")
        assert info.duration > 1.0  # every bundled sentence has at least four words
        assert _db(audio) == pytest.approx(corpus.TARGET_RMS_DBFS, abs=1.0) or np.abs(audio).max() > 0.9
        edge = int(0.01 * 16000)
        assert _db(audio[:edge]) < _db(audio) - EDGE_BELOW_CLIP_DB
        assert _db(audio[-edge:]) < _db(audio) - EDGE_BELOW_CLIP_DB
    assert summary.n_sentences == 3 and summary.n_synthesized == 3 and summary.n_failed == 0
    total = sum(sf.info(str(p)).duration for p in (out / "wavs").glob("*.wav"))
    assert summary.total_seconds == pytest.approx(total, abs=1e-2)
    meta = json.loads((out / "corpus.json").read_text())
    assert (meta["engine"], meta["voice"], meta["sample_rate"]) == ("flite", "rms", 16000)
    assert "LJ Speech" in meta["sentence_source"]


@needs_flite
def test_three_sentence_corpus_splits_cover_all_ids_once(three: tuple[Path, corpus.CorpusSummary]) -> None:
    out, summary = three
    ids = [line.split("|")[0] for line in (out / "metadata.csv").read_text().splitlines()]
    listed = [i for s in corpus.SPLITS for i in (out / f"{s}.txt").read_text().split()]
    assert sorted(listed) == sorted(ids)
    assert (summary.n_train, summary.n_val, summary.n_test) == tuple(
        len((out / f"{s}.txt").read_text().split()) for s in corpus.SPLITS
    )


@needs_flite
def test_rebuild_reuses_wavs(three: tuple[Path, corpus.CorpusSummary]) -> None:
    out, _ = three
    mtimes = {p.name: p.stat().st_mtime_ns for p in (out / "wavs").glob("*.wav")}
    again = corpus.build_flite_corpus(out, voice="rms", n_sentences=3, progress=False)
    assert (again.n_reused, again.n_synthesized) == (3, 0)
    assert {p.name: p.stat().st_mtime_ns for p in (out / "wavs").glob("*.wav")} == mtimes
    assert not list((out / "wavs").glob(".flite_*")), "temporary files left behind"


@needs_flite
def test_other_voice_into_the_same_directory_is_refused(three: tuple[Path, corpus.CorpusSummary]) -> None:
    out, _ = three
    with pytest.raises(UserError, match="voice 'rms'"):
        corpus.build_flite_corpus(out, voice="slt", n_sentences=3, progress=False)


@needs_flite
def test_unknown_voice_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="no voice"):
        corpus.build_flite_corpus(tmp_path, voice="nobody", n_sentences=1, progress=False)


@needs_flite
@pytest.mark.usefixtures("use_small_list")
def test_splits_are_disjoint_and_stable_whatever_n(tmp_path: Path) -> None:
    full = corpus.build_flite_corpus(tmp_path / "all", n_sentences=4, progress=False)
    assert (full.n_train, full.n_val, full.n_test) == (2, 1, 1)
    split_of = {i: s for s in corpus.SPLITS for i in (tmp_path / "all" / f"{s}.txt").read_text().split()}
    assert len(split_of) == 4  # disjoint: no id listed twice
    part = corpus.build_flite_corpus(tmp_path / "part", n_sentences=2, progress=False)
    assert part.n_sentences == 2
    for s in corpus.SPLITS:
        for i in (tmp_path / "part" / f"{s}.txt").read_text().split():
            assert split_of[i] == s


@needs_flite
@pytest.mark.usefixtures("use_small_list")
def test_kal_at_8khz_is_resampled(tmp_path: Path) -> None:
    summary = corpus.build_flite_corpus(
        tmp_path, voice="kal", n_sentences=1, sample_rate=16000, progress=False
    )
    info = sf.info(str(tmp_path / "wavs" / "s00001.wav"))
    assert info.samplerate == 16000 and summary.n_sentences == 1


@needs_flite
@pytest.mark.usefixtures("use_small_list")
def test_corpus_build_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = _parse(["--out", str(tmp_path / "c"), "--sentences", "2", "--workers", "1", "--no-progress"])
    assert args.func(args) == 0
    assert "2 sentences" in capsys.readouterr().out
    assert len((tmp_path / "c" / "metadata.csv").read_text().splitlines()) == 2
    with pytest.raises(UserError, match="between 1 and 4"):
        corpus.build_flite_corpus(tmp_path / "d", n_sentences=5, progress=False)


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="ganspeech")
    sub = parser.add_subparsers(dest="command")
    corpus_command.register(sub)
    return parser.parse_args(["corpus", "build", *argv])
