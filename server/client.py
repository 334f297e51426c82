"""A small Python client for the synthesis service (what ``ganspeech client`` uses).

with SynthesisClient("127.0.0.1:50051") as client:
    response = client.synthesize("Hello there.", vocoder=VocoderKind.VOCOS, encoding="wav")
    Path("hello.wav").write_bytes(response.audio)
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import grpc
import numpy as np
from grpc_health.v1 import health_pb2, health_pb2_grpc

from server.generated.ganspeech.v1 import synthesis_pb2 as pb
from server.generated.ganspeech.v1 import synthesis_pb2_grpc as pb_grpc
from server.validation import ENCODING_ENUMS, ENCODING_NAMES, VOCODER_ENUMS, VOCODER_KINDS
from tts.encoding import ALL_ENCODINGS, LINEAR16, decode
from tts.errors import UserError
from tts.units import MS_PER_S
from vocoders.kinds import VocoderKind

if TYPE_CHECKING:
    from typing_extensions import Self  # typing.Self needs Python 3.11; only type checkers read this

DEFAULT_SERVER = "127.0.0.1:50051"


def vocoder_enum(name: str | VocoderKind) -> int:
    """A vocoder kind, or its name (``"vocos"``), as the proto enum value."""
    try:
        return VOCODER_ENUMS[VocoderKind.parse(name)]
    except ValueError as exc:
        raise UserError(str(exc)) from None


def encoding_enum(name: str) -> int:
    """An encoding's library name (``"wav"``, ``"mulaw"``, ...) as the proto enum value."""
    try:
        return ENCODING_ENUMS[name]
    except KeyError:
        raise UserError(f"unknown encoding {name!r}; choose one of {', '.join(ALL_ENCODINGS)}") from None


def vocoder_name(value: int) -> str:
    """The kind name of a proto enum value (its number for a kind this client does not know)."""
    kind = VOCODER_KINDS.get(value)
    return kind.value if kind is not None else str(value)


def response_audio(response: pb.SynthesizeResponse) -> np.ndarray:
    """The audio of a unary response as float32 ``(T,)``."""
    return decode(response.audio, ENCODING_NAMES[response.encoding])


def synthesize_request(
    text: str,
    vocoder: str | VocoderKind,
    voice: str,
    encoding: str,
    sample_rate_hz: int,
    speaking_rate: float,
    seed: int,
    ssml: bool = False,
    pitch: float = 0.0,
    volume_gain_db: float = 0.0,
) -> pb.SynthesizeRequest:
    """The request of a unary or streamed synthesis, vocoder and encoding given by name."""
    return pb.SynthesizeRequest(
        text=text,
        voice=voice,
        vocoder=vocoder_enum(vocoder),
        encoding=encoding_enum(encoding),
        sample_rate_hz=sample_rate_hz,
        speaking_rate=speaking_rate,
        seed=seed,
        ssml=ssml,
        pitch=pitch,
        volume_gain_db=volume_gain_db,
    )


@dataclass
class StreamedAudio:
    """A whole stream gathered: the audio, its format and the server's summary."""

    audio: np.ndarray  # (T,) float32
    format: pb.StreamFormat
    summary: pb.StreamSummary
    chunks: int  # audio chunks received
    client_first_chunk_ms: float  # from sending the request to receiving the first audio chunk
    client_total_ms: float  # from sending the request to receiving the summary


class SynthesisClient:
    """Blocking calls to one server; ``timeout`` (seconds) becomes each call's gRPC deadline."""

    def __init__(self, target: str = DEFAULT_SERVER, timeout: float | None = None) -> None:
        self.target = target
        self.timeout = timeout
        self.channel = grpc.insecure_channel(target)
        self.stub = pb_grpc.SynthesizerStub(self.channel)
        self.health_stub = health_pb2_grpc.HealthStub(self.channel)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.channel.close()

    def _timeout(self, timeout: float | None) -> float | None:
        return self.timeout if timeout is None else timeout

    def synthesize(
        self,
        text: str,
        vocoder: str | VocoderKind = VocoderKind.HIFIGAN,
        voice: str = "",
        encoding: str = "wav",
        sample_rate_hz: int = 0,
        speaking_rate: float = 1.0,
        seed: int = 0,
        timeout: float | None = None,
        batching: bool = True,
        ssml: bool = False,
        pitch: float = 0.0,
        volume_gain_db: float = 0.0,
    ) -> pb.SynthesizeResponse:
        """``batching`` False: run alone, never in a batch with concurrent requests. ``ssml``: read
        ``text`` as SSML (text starting with ``<speak>`` is read so anyway)."""
        request = synthesize_request(
            text, vocoder, voice, encoding, sample_rate_hz, speaking_rate, seed, ssml, pitch, volume_gain_db
        )
        request.no_batching = not batching
        return self.stub.Synthesize(request, timeout=self._timeout(timeout))

    def stream(
        self,
        text: str,
        vocoder: str | VocoderKind = VocoderKind.HIFIGAN,
        voice: str = "",
        sample_rate_hz: int = 0,
        speaking_rate: float = 1.0,
        seed: int = 0,
        timeout: float | None = None,
        encoding: str = LINEAR16,
        ssml: bool = False,
        pitch: float = 0.0,
        volume_gain_db: float = 0.0,
    ) -> Iterator[pb.SynthesizeStreamResponse]:
        """The raw stream: a format message, audio chunks (``encoding``: linear16, mulaw or alaw),
        then a summary."""
        request = synthesize_request(
            text, vocoder, voice, encoding, sample_rate_hz, speaking_rate, seed, ssml, pitch, volume_gain_db
        )
        return self.stub.SynthesizeStream(request, timeout=self._timeout(timeout))

    def stream_audio(self, text: str, **kwargs: object) -> StreamedAudio:
        """Run :meth:`stream` to the end and join its chunks (arguments as :meth:`stream`)."""
        t0 = time.perf_counter()
        fmt: pb.StreamFormat | None = None
        summary: pb.StreamSummary | None = None
        pieces: list[np.ndarray] = []
        first_ms = 0.0
        for message in self.stream(text, **kwargs):  # type: ignore[arg-type]
            kind = message.WhichOneof("content")
            if kind == "format":
                fmt = message.format
            elif kind == "chunk":
                if fmt is None:
                    raise RuntimeError("the stream sent audio before its format message")
                first_ms = first_ms or (time.perf_counter() - t0) * MS_PER_S
                pieces.append(decode(message.chunk.audio, ENCODING_NAMES[fmt.encoding]))
            elif kind == "summary":
                summary = message.summary
        if fmt is None or summary is None:
            raise RuntimeError("the stream ended without its format or summary message")
        audio = np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.float32)
        return StreamedAudio(
            audio, fmt, summary, len(pieces), first_ms, (time.perf_counter() - t0) * MS_PER_S
        )

    def compare(
        self,
        text: str,
        voice: str = "",
        encoding: str = "wav",
        sample_rate_hz: int = 0,
        speaking_rate: float = 1.0,
        seed: int = 0,
        timeout: float | None = None,
        gan_vocoder: str | VocoderKind | None = None,
        ssml: bool = False,
        pitch: float = 0.0,
        volume_gain_db: float = 0.0,
    ) -> pb.CompareResponse:
        """``gan_vocoder``: the parallel vocoder set against WaveNet (None: the voice's preferred)."""
        request = pb.CompareRequest(
            text=text,
            voice=voice,
            encoding=encoding_enum(encoding),
            sample_rate_hz=sample_rate_hz,
            speaking_rate=speaking_rate,
            seed=seed,
            gan_vocoder=pb.VOCODER_UNSPECIFIED if gan_vocoder is None else vocoder_enum(gan_vocoder),
            ssml=ssml,
            pitch=pitch,
            volume_gain_db=volume_gain_db,
        )
        return self.stub.Compare(request, timeout=self._timeout(timeout))

    def list_voices(self, language_code: str = "", timeout: float | None = None) -> pb.ListVoicesResponse:
        return self.stub.ListVoices(
            pb.ListVoicesRequest(language_code=language_code), timeout=self._timeout(timeout)
        )

    def health(self, service: str = "", timeout: float | None = None) -> str:
        """The server's health status name (``SERVING``, ``NOT_SERVING``, ...) for ``service``."""
        reply = self.health_stub.Check(
            health_pb2.HealthCheckRequest(service=service), timeout=self._timeout(timeout)
        )
        return health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
