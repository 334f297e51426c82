"""Request checks that run before a request may take a worker: bad input never reaches a model.

Each failure raises :class:`tts.errors.UserError` (INVALID_ARGUMENT) with a message that says
what to change. The frontend runs here too, so unspeakable text is refused before a worker is
taken.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from server.config import ServerConfig
from server.generated.ganspeech.v1 import synthesis_pb2 as pb
from server.printable import printable
from server.voices import VoiceRegistry
from tts.encoding import FLAC, LINEAR16, WAV
from tts.errors import TextError, UserError
from tts.resample import SUPPORTED_SAMPLE_RATES
from tts.synthesizer import Synthesizer
from vocoders.base import Vocoder
from vocoders.kinds import VocoderKind

# Proto enums <-> the library's vocoder kinds: ``VOCODER_<KIND>`` for every kind, so a kind the
# proto does not list fails at import rather than at a client.
VOCODER_KINDS = {pb.Vocoder.Value(f"VOCODER_{kind.name}"): kind for kind in VocoderKind}
VOCODER_ENUMS = {kind: value for value, kind in VOCODER_KINDS.items()}
# The parallel vocoder Compare sets against WaveNet when the request names none, best first:
# Vocos is both faster and closer to the recordings than HiFi-GAN.
PREFERRED_GAN_VOCODERS = (VocoderKind.VOCOS, VocoderKind.HIFIGAN)
ENCODING_NAMES = {
    pb.AUDIO_ENCODING_LINEAR16: LINEAR16,
    pb.AUDIO_ENCODING_WAV: WAV,
    pb.AUDIO_ENCODING_FLAC: FLAC,
}
ENCODING_ENUMS = {name: value for value, name in ENCODING_NAMES.items()}
# Speaking-rate range accepted (Google Cloud TTS uses the same); 0 in a request means normal speed.
MIN_SPEAKING_RATE = 0.25
MAX_SPEAKING_RATE = 4.0
DEFAULT_SPEAKING_RATE = 1.0


@dataclass(frozen=True)
class Job:
    """A request that passed every check: what to synthesize, with what, into what."""

    text: str
    voice: str  # the resolved voice name (the default's when the request left it empty)
    synth: Synthesizer
    vocoders: tuple[Vocoder, ...]  # one vocoder, or a GAN vocoder and WaveNet for Compare
    encoding: str  # one of tts.encoding.ENCODINGS
    sample_rate: int  # output rate in Hz (the voice's own when the request said 0)
    speaking_rate: float
    seed: int

    @property
    def parallel(self) -> bool:
        """True when every vocoder of the job is parallel; a sequential one needs its own slot."""
        return all(v.parallel for v in self.vocoders)


def _check_text(text: str, config: ServerConfig) -> None:
    if not text or not text.strip():
        raise TextError("text is empty: give at least one word to speak")
    if len(text) > config.max_text_chars:
        raise TextError(
            f"text is {len(text)} characters; this server takes at most {config.max_text_chars}: "
            "split it into several requests"
        )


def vocoder_label(kind: VocoderKind) -> str:
    """The proto enum name of ``kind``, as clients write it (``VOCODER_HIFIGAN``)."""
    return pb.Vocoder.Name(VOCODER_ENUMS[kind])


def _labels(kinds: Iterable[VocoderKind]) -> str:
    return ", ".join(vocoder_label(k) for k in kinds)


def _vocoder_kind(value: int) -> VocoderKind:
    if value == pb.VOCODER_UNSPECIFIED:
        raise UserError(f"vocoder is required: set one of {_labels(VocoderKind)} (ListVoices lists each voice's)")
    if value not in VOCODER_KINDS:
        raise UserError(f"unknown vocoder {value}; use one of {_labels(VocoderKind)}")
    return VOCODER_KINDS[value]


def _voice_vocoder(voice: str, synth: Synthesizer, kind: VocoderKind) -> Vocoder:
    """The vocoder ``kind`` of ``voice``; INVALID_ARGUMENT naming what the voice offers otherwise."""
    try:
        return synth.vocoder_map[kind]
    except KeyError:
        raise UserError(
            f"voice '{printable(voice)}' has no {vocoder_label(kind)}; it offers {_labels(synth.vocoders)}"
        ) from None


def gan_vocoder_kind(value: int, voice: str, synth: Synthesizer) -> VocoderKind:
    """Compare's parallel vocoder: the one asked for, or the voice's preferred one (UNSPECIFIED)."""
    parallel = [k for k, v in synth.vocoder_map.items() if v.parallel]
    if value == pb.VOCODER_UNSPECIFIED:
        ranked = [k for k in PREFERRED_GAN_VOCODERS if k in parallel] + parallel
        if not ranked:
            raise UserError(f"voice '{printable(voice)}' has no parallel vocoder to compare with")
        return ranked[0]
    kind = _vocoder_kind(value)
    if not _voice_vocoder(voice, synth, kind).parallel:
        raise UserError(
            f"gan_vocoder must be a parallel vocoder, not {vocoder_label(kind)}; "
            f"voice '{printable(voice)}' offers {_labels(parallel)}"
        )
    return kind


def _encoding_name(value: int, streaming: bool) -> str:
    if streaming:
        if value != pb.AUDIO_ENCODING_LINEAR16:
            raise UserError(
                "SynthesizeStream sends raw PCM chunks: set encoding to AUDIO_ENCODING_LINEAR16 "
                "(use Synthesize for a WAV or FLAC file)"
            )
        return LINEAR16
    choices = "AUDIO_ENCODING_LINEAR16, AUDIO_ENCODING_WAV or AUDIO_ENCODING_FLAC"
    if value == pb.AUDIO_ENCODING_UNSPECIFIED:
        raise UserError(f"encoding is required: set {choices}")
    if value not in ENCODING_NAMES:
        raise UserError(f"unknown encoding {value}; use {choices}")
    return ENCODING_NAMES[value]


def _sample_rate(value: int, synth: Synthesizer) -> int:
    if value == 0:
        return synth.sample_rate
    if value not in SUPPORTED_SAMPLE_RATES:
        rates = ", ".join(str(r) for r in SUPPORTED_SAMPLE_RATES)
        raise UserError(f"unsupported sample_rate_hz {value}: use 0 (the voice's own) or one of {rates}")
    return value


def _speaking_rate(value: float) -> float:
    if value == 0:
        return DEFAULT_SPEAKING_RATE
    if not math.isfinite(value) or not MIN_SPEAKING_RATE <= value <= MAX_SPEAKING_RATE:
        raise UserError(
            f"speaking_rate {value} is out of range: use {MIN_SPEAKING_RATE} to {MAX_SPEAKING_RATE} "
            "(1.0 is normal speed; 0 means 1.0)"
        )
    return float(value)


def validate(
    *,
    text: str,
    voice: str,
    vocoders: tuple[int | VocoderKind, ...],
    encoding: int,
    sample_rate_hz: int,
    speaking_rate: float,
    seed: int,
    registry: VoiceRegistry,
    config: ServerConfig,
    streaming: bool = False,
) -> Job:
    """Check one request's fields (cheapest first) and run the frontend on its text.

    ``vocoders``: proto enum values as the request gave them, or kinds the server chose.
    """
    _check_text(text, config)
    kinds = tuple(v if isinstance(v, VocoderKind) else _vocoder_kind(v) for v in vocoders)
    encoding_name = _encoding_name(encoding, streaming)
    rate = _speaking_rate(speaking_rate)
    voice_name, synth = registry.get(voice)
    chosen = tuple(_voice_vocoder(voice_name, synth, k) for k in kinds)
    out_rate = _sample_rate(sample_rate_hz, synth)
    synth.analyze(text)  # raises TextError when nothing in the text can be spoken
    return Job(
        text=text,
        voice=voice_name,
        synth=synth,
        vocoders=chosen,
        encoding=encoding_name,
        sample_rate=out_rate,
        speaking_rate=rate,
        seed=seed,
    )
