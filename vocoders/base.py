"""The one vocoder interface: every kind of vocoder is built, loaded, run and streamed the same way.

A :class:`Vocoder` wraps one trained model for inference: it checks the audio config it was trained
on, folds training-only reparametrisations, picks a CPU fast path (``backend``), vocodes whole mels
and streams them chunk by chunk. The synthesizer, the server, bench, eval, export and the training
recipes see only this class and :class:`VocoderKind`; :mod:`vocoders.registry` maps each kind to its
implementation, so a new kind of vocoder is one module plus one registry entry.
"""

from __future__ import annotations

import copy
import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from vocoders.audio import AudioConfig
from vocoders.batching import vocode_padded
from vocoders.kinds import AUTO, VocoderKind
from vocoders.streaming import FIRST_CHUNK_FRAMES, stream_vocode

logger = logging.getLogger(__name__)

# Asked between chunks or sample blocks; True stops the work (client gone, deadline, shutdown).
StopCheck = Callable[[], bool]


def sentence_seed(seed: int, index: int) -> int:
    """The seed of the ``index``-th utterance of a request seeded ``seed``."""
    return seed + index


class BackendUnavailable(RuntimeError):
    """A backend whose optional dependency is not installed; the message says how to install it."""


class Vocoder(ABC):
    """A trained vocoder ready for inference: mel ``(1, n_mels, T)`` -> audio ``(T * hop,)``."""

    kind: ClassVar[VocoderKind]
    # True: the whole utterance in one parallel pass (GAN); False: one sample at a time.
    parallel: ClassVar[bool]
    # The config dataclass stored in the model's JSON.
    config_type: ClassVar[type]
    # Inference paths this kind offers, the reference first; AUTO picks among them.
    backends: ClassVar[tuple[str, ...]]
    # What AUTO means for a process that vocodes once and exits, where load time counts as much
    # as speed (a backend that compiles at load may not repay it); AUTO: the same as always.
    one_shot_backend: ClassVar[str] = AUTO

    def __init__(self, model: nn.Module, config: Any, audio: AudioConfig, backend: str = AUTO) -> None:
        """``model``: trained, weight norm folded, in eval mode; ``backend``: one of :attr:`backends`
        or AUTO."""
        self.model = model
        self.config = config
        self.audio = audio
        self.select_backend(backend)

    @classmethod
    @abstractmethod
    def build_model(cls, config: Any, audio: AudioConfig) -> nn.Module:
        """A freshly initialised trainable model of this kind."""

    @classmethod
    def from_model(cls, model: nn.Module, audio: AudioConfig, backend: str = AUTO) -> Vocoder:
        """Wrap a trained ``model`` (weight norm already folded, eval mode) for inference."""
        return cls(model, model.cfg, audio, backend)  # type: ignore[attr-defined]

    def select_backend(self, backend: str) -> None:
        """Switch the inference path; ``ValueError`` for a backend this kind does not offer."""
        if backend != AUTO and backend not in self.backends:
            offered = ", ".join((AUTO, *self.backends))
            raise ValueError(f"{self.kind.value} has no backend {backend!r}; choose one of: {offered}")
        self._select_backend(backend)

    @abstractmethod
    def _select_backend(self, backend: str) -> None:
        """Prepare ``backend`` (already validated) for the next calls."""

    def with_backend(self, backend: str) -> Vocoder:
        """A vocoder sharing this one's model and settings that runs through ``backend``."""
        other = copy.copy(self)
        other.select_backend(backend)
        return other

    @property
    @abstractmethod
    def backend(self) -> str:
        """The concrete inference path in use (AUTO resolved)."""

    @property
    @abstractmethod
    def generator_name(self) -> str:
        """What actually runs, for reports: architecture, size and backend."""

    @property
    def hop_length(self) -> int:
        return self.audio.hop_length

    def parameter_count(self) -> int:
        return sum(p.numel() for p in self.model.parameters())

    @abstractmethod
    def vocode(
        self, mels: Sequence[torch.Tensor], seed: int = 0, should_stop: StopCheck | None = None
    ) -> list[np.ndarray]:
        """Audio ``(T_i * hop,)`` float32 for each mel ``(1, n_mels, T_i)``.

        ``seed`` fixes a sampling vocoder's draws (GAN vocoders ignore it): mel ``i`` is sampled with
        seed ``seed + i``, so :meth:`stream` of that mel alone with ``seed + i`` gives the same audio;
        ``should_stop`` is asked between blocks of work where the vocoder has them.
        """

    def vocode_batch(self, mels: Sequence[torch.Tensor]) -> list[np.ndarray]:
        """What :meth:`vocode` returns for ``mels``, from one batched pass (:mod:`vocoders.batching`).

        Only :attr:`parallel` kinds offer it: a sequential vocoder runs one utterance at a time.
        """
        raise NotImplementedError(f"{self.kind.value} is not parallel: it vocodes one utterance at a time")

    def stream(
        self,
        mel: torch.Tensor,
        chunk_frames: int | None = None,
        seed: int = 0,
        should_stop: StopCheck | None = None,
    ) -> Iterator[np.ndarray]:
        """Audio of one mel ``(1, n_mels, T)`` in pieces as soon as each is ready.

        The pieces join into :meth:`vocode`'s output for the same mel and seed. This default sends
        the whole utterance as one piece; kinds that can do better override it.
        """
        yield self.vocode([mel], seed=seed, should_stop=should_stop)[0]


class ParallelVocoder(Vocoder):
    """A vocoder whose generator makes a whole utterance in one pass (the GAN vocoders).

    A subclass supplies :meth:`_forward` and :attr:`context_frames`, its generator's receptive
    field; whole, batched and streamed vocoding are then the same for every such kind.
    """

    parallel = True

    @abstractmethod
    def _forward(self, mel: torch.Tensor) -> torch.Tensor:
        """Waveform ``(1, 1, T * hop)`` of mel ``(1, n_mels, T)`` by the selected backend, no autograd."""

    @property
    @abstractmethod
    def context_frames(self) -> int:
        """Mel frames on each side that every output sample depends on."""

    def vocode(
        self, mels: Sequence[torch.Tensor], seed: int = 0, should_stop: StopCheck | None = None
    ) -> list[np.ndarray]:
        return [self._forward(m).reshape(-1).numpy() for m in mels]  # (1, 1, T * hop) -> (T * hop,)

    def vocode_batch(self, mels: Sequence[torch.Tensor]) -> list[np.ndarray]:
        return vocode_padded(self._forward, self.hop_length, mels, self.context_frames)

    def stream(
        self,
        mel: torch.Tensor,
        chunk_frames: int | None = None,
        seed: int = 0,
        should_stop: StopCheck | None = None,
    ) -> Iterator[np.ndarray]:
        """Chunks of ``chunk_frames`` frames vocoded with :attr:`context_frames` of context on both
        sides (:mod:`vocoders.streaming`), the first one at most ``FIRST_CHUNK_FRAMES`` long: they
        join into the whole-utterance audio."""
        if not chunk_frames:
            yield from super().stream(mel, chunk_frames, seed, should_stop)
            return
        first = min(chunk_frames, FIRST_CHUNK_FRAMES)
        pieces = stream_vocode(self._forward, self.hop_length, mel, chunk_frames, self.context_frames, first)
        for piece in pieces:
            yield piece.reshape(-1).numpy()
            if should_stop is not None and should_stop():
                return
