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
from tts.encoding import ALL_ENCODINGS, OGG_OPUS, OPUS_SAMPLE_RATES, RAW_ENCODINGS, default_sample_rate
from tts.errors import TextError, UserError
from tts.prosody import PITCH_RANGE_SEMITONES, VOLUME_GAIN_RANGE_DB
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
# Proto enums <-> the library's encoding names: ``AUDIO_ENCODING_<NAME>`` for every name, so an
# encoding the proto does not list fails at import. Which of them this server can produce is
# tts.encoding.supported_encodings()'s answer (ServerLimits.encodings).
ENCODING_NAMES = {pb.AudioEncoding.Value(f"AUDIO_ENCODING_{name.upper()}"): name for name in ALL_ENCODINGS}
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
    encoding: str  # one of tts.encoding.supported_encodings()
    sample_rate: int  # output rate in Hz (the voice's own, or the encoding's, when the request said 0)
    speaking_rate: float
    seed: int
    ssml: bool | None = None  # True: SSML; None: SSML when the text starts with <speak>
    pitch: float = 0.0  # semitones
    volume_gain_db: float = 0.0

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


def encoding_label(name: str) -> str:
    """The proto enum name of encoding ``name``, as clients write it (``AUDIO_ENCODING_MULAW``)."""
    return pb.AudioEncoding.Name(ENCODING_ENUMS[name])


def _encoding_name(value: int, streaming: bool, supported: tuple[str, ...]) -> str:
    """The library name of encoding ``value``; ``supported``: what this server's libsndfile can write."""
    offered = [e for e in supported if e in RAW_ENCODINGS] if streaming else list(supported)
    choices = ", ".join(encoding_label(e) for e in offered)
    if value == pb.AUDIO_ENCODING_UNSPECIFIED:
        raise UserError(f"encoding is required: set one of {choices}")
    name = ENCODING_NAMES.get(value)
    if name is None:
        raise UserError(f"unknown encoding {value}; use one of {choices}")
    if name not in offered:
        where = (
            "SynthesizeStream sends raw samples in chunks"
            if streaming and name in supported
            else "this server cannot produce it"
        )
        raise UserError(f"encoding {encoding_label(name)} is not available: {where}; use one of {choices}")
    return name


def _sample_rate(value: int, synth: Synthesizer, encoding: str) -> int:
    if value == 0:
        return default_sample_rate(encoding, synth.sample_rate)
    if value not in SUPPORTED_SAMPLE_RATES:
        rates = ", ".join(str(r) for r in SUPPORTED_SAMPLE_RATES)
        raise UserError(f"unsupported sample_rate_hz {value}: use 0 (the voice's own) or one of {rates}")
    if encoding == OGG_OPUS and value not in OPUS_SAMPLE_RATES:
        rates = ", ".join(str(r) for r in OPUS_SAMPLE_RATES if r in SUPPORTED_SAMPLE_RATES)
        raise UserError(
            f"Ogg-Opus codes only some rates: set sample_rate_hz to 0 or one of {rates}, not {value}"
        )
    return value


def _in_range(field: str, value: float, bounds: tuple[float, float], unit: str, zero: str) -> float:
    """``value`` of request field ``field`` if within ``bounds``; INVALID_ARGUMENT naming both otherwise."""
    low, high = bounds
    if not math.isfinite(value) or not low <= value <= high:
        raise UserError(f"{field} {value:g} is out of range: use {low:g} to {high:+g} {unit} (0 {zero})")
    return float(value)


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
    ssml: bool = False,
    pitch: float = 0.0,
    volume_gain_db: float = 0.0,
    supported_encodings: tuple[str, ...] = ALL_ENCODINGS,
) -> Job:
    """Check one request's fields (cheapest first) and run the frontend on its text.

    ``vocoders``: proto enum values as the request gave them, or kinds the server chose.
    ``ssml``: the request's flag (False still reads text starting with <speak> as SSML).
    ``supported_encodings``: the encodings this server can produce.
    """
    _check_text(text, config)
    kinds = tuple(v if isinstance(v, VocoderKind) else _vocoder_kind(v) for v in vocoders)
    encoding_name = _encoding_name(encoding, streaming, supported_encodings)
    rate = _speaking_rate(speaking_rate)
    semitones = _in_range("pitch", pitch, PITCH_RANGE_SEMITONES, "semitones", "keeps the voice's pitch")
    gain = _in_range("volume_gain_db", volume_gain_db, VOLUME_GAIN_RANGE_DB, "dB", "keeps the voice's level")
    voice_name, synth = registry.get(voice)
    chosen = tuple(_voice_vocoder(voice_name, synth, k) for k in kinds)
    out_rate = _sample_rate(sample_rate_hz, synth, encoding_name)
    as_ssml = True if ssml else None
    # Raises TextError when nothing in the text can be spoken, SsmlError (with the tag and its
    # position) for malformed or unsupported SSML.
    synth.analyze(text, as_ssml)
    return Job(
        text=text,
        voice=voice_name,
        synth=synth,
        vocoders=chosen,
        encoding=encoding_name,
        sample_rate=out_rate,
        speaking_rate=rate,
        seed=seed,
        ssml=as_ssml,
        pitch=semitones,
        volume_gain_db=gain,
    )
