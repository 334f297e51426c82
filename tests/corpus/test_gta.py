"""GTA mels: one per clip, frame-aligned, independent of batching, resumable, read by --mel-dir."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from tests.conftest import TINY_AUDIO, make_random_voice
from tts.cli.main import main
from tts.corpus.dataset import FeatureCache, VocoderSegments
from tts.corpus.gta import REPORT_NAME, load_text2mel, write_gta_mels
from tts.errors import UserError
from tts.frontend.pipeline import Frontend
from tts.frontend.symbols import DEFAULT_SYMBOLS, SymbolTable
from tts.voice import init_voice, read_manifest

SR = TINY_AUDIO.sample_rate
TEXTS = {
    "u0": "The cat sat on the mat.",
    "u1": "A bird flew over the house.",
    "u2": "Bring me the red ball now.",
    "u3": "Water runs down the hill.",
    "u4": "We walked home in the rain.",
    "u5": "This one is only for testing.",
}
TRAIN_IDS = ["u0", "u1", "u2", "u3"]
VAL_IDS = ["u4"]
# Three clips per batch over five clips of different lengths: each batch pads some of its clips.
BATCH = 3
TOLERANCE = 1e-4
SEGMENT = 16 * TINY_AUDIO.hop_length


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("gta_corpus")
    (root / "wavs").mkdir()
    rng = np.random.default_rng(0)
    rows = []
    for i, (utt_id, text) in enumerate(TEXTS.items()):
        n = int((0.6 + 0.13 * i) * SR)  # every clip has its own length
        t = np.arange(n) / SR
        wav = 0.3 * np.sin(2 * np.pi * (120 + 30 * i) * t) + 0.02 * rng.standard_normal(n)
        sf.write(root / "wavs" / f"{utt_id}.wav", wav.astype(np.float32), SR)
        rows.append(f"{utt_id}|{text}|{text}")
    (root / "metadata.csv").write_text("\n".join(rows) + "\n")
    (root / "train.txt").write_text("\n".join(TRAIN_IDS) + "\n")
    (root / "val.txt").write_text("\n".join(VAL_IDS) + "\n")
    (root / "test.txt").write_text("u5\n")
    return root


def _cache(voice_dir: Path, corpus: Path) -> FeatureCache:
    manifest = read_manifest(voice_dir)
    return FeatureCache.build(
        corpus, manifest.audio, Frontend(manifest.language, SymbolTable(manifest.symbols))
    )


def _lone_forward(voice_dir: Path, cache: FeatureCache, utt_id: str) -> np.ndarray:
    """Teacher-forced postnet mel ``(n_mels, F)`` of one clip run as a batch of one, no padding."""
    _, model, _ = load_text2mel(voice_dir)
    entry = cache.entries[utt_id]
    mel = torch.from_numpy(cache.mel(utt_id))[None]  # (1, n_mels, F)
    with torch.inference_mode():
        out = model(
            torch.tensor([entry.tokens]),
            torch.tensor([len(entry.tokens)]),
            mel,
            torch.tensor([mel.shape[-1]]),
        )
    return out.mel_post[0].numpy()


def test_one_mel_per_clip_equal_to_a_lone_teacher_forced_pass(
    tiny_voice_dir: Path, corpus: Path, tmp_path: Path
) -> None:
    out = tmp_path / "gta"
    report = write_gta_mels(tiny_voice_dir, corpus, out, batch_size=BATCH)
    cache = _cache(tiny_voice_dir, corpus)
    ids = TRAIN_IDS + VAL_IDS
    assert sorted(p.stem for p in out.glob("*.npy")) == sorted(ids)  # the test split is left out
    assert (report.written, report.skipped, report.total) == (len(ids), 0, len(ids))
    assert len({cache.entries[i].n_frames for i in ids}) == len(ids)  # so batches really were padded
    for utt_id in ids:
        gta = np.load(out / f"{utt_id}.npy")
        assert gta.dtype == np.float32
        assert gta.shape == cache.mel(utt_id).shape == (TINY_AUDIO.n_mels, cache.entries[utt_id].n_frames)
        np.testing.assert_allclose(gta, _lone_forward(tiny_voice_dir, cache, utt_id), atol=TOLERANCE, rtol=0)
        assert not np.allclose(gta, cache.mel(utt_id), atol=0.1)  # a prediction, not a copy of the target
    record = json.loads((out / REPORT_NAME).read_text())
    assert record["count"] == len(ids) and record["complete"] is True
    assert record["voice_name"] == read_manifest(tiny_voice_dir).name
    assert record["text2mel_step"] is None  # the random fixture voice records no training step


def test_second_run_skips_present_mels_and_redoes_missing_or_stale_ones(
    tiny_voice_dir: Path, corpus: Path, tmp_path: Path
) -> None:
    out = tmp_path / "gta"
    write_gta_mels(tiny_voice_dir, corpus, out, batch_size=BATCH)
    stamps = {p.name: p.stat().st_mtime_ns for p in out.glob("*.npy")}
    again = write_gta_mels(tiny_voice_dir, corpus, out, batch_size=BATCH)
    assert (again.written, again.skipped) == (0, len(stamps))
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("*.npy")} == stamps

    (out / "u0.npy").unlink()
    np.save(out / "u1.npy", np.zeros((TINY_AUDIO.n_mels, 3), dtype=np.float32))  # wrong frame count
    partial = write_gta_mels(tiny_voice_dir, corpus, out, batch_size=BATCH)
    assert (partial.written, partial.skipped) == (2, len(stamps) - 2)
    cache = _cache(tiny_voice_dir, corpus)
    assert np.load(out / "u1.npy").shape == cache.mel("u1").shape

    forced = write_gta_mels(tiny_voice_dir, corpus, out, batch_size=BATCH, overwrite=True)
    assert (forced.written, forced.skipped) == (len(stamps), 0)


def test_vocoder_segments_read_the_directory(tiny_voice_dir: Path, corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "gta"
    write_gta_mels(tiny_voice_dir, corpus, out, splits=("train",), batch_size=BATCH)
    cache = _cache(tiny_voice_dir, corpus)
    segments = VocoderSegments(cache, "train", SEGMENT, out)
    assert len(segments) == len(TRAIN_IDS)
    for i, entry in enumerate(segments.entries):
        np.testing.assert_array_equal(segments.mel(entry.id), np.load(out / f"{entry.id}.npy"))
        audio, mel = segments.item(i, torch.Generator().manual_seed(i))
        assert audio.shape == (SEGMENT,) and mel.shape == (
            TINY_AUDIO.n_mels,
            SEGMENT // TINY_AUDIO.hop_length,
        )
    with pytest.raises(UserError, match="lacks predicted mels"):
        VocoderSegments(cache, "val", SEGMENT, out)  # only train was written


def test_step_is_recorded_and_another_model_is_refused(corpus: Path, tmp_path: Path) -> None:
    voice = make_random_voice(tmp_path / "voice_a", seed=1)
    meta_path = voice / "text2mel.json"
    meta_path.write_text(json.dumps({**json.loads(meta_path.read_text()), "step": 4321}))
    out = tmp_path / "gta"
    report = write_gta_mels(voice, corpus, out, splits=("val",))
    assert report.text2mel_step == 4321
    assert json.loads((out / REPORT_NAME).read_text())["text2mel_step"] == 4321

    other = make_random_voice(tmp_path / "voice_b", seed=2)
    with pytest.raises(UserError, match="another text2mel model"):
        write_gta_mels(other, corpus, out, splits=("val",))
    replaced = write_gta_mels(other, corpus, out, splits=("val",), overwrite=True)
    assert replaced.written == len(VAL_IDS)


def test_cli_writes_mels(
    tiny_voice_dir: Path, corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "mels"
    code = main(
        [
            "gta",
            "--voice",
            str(tiny_voice_dir),
            "--data",
            str(corpus),
            "--out",
            str(out),
            "--splits",
            "val",
            "--batch-size",
            "2",
            "--no-progress",
            "--cpu",
        ]
    )
    assert code == 0
    assert sorted(p.stem for p in out.glob("*.npy")) == VAL_IDS
    assert "wrote 1 mels" in capsys.readouterr().out


def _voice_without_text2mel(root: Path) -> Path:
    init_voice(root, "empty", "en-us", TINY_AUDIO, list(DEFAULT_SYMBOLS), trained=False)
    return root


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("missing voice", "does not exist"),
        ("no text2mel", "no text2mel model"),
        ("no metadata", "metadata.csv"),
    ],
)
def test_cli_bad_input_is_one_line_and_exit_code_2(
    case: str, message: str, tiny_voice_dir: Path, corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    voice, data = tiny_voice_dir, corpus
    if case == "missing voice":
        voice = tmp_path / "nope"
    elif case == "no text2mel":
        voice = _voice_without_text2mel(tmp_path / "empty_voice")
    else:
        data = tmp_path / "not_a_corpus"
        shutil.copytree(corpus / "wavs", data / "wavs")
    code = main(
        ["gta", "--voice", str(voice), "--data", str(data), "--out", str(tmp_path / "mels"), "--no-progress"]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("ganspeech gta: error:") and message in err
    assert not (tmp_path / "mels").exists()
