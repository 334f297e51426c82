"""``ganspeech synthesize`` loads only the vocoder it runs and reports the loading time."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import soundfile as sf

from tests.conftest import make_random_voice
from tts.errors import UserError
from tts.synthesizer import Synthesizer
from vocoders.hifigan_fast import ONE_SHOT_BACKEND
from vocoders.kinds import VocoderKind

cli = importlib.import_module("tts.cli.main")  # the module; `tts.cli.main` is the function


def test_load_only_the_requested_vocoder(tiny_voice_dir: Path) -> None:
    synth = Synthesizer.load(tiny_voice_dir, vocoders=["hifigan"])
    assert synth.vocoders == [VocoderKind.HIFIGAN]
    assert Synthesizer.load(tiny_voice_dir).vocoders == list(VocoderKind)


@pytest.mark.parametrize("name", ["nope", "vocos"])  # unknown kind; kind the voice lacks
def test_load_refuses_a_vocoder_the_voice_lacks(tmp_path: Path, name: str) -> None:
    voice = make_random_voice(tmp_path / "v", vocoders=(VocoderKind.HIFIGAN, VocoderKind.WAVENET))
    with pytest.raises(UserError, match="this voice offers: hifigan, wavenet"):
        Synthesizer.load(voice, vocoders=[name])


def test_synthesize_json_reports_load_ms(tiny_voice_dir: Path, tmp_path: Path, capsys, monkeypatch) -> None:
    loaded: list[object] = []
    original = Synthesizer.load.__func__

    def spy(cls, *args, **kwargs):
        synth = original(cls, *args, **kwargs)
        loaded.append(synth.vocoders)
        return synth

    monkeypatch.setattr(Synthesizer, "load", classmethod(spy))
    out = tmp_path / "x.wav"
    argv = ["synthesize", "Hello there.", "--voice", str(tiny_voice_dir), "-o", str(out), "--json"]
    assert cli.main([*argv, "--vocoder", "hifigan"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["load_ms"] > 0
    assert loaded == [[VocoderKind.HIFIGAN]]
    # One sentence and exit: "auto" means the backend that needs no tracing at load.
    assert report["generator"].endswith(ONE_SHOT_BACKEND)
    assert out.is_file()
    # Without --vocoder: the voice's preferred parallel vocoder, and only it, is loaded.
    assert cli.main(argv) == 0
    assert loaded[-1] == [VocoderKind.VOCOS] and json.loads(capsys.readouterr().out)["vocoder"] == "vocos"


def test_synthesize_unknown_vocoder_is_one_line(tiny_voice_dir: Path, tmp_path: Path, capsys) -> None:
    argv = [
        "synthesize",
        "Hi.",
        "--voice",
        str(tiny_voice_dir),
        "--vocoder",
        "nope",
        "-o",
        str(tmp_path / "x.wav"),
    ]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err == "ganspeech synthesize: error: unknown vocoder 'nope'; this voice offers: hifigan, vocos, wavenet\n"


def test_console_entry_leaves_complete_output(tiny_voice_dir: Path, tmp_path: Path) -> None:
    # `ganspeech` skips the interpreter's teardown: its JSON line and its WAV must still be whole.
    root = Path(__file__).resolve().parents[2]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")]))
    env.pop("PYTHONUNBUFFERED", None)  # buffered streams, as in a user's pipe
    out = tmp_path / "x.wav"
    argv = ["synthesize", "Hello there.", "--voice", str(tiny_voice_dir), "-o", str(out), "--json"]
    cmd = [sys.executable, "-m", "tts.cli", *argv, "--threads", "1"]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    audio, rate = sf.read(out)
    assert rate == report["sample_rate"]
    assert len(audio) == round(report["audio_seconds"] * rate)
    bad = subprocess.run(
        [*cmd[:-2], "--threads", "0"], env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert bad.returncode == 2
    assert bad.stderr == "ganspeech synthesize: error: --threads must be at least 1\n"
