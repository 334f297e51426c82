"""``ganspeech synthesize`` with every vocoder kind of the tiny voice, and the default vocoder."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tests.conftest import make_random_voice
from tts.cli.commands import synthesize
from tts.cli.main import main
from tts.encoding import LINEAR16, encode
from tts.synthesizer import Synthesizer
from tts.voice import MODEL_KINDS, TEXT2MEL_KIND, VOCODER_KINDS
from vocoders.kinds import VocoderKind

TEXT = "Hello there."
# HiFi-GAN's one-shot path runs its convolutions channels-last instead of traced (vocoders.hifigan_fast):
# the same sums in another order, within a rounding of float32; at 16 bits, one step at most.
ONE_SHOT_PCM_STEPS = {VocoderKind.HIFIGAN: 1}
KINDS = [VocoderKind.HIFIGAN, VocoderKind.VOCOS, VocoderKind.WAVENET]


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> dict:
    parser = argparse.ArgumentParser(prog="ganspeech")
    synthesize.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["synthesize", *argv, "--json"])
    assert args.func(args) == 0
    return json.loads(capsys.readouterr().out.strip())


def test_voice_kinds_follow_the_vocoder_kinds() -> None:
    assert VOCODER_KINDS == tuple(kind.value for kind in KINDS)
    assert MODEL_KINDS == (TEXT2MEL_KIND, *VOCODER_KINDS)


@pytest.mark.parametrize("kind", KINDS)
def test_json_names_the_vocoder_and_the_generator_that_ran(
    kind: VocoderKind, tiny_voice_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out.wav"
    report = run_cli([TEXT, "--voice", str(tiny_voice_dir), "--vocoder", kind.value, "-o", str(out)], capsys)
    loaded = Synthesizer.load(tiny_voice_dir, vocoders=[kind], one_shot=True)
    assert report["vocoder"] == kind.value
    assert report["generator"] == loaded.check_vocoder(kind).generator_name
    assert sf.info(str(out)).frames > 0


@pytest.mark.parametrize(
    ("held", "default"),
    [
        (tuple(KINDS), VocoderKind.VOCOS),
        ((VocoderKind.HIFIGAN, VocoderKind.WAVENET), VocoderKind.HIFIGAN),
        ((VocoderKind.WAVENET,), VocoderKind.WAVENET),
    ],
)
def test_default_is_the_preferred_parallel_vocoder_the_voice_holds(
    held: tuple[VocoderKind, ...],
    default: VocoderKind,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    voice = make_random_voice(tmp_path / "voice", vocoders=held)
    synth = Synthesizer.load(voice, one_shot=True)
    assert synth.vocoders == list(held) and synth.default_vocoder == default
    report = run_cli([TEXT, "--voice", str(voice), "-o", str(tmp_path / "out.wav")], capsys)
    assert report["vocoder"] == default.value
    assert report["generator"] == synth.check_vocoder(default).generator_name


def test_griffin_lim_is_not_a_synthesis_vocoder(
    tiny_voice_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["synthesize", TEXT, "--voice", str(tiny_voice_dir), "--vocoder", "griffinlim"]
    assert main([*argv, "-o", str(tmp_path / "x.wav")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    offered = "hifigan, vocos, wavenet"
    assert err == [f"ganspeech synthesize: error: unknown vocoder 'griffinlim'; this voice offers: {offered}"]


@pytest.mark.parametrize("kind", KINDS)
def test_one_shot_command_writes_the_audio_a_loaded_voice_speaks(
    kind: VocoderKind, tiny_voice_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The long-lived path: every vocoder loaded with its "auto" backend, torch's default threads.
    spoken = Synthesizer.load(tiny_voice_dir).synthesize(TEXT, vocoder=kind)
    expected = np.frombuffer(encode(spoken.audio, spoken.sample_rate, LINEAR16), dtype="<i2")
    out = tmp_path / "out.pcm"
    run_cli([TEXT, "--voice", str(tiny_voice_dir), "--vocoder", kind.value, "-o", str(out)], capsys)
    written = np.frombuffer(out.read_bytes(), dtype="<i2")
    assert written.shape == expected.shape
    steps = np.abs(written.astype(np.int32) - expected.astype(np.int32)).max()
    assert steps <= ONE_SHOT_PCM_STEPS.get(kind, 0)
