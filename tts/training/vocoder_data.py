"""The corpus as the recipes see it: the feature cache (built once, rank 0 first) and splits."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from pathlib import Path

import torch
import torch.distributed as dist

from tts.corpus.dataset import FeatureCache, VocoderSegments
from tts.frontend.pipeline import Frontend
from tts.frontend.symbols import DEFAULT_SYMBOLS, SymbolTable
from tts.training.common import RunContext

logger = logging.getLogger(__name__)

# Validation utterances a vocoder recipe scores at each validation pass.
N_VAL_UTTERANCES = 4


def build_cache(ctx: RunContext, symbols: Sequence[str]) -> FeatureCache:
    """The corpus's feature cache; under DDP rank 0 builds it while the others wait."""
    frontend = Frontend(ctx.language, SymbolTable(symbols))
    if ctx.dist.enabled and not ctx.dist.is_main:
        dist.barrier()
    cache = FeatureCache.build(ctx.data_dir, ctx.audio, frontend)
    if ctx.dist.enabled and ctx.dist.is_main:
        dist.barrier()
    return cache


class VocoderData:
    """Training segments and whole validation utterances for a vocoder recipe."""

    def __init__(self, ctx: RunContext, segment_samples: int, mel_dir: Path | None = None) -> None:
        self.symbols = list(DEFAULT_SYMBOLS)
        cache = build_cache(ctx, self.symbols)
        # Segments start and end on frame boundaries so audio and mel stay aligned.
        segment_samples -= segment_samples % ctx.audio.hop_length
        self.train = VocoderSegments(cache, "train", segment_samples, mel_dir)
        self.val = VocoderSegments(cache, "val", segment_samples, mel_dir)
        if len(self.train) == 0:
            raise ValueError(f"{ctx.data_dir} has no usable training rows")
        self.segment_samples = segment_samples
        self.cache = cache

    def __len__(self) -> int:
        return len(self.train)

    def batch(self, indices: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
        return self.train.batch(indices)

    def validation_utterances(
        self, limit: int = N_VAL_UTTERANCES
    ) -> Iterator[tuple[str, torch.Tensor, torch.Tensor]]:
        """``(id, audio (T,), mel (n_mels, T // hop))`` of the first ``limit`` validation utterances."""
        for e in self.val.entries[:limit]:
            yield e.id, torch.from_numpy(self.cache.audio_samples(e.id)), torch.from_numpy(self.val.mel(e.id))

    def validation_segments(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """The opening segment of each validation utterance as a batch of one (no RNG used, so
        validation never shifts the training data order)."""
        hop = self.cache.audio.hop_length
        frames = self.segment_samples // hop
        for _, audio, mel in self.validation_utterances():
            n = min(frames, mel.shape[1], audio.shape[0] // hop)
            yield audio[None, : n * hop], mel[None, :, :n]
