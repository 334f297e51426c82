"""Copy synthesis library and ``ganspeech vocode``: lengths, rates, Griffin-Lim without models, bad files."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tts.cli.commands import vocode
from tts.errors import UserError
from tts.evaluation.copysynth import (
    COPY_VOCODERS,
    GRIFFIN_LIM,
    GRIFFIN_LIM_GENERATOR,
    copy_synthesize,
    read_recording,
)
from tts.synthesizer import Synthesizer
from tts.voice import read_manifest
from vocoders.audio import AUDIO_PRESETS, AudioConfig
from vocoders.kinds import VocoderKind

INPUT_SR = 22050  # deliberately not the tiny voice's 16 kHz, so every run resamples


def chirp(seconds: float = 0.5, sample_rate: int = INPUT_SR) -> np.ndarray:
    """A harmonic chirp ``(T,)`` 200 -> 600 Hz, a stand-in for a recording."""
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    phase = 2 * np.pi * np.cumsum(200 + 800 * t) / sample_rate
    return (0.3 * sum(np.sin(k * phase) / k for k in range(1, 5))).astype(np.float32)


def run_cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="ganspeech")
    sub = parser.add_subparsers(dest="command")
    vocode.register(sub)
    args = parser.parse_args(["vocode", *argv])
    return args.func(args)


@pytest.fixture()
def clip(tmp_path: Path) -> Path:
    path = tmp_path / "clip.wav"
    sf.write(path, chirp(), INPUT_SR)
    return path


# Every kind the tiny voice holds, and the model-free baseline.
VOCODERS = [VocoderKind.HIFIGAN.value, VocoderKind.VOCOS.value, VocoderKind.WAVENET.value, GRIFFIN_LIM]


def test_every_kind_can_be_asked_for() -> None:
    assert list(COPY_VOCODERS) == VOCODERS


@pytest.mark.parametrize("vocoder", VOCODERS)
def test_round_trip_keeps_length_within_a_hop_at_the_voice_rate(
    vocoder: str, clip: Path, tiny_voice_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = read_manifest(tiny_voice_dir).audio
    out = tmp_path / f"out_{vocoder}.wav"
    assert (
        run_cli([str(clip), "--voice", str(tiny_voice_dir), "--vocoder", vocoder, "-o", str(out), "--json"])
        == 0
    )
    audio, sr = sf.read(out, dtype="float32")
    assert sr == cfg.sample_rate
    expected = round(0.5 * cfg.sample_rate)
    assert abs(len(audio) - expected) < cfg.hop_length
    assert np.isfinite(audio).all()
    report = json.loads(capsys.readouterr().out.strip())
    assert report["vocoder"] == vocoder and report["output"] == str(out)
    generator = (
        GRIFFIN_LIM_GENERATOR
        if vocoder == GRIFFIN_LIM
        else Synthesizer.load(tiny_voice_dir).check_vocoder(vocoder).generator_name
    )
    assert report["generator"] == generator
    assert report["audio_seconds"] == pytest.approx(len(audio) / sr)
    assert report["rtf"] == pytest.approx(report["vocoder_ms"] / 1000 / report["audio_seconds"])


def test_default_is_the_voices_preferred_parallel_vocoder(
    clip: Path, tiny_voice_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli([str(clip), "--voice", str(tiny_voice_dir), "--out-dir", str(tmp_path), "--json"]) == 0
    report = json.loads(capsys.readouterr().out.strip())
    vocos = Synthesizer.load(tiny_voice_dir).check_vocoder(VocoderKind.VOCOS)
    assert report["vocoder"] == vocos.kind.value and report["generator"] == vocos.generator_name
    assert report["output"] == str(tmp_path / f"clip_{vocos.kind.value}.wav")


def test_library_output_has_exactly_the_input_length(tiny_voice_dir: Path) -> None:
    synth = Synthesizer.load(tiny_voice_dir)
    hop = synth.audio_config.hop_length
    audio = chirp(sample_rate=synth.sample_rate)[: 40 * hop + hop // 2]  # not a whole number of hops
    out, ms = copy_synthesize(audio, "hifigan", synth)
    assert out.shape == audio.shape and out.dtype == np.float32 and ms > 0
    assert np.abs(out[: 40 * hop]).max() > 0  # vocoded audio up to the last whole frame
    assert not out[40 * hop :].any()  # the zero-padded tail, shorter than one hop


def test_griffin_lim_needs_no_model_and_reconstructs_the_spectrum() -> None:
    import torch

    from vocoders.audio import mel_spectrogram

    cfg = AUDIO_PRESETS["16k"]
    audio = chirp(sample_rate=cfg.sample_rate)
    out, _ = copy_synthesize(audio, "griffinlim", None, cfg)
    assert out.shape == audio.shape
    target = torch.exp(mel_spectrogram(torch.from_numpy(audio), cfg))
    rebuilt = torch.exp(mel_spectrogram(torch.from_numpy(out), cfg))
    noise = torch.exp(mel_spectrogram(torch.randn(len(audio)) * float(audio.std()), cfg))
    sc = float(torch.linalg.norm(target - rebuilt) / torch.linalg.norm(target))
    sc_noise = float(torch.linalg.norm(target - noise) / torch.linalg.norm(target))
    assert sc < sc_noise / 3


def test_neural_vocoder_without_a_voice_is_refused() -> None:
    with pytest.raises(UserError, match="needs a voice"):
        copy_synthesize(chirp(), "hifigan", None, AUDIO_PRESETS["16k"])


def test_too_short_audio_is_refused() -> None:
    cfg = AudioConfig(sample_rate=16000, n_fft=256, hop_length=64, win_length=256, n_mels=20)
    with pytest.raises(UserError, match="too short"):
        copy_synthesize(np.zeros(50, dtype=np.float32), "griffinlim", None, cfg)


def test_bad_file_among_good_ones(
    tmp_path: Path, tiny_voice_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = []
    for name in ("a.wav", "b.flac"):
        sf.write(tmp_path / name, chirp(0.3), INPUT_SR)
        good.append(tmp_path / name)
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF this is not audio")
    out_dir = tmp_path / "out"
    argv = [str(good[0]), str(broken), str(good[1]), "--voice", str(tiny_voice_dir), "--vocoder", "hifigan"]
    code = run_cli([*argv, "--out-dir", str(out_dir)])
    assert code != 0
    assert sorted(p.name for p in out_dir.iterdir()) == ["a_hifigan.wav", "b_hifigan.wav"]
    err = capsys.readouterr().err
    error_lines = [line for line in err.splitlines() if str(broken) in line]
    assert len(error_lines) == 1 and "not a readable audio file" in error_lines[0]
    assert "Traceback" not in err


def test_channel_and_empty_file_checks(tmp_path: Path) -> None:
    sf.write(tmp_path / "stereo.wav", np.stack([chirp(0.1), chirp(0.1)], axis=1), INPUT_SR)
    assert read_recording(tmp_path / "stereo.wav", 16000).ndim == 1
    sf.write(tmp_path / "quad.wav", np.zeros((1000, 4), dtype=np.float32), INPUT_SR)
    with pytest.raises(UserError, match="4 channels"):
        read_recording(tmp_path / "quad.wav", 16000)
    sf.write(tmp_path / "empty.wav", np.zeros((0, 1), dtype=np.float32), INPUT_SR)
    with pytest.raises(UserError, match="no samples"):
        read_recording(tmp_path / "empty.wav", 16000)
    with pytest.raises(UserError, match="no such file"):
        read_recording(tmp_path / "missing.wav", 16000)


def test_output_option_checks(tmp_path: Path) -> None:
    a, b = tmp_path / "x" / "same.wav", tmp_path / "y" / "same.wav"
    with pytest.raises(UserError, match="-o"):
        vocode.output_paths([a, b], "hifigan", str(tmp_path / "o.wav"), None)
    with pytest.raises(UserError, match="both be written"):
        vocode.output_paths([a, b], "hifigan", None, str(tmp_path))
    with pytest.raises(UserError, match=".wav or .flac"):
        vocode.output_paths([a], "hifigan", str(tmp_path / "o.mp3"), None)
    assert vocode.output_paths([a], "wavenet", None, str(tmp_path)) == [tmp_path / "same_wavenet.wav"]
