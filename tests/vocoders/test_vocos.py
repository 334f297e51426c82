"""The Vocos-style generator: exact iSTFT framing, amplitude prior, streaming equal to the whole."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from vocoders.audio import AudioConfig, mel_spectrogram, stft
from vocoders.streaming import FIRST_CHUNK_FRAMES, chunk_spans
from vocoders.vocos import VocosGenerator, istft_same, receptive_field_frames, vocos_config
from vocoders.vocos_vocoder import VocosVocoder

AUDIO = AudioConfig(sample_rate=16000, n_fft=256, hop_length=64, win_length=256, n_mels=20, fmin=0.0, fmax=8000.0)
STREAM_TOLERANCE = 1e-5  # max abs difference of streamed and whole audio; float rounding gives ~1e-7


def _loud(seed: int = 0, **overrides: object) -> VocosGenerator:
    """A random tiny generator whose output is far from silent, so seam errors cannot hide."""
    torch.manual_seed(seed)
    gen = VocosGenerator(vocos_config("tiny", AUDIO, **overrides), AUDIO).eval()
    with torch.no_grad():
        gen.head.bias[: gen.cfg.n_bins].fill_(1.0)  # log-magnitudes around 1: audible output
        for block in gen.blocks:
            block.gamma.fill_(1.0)
    return gen


def test_the_istft_inverts_the_analysis_stft_exactly() -> None:
    torch.manual_seed(0)
    wav = torch.randn(2, AUDIO.hop_length * 30) * 0.3
    back = istft_same(stft(wav, AUDIO), AUDIO.n_fft, AUDIO.hop_length, torch.hann_window(AUDIO.n_fft))
    assert back.shape == wav.shape
    assert (back - wav).abs().max() < 1e-5


def test_output_is_one_hop_of_audio_per_frame() -> None:
    gen = _loud()
    out = gen(torch.randn(3, AUDIO.n_mels, 17))
    assert out.shape == (3, 1, 17 * AUDIO.hop_length)
    assert out.abs().max() <= 1.0 and out.std() > 0.01


def test_a_wrong_mel_is_refused() -> None:
    gen = _loud()
    with pytest.raises(ValueError):
        gen(torch.randn(1, AUDIO.n_mels + 1, 5))
    with pytest.raises(ValueError):
        gen(torch.randn(1, AUDIO.n_mels, 0))


def test_the_amplitude_prior_is_the_mel_spread_over_the_linear_bins() -> None:
    gen = _loud(amplitude_prior=True)
    with torch.no_grad():
        gen.head.weight.zero_()
        gen.head.bias.zero_()  # no correction: the predicted magnitude is the prior itself
    torch.manual_seed(1)
    wav = torch.randn(1, AUDIO.hop_length * 20) * 0.3
    mel = mel_spectrogram(wav, AUDIO)
    with torch.no_grad():
        mag = gen.spectrum(mel).abs()  # (1, n_bins, T)
    # Mapping the prior back through the filterbank gives a mel close to the input one.
    from vocoders.audio import mel_basis

    remel = torch.log(torch.clamp(mel_basis(AUDIO) @ mag, min=1e-5))
    assert (remel - mel).abs().mean() < 0.5
    plain = _loud()
    with torch.no_grad():
        plain.head.weight.zero_()
        plain.head.bias.zero_()
        flat = plain.spectrum(mel).abs()
    assert torch.allclose(flat, torch.ones_like(flat))  # without the prior: exp(0) everywhere


def _dependency_reach(gen: VocosGenerator, n_frames: int = 61) -> int:
    """Farthest mel frame (either side) whose value changes the samples of the middle frame."""
    mel = torch.randn(1, AUDIO.n_mels, n_frames, requires_grad=True)
    hop, mid = AUDIO.hop_length, n_frames // 2
    gen(mel)[..., mid * hop : (mid + 1) * hop].pow(2).sum().backward()
    touched = (mel.grad[0].abs().sum(dim=0) > 0).nonzero().flatten()
    return max(mid - touched.min().item(), touched.max().item() - mid)


@pytest.mark.parametrize("num_layers", [1, 2, 4])
def test_the_receptive_field_bounds_the_true_reach_tightly(num_layers: int) -> None:
    gen = _loud(num_layers=num_layers)
    reach = _dependency_reach(gen)
    assert reach <= receptive_field_frames(gen.cfg) <= reach + 1


@pytest.mark.parametrize(("chunk_frames", "n_frames"), [(1, 23), (4, 37), (7, 37), (50, 37)])
def test_streamed_audio_equals_the_whole_utterance(chunk_frames: int, n_frames: int) -> None:
    gen = _loud()
    vocoder = VocosVocoder.from_model(gen, AUDIO)
    torch.manual_seed(2)
    mel = torch.randn(1, AUDIO.n_mels, n_frames)
    whole = vocoder.vocode([mel])[0]
    pieces = list(vocoder.stream(mel, chunk_frames=chunk_frames))
    first = min(chunk_frames, FIRST_CHUNK_FRAMES)
    assert len(pieces) == len(chunk_spans(n_frames, chunk_frames, first))
    streamed = torch.from_numpy(__import__("numpy").concatenate(pieces))
    assert streamed.shape == (n_frames * AUDIO.hop_length,)
    assert whole.std() > 0.01
    assert (streamed - torch.from_numpy(whole)).abs().max() < STREAM_TOLERANCE


def test_without_enough_context_the_seams_differ() -> None:
    from vocoders.streaming import stream_vocode

    gen = _loud()
    torch.manual_seed(3)
    mel = torch.randn(1, AUDIO.n_mels, 30)
    with torch.no_grad():
        whole = gen(mel)
        short = torch.cat(list(stream_vocode(gen, AUDIO.hop_length, mel, 5, context_frames=1)), dim=-1)
    assert (short - whole).abs().max() > 100 * STREAM_TOLERANCE


def test_config_validation() -> None:
    with pytest.raises(ValueError):
        dataclasses.replace(vocos_config("tiny", AUDIO), kernel_size=4)
    with pytest.raises(ValueError):
        dataclasses.replace(vocos_config("tiny", AUDIO), n_fft=32)
    with pytest.raises(ValueError):
        vocos_config("huge", AUDIO)
    with pytest.raises(ValueError):
        VocosGenerator(vocos_config("tiny", AUDIO, amplitude_prior=True))  # the prior needs the audio config
