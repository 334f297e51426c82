"""Which class implements each :class:`~vocoders.base.VocoderKind`, and loading a stored vocoder.

A stored vocoder is a ``stem.safetensors`` + ``stem.json`` pair (:mod:`vocoders.serialization`)
whose JSON names its kind, its audio config and its model config.
"""

from __future__ import annotations

import logging
from pathlib import Path

from vocoders.audio import AudioConfig, check_compatible
from vocoders.base import Vocoder
from vocoders.hifigan_vocoder import HiFiGANVocoder
from vocoders.kinds import AUTO, VocoderKind
from vocoders.serialization import config_from_dict, load_state, read_meta
from vocoders.vocos_vocoder import VocosVocoder
from vocoders.wavenet_vocoder import WaveNetVocoder

logger = logging.getLogger(__name__)

VOCODERS: dict[VocoderKind, type[Vocoder]] = {
    VocoderKind.HIFIGAN: HiFiGANVocoder,
    VocoderKind.VOCOS: VocosVocoder,
    VocoderKind.WAVENET: WaveNetVocoder,
}


def vocoder_class(kind: VocoderKind | str) -> type[Vocoder]:
    """The implementation of ``kind``; ``ValueError`` for an unknown one."""
    return VOCODERS[VocoderKind.parse(kind)]


def load_vocoder(stem: str | Path, audio: AudioConfig, backend: str = AUTO) -> Vocoder:
    """The vocoder stored under ``stem``, ready for inference with ``backend``.

    Raises ``ValueError`` when the stem holds no vocoder, :class:`vocoders.audio.AudioConfigMismatch`
    when it was trained on other features than ``audio``, ``FileNotFoundError`` when a file is missing.
    """
    meta = read_meta(stem)
    kind = VocoderKind.parse(meta.get("kind", ""))
    check_compatible(audio, AudioConfig.from_dict(meta["audio"]), f"the voice and its {kind.value} model")
    cls = VOCODERS[kind]
    model = cls.build_model(config_from_dict(cls.config_type, meta["config"]), audio)
    model.load_state_dict(load_state(stem))
    # Weight norm is a training aid: folding it once here makes every inference call cheaper.
    remove = getattr(model, "remove_weight_norm", None)
    if callable(remove):
        remove()
    model.eval()
    return cls.from_model(model, audio, backend)
