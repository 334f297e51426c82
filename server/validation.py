"""Request checks that run before a request may take a worker: bad input never reaches a model.

Each failure raises :class:`tts.errors.UserError` (INVALID_ARGUMENT) with a message that says
what to change. The frontend runs here too, so unspeakable text is refused before a worker is
taken.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from server.config import ServerConfig
from server.encoding import FLAC, LINEAR16, WAV
from server.generated.ganspeech.v1 import synthesis_pb2 as pb
from server.resample import SUPPORTED_SAMPLE_RATES
from server.voices import VoiceRegistry
from tts.errors import TextError, UserError
from tts.synthesizer import Synthesizer

# Proto enums <-> the names the library uses.
VOCODER_NAMES = {pb.VOCODER_HIFIGAN: "hifigan", pb.VOCODER_WAVENET: "wavenet"}
VOCODER_ENUMS = {name: value for value, name in VOCODER_NAMES.items()}
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
    vocoders: tuple[str, ...]  # one vocoder, or both for Compare
    encoding: str  # one of server.encoding.ENCODINGS
    sample_rate: int  # output rate in Hz (the voice's own when the request said 0)
    speaking_rate: float
    seed: int

    @property
    def needs_wavenet(self) -> bool:
        return "wavenet" in self.vocoders


def _check_text(text: str, config: ServerConfig) -> None:
    if not text or not text.strip():
        raise TextError("text is empty: give at least one word to speak")
    if len(text) > config.max_text_chars:
        raise TextError(
            f"text is {len(text)} characters; this server takes at most {config.max_text_chars}: "
            "split it into several requests"
        )


def _vocoder_name(value: int) -> str:
    if value == pb.VOCODER_UNSPECIFIED:
        raise UserError("vocoder is required: set VOCODER_HIFIGAN (fast, parallel) or VOCODER_WAVENET (slow)")
    if value not in VOCODER_NAMES:
        raise UserError(f"unknown vocoder {value}; use VOCODER_HIFIGAN or VOCODER_WAVENET")
    return VOCODER_NAMES[value]


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
    vocoders: tuple[int, ...],
    encoding: int,
    sample_rate_hz: int,
    speaking_rate: float,
    seed: int,
    registry: VoiceRegistry,
    config: ServerConfig,
    streaming: bool = False,
) -> Job:
    """Check one request's fields (cheapest first) and run the frontend on its text."""
    _check_text(text, config)
    names = tuple(_vocoder_name(v) for v in vocoders)
    encoding_name = _encoding_name(encoding, streaming)
    rate = _speaking_rate(speaking_rate)
    voice_name, synth = registry.get(voice)
    for name in names:
        synth.check_vocoder(name)
    out_rate = _sample_rate(sample_rate_hz, synth)
    synth.analyze(text)  # raises TextError when nothing in the text can be spoken
    return Job(
        text=text,
        voice=voice_name,
        synth=synth,
        vocoders=names,
        encoding=encoding_name,
        sample_rate=out_rate,
        speaking_rate=rate,
        seed=seed,
    )
