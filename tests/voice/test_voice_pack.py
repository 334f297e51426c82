"""Packing a voice for distribution: float16 weights, same manifest, loads and speaks the same."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from tts.cli.main import main
from tts.errors import VoiceError
from tts.synthesizer import Synthesizer
from tts.voice import BUNDLED_VOICE_DIR, FORMAT_VERSION, pack_voice, read_manifest, voice_label
from vocoders.serialization import load_state
from vocoders.wavenet_fast import FastWaveNet

TEXT = "Packing keeps the voice."
# float16 keeps 11 significant bits, so a weight moves by at most 2**-11 of itself.
HALF_REL_STEP = 2.0**-11


def test_pack_halves_floating_weights_and_keeps_the_rest(tiny_voice_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "packed"
    manifest = pack_voice(tiny_voice_dir, out, half=True, name="packed-voice")
    src = read_manifest(tiny_voice_dir)
    assert manifest.name == "packed-voice"
    assert manifest.models == src.models and manifest.symbols == src.symbols and manifest.audio == src.audio
    for stem in src.models.values():
        raw = load_file(str(out / f"{stem}.safetensors"))
        assert all(t.dtype == torch.float16 for t in raw.values() if t.is_floating_point())
        assert json.loads((out / f"{stem}.json").read_text()) == json.loads(
            (tiny_voice_dir / f"{stem}.json").read_text()
        )
        before, after = load_state(tiny_voice_dir / stem), load_state(out / stem)
        assert before.keys() == after.keys()
        for k in before:
            scale = before[k].abs().max().clamp(min=1e-6)
            assert (before[k] - after[k]).abs().max() <= HALF_REL_STEP * scale + 1e-7, k


def test_packed_voice_speaks_like_the_original(tiny_voice_dir: Path, tmp_path: Path) -> None:
    pack_voice(tiny_voice_dir, tmp_path / "packed")
    a = Synthesizer.load(tiny_voice_dir).synthesize(TEXT, vocoder="hifigan").audio
    b = Synthesizer.load(tmp_path / "packed").synthesize(TEXT, vocoder="hifigan").audio
    assert a.shape == b.shape
    assert np.abs(a - b).max() <= 1e-2 * max(np.abs(a).max(), 1e-4)


def test_pack_command_rejects_a_missing_voice(tmp_path: Path, capsys) -> None:
    assert main(["pack", str(tmp_path / "nope"), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "does not exist" in err[0]


def test_reports_name_a_voice_without_this_machine_s_paths(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs" / "voice").mkdir(parents=True)
    assert voice_label(BUNDLED_VOICE_DIR) == "default"
    assert voice_label(Path("runs/voice")) == "runs/voice"
    assert voice_label(tmp_path / "runs" / "voice") == "runs/voice"
    elsewhere = tmp_path.parent
    assert voice_label(elsewhere) == str(elsewhere.resolve())


def test_the_packed_wavenet_temperature_is_stored_and_checked(tiny_voice_dir: Path, tmp_path: Path) -> None:
    manifest = pack_voice(tiny_voice_dir, tmp_path / "packed", wavenet_temperature=0.7)
    stored = read_manifest(tmp_path / "packed")
    assert manifest.wavenet_temperature == stored.wavenet_temperature == 0.7
    assert stored.format_version == FORMAT_VERSION
    assert Synthesizer.load(tmp_path / "packed").wavenet_temperature == 0.7
    with pytest.raises(VoiceError, match="must be in"):
        pack_voice(tiny_voice_dir, tmp_path / "bad", wavenet_temperature=0.0)


def test_a_manifest_without_a_temperature_samples_at_one_and_a_bad_one_is_refused(
    tiny_voice_dir: Path, tmp_path: Path
) -> None:
    voice = tmp_path / "voice"
    shutil.copytree(tiny_voice_dir, voice)
    doc = json.loads((voice / "voice.json").read_text())
    doc.pop("wavenet_temperature", None)
    doc["format_version"] = 1  # written before the temperature existed
    (voice / "voice.json").write_text(json.dumps(doc))
    assert read_manifest(voice).wavenet_temperature == 1.0
    (voice / "voice.json").write_text(json.dumps({**doc, "wavenet_temperature": -1}))
    with pytest.raises(VoiceError, match="wavenet_temperature must be in"):
        read_manifest(voice)


def test_pack_command_rejects_a_bad_temperature_in_one_line(
    tiny_voice_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["pack", str(tiny_voice_dir), "--out", str(tmp_path / "out"), "--wavenet-temperature", "5"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--wavenet-temperature must be in" in err[0]
    assert not (tmp_path / "out").exists()


def test_wavenet_samples_at_the_voice_s_temperature(tiny_voice_dir: Path) -> None:
    synth = Synthesizer.load(tiny_voice_dir)
    mel = synth.text_to_mel(synth.analyze(TEXT)[0])  # (1, n_mels, T)
    at_one = synth.vocode([mel], "wavenet", seed=3)[0]
    synth.wavenet_temperature = 0.5
    cooler = synth.vocode([mel], "wavenet", seed=3)[0]
    loop = FastWaveNet.from_model(synth.check_vocoder("wavenet").model)  # type: ignore[arg-type]
    expected = loop.generate(mel, generator=torch.Generator().manual_seed(3), temperature=0.5)
    np.testing.assert_array_equal(cooler, expected[0].numpy())
    assert not np.array_equal(cooler, at_one)
