"""Vocoder kinds and the names of their inference paths: plain data, importable without torch.

The command line offers these names as argument choices; keeping them here lets ``ganspeech --help``
and argument errors answer before torch is imported. The implementations
(:mod:`vocoders.registry`) take their names from this module.
"""

from __future__ import annotations

import enum

# The backend name that lets each vocoder pick its fastest measured inference path.
AUTO = "auto"
# The model itself, run op by op (every kind's reference path).
EAGER = "eager"
# HiFi-GAN's convolutions as 2-D ones in channels-last memory order (vocoders.hifigan_fast).
CHANNELS_LAST = "channels_last"
# HiFi-GAN's channels-last module traced and frozen (vocoders.hifigan_fast).
TORCHSCRIPT = "torchscript"
# WaveNet's sample loop in plain torch, one layer call after another (vocoders.wavenet).
REFERENCE = "reference"
# WaveNet's sample loop compiled with numba (vocoders.wavenet_fast).
FAST = "fast"
# A GAN vocoder exported to ONNX and run in ONNX Runtime (vocoders.onnx_backend; the onnx extra).
ONNX = "onnx"

# HiFi-GAN's paths in torch (vocoders.hifigan_fast), and every path its adapter offers.
HIFIGAN_TORCH_BACKENDS = (EAGER, CHANNELS_LAST, TORCHSCRIPT)
HIFIGAN_BACKENDS = (*HIFIGAN_TORCH_BACKENDS, ONNX)
VOCOS_BACKENDS = (EAGER, ONNX)
WAVENET_BACKENDS = (REFERENCE, FAST)
# HiFi-GAN's inference paths as offered to users; "auto" picks the fastest measured one.
GAN_BACKENDS = (AUTO, *HIFIGAN_BACKENDS)
# WaveNet's sample loops as offered to users.
WAVENET_IMPLS = WAVENET_BACKENDS
# Griffin-Lim phase reconstruction (vocoders.griffinlim): the vocoder that needs no trained model.
GRIFFIN_LIM = "griffinlim"


class VocoderKind(str, enum.Enum):
    """The vocoder kinds a voice can hold; the value is the model's file stem and wire name."""

    HIFIGAN = "hifigan"
    VOCOS = "vocos"
    WAVENET = "wavenet"

    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)

    @classmethod
    def parse(cls, name: str | VocoderKind) -> VocoderKind:
        """``name`` as a kind; ``ValueError`` naming the known kinds otherwise."""
        try:
            return cls(name)
        except ValueError:
            known = ", ".join(k.value for k in cls)
            raise ValueError(f"unknown vocoder {str(name)!r}; known vocoders: {known}") from None


# The trained vocoders copy synthesis (ganspeech vocode) can run, and every vocoder it offers.
NEURAL_VOCODERS = tuple(kind.value for kind in VocoderKind)
COPY_VOCODERS = (*NEURAL_VOCODERS, GRIFFIN_LIM)
# The vocoder used when none is named is the first of these the voice holds: a parallel one, since
# it answers many times faster than the autoregressive WaveNet, and Vocos before HiFi-GAN, since it
# runs its network at frame rate and leaves the upsampling to an inverse STFT.
PARALLEL_PREFERENCE = (VocoderKind.VOCOS, VocoderKind.HIFIGAN)
