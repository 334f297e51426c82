"""WaveNet behind the vocoder interface: the exact numba sample loop or the PyTorch reference loop."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

import numpy as np
import torch

from vocoders.audio import AudioConfig
from vocoders.base import StopCheck, Vocoder, sentence_seed
from vocoders.kinds import AUTO, FAST, WAVENET_BACKENDS, VocoderKind
from vocoders.wavenet import WaveNet, WaveNetConfig

if TYPE_CHECKING:  # imports numba: loaded only when the fast loop is selected
    from vocoders.wavenet_fast import FastWaveNet

logger = logging.getLogger(__name__)

# Softmax temperature of sampling unless the voice sets another (plain sampling).
DEFAULT_TEMPERATURE = 1.0


class WaveNetVocoder(Vocoder):
    """Oord et al. (2016): dilated causal convolutions, one mu-law sample at a time."""

    kind = VocoderKind.WAVENET
    parallel = False
    config_type = WaveNetConfig
    backends = WAVENET_BACKENDS

    def __init__(
        self,
        model: WaveNet,
        config: WaveNetConfig,
        audio: AudioConfig,
        backend: str = AUTO,
        temperature: float = DEFAULT_TEMPERATURE,
    ) -> None:
        self.temperature = temperature  # the voice's sampling temperature; see VoiceManifest
        super().__init__(model, config, audio, backend)

    @classmethod
    def build_model(cls, config: WaveNetConfig, audio: AudioConfig) -> WaveNet:
        return WaveNet(config, audio)

    def _select_backend(self, backend: str) -> None:
        resolved = FAST if backend == AUTO else backend
        self._fast: FastWaveNet | None = None
        if resolved == FAST:
            from vocoders.wavenet_fast import FastWaveNet  # numba compiles on first use: only when asked

            self._fast = FastWaveNet.from_model(self.model)  # type: ignore[arg-type]
        self._backend = resolved

    @property
    def backend(self) -> str:
        return self._backend

    @property
    def generator_name(self) -> str:
        c = self.config
        shape = f"{c.n_layers} layers, {c.residual_channels} residual channels, {c.n_classes} mu-law classes"
        if c.lpc_order:
            shape += f", order-{c.lpc_order} linear prediction"
        loop = "numba sample loop" if self._backend == FAST else "PyTorch reference loop"
        return f"WaveNet ({shape}), {self.parameter_count() / 1e6:.2f} M parameters, {loop}"

    def vocode(
        self, mels: Sequence[torch.Tensor], seed: int = 0, should_stop: StopCheck | None = None
    ) -> list[np.ndarray]:
        """Each mel sampled with its own random stream, seeded ``seed + i`` (:func:`sentence_seed`),
        so an utterance's audio does not depend on what else is in the batch and streaming it alone
        gives the same samples. The fast loop samples the batch in lock step (per-step cost barely
        grows with the batch); the reference loop one utterance after another."""
        generators = [torch.Generator().manual_seed(sentence_seed(seed, i)) for i in range(len(mels))]
        if self._fast is not None:
            wavs = self._fast.generate_many(
                [m[0] for m in mels],
                generators=generators,
                temperature=self.temperature,
                should_stop=should_stop,
            )
            return [w.numpy() for w in wavs]
        model: WaveNet = self.model  # type: ignore[assignment]
        return [
            model.generate(m, generator=g, temperature=self.temperature, should_stop=should_stop)[0].numpy()
            for m, g in zip(mels, generators)
        ]

    def stream(
        self,
        mel: torch.Tensor,
        chunk_frames: int | None = None,
        seed: int = 0,
        should_stop: StopCheck | None = None,
    ) -> Iterator[np.ndarray]:
        """The fast loop sends each block of samples as soon as it is sampled (``chunk_frames`` does
        not apply: the block is the loop's own); the blocks join into :meth:`vocode`'s output."""
        if self._fast is None:
            yield from super().stream(mel, chunk_frames, seed, should_stop)
            return
        rng = torch.Generator().manual_seed(sentence_seed(seed, 0))
        blocks = self._fast.stream(mel, generator=rng, temperature=self.temperature, should_stop=should_stop)
        for block in blocks:  # (1, <= block size)
            yield block[0].numpy()
