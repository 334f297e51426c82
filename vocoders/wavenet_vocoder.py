"""WaveNet behind the vocoder interface: the exact numba sample loop or the PyTorch reference loop."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import torch

from vocoders.audio import MEL_PAD_VALUE, AudioConfig
from vocoders.base import StopCheck, Vocoder
from vocoders.kinds import AUTO, FAST, WAVENET_BACKENDS, VocoderKind
from vocoders.wavenet import WaveNet, WaveNetConfig

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
        return WaveNet(config)

    def _select_backend(self, backend: str) -> None:
        resolved = FAST if backend == AUTO else backend
        self._impl: object = self.model
        if resolved == FAST:
            from vocoders.wavenet_fast import FastWaveNet  # numba compiles on first use: only when asked

            self._impl = FastWaveNet.from_model(self.model)  # type: ignore[arg-type]
        self._backend = resolved

    @property
    def backend(self) -> str:
        return self._backend

    @property
    def generator_name(self) -> str:
        c = self.config
        shape = f"{c.n_layers} layers, {c.residual_channels} residual channels, {c.n_classes} mu-law classes"
        loop = "numba sample loop" if self._backend == FAST else "PyTorch reference loop"
        return f"WaveNet ({shape}), {self.parameter_count() / 1e6:.2f} M parameters, {loop}"

    def vocode(
        self, mels: Sequence[torch.Tensor], seed: int = 0, should_stop: StopCheck | None = None
    ) -> list[np.ndarray]:
        """All mels as one batch: the sample loop's per-step cost barely grows with the batch size."""
        lengths = [m.shape[-1] for m in mels]
        # Shorter mels are padded with silence; the samples it yields are cut off below.
        batch = torch.full((len(mels), self.audio.n_mels, max(lengths)), MEL_PAD_VALUE, dtype=torch.float32)
        for i, m in enumerate(mels):
            batch[i, :, : lengths[i]] = m[0]
        rng = torch.Generator().manual_seed(seed)
        wav = self._impl.generate(  # type: ignore[attr-defined]
            batch, generator=rng, temperature=self.temperature, should_stop=should_stop
        )  # (B, max_T * hop)
        return [wav[i, : lengths[i] * self.hop_length].numpy() for i in range(len(mels))]
