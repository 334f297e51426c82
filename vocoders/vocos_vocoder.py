"""The Vocos-style frame-rate vocoder behind the vocoder interface: whole-mel and seam-free streaming."""

from __future__ import annotations

import logging

import torch

from vocoders.audio import AudioConfig
from vocoders.base import ParallelVocoder
from vocoders.kinds import EAGER, ONNX, VOCOS_BACKENDS, VocoderKind
from vocoders.onnx_backend import OnnxGenerator
from vocoders.vocos import VocosConfig, VocosGenerator, receptive_field_frames

logger = logging.getLogger(__name__)


class VocosVocoder(ParallelVocoder):
    """ConvNeXt trunk at frame rate + inverse-STFT head (:mod:`vocoders.vocos`)."""

    kind = VocoderKind.VOCOS
    config_type = VocosConfig
    # Eager is the fast path: the trunk is a handful of large frame-rate matrix products, which
    # leave no per-layer overhead for tracing to remove. Nor does it need a warm-up at load: in a
    # fresh process (small and base presets, 1 thread, CPU seconds) the first call cost 1.1-1.4x a
    # warm one, and a frame count not seen before no more than a repeated one (<= 1.07x), unlike
    # HiFi-GAN's convolutions (vocoders.hifigan_fast). ONNX runs the exported graph in ONNX Runtime
    # (the optional onnx extra).
    backends = VOCOS_BACKENDS

    @classmethod
    def build_model(cls, config: VocosConfig, audio: AudioConfig) -> VocosGenerator:
        return VocosGenerator(config, audio)

    def _select_backend(self, backend: str) -> None:
        self._backend = ONNX if backend == ONNX else EAGER
        self._onnx = OnnxGenerator.from_generator(self.model, self.config.n_mels) if backend == ONNX else None

    @property
    def backend(self) -> str:
        return self._backend

    @property
    def generator_name(self) -> str:
        c = self.config
        shape = f"ConvNeXt x{c.num_layers}, dim {c.dim}, iSTFT n_fft {c.n_fft} hop {c.hop_length}"
        return f"Vocos-style ({shape}), {self.parameter_count() / 1e6:.2f} M parameters, {self.backend}"

    def _forward(self, mel: torch.Tensor) -> torch.Tensor:
        if self._onnx is not None:
            return self._onnx(mel)
        with torch.no_grad():
            return self.model(mel)  # (1, 1, T * hop)

    @property
    def context_frames(self) -> int:
        return receptive_field_frames(self.config)
