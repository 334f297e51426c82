"""Shared fixtures: a tiny randomly initialised voice (a test fixture, never presented as a voice)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from tts.frontend.symbols import DEFAULT_SYMBOLS
from tts.text2mel.model import Text2Mel, text2mel_config
from tts.voice import TEXT2MEL_KIND, init_voice, register_model
from vocoders.audio import AudioConfig
from vocoders.hifigan import HiFiGANGenerator, hifigan_config
from vocoders.kinds import VocoderKind
from vocoders.serialization import save_model
from vocoders.vocos import VocosGenerator, vocos_config
from vocoders.wavenet import WaveNet, wavenet_config

# A small hop keeps random-voice audio short so WaveNet tests stay fast.
TINY_AUDIO = AudioConfig(
    sample_rate=16000, n_fft=256, hop_length=64, win_length=256, n_mels=20, fmin=0.0, fmax=8000.0
)


def _tiny_hifigan(audio: AudioConfig) -> tuple[nn.Module, Any]:
    cfg = hifigan_config("tiny", hop_length=audio.hop_length, n_mels=audio.n_mels)
    return HiFiGANGenerator(cfg), cfg


def _tiny_vocos(audio: AudioConfig) -> tuple[nn.Module, Any]:
    cfg = vocos_config("tiny", audio)
    return VocosGenerator(cfg, audio), cfg


def _tiny_wavenet(audio: AudioConfig) -> tuple[nn.Module, Any]:
    cfg = wavenet_config("tiny", hop_length=audio.hop_length, n_mels=audio.n_mels)
    return WaveNet(cfg), cfg


# A tiny random model of every vocoder kind: a kind missing here fails at import.
TINY_VOCODERS: dict[VocoderKind, Callable[[AudioConfig], tuple[nn.Module, Any]]] = {
    VocoderKind.HIFIGAN: _tiny_hifigan,
    VocoderKind.VOCOS: _tiny_vocos,
    VocoderKind.WAVENET: _tiny_wavenet,
}
assert set(TINY_VOCODERS) == set(VocoderKind), "tests/conftest.py: add a tiny model for every vocoder kind"


def make_random_voice(
    voice_dir: Path,
    audio: AudioConfig = TINY_AUDIO,
    seed: int = 0,
    vocoders: tuple[VocoderKind, ...] = tuple(VocoderKind),
) -> Path:
    """Write a voice of tiny random models (``trained=False``) with ``vocoders`` to ``voice_dir``."""
    torch.manual_seed(seed)
    symbols = list(DEFAULT_SYMBOLS)
    init_voice(voice_dir, "random-test-voice", "en-us", audio, symbols, trained=False)
    t2m_cfg = text2mel_config("tiny", n_symbols=len(symbols), n_mels=audio.n_mels)
    save_model(voice_dir / TEXT2MEL_KIND, Text2Mel(t2m_cfg), TEXT2MEL_KIND, t2m_cfg, audio)
    register_model(voice_dir, TEXT2MEL_KIND)
    for kind in vocoders:
        module, cfg = TINY_VOCODERS[kind](audio)
        save_model(voice_dir / kind.value, module, kind.value, cfg, audio)
        register_model(voice_dir, kind.value)
    return voice_dir


@pytest.fixture(scope="session")
def tiny_voice_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A voice holding every vocoder kind."""
    return make_random_voice(tmp_path_factory.mktemp("voice") / "tiny")


@pytest.fixture(autouse=True)
def _restore_torch_threads() -> Any:
    """Commands run in-process set torch's thread count for the whole process; each test gets it back."""
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)
