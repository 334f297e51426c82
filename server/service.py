"""The ``ganspeech.v1.Synthesizer`` servicer: validation, admission, synthesis, status codes.

The four RPCs live in one module, past this project's usual length, because they share one
scaffold (:meth:`SynthesisServicer._rpc`) and one status mapping that a reader must see together
with every handler that relies on them.

Handlers run on the gRPC server's thread pool, never on its I/O (completion-queue) thread, and
each takes a worker slot from :class:`server.admission.Admission` before touching a model (a
unary request of a GAN vocoder may instead share its batch's slot, :mod:`server.batching`). Every
RPC runs inside :meth:`SynthesisServicer._rpc`, which maps its outcome to a status and writes its
one log line.

A job stops early when its client's deadline passes, when the client cancels, or when a
shutdown's grace period ends (:meth:`SynthesisServicer.cancel_all`): ``should_stop`` is polled by
the WaveNet sample loop (within one sample block), between sentences, between streamed HiFi-GAN
chunks and before a unary response is returned, so cancelled work never reports OK.

Exceptions map to status codes in :meth:`SynthesisServicer._fail`: user errors are
INVALID_ARGUMENT, a full gate RESOURCE_EXHAUSTED, a loading or draining server UNAVAILABLE, a
stopped job DEADLINE_EXCEEDED or CANCELLED, anything else INTERNAL (with the traceback in the log
and the server still serving). Client text echoed in a status message or a log field is
escaped and bounded (:mod:`server.printable`).
"""

from __future__ import annotations

import logging
import math
import re
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field

import grpc
import numpy as np

from server.admission import Admission, Overloaded, StoppedWaiting
from server.batching import BatchedResult, Batcher
from server.config import ServerConfig
from server.generated.ganspeech.v1 import synthesis_pb2 as pb
from server.generated.ganspeech.v1 import synthesis_pb2_grpc as pb_grpc
from server.memory import release_free_memory
from server.metrics import ServerMetrics
from server.printable import escape, one_line, printable
from server.validation import (
    ENCODING_ENUMS,
    VOCODER_ENUMS,
    VOCODER_KINDS,
    Job,
    gan_vocoder_kind,
    validate,
)
from server.voices import VoiceRegistry
from tts.encoding import BYTES_PER_SAMPLE, encode, supported_encodings
from tts.errors import UserError
from tts.resample import SUPPORTED_SAMPLE_RATES, StreamResampler, resample
from tts.synthesizer import SynthesisResult, Timings
from tts.timing import MarkTiming, WordTiming, to_sample
from tts.units import MS_PER_S
from vocoders.base import Vocoder
from vocoders.kinds import VocoderKind
from vocoders.wavenet import GenerationCancelled

logger = logging.getLogger(__name__)

# Metadata key a client may set to tag its request in the server log; echoed in trailing metadata.
REQUEST_ID_KEY = "x-request-id"
# A client-chosen id is logged verbatim, so it is restricted to a short, harmless alphabet.
_CLIENT_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
# Hex digits of a server-made request id: enough to tell apart the requests of a day's log.
GENERATED_ID_LEN = 12
MONO = 1
# Room per unary output for a container header (WAV's is 44 bytes) on top of the PCM samples.
HEADER_ALLOWANCE_BYTES = 1024
# The end of a traceback is kept (the failing call); its start is the handler's own frames.
MAX_TRACEBACK_CHARS = 8000
# What gRPC tells clients whose calls it cancels itself when the server stops.
GRPC_STOP_DETAILS = "Cancelling all calls"
SHUTDOWN_DETAILS = "the server shut down before this request finished; retry on another instance"
# Audio length from which a job's freed memory is handed back to the OS when it ends: shorter jobs
# allocate little, and the next one reuses it.
TRIM_AFTER_AUDIO_S = 20.0


class Unavailable(Exception):
    """The server cannot take requests now (models still loading, or shutting down)."""


@dataclass
class _Call:
    """Bookkeeping of one RPC, for its status and its log line."""

    rpc: str
    rid: str
    context: grpc.ServicerContext
    shutdown: threading.Event  # set when the server cancels every request (grace period over)
    t0: float = field(default_factory=time.perf_counter)
    voice: str = "-"
    vocoder: str = "-"
    chars: int = 0
    audio_s: float = 0.0  # the audio the job was set to make, known once text-to-mel has run
    first_audio_ms: float | None = None  # when its first audio was ready (None: not yet)
    code: grpc.StatusCode | None = None  # None until the RPC ends
    summary: str = ""  # latency figures or the status message, for the log line

    def should_stop(self) -> bool:
        return self.shutdown.is_set() or not self.context.is_active()

    def server_ms(self) -> float:
        return (time.perf_counter() - self.t0) * MS_PER_S


def _word_messages(words: list[WordTiming]) -> list[pb.WordTiming]:
    return [pb.WordTiming(word=w.word, start_s=w.start_s, end_s=w.end_s) for w in words]


def _mark_messages(marks: list[MarkTiming]) -> list[pb.MarkTiming]:
    return [pb.MarkTiming(name=m.name, time_s=m.time_s) for m in marks]


@dataclass
class _StreamTally:
    """What a stream has sent so far: chunk and sample counts, when its first audio left, and the
    word and mark timings the synthesizer has given that no chunk has carried yet."""

    encoding: str  # a raw encoding (tts.encoding.RAW_ENCODINGS)
    sample_rate: int  # of the audio sent
    t_start: float = field(default_factory=time.perf_counter)
    first_chunk_ms: float = 0.0
    chunks: int = 0
    samples: int = 0
    pending_words: list[WordTiming] = field(default_factory=list)
    pending_marks: list[MarkTiming] = field(default_factory=list)
    words: list[pb.WordTiming] = field(default_factory=list)  # every word sent so far
    marks: list[pb.MarkTiming] = field(default_factory=list)

    def chunk(self, audio: np.ndarray, sentence: int, last: bool = False) -> pb.SynthesizeStreamResponse:
        """The message carrying ``audio`` ``(T,)`` of sentence ``sentence``, counted, with the pending
        timings that start in it (``last``: every pending one, those at the very end included).

        Timings are placed by the output samples sent, not the synthesizer's chunks: the resampler
        holds back a few samples, so a word can start in the chunk after the one it came with.
        """
        elapsed_ms = (time.perf_counter() - self.t_start) * MS_PER_S
        self.first_chunk_ms = self.first_chunk_ms or elapsed_ms
        self.chunks += 1
        self.samples += len(audio)
        sent = self.samples if not last else math.inf
        words = [w for w in self.pending_words if to_sample(w.start_s, self.sample_rate) < sent]
        marks = [m for m in self.pending_marks if to_sample(m.time_s, self.sample_rate) < sent]
        del self.pending_words[: len(words)], self.pending_marks[: len(marks)]
        message = pb.AudioChunk(
            audio=encode(audio, self.sample_rate, self.encoding),
            sentence_index=sentence,
            elapsed_ms=elapsed_ms,
            words=_word_messages(words),
            marks=_mark_messages(marks),
        )
        self.words.extend(message.words)
        self.marks.extend(message.marks)
        return pb.SynthesizeStreamResponse(chunk=message)


def _latency(
    timings: Timings,
    call: _Call,
    queue_ms: float,
    first_chunk_ms: float = 0.0,
    audio_seconds: float | None = None,
    batch: BatchedResult | None = None,
) -> pb.Latency:
    seconds = timings.audio_seconds if audio_seconds is None else audio_seconds
    return pb.Latency(
        frontend_ms=timings.frontend_ms,
        text2mel_ms=timings.text2mel_ms,
        vocoder_ms=timings.vocoder_ms,
        total_ms=timings.total_ms,
        rtf=timings.total_ms / MS_PER_S / seconds if seconds > 0 else 0.0,
        first_chunk_ms=first_chunk_ms,
        server_ms=call.server_ms(),
        queue_ms=queue_ms,
        batch_wait_ms=batch.batch_wait_ms if batch is not None else 0.0,
        batch_size=batch.batch_size if batch is not None else 1,
    )


def _summary(latency: pb.Latency, audio_seconds: float) -> str:
    text = (
        f"audio_s={audio_seconds:.2f} total_ms={latency.total_ms:.1f} vocoder_ms={latency.vocoder_ms:.1f} "
        f"queue_ms={latency.queue_ms:.1f} rtf={latency.rtf:.3f}"
    )
    if latency.first_chunk_ms:
        text += f" first_chunk_ms={latency.first_chunk_ms:.1f}"
    if latency.batch_size > 1:
        text += f" batch={latency.batch_size} batch_wait_ms={latency.batch_wait_ms:.1f}"
    return text


class SynthesisServicer(pb_grpc.SynthesizerServicer):
    """Serves the voices of a :class:`VoiceRegistry` once :meth:`set_registry` has been called."""

    def __init__(
        self,
        config: ServerConfig,
        admission: Admission,
        batcher: Batcher | None = None,
        metrics: ServerMetrics | None = None,
    ) -> None:
        """``batcher``: groups unary requests of parallel vocoders (None: each runs alone);
        ``metrics``: where outcomes and latencies are recorded (None: metrics of its own)."""
        self.config = config
        self.admission = admission
        self.batcher = batcher
        self.metrics = metrics or ServerMetrics(admission)
        self._registry: VoiceRegistry | None = None
        self._draining = False
        self._shutdown = threading.Event()
        self._grpc_stopped = False
        self._cond = threading.Condition()
        self._active = 0
        # What this server's libsndfile can write, asked once (ListVoices lists it).
        self.encodings = supported_encodings()

    # Lifecycle (called by server.app).

    def set_registry(self, registry: VoiceRegistry) -> None:
        self._registry = registry
        self.metrics.serve_voices(registry.names)

    def begin_drain(self) -> None:
        """Refuse new requests with UNAVAILABLE from now on; those in flight carry on."""
        self._draining = True

    def cancel_all(self) -> None:
        """Stop every request in flight or queued; each ends with CANCELLED at its client."""
        self._shutdown.set()

    def grpc_stopped(self) -> None:
        """gRPC has cancelled the calls still open: their clients got UNAVAILABLE, whatever follows."""
        self._grpc_stopped = True

    @property
    def draining(self) -> bool:
        return self._draining

    @property
    def active_requests(self) -> int:
        with self._cond:
            return self._active

    def wait_idle(self, timeout: float) -> bool:
        """Block until no request is in flight (True) or ``timeout`` seconds pass (False)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._active:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
            return True

    # RPCs.

    def Synthesize(
        self, request: pb.SynthesizeRequest, context: grpc.ServicerContext
    ) -> pb.SynthesizeResponse:
        with self._rpc("Synthesize", context, request.text, request.vocoder) as call:
            job = self._validate(call, request, (request.vocoder,))
            if self.batcher is not None and job.parallel and not request.no_batching:
                batched = self.batcher.synthesize(
                    job, call.should_stop, self._audio_check(job, call, outputs=1)
                )
                response = self._response(job, batched.result, call, batched.queue_ms, batched)
            else:
                with self.admission.job(job.parallel, call.should_stop) as queue_ms:
                    result = self._run(job, job.vocoders[0], call, outputs=1)
                    response = self._response(job, result, call, queue_ms)
            self._check_unary_size(len(response.audio), response.audio_seconds)
            call.summary = _summary(response.latency, response.audio_seconds)
            call.first_audio_ms = call.server_ms()
            return response

    def SynthesizeStream(
        self, request: pb.SynthesizeRequest, context: grpc.ServicerContext
    ) -> Iterator[pb.SynthesizeStreamResponse]:
        with self._rpc("SynthesizeStream", context, request.text, request.vocoder) as call:
            job = self._validate(call, request, (request.vocoder,), streaming=True)
            with self.admission.job(job.parallel, call.should_stop) as queue_ms:
                yield from self._stream(job, call, queue_ms)

    def Compare(self, request: pb.CompareRequest, context: grpc.ServicerContext) -> pb.CompareResponse:
        with self._rpc("Compare", context, request.text) as call:
            registry = self._registry_or_unavailable()
            call.voice = request.voice or registry.default
            voice, synth = registry.get(request.voice)
            kinds = (gan_vocoder_kind(request.gan_vocoder, voice, synth), VocoderKind.WAVENET)
            call.vocoder = "+".join(k.value for k in kinds)
            job = self._validate(call, request, kinds)
            gan_voc, wavenet_voc = job.vocoders
            with self.admission.job(job.parallel, call.should_stop) as queue_ms:
                # One after the other on one worker: neither run's timing is disturbed by the other.
                # The first run's check counts both outputs, so neither vocoder runs for audio
                # that could not be returned.
                gan = self._response(job, self._run(job, gan_voc, call, outputs=2), call, queue_ms)
                wavenet = self._response(job, self._run(job, wavenet_voc, call, outputs=2), call, queue_ms)
            self._check_unary_size(
                len(gan.audio) + len(wavenet.audio), gan.audio_seconds + wavenet.audio_seconds
            )
            response = pb.CompareResponse(
                gan=gan,
                wavenet=wavenet,
                vocoder_speed_ratio=_ratio(wavenet.latency.vocoder_ms, gan.latency.vocoder_ms),
                total_speed_ratio=_ratio(wavenet.latency.total_ms, gan.latency.total_ms),
            )
            call.summary = (
                f"{gan_voc.kind}_total_ms={gan.latency.total_ms:.1f} "
                f"{wavenet_voc.kind}_total_ms={wavenet.latency.total_ms:.1f} "
                f"vocoder_speed_ratio={response.vocoder_speed_ratio:.1f}"
            )
            return response

    def ListVoices(
        self, request: pb.ListVoicesRequest, context: grpc.ServicerContext
    ) -> pb.ListVoicesResponse:
        with self._rpc("ListVoices", context) as call:
            registry = self._registry_or_unavailable()
            prefix = request.language_code.lower()
            voices = [
                pb.Voice(
                    name=name,
                    language_code=synth.manifest.language,
                    native_sample_rate_hz=synth.sample_rate,
                    vocoders=[VOCODER_ENUMS[v] for v in synth.vocoders],
                    is_default=name == registry.default,
                    trained=synth.manifest.trained,
                    description=synth.manifest.description,
                    vocoder_info=[_vocoder_info(v) for v in synth.vocoder_map.values()],
                )
                for name, synth in registry.items()
                if synth.manifest.language.lower().startswith(prefix)
            ]
            call.summary = f"voices={len(voices)}"
            return pb.ListVoicesResponse(voices=voices, limits=self._limits(registry))

    # The scaffold every RPC runs in.

    @contextmanager
    def _rpc(
        self, rpc: str, context: grpc.ServicerContext, text: str = "", vocoder: int | None = None
    ) -> Iterator[_Call]:
        """Run one RPC's body: its failure becomes a status (see :meth:`_fail`), its end a log line.

        A body that completes while its call was stopped (a unary HiFi-GAN pass finishing after a
        cancel) still ends CANCELLED or DEADLINE_EXCEEDED: the log never says OK to a client that
        did not get it.
        """
        call = self._begin(rpc, context, text, vocoder)
        try:
            yield call
            if call.should_stop():
                raise GenerationCancelled("the request was stopped before its response was sent")
            call.code = grpc.StatusCode.OK
        except Exception as exc:  # noqa: BLE001  (every failure becomes a status code; see _fail)
            self._fail(call, exc)
        finally:
            self._finish(call)

    def _begin(self, rpc: str, context: grpc.ServicerContext, text: str, vocoder: int | None) -> _Call:
        given = dict(context.invocation_metadata()).get(REQUEST_ID_KEY, "")
        rid = (
            given
            if isinstance(given, str) and _CLIENT_ID.match(given)
            else uuid.uuid4().hex[:GENERATED_ID_LEN]
        )
        context.set_trailing_metadata(((REQUEST_ID_KEY, rid),))
        call = _Call(rpc=rpc, rid=rid, context=context, shutdown=self._shutdown, chars=len(text))
        if vocoder is not None:
            kind = VOCODER_KINDS.get(vocoder)
            call.vocoder = kind.value if kind is not None else str(vocoder)
        with self._cond:
            self._active += 1
        return call

    def _finish(self, call: _Call) -> None:
        if call.code is None:  # the client went away and gRPC closed the stream under us
            call.code = grpc.StatusCode.CANCELLED
        # Every field is one line of printable text, so no client input can forge a log line.
        logger.info(
            "req=%s rpc=%s voice=%s vocoder=%s chars=%d status=%s server_ms=%.1f %s",
            call.rid,
            call.rpc,
            printable(call.voice),
            call.vocoder,
            call.chars,
            call.code.name,
            call.server_ms(),
            one_line(call.summary),
        )
        ok = call.code == grpc.StatusCode.OK
        self.metrics.request_done(
            call.rpc, call.voice, call.vocoder, call.code.name, call.first_audio_ms if ok else None
        )
        if call.audio_s >= TRIM_AFTER_AUDIO_S:
            release_free_memory()
        with self._cond:
            self._active -= 1
            self._cond.notify_all()

    def _fail(self, call: _Call, exc: Exception) -> None:
        """Record the status ``exc`` maps to and abort the RPC with it (raises)."""
        done = call.summary  # what the job did before it was stopped, if anything
        if isinstance(exc, UserError):
            code, details = grpc.StatusCode.INVALID_ARGUMENT, str(exc)
        elif isinstance(exc, Overloaded):
            code, details = grpc.StatusCode.RESOURCE_EXHAUSTED, str(exc)
            done = f"refused_total={self.admission.refused}"
        elif isinstance(exc, Unavailable):
            code, details = grpc.StatusCode.UNAVAILABLE, str(exc)
        elif isinstance(exc, (GenerationCancelled, StoppedWaiting)):
            code, details = self._stopped_status(call, exc)
        else:
            tb = escape(traceback.format_exc())[-MAX_TRACEBACK_CHARS:]
            logger.error("req=%s rpc=%s failed: %s", call.rid, call.rpc, tb)
            code = grpc.StatusCode.INTERNAL
            details = f"internal error in request {call.rid}; the server log has the details"
            done = f"{type(exc).__name__}: {exc}"
        details = one_line(details)
        call.code = code
        call.summary = f"{details} {done}" if done else details
        call.context.abort(code, details)

    def _stopped_status(self, call: _Call, exc: Exception) -> tuple[grpc.StatusCode, str]:
        """What the client of a stopped job sees: the status is logged as the client got it."""
        if self._grpc_stopped:
            return grpc.StatusCode.UNAVAILABLE, GRPC_STOP_DETAILS
        if self._shutdown.is_set():
            return grpc.StatusCode.CANCELLED, SHUTDOWN_DETAILS
        remaining = call.context.time_remaining()
        if remaining is not None and remaining <= 0:
            return grpc.StatusCode.DEADLINE_EXCEEDED, f"stopped: {exc}"
        return grpc.StatusCode.CANCELLED, f"stopped: {exc}"

    # Steps shared by the RPCs.

    def _registry_or_unavailable(self) -> VoiceRegistry:
        if self._draining:
            raise Unavailable("the server is shutting down; retry on another instance")
        if self._registry is None:
            raise Unavailable("the server is still loading its models; retry in a moment")
        return self._registry

    def _validate(
        self,
        call: _Call,
        request: pb.SynthesizeRequest | pb.CompareRequest,
        vocoders: tuple[int, ...],
        streaming: bool = False,
    ) -> Job:
        registry = self._registry_or_unavailable()
        call.voice = request.voice or registry.default
        return validate(
            text=request.text,
            voice=request.voice,
            vocoders=vocoders,
            encoding=request.encoding,
            sample_rate_hz=request.sample_rate_hz,
            speaking_rate=request.speaking_rate,
            seed=request.seed,
            registry=registry,
            config=self.config,
            streaming=streaming,
            ssml=request.ssml,
            pitch=request.pitch,
            volume_gain_db=request.volume_gain_db,
            supported_encodings=self.encodings,
        )

    def _audio_check(self, job: Job, call: _Call, outputs: int | None) -> Callable[[int], None]:
        """Refuses, right after text-to-mel, audio over ``--max-audio-seconds`` or the unary limit.

        The check gets the samples the audio holds at least, SSML breaks and pitch stretch included
        (:meth:`tts.synthesizer.Synthesizer.prepare_sentences`). ``outputs``: how many audios of
        this length one unary response carries (None: streamed).
        """
        native = job.synth.sample_rate
        limit_s = self.config.max_audio_seconds
        limit_bytes = self.config.max_unary_audio_bytes

        def check(samples: int) -> None:
            seconds = samples / native
            call.audio_s = seconds
            if seconds > limit_s:
                raise UserError(
                    f"the text makes at least {seconds:.1f} s of audio, over this server's max_audio_seconds "
                    f"({limit_s:g} s per request, see ListVoices): split it into several requests "
                    "or raise speaking_rate"
                )
            if outputs is None:
                return
            out_samples = math.ceil(samples * job.sample_rate / native)
            n_bytes = outputs * (out_samples * BYTES_PER_SAMPLE + HEADER_ALLOWANCE_BYTES)
            if n_bytes > limit_bytes:
                raise UserError(
                    f"the audio (at least {seconds:.1f} s, about {n_bytes} bytes) is over the {limit_bytes} "
                    "bytes a unary response may carry: use SynthesizeStream for long text "
                    "(or a lower sample_rate_hz)"
                )

        return check

    def _run(self, job: Job, vocoder: Vocoder, call: _Call, outputs: int) -> SynthesisResult:
        return job.synth.synthesize(
            job.text,
            vocoder=vocoder.kind,
            speaking_rate=job.speaking_rate,
            seed=job.seed,
            should_stop=call.should_stop,
            on_audio_samples=self._audio_check(job, call, outputs),
            pitch=job.pitch,
            volume_gain_db=job.volume_gain_db,
            ssml=job.ssml,
        )

    def _response(
        self,
        job: Job,
        result: SynthesisResult,
        call: _Call,
        queue_ms: float,
        batch: BatchedResult | None = None,
    ) -> pb.SynthesizeResponse:
        audio = resample(result.audio, result.sample_rate, job.sample_rate)
        self.metrics.synthesized(job.voice, result.timings, result.timings.audio_seconds)
        return pb.SynthesizeResponse(
            audio=encode(audio, job.sample_rate, job.encoding),
            encoding=ENCODING_ENUMS[job.encoding],
            sample_rate_hz=job.sample_rate,
            audio_seconds=len(audio) / job.sample_rate,
            latency=_latency(result.timings, call, queue_ms, batch=batch),
            vocoder=VOCODER_ENUMS[VocoderKind.parse(result.timings.vocoder)],
            normalized_text=result.normalized_text,
            voice=job.voice,
            generator=result.timings.generator,
            # Seconds, so resampling to sample_rate_hz leaves them as they are.
            words=_word_messages(result.words),
            marks=_mark_messages(result.marks),
        )

    def _check_unary_size(self, n_bytes: int, audio_seconds: float) -> None:
        """The encoded size, for what the estimate after text-to-mel cannot know (FLAC's)."""
        limit = self.config.max_unary_audio_bytes
        if n_bytes > limit:
            raise UserError(
                f"the audio ({audio_seconds:.1f} s, {n_bytes} bytes) is over the {limit} bytes a unary "
                "response may carry: use SynthesizeStream for long text (or a lower sample_rate_hz)"
            )

    def _stream(self, job: Job, call: _Call, queue_ms: float) -> Iterator[pb.SynthesizeStreamResponse]:
        vocoder = job.vocoders[0]
        yield pb.SynthesizeStreamResponse(
            format=pb.StreamFormat(
                encoding=ENCODING_ENUMS[job.encoding],
                sample_rate_hz=job.sample_rate,
                channels=MONO,
                vocoder=VOCODER_ENUMS[vocoder.kind],
                voice=job.voice,
                generator=vocoder.generator_name,
            )
        )
        resampler = StreamResampler(job.synth.sample_rate, job.sample_rate)
        tally = _StreamTally(job.encoding, job.sample_rate)
        last_sentence = 0
        timings: Timings | None = None
        sentences: list[str] = []
        pieces = job.synth.synthesize_stream(
            job.text,
            vocoder=vocoder.kind,
            speaking_rate=job.speaking_rate,
            seed=job.seed,
            should_stop=call.should_stop,
            chunk_frames=self.config.stream_chunk_frames,
            on_audio_samples=self._audio_check(job, call, outputs=None),
            pitch=job.pitch,
            volume_gain_db=job.volume_gain_db,
            ssml=job.ssml,
        )
        # Closing the generator on any exit stops the synthesizer where it is.
        with closing(pieces):
            for piece in pieces:
                if piece.timings is not None:
                    timings, sentences = piece.timings, piece.sentences
                last_sentence = piece.sentence_index
                tally.pending_words += piece.words
                tally.pending_marks += piece.marks
                out = resampler.push(piece.audio)
                if len(out):
                    call.first_audio_ms = call.first_audio_ms or call.server_ms()
                    yield tally.chunk(out, piece.sentence_index)
                # HiFi-GAN chunks are computed on demand: stopping here stops the vocoder too.
                if call.should_stop():
                    raise GenerationCancelled(f"stream stopped after {tally.chunks} chunks")
        if timings is None:  # the synthesizer stopped between sentences because should_stop said so
            raise GenerationCancelled("stream stopped before its last sentence")
        tail = resampler.flush()
        if len(tail) or tally.pending_words or tally.pending_marks:
            # Timings at the very end of the audio come with the last chunk (then one of no audio
            # when the resampler held nothing back).
            call.first_audio_ms = call.first_audio_ms or call.server_ms()
            yield tally.chunk(tail, last_sentence, last=True)
        audio_seconds = tally.samples / job.sample_rate
        self.metrics.synthesized(job.voice, timings, audio_seconds)
        latency = _latency(
            timings, call, queue_ms, first_chunk_ms=tally.first_chunk_ms, audio_seconds=audio_seconds
        )
        call.summary = _summary(latency, audio_seconds) + f" chunks={tally.chunks}"
        yield pb.SynthesizeStreamResponse(
            summary=pb.StreamSummary(
                latency=latency,
                audio_seconds=audio_seconds,
                normalized_text=" ".join(sentences),
                chunks=tally.chunks,
                words=tally.words,
                marks=tally.marks,
            )
        )

    def _limits(self, registry: VoiceRegistry) -> pb.ServerLimits:
        # Every kind some voice offers; each is limited by its class (parallel or sequential).
        offered = {v.kind: v.parallel for _, synth in registry.items() for v in synth.vocoder_map.values()}
        limits = [(kind, self.admission.limits(offered[kind])) for kind in VocoderKind if kind in offered]
        return pb.ServerLimits(
            max_text_chars=self.config.max_text_chars,
            max_concurrent_jobs=self.admission.workers.capacity,
            vocoder_limits=[
                pb.VocoderLimit(vocoder=VOCODER_ENUMS[kind], max_concurrent_jobs=jobs, max_queued_jobs=queued)
                for kind, (jobs, queued) in limits
            ],
            supported_sample_rates_hz=list(SUPPORTED_SAMPLE_RATES),
            encodings=[ENCODING_ENUMS[name] for name in self.encodings],
            max_unary_audio_bytes=self.config.max_unary_audio_bytes,
            max_audio_seconds=self.config.max_audio_seconds,
        )


def _vocoder_info(vocoder: Vocoder) -> pb.VocoderInfo:
    return pb.VocoderInfo(
        vocoder=VOCODER_ENUMS[vocoder.kind], generator=vocoder.generator_name, parallel=vocoder.parallel
    )


def _ratio(slow_ms: float, fast_ms: float) -> float:
    return slow_ms / fast_ms if fast_ms > 0 else 0.0
