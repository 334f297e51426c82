"""Chunked HiFi-GAN vocoding must reproduce the whole-utterance output."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch
from torch import nn

from vocoders.hifigan import HiFiGANGenerator, hifigan_config, receptive_field_frames
from vocoders.streaming import chunk_spans, stream_vocode

N_MELS = 12
N_FRAMES = 37  # a prime: no chunk size divides it
TOLERANCE = 1e-4  # max abs difference; float rounding alone gives ~1e-7


def _loud_generator(preset: str, hop: int, seed: int = 0) -> HiFiGANGenerator:
    """A random generator, weight norm removed, rescaled so its output is O(0.3), not O(1e-5).

    The published 0.01-std init makes a random generator nearly silent, which would let any
    seam error hide under the tolerance.
    """
    torch.manual_seed(seed)
    cfg = dataclasses.replace(hifigan_config(preset, hop, N_MELS), upsample_initial_channel=32)
    gen = HiFiGANGenerator(cfg)
    gen.remove_weight_norm()
    with torch.no_grad():
        for m in gen.modules():
            if isinstance(m, (nn.Conv1d, nn.ConvTranspose1d)):
                m.weight.mul_(1.0 / (0.01 * math.sqrt(m.weight[0].numel())))
    return gen.eval()


@pytest.fixture(scope="module")
def tiny() -> HiFiGANGenerator:
    return _loud_generator("tiny", 64)


def _stream(
    gen: HiFiGANGenerator, mel: torch.Tensor, context_frames: int | None = None, **kwargs: int | None
) -> list[torch.Tensor]:
    context = receptive_field_frames(gen.cfg) if context_frames is None else context_frames
    return list(stream_vocode(gen, gen.hop_length, mel, context_frames=context, **kwargs))  # type: ignore[arg-type]


@pytest.mark.parametrize("chunk_frames", [1, 5, 8, 16, N_FRAMES, 64])
@pytest.mark.parametrize("first_chunk_frames", [None, 2])
def test_stream_equals_the_whole_utterance(
    tiny: HiFiGANGenerator, chunk_frames: int, first_chunk_frames: int | None
) -> None:
    torch.manual_seed(1)
    mel = torch.randn(1, N_MELS, N_FRAMES)
    with torch.no_grad():
        whole = tiny(mel)  # (1, 1, T * hop)
    assert whole.std() > 0.1  # a silent generator would make the comparison vacuous
    pieces = _stream(tiny, mel, chunk_frames=chunk_frames, first_chunk_frames=first_chunk_frames)
    hop = tiny.hop_length
    spans = chunk_spans(N_FRAMES, chunk_frames, first_chunk_frames)
    assert [p.shape[-1] for p in pieces] == [(end - start) * hop for start, end in spans]
    if first_chunk_frames is not None:
        assert pieces[0].shape[-1] == min(first_chunk_frames, N_FRAMES) * hop
    streamed = torch.cat(pieces, dim=-1)
    assert streamed.shape == whole.shape == (1, 1, N_FRAMES * hop)
    assert (streamed - whole).abs().max().item() < TOLERANCE


@pytest.mark.parametrize(("preset", "hop"), [("v3", 200), ("v1", 120)])
def test_stream_equals_the_whole_utterance_for_other_layouts(preset: str, hop: int) -> None:
    # Odd rates (output_padding) and V3's single-conv residual blocks take other code paths.
    gen = _loud_generator(preset, hop)
    mel = torch.randn(1, N_MELS, 23)
    with torch.no_grad():
        whole = gen(mel)
    streamed = torch.cat(_stream(gen, mel, chunk_frames=6, first_chunk_frames=1), dim=-1)
    assert streamed.shape == whole.shape
    assert (streamed - whole).abs().max().item() < TOLERANCE


def test_without_context_the_seams_differ(tiny: HiFiGANGenerator) -> None:
    torch.manual_seed(2)
    mel = torch.randn(1, N_MELS, N_FRAMES)
    with torch.no_grad():
        whole = tiny(mel)
    streamed = torch.cat(_stream(tiny, mel, chunk_frames=5, context_frames=0), dim=-1)
    assert streamed.shape == whole.shape
    assert (streamed - whole).abs().max().item() > 100 * TOLERANCE


def _dependency_reach(gen: HiFiGANGenerator, n_frames: int = 41) -> int:
    """Farthest mel frame (either side) whose value changes the samples of the middle frame."""
    mel = torch.randn(1, N_MELS, n_frames, requires_grad=True)
    hop, mid = gen.hop_length, n_frames // 2
    gen(mel)[..., mid * hop : (mid + 1) * hop].pow(2).sum().backward()
    touched = (mel.grad[0].abs().sum(dim=0) > 0).nonzero().flatten()  # (n_touched,)
    return max(mid - touched.min().item(), touched.max().item() - mid)


@pytest.mark.parametrize(("preset", "hop"), [("tiny", 64), ("v1", 256), ("v3", 256), ("v3", 200)])
def test_receptive_field_bounds_the_true_reach_tightly(preset: str, hop: int) -> None:
    gen = _loud_generator(preset, hop)
    reach = _dependency_reach(gen)
    bound = receptive_field_frames(gen.cfg)
    # It must cover every frame that matters, and is allowed one extra for intermediate overhang.
    assert reach <= bound <= reach + 1


def test_chunk_spans_tile_the_frames() -> None:
    assert chunk_spans(10, 4) == [(0, 4), (4, 8), (8, 10)]
    assert chunk_spans(10, 4, first_chunk_frames=1) == [(0, 1), (1, 5), (5, 9), (9, 10)]
    assert chunk_spans(3, 8) == [(0, 3)]
    assert chunk_spans(0, 8) == []
    with pytest.raises(ValueError):
        chunk_spans(10, 0)
    with pytest.raises(ValueError):
        chunk_spans(10, 4, first_chunk_frames=0)


def test_stream_rejects_bad_arguments(tiny: HiFiGANGenerator) -> None:
    with pytest.raises(ValueError):
        _stream(tiny, torch.zeros(N_MELS, 10), chunk_frames=4)
    with pytest.raises(ValueError):
        _stream(tiny, torch.zeros(2, N_MELS, 10), chunk_frames=4)
    with pytest.raises(ValueError):
        _stream(tiny, torch.zeros(1, N_MELS, 10), chunk_frames=4, context_frames=-1)
