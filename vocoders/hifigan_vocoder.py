"""HiFi-GAN behind the vocoder interface: the CPU fast paths and seam-free streaming."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence

import numpy as np
import torch

from vocoders.audio import AudioConfig
from vocoders.base import StopCheck, Vocoder
from vocoders.batching import vocode_padded
from vocoders.hifigan import HiFiGANConfig, HiFiGANGenerator, preset_name, receptive_field_frames
from vocoders.hifigan_fast import ONE_SHOT_BACKEND, OptimizedGenerator, optimize_generator
from vocoders.kinds import HIFIGAN_BACKENDS, ONNX, VocoderKind
from vocoders.onnx_backend import OnnxGenerator
from vocoders.streaming import stream_vocode

logger = logging.getLogger(__name__)


class HiFiGANVocoder(Vocoder):
    """Kong et al. (2020): transposed-convolution upsampling and multi-receptive-field fusion."""

    kind = VocoderKind.HIFIGAN
    parallel = True
    config_type = HiFiGANConfig
    # ONNX runs the exported graph in ONNX Runtime (the optional onnx extra); never picked by AUTO.
    backends = HIFIGAN_BACKENDS
    one_shot_backend = ONE_SHOT_BACKEND

    @classmethod
    def build_model(cls, config: HiFiGANConfig, audio: AudioConfig) -> HiFiGANGenerator:
        return HiFiGANGenerator(config)

    def _select_backend(self, backend: str) -> None:
        self._fast: OptimizedGenerator | OnnxGenerator
        if backend == ONNX:
            self._fast = OnnxGenerator.from_generator(self.model, self.config.n_mels)
        else:
            self._fast = optimize_generator(self.model, backend)  # type: ignore[arg-type]

    @property
    def backend(self) -> str:
        return self._fast.backend

    @property
    def generator_name(self) -> str:
        preset = preset_name(self.config)
        name = f"HiFi-GAN {preset.upper()}" if preset else "HiFi-GAN (custom)"
        return f"{name}, {self.parameter_count() / 1e6:.2f} M parameters, {self.backend}"

    def vocode(
        self, mels: Sequence[torch.Tensor], seed: int = 0, should_stop: StopCheck | None = None
    ) -> list[np.ndarray]:
        return [self._fast(m).reshape(-1).numpy() for m in mels]  # (1, 1, T * hop) -> (T * hop,)

    def vocode_batch(self, mels: Sequence[torch.Tensor]) -> list[np.ndarray]:
        return vocode_padded(self._fast, self.hop_length, mels, receptive_field_frames(self.config))

    def stream(
        self,
        mel: torch.Tensor,
        chunk_frames: int | None = None,
        seed: int = 0,
        should_stop: StopCheck | None = None,
    ) -> Iterator[np.ndarray]:
        if not chunk_frames:
            yield from super().stream(mel, chunk_frames, seed, should_stop)
            return
        context = receptive_field_frames(self.config)
        for piece in stream_vocode(self._fast, self.hop_length, mel, chunk_frames, context):
            yield piece.reshape(-1).numpy()
            if should_stop is not None and should_stop():
                return
