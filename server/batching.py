"""Dynamic batching: concurrent unary requests for one voice and parallel vocoder share a vocoder pass.

The first request of a batch leads it: it queues for a worker slot like any job (first come,
first served, :mod:`server.admission`) while requests for the same voice and vocoder that arrive
meanwhile join its batch, up to ``max_batch``. Once it holds a slot it waits at most
``batch_wait_ms`` from the batch's first arrival for more, then closes the batch and, on that one
worker, runs each member's frontend and text-to-mel (with the member's own refusal check, so an
over-long text fails alone and before any vocoder runs) and one batched vocoder pass over every
member's sentences (:mod:`vocoders.batching`): each member gets its own audio, equal to its
unbatched synthesis up to float rounding. Under load the window hardly matters: requests join
while the leader waits in the worker queue, which is where batching pays.

Per request: a member whose client stops (deadline, cancel, shutdown) stops waiting at once and
gets its own status; the batch runs on for the others and drops that member's audio. The leader's
own stop does not stop the batch while another member still waits for it. Each member's latency
says where its time went: ``queue_ms`` waiting for the batch's worker, ``batch_wait_ms`` in the
window and in the other members' text-to-mel, ``vocoder_ms`` the whole shared pass.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from server.admission import WAIT_POLL_S, Admission
from server.validation import Job
from tts.synthesizer import SentenceMel, SynthesisResult, Synthesizer, Timings
from tts.units import MS_PER_S
from vocoders.kinds import VocoderKind
from vocoders.wavenet import GenerationCancelled

logger = logging.getLogger(__name__)

# Sentences of different lengths share a pass only while the padding stays below this share of the
# real frames: a GAN vocoder's time grows with the padded length.
MAX_PADDING_RATIO = 1.5
# Audio seconds one batched pass may cover, padding included: bounds its memory near that of one
# long request. A longer sentence runs in a pass of its own.
MAX_BATCH_AUDIO_S = 30.0

StopCheck = Callable[[], bool]


@dataclass
class BatchedResult:
    """One member's synthesis and where its time went."""

    result: SynthesisResult
    queue_ms: float  # waiting for the batch's worker (0 when it joined a batch already running)
    batch_wait_ms: float  # the batch window and the other members' text-to-mel, ahead of its vocoder pass
    batch_size: int  # requests whose sentences shared the vocoder pass


@dataclass(eq=False)
class _Member:
    job: Job
    should_stop: StopCheck
    check: Callable[[int], None]  # refuses audio over the limits after text-to-mel (samples)
    t_arrive: float = field(default_factory=time.perf_counter)
    done: threading.Event = field(default_factory=threading.Event)
    outcome: BatchedResult | None = None
    error: BaseException | None = None


@dataclass(eq=False)
class _Batch:
    key: tuple[str, VocoderKind]
    members: list[_Member] = field(default_factory=list)
    t_open: float = field(default_factory=time.perf_counter)
    closed: bool = False


@dataclass
class _Prepared:
    member: _Member
    sentences: list[SentenceMel]  # each with its utterance, mel and what its audio needs after the vocoder
    frontend_ms: float
    text2mel_ms: float


class Batcher:
    """Groups unary requests by (voice, parallel vocoder); see the module docstring."""

    def __init__(self, admission: Admission, max_batch: int, batch_wait_ms: float) -> None:
        if max_batch < 2 or batch_wait_ms < 0:
            raise ValueError("a batcher needs max_batch >= 2 and batch_wait_ms >= 0")
        self.admission = admission
        self.max_batch = max_batch
        self.wait_s = batch_wait_ms / MS_PER_S
        self._cond = threading.Condition()
        self._open: dict[tuple[str, VocoderKind], _Batch] = {}

    def synthesize(
        self, job: Job, should_stop: StopCheck, check: Callable[[int], None]
    ) -> BatchedResult:
        """``job`` (one parallel vocoder) synthesized in a batch; raises what its own synthesis would."""
        member = _Member(job, should_stop, check)
        key = (job.voice, job.vocoders[0].kind)
        with self._cond:
            batch = self._open.get(key)
            lead = batch is None
            if batch is None:
                batch = self._open[key] = _Batch(key)
            batch.members.append(member)
            if len(batch.members) >= self.max_batch:
                self._close(batch)
            self._cond.notify_all()
        if lead:
            self._lead(batch)
        else:
            while not member.done.wait(WAIT_POLL_S):
                if should_stop():
                    raise GenerationCancelled("stopped while waiting for its batch")
        if member.error is not None:
            raise member.error
        assert member.outcome is not None
        return member.outcome

    def _close(self, batch: _Batch) -> None:
        """No one joins ``batch`` any more (call with the lock held)."""
        batch.closed = True
        if self._open.get(batch.key) is batch:
            del self._open[batch.key]

    def _lead(self, batch: _Batch) -> None:
        def everyone_stopped() -> bool:
            with self._cond:
                members = list(batch.members)
            return all(m.should_stop() for m in members)

        try:
            with self.admission.job(parallel=True, should_stop=everyone_stopped):
                t_slot = time.perf_counter()
                with self._cond:
                    while not batch.closed:
                        left = batch.t_open + self.wait_s - time.perf_counter()
                        if left <= 0:
                            break
                        self._cond.wait(left)
                    self._close(batch)
                self._run(batch, t_slot)
        except Exception as exc:  # noqa: BLE001  (each waiting member raises it as its own status)
            for m in batch.members:
                if not m.done.is_set() and m.outcome is None and m.error is None:
                    m.error = exc
        finally:
            with self._cond:
                self._close(batch)
            for m in batch.members:
                m.done.set()

    def _run(self, batch: _Batch, t_slot: float) -> None:
        """Text-to-mel per member, then the shared vocoder pass, on the batch's worker."""
        kind = batch.key[1]
        prepared: list[_Prepared] = []
        for m in batch.members:
            if m.should_stop():
                continue
            try:
                prepared.append(_prepare(m))
            except Exception as exc:  # noqa: BLE001  (a member's refusal or failure is its own)
                m.error = exc
                m.done.set()
        if not prepared:
            return
        synth = prepared[0].member.job.synth
        t_vocoder = time.perf_counter()
        pieces = _vocode(synth, kind, [s.mel for p in prepared for s in p.sentences])
        vocoder_ms = (time.perf_counter() - t_vocoder) * MS_PER_S
        generator = synth.check_vocoder(kind).generator_name
        first = 0
        for p in prepared:
            own = pieces[first : first + len(p.sentences)]
            first += len(p.sentences)
            # The member's own pauses, SSML breaks, pitch shift, gain and word timings.
            audio, words, marks = synth.assemble(p.sentences, own)
            timings = Timings(
                frontend_ms=p.frontend_ms,
                text2mel_ms=p.text2mel_ms,
                vocoder_ms=vocoder_ms,
                total_ms=p.frontend_ms + p.text2mel_ms + vocoder_ms,
                audio_seconds=len(audio) / synth.sample_rate,
                sample_rate=synth.sample_rate,
                vocoder=kind.value,
                generator=generator,
            )
            own_stages_s = (p.frontend_ms + p.text2mel_ms) / MS_PER_S
            ready = max(t_slot, p.member.t_arrive)  # from when it could have started
            p.member.outcome = BatchedResult(
                result=SynthesisResult(
                    audio,
                    synth.sample_rate,
                    timings,
                    sentences=[s.utterance.text for s in p.sentences],
                    phonemes=[s.utterance.phonemes for s in p.sentences],
                    words=words,
                    marks=marks,
                ),
                queue_ms=max(0.0, t_slot - p.member.t_arrive) * MS_PER_S,
                batch_wait_ms=max(0.0, t_vocoder - ready - own_stages_s) * MS_PER_S,
                batch_size=len(prepared),
            )


def _prepare(member: _Member) -> _Prepared:
    """Frontend and text-to-mel of one member, refusing (its check raises) before any vocoder runs."""
    job = member.job
    t0 = time.perf_counter()
    utterances = job.synth.analyze(job.text, job.ssml)
    t1 = time.perf_counter()
    sentences = job.synth.prepare_sentences(
        utterances, job.speaking_rate, job.pitch, job.volume_gain_db, on_audio_samples=member.check
    )
    t2 = time.perf_counter()
    return _Prepared(member, sentences, (t1 - t0) * MS_PER_S, (t2 - t1) * MS_PER_S)


def _vocode(synth: Synthesizer, kind: VocoderKind, mels: list[torch.Tensor]) -> list[np.ndarray]:
    """Audio of each mel, from as few batched passes as the padding and size limits allow."""
    max_frames = MAX_BATCH_AUDIO_S * synth.sample_rate / synth.audio_config.hop_length
    order = sorted(range(len(mels)), key=lambda i: -mels[i].shape[-1])
    groups: list[list[int]] = []
    for i in order:
        group = groups[-1] if groups else []
        if group:
            padded = mels[group[0]].shape[-1] * (len(group) + 1)  # the group's first is its longest
            real = sum(mels[j].shape[-1] for j in group) + mels[i].shape[-1]
            if padded > MAX_PADDING_RATIO * real or padded > max_frames:
                group = []
        if not group:
            groups.append(group)
        group.append(i)
    out: list[np.ndarray] = [np.zeros(0, dtype=np.float32)] * len(mels)
    for group in groups:
        for i, audio in zip(group, synth.vocode_batch([mels[j] for j in group], kind)):
            out[i] = audio
    return out
