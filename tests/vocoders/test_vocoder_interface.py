"""Every vocoder kind through the one interface: build -> save -> load -> vocode -> stream."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from vocoders.audio import AudioConfig, AudioConfigMismatch
from vocoders.base import Vocoder
from vocoders.hifigan import hifigan_config
from vocoders.kinds import VocoderKind
from vocoders.registry import VOCODERS, load_vocoder, vocoder_class
from vocoders.serialization import save_model
from vocoders.streaming import FIRST_CHUNK_FRAMES
from vocoders.vocos import vocos_config
from vocoders.wavenet import wavenet_config

AUDIO = AudioConfig(sample_rate=16000, n_fft=256, hop_length=64, win_length=256, n_mels=20, fmin=0.0, fmax=8000.0)
TINY_CONFIGS: dict[VocoderKind, Any] = {
    VocoderKind.HIFIGAN: hifigan_config("tiny", AUDIO.hop_length, AUDIO.n_mels),
    VocoderKind.VOCOS: vocos_config("tiny", AUDIO),
    VocoderKind.WAVENET: wavenet_config("tiny", hop_length=AUDIO.hop_length, n_mels=AUDIO.n_mels),
}
N_FRAMES = 11
STREAM_TOLERANCE = 1e-5


def test_every_kind_has_an_implementation_and_a_tiny_config() -> None:
    assert set(VOCODERS) == set(VocoderKind) == set(TINY_CONFIGS)
    for kind, cls in VOCODERS.items():
        assert cls.kind is kind and issubclass(cls, Vocoder)


def _saved(kind: VocoderKind, tmp_path: Path) -> tuple[Path, torch.nn.Module]:
    torch.manual_seed(0)
    model = vocoder_class(kind).build_model(TINY_CONFIGS[kind], AUDIO)
    stem = tmp_path / kind.value
    save_model(stem, model, kind.value, TINY_CONFIGS[kind], AUDIO)
    return stem, model.eval()


def _reference_audio(kind: VocoderKind, model: torch.nn.Module, mel: torch.Tensor, seed: int) -> np.ndarray:
    """What the model itself makes of ``mel``, without the interface."""
    with torch.no_grad():
        if vocoder_class(kind).parallel:
            return model(mel).reshape(-1).numpy()
        return model.generate(mel, generator=torch.Generator().manual_seed(seed))[0].numpy()  # type: ignore[operator]


@pytest.mark.parametrize("kind", list(VocoderKind))
def test_round_trip_save_load_vocode_stream(kind: VocoderKind, tmp_path: Path) -> None:
    stem, model = _saved(kind, tmp_path)
    backend = "reference" if kind is VocoderKind.WAVENET else "eager"
    vocoder = load_vocoder(stem, AUDIO, backend)
    assert type(vocoder) is VOCODERS[kind] and vocoder.kind is kind
    assert vocoder.config == TINY_CONFIGS[kind] and vocoder.backend == backend
    torch.manual_seed(1)
    mel = torch.randn(1, AUDIO.n_mels, N_FRAMES)
    with torch.inference_mode():
        audio = vocoder.vocode([mel], seed=5)[0]
        streamed = np.concatenate(list(vocoder.stream(mel, chunk_frames=3, seed=5)))
    assert audio.shape == (N_FRAMES * AUDIO.hop_length,) and audio.dtype == np.float32
    np.testing.assert_allclose(audio, _reference_audio(kind, model, mel, seed=5), atol=1e-5)
    assert np.abs(streamed - audio).max() <= STREAM_TOLERANCE


@pytest.mark.parametrize("kind", list(VocoderKind))
def test_every_backend_of_a_kind_gives_the_reference_audio(kind: VocoderKind, tmp_path: Path) -> None:
    stem, _ = _saved(kind, tmp_path)
    reference = load_vocoder(stem, AUDIO, vocoder_class(kind).backends[0])
    torch.manual_seed(2)
    mel = torch.randn(1, AUDIO.n_mels, N_FRAMES)
    with torch.inference_mode():
        expected = reference.vocode([mel], seed=3)[0]
        for backend in vocoder_class(kind).backends[1:]:
            other = reference.with_backend(backend)
            assert other.backend == backend and reference.backend != backend
            np.testing.assert_allclose(other.vocode([mel], seed=3)[0], expected, atol=1e-5)


@pytest.mark.parametrize("kind", list(VocoderKind))
def test_the_generator_name_says_what_runs(kind: VocoderKind, tmp_path: Path) -> None:
    stem, _ = _saved(kind, tmp_path)
    vocoder = load_vocoder(stem, AUDIO)
    expected = {VocoderKind.HIFIGAN: "HiFi-GAN", VocoderKind.VOCOS: "Vocos", VocoderKind.WAVENET: "WaveNet"}[kind]
    assert vocoder.generator_name.startswith(expected)
    assert f"{vocoder.parameter_count() / 1e6:.2f} M parameters" in vocoder.generator_name


def test_loading_refuses_other_features_unknown_backends_and_non_vocoders(tmp_path: Path) -> None:
    stem, _ = _saved(VocoderKind.VOCOS, tmp_path)
    with pytest.raises(AudioConfigMismatch, match="hop_length"):
        load_vocoder(stem, dataclasses.replace(AUDIO, hop_length=32, n_fft=256))
    with pytest.raises(ValueError, match="no backend 'torchscript'"):
        load_vocoder(stem, AUDIO, "torchscript")
    meta = json.loads(stem.with_suffix(".json").read_text())
    stem.with_suffix(".json").write_text(json.dumps({**meta, "kind": "text2mel"}))
    with pytest.raises(ValueError, match="unknown vocoder 'text2mel'"):
        load_vocoder(stem, AUDIO)


def test_kinds_parse_from_their_wire_names() -> None:
    assert VocoderKind.parse("vocos") is VocoderKind.VOCOS
    assert VocoderKind.parse(VocoderKind.WAVENET) is VocoderKind.WAVENET
    assert f"{VocoderKind.HIFIGAN}" == str(VocoderKind.HIFIGAN) == "hifigan"
    with pytest.raises(ValueError, match="known vocoders: hifigan, vocos, wavenet"):
        VocoderKind.parse("melgan")


@pytest.mark.parametrize("kind", [k for k in VocoderKind if vocoder_class(k).parallel])
def test_a_parallel_stream_starts_with_a_short_chunk(kind: VocoderKind, tmp_path: Path) -> None:
    """Time to first audio is the first chunk's cost: it is short, the rest as long as asked."""
    stem, _ = _saved(kind, tmp_path)
    vocoder = load_vocoder(stem, AUDIO, "eager")
    chunk = 2 * FIRST_CHUNK_FRAMES
    mel = torch.randn(1, AUDIO.n_mels, FIRST_CHUNK_FRAMES + chunk + 3)
    with torch.inference_mode():
        pieces = list(vocoder.stream(mel, chunk_frames=chunk))
        whole = vocoder.vocode([mel])[0]
    hop = AUDIO.hop_length
    assert [len(p) for p in pieces] == [FIRST_CHUNK_FRAMES * hop, chunk * hop, 3 * hop]
    assert np.abs(np.concatenate(pieces) - whole).max() <= STREAM_TOLERANCE
