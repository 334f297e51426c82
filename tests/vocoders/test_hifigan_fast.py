"""Every fast HiFi-GAN backend must reproduce the reference generator's output."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn.utils import parametrize

from vocoders import hifigan_fast
from vocoders.hifigan import HiFiGANGenerator, hifigan_config, receptive_field_frames
from vocoders.hifigan_fast import (
    AUTO,
    AUTO_BACKEND,
    AUTO_FALLBACK,
    BACKENDS,
    TRACE_FRAMES,
    optimize_generator,
    resolve_backend,
)
from vocoders.hifigan_vocoder import HiFiGANVocoder
from vocoders.kinds import VocoderKind
from vocoders.streaming import chunk_spans, stream_vocode

N_MELS = 12
HOP = 64
CHANNELS = 32  # small enough for millisecond passes, wide enough for real multi-channel convs
REL_TOLERANCE = 1e-4  # max|fast - ref| / max|ref|; float rounding alone gives ~1e-6
STREAM_ABS_TOLERANCE = 1e-3  # max|streamed - whole| on a waveform of amplitude O(1)
MIN_OUTPUT_STD = 0.05  # below this a mismatch could hide in near-silence
# Includes 1 frame, odd and prime lengths, and lengths either side of the traced example's.
FRAME_COUNTS = (1, 2, 7, TRACE_FRAMES - 1, TRACE_FRAMES, 37)


def _loud(preset: str, seed: int = 0, fold: bool = True, n_mels: int = N_MELS) -> HiFiGANGenerator:
    """A random generator whose output std is O(0.1-0.3) rather than the near-silent O(1e-5) of the init.

    Each conv weight is rescaled to std 1/sqrt(fan-in) (through weight norm's magnitude when it
    is kept), so activations keep their scale from layer to layer.
    """
    torch.manual_seed(seed)
    cfg = dataclasses.replace(hifigan_config(preset, HOP, n_mels), upsample_initial_channel=CHANNELS)
    gen = HiFiGANGenerator(cfg)
    if fold:
        gen.remove_weight_norm()
    with torch.no_grad():
        for m in gen.modules():
            if isinstance(m, (nn.Conv1d, nn.ConvTranspose1d)):
                w = m.weight
                scale = 1.0 / (w.std() * math.sqrt(w[0].numel()))
                if parametrize.is_parametrized(m, "weight"):
                    m.parametrizations.weight.original0.mul_(scale)  # the magnitude g of w = g v / |v|
                else:
                    w.mul_(scale)
    return gen.eval()


@pytest.fixture(scope="module", params=["tiny", "v1", "v3"])
def generator(request: pytest.FixtureRequest) -> HiFiGANGenerator:
    """tiny: one ResBlock1 branch; v1: V1's layout (three ResBlock1 branches, four stages);
    v3: three ResBlock2 branches, three stages. All at CHANNELS wide."""
    return _loud(request.param)


def _rel_error(fast: torch.Tensor, ref: torch.Tensor) -> float:
    return ((fast - ref).abs().max() / ref.abs().max()).item()


@pytest.mark.parametrize("backend", ["auto", *BACKENDS])
def test_backends_match_the_reference_for_any_length(generator: HiFiGANGenerator, backend: str) -> None:
    fast = optimize_generator(generator, backend)
    torch.manual_seed(1)
    for n_frames in FRAME_COUNTS:
        mel = torch.randn(1, N_MELS, n_frames)
        with torch.no_grad():
            ref = generator(mel)  # (1, 1, T * hop)
        if n_frames >= TRACE_FRAMES:
            assert ref.std() > MIN_OUTPUT_STD
        out = fast(mel)
        assert out.shape == (1, 1, n_frames * HOP)
        assert _rel_error(out, ref) < REL_TOLERANCE, (backend, n_frames)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_batch_equals_its_items(generator: HiFiGANGenerator, backend: str) -> None:
    fast = optimize_generator(generator, backend)
    torch.manual_seed(2)
    mel = torch.randn(3, N_MELS, 9)
    whole = fast(mel)  # (3, 1, 9 * hop)
    for i in range(3):
        assert _rel_error(whole[i : i + 1], fast(mel[i : i + 1])) < REL_TOLERANCE


@pytest.mark.parametrize("backend", BACKENDS)
def test_weight_norm_is_folded_on_a_copy(backend: str) -> None:
    gen = _loud("tiny", fold=False)
    weights_before = {k: v.clone() for k, v in gen.state_dict().items()}
    fast = optimize_generator(gen, backend)
    assert parametrize.is_parametrized(gen.conv_pre, "weight")
    assert gen.state_dict().keys() == weights_before.keys()
    assert all(torch.equal(v, weights_before[k]) for k, v in gen.state_dict().items())
    torch.manual_seed(3)
    mel = torch.randn(1, N_MELS, 11)
    with torch.no_grad():
        ref = gen(mel)
    assert ref.std() > MIN_OUTPUT_STD
    assert _rel_error(fast(mel), ref) < REL_TOLERANCE


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_callable_owns_its_weights(backend: str) -> None:
    gen = _loud("tiny")
    fast = optimize_generator(gen, backend)
    torch.manual_seed(6)
    mel = torch.randn(1, N_MELS, 10)
    before = fast(mel)
    with torch.no_grad():
        for p in gen.parameters():
            p.zero_()
        assert gen(mel).abs().max() == 0
    assert torch.equal(fast(mel), before)


@pytest.mark.parametrize("backend", BACKENDS)
def test_streaming_with_the_fast_callable_equals_the_whole_utterance(
    generator: HiFiGANGenerator, backend: str
) -> None:
    fast = optimize_generator(generator, backend)
    torch.manual_seed(4)
    n_frames, chunk, first = 29, 8, 3
    mel = torch.randn(1, N_MELS, n_frames)
    with torch.no_grad():
        whole = generator(mel)  # (1, 1, T * hop)
    context = receptive_field_frames(generator.cfg)
    pieces = list(stream_vocode(fast, HOP, mel, chunk, context, first_chunk_frames=first))
    spans = chunk_spans(n_frames, chunk, first)
    assert [p.shape[-1] for p in pieces] == [(end - start) * HOP for start, end in spans]
    streamed = torch.cat(pieces, dim=-1)  # (1, 1, T * hop)
    assert (streamed - whole).abs().max() <= STREAM_ABS_TOLERANCE
    assert _rel_error(streamed, whole) < REL_TOLERANCE
    assert _rel_error(streamed, fast(mel)) < REL_TOLERANCE


def test_auto_picks_the_measured_backend_on_the_cpu(generator: HiFiGANGenerator) -> None:
    assert resolve_backend(generator, AUTO) == AUTO_BACKEND
    assert optimize_generator(generator).backend == AUTO_BACKEND
    assert optimize_generator(generator).hop_length == HOP


def test_auto_falls_back_when_tracing_fails(
    generator: HiFiGANGenerator, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_trace(module: torch.nn.Module, n_mels: int) -> torch.nn.Module:
        raise RuntimeError("no torch.jit here")

    monkeypatch.setattr(hifigan_fast, "_trace", broken_trace)
    fast = optimize_generator(generator)
    assert fast.backend == AUTO_FALLBACK
    mel = torch.randn(1, N_MELS, 5)
    with torch.no_grad():
        assert _rel_error(fast(mel), generator(mel)) < REL_TOLERANCE
    with pytest.raises(RuntimeError, match="torch.jit"):
        optimize_generator(generator, "torchscript")  # asked for by name: no silent substitute


def test_bad_inputs_are_rejected(generator: HiFiGANGenerator) -> None:
    with pytest.raises(ValueError, match="backend"):
        optimize_generator(generator, "tensorrt")
    for backend in BACKENDS:
        fast = optimize_generator(generator, backend)
        with pytest.raises(ValueError, match="expected mel"):
            fast(torch.zeros(1, N_MELS + 1, 5))
        with pytest.raises(ValueError, match="no frames"):
            fast(torch.zeros(1, N_MELS, 0))


SPEECH = "The quick brown fox. It jumps over the lazy dog."


@pytest.mark.parametrize("backend", [AUTO, *BACKENDS])
def test_the_synthesizer_vocodes_only_through_the_fast_callable(
    tiny_voice_dir, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tts.synthesizer import Synthesizer

    voice = Synthesizer.load(tiny_voice_dir, gan_backend="eager")
    n_mels = voice.audio_config.n_mels
    assert voice.audio_config.hop_length == HOP
    gen = _loud("tiny", n_mels=n_mels)
    vocoder = HiFiGANVocoder.from_model(gen, voice.audio_config, backend)
    synth = Synthesizer(voice.manifest, voice.text2mel, {VocoderKind.HIFIGAN: vocoder}, tiny_voice_dir)
    assert synth.backends_in_use == {"hifigan": resolve_backend(gen, backend)}
    torch.manual_seed(5)
    mel = torch.randn(1, n_mels, 23)
    with torch.no_grad():
        ref = gen(mel).reshape(-1)  # (T * hop,)

    def refuse(*args: object) -> None:
        raise AssertionError("the synthesizer called the plain generator")

    monkeypatch.setattr(gen, "forward", refuse)
    out = torch.from_numpy(synth.vocode([mel], "hifigan")[0])
    assert _rel_error(out, ref) < REL_TOLERANCE
    whole = synth.synthesize(SPEECH, "hifigan").audio
    assert whole.std() > MIN_OUTPUT_STD
    chunks = list(synth.synthesize_stream(SPEECH, "hifigan", chunk_frames=5))
    streamed = np.concatenate([c.audio for c in chunks])
    assert len(chunks) > 4  # really chunked: two sentences, a pause and the final summary
    assert streamed.shape == whole.shape
    assert np.abs(streamed - whole).max() <= STREAM_ABS_TOLERANCE


def test_the_synthesizer_rejects_an_unknown_backend(tiny_voice_dir) -> None:
    from tts.errors import UserError
    from tts.synthesizer import Synthesizer

    with pytest.raises(UserError, match="unknown GAN backend 'tensorrt'"):
        Synthesizer.load(tiny_voice_dir, gan_backend="tensorrt")
