"""Shared fixtures: a tiny randomly initialised voice (a test fixture, never presented as a voice)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tts.frontend.symbols import DEFAULT_SYMBOLS
from tts.text2mel.model import Text2Mel, text2mel_config
from tts.voice import init_voice, register_model
from vocoders.audio import AudioConfig
from vocoders.hifigan import HiFiGANGenerator, hifigan_config
from vocoders.serialization import save_model
from vocoders.wavenet import WaveNet, wavenet_config

# A small hop keeps random-voice audio short so WaveNet tests stay fast.
TINY_AUDIO = AudioConfig(sample_rate=16000, n_fft=256, hop_length=64, win_length=256, n_mels=20, fmin=0.0, fmax=8000.0)


def make_random_voice(voice_dir: Path, audio: AudioConfig = TINY_AUDIO, seed: int = 0) -> Path:
    """Write a voice of tiny random models (``trained=False``) to ``voice_dir``."""
    torch.manual_seed(seed)
    symbols = list(DEFAULT_SYMBOLS)
    init_voice(voice_dir, "random-test-voice", "en-us", audio, symbols, trained=False)
    t2m_cfg = text2mel_config("tiny", n_symbols=len(symbols), n_mels=audio.n_mels)
    save_model(voice_dir / "text2mel", Text2Mel(t2m_cfg), "text2mel", t2m_cfg, audio)
    register_model(voice_dir, "text2mel")
    hg_cfg = hifigan_config("tiny", hop_length=audio.hop_length, n_mels=audio.n_mels)
    save_model(voice_dir / "hifigan", HiFiGANGenerator(hg_cfg), "hifigan", hg_cfg, audio)
    register_model(voice_dir, "hifigan")
    wn_cfg = wavenet_config("tiny", hop_length=audio.hop_length, n_mels=audio.n_mels)
    save_model(voice_dir / "wavenet", WaveNet(wn_cfg), "wavenet", wn_cfg, audio)
    register_model(voice_dir, "wavenet")
    return voice_dir


@pytest.fixture(scope="session")
def tiny_voice_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_random_voice(tmp_path_factory.mktemp("voice") / "tiny")
