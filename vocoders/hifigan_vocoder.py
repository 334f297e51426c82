"""HiFi-GAN behind the vocoder interface: the CPU fast paths and seam-free streaming."""

from __future__ import annotations

import logging

import torch

from vocoders.audio import AudioConfig
from vocoders.base import ParallelVocoder
from vocoders.hifigan import HiFiGANConfig, HiFiGANGenerator, preset_name, receptive_field_frames
from vocoders.hifigan_fast import ONE_SHOT_BACKEND, OptimizedGenerator, optimize_generator
from vocoders.kinds import HIFIGAN_BACKENDS, ONNX, VocoderKind
from vocoders.onnx_backend import OnnxGenerator

logger = logging.getLogger(__name__)


class HiFiGANVocoder(ParallelVocoder):
    """Kong et al. (2020): transposed-convolution upsampling and multi-receptive-field fusion."""

    kind = VocoderKind.HIFIGAN
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

    def _forward(self, mel: torch.Tensor) -> torch.Tensor:
        return self._fast(mel)  # (1, 1, T * hop), without autograd

    @property
    def context_frames(self) -> int:
        return receptive_field_frames(self.config)
