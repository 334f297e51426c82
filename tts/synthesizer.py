"""The inference wrapper: the one entry point the CLI, the server, bench and eval call.

``Synthesizer.load(voice_dir)`` reads a voice directory (no pickle: safetensors + JSON), folds
weight norm, checks that every model shares the voice's audio config, and puts the models in eval
mode. ``synthesize(text, vocoder=...)`` runs frontend -> text-to-mel -> vocoder under
``torch.inference_mode()`` and times each stage.

Every vocoder is a :class:`vocoders.base.Vocoder` (:mod:`vocoders.registry` loads it), so this
module knows no vocoder kind by name: each vocodes, streams and names its generator itself.

It is longer than this project's other modules because unary and streamed synthesis must stay
sample-identical (same pauses, prosody, seeds and word timings): keeping both paths and their
shared per-sentence steps side by side in one class is what lets a reader check that they agree.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from tts import prosody
from tts.errors import TextError, UserError, VoiceError
from tts.frontend.pipeline import Frontend, Utterance
from tts.frontend.ssml import is_ssml
from tts.frontend.symbols import SymbolTable
from tts.text2mel.model import Text2Mel, Text2MelConfig
from tts.timing import MarkTiming, WordTiming, to_sample, utterance_timings
from tts.units import MS_PER_S
from tts.voice import TEXT2MEL_KIND, VoiceManifest, read_manifest, resolve_voice_dir
from vocoders.audio import AudioConfig, check_compatible
from vocoders.base import BackendUnavailable, Vocoder, sentence_seed
from vocoders.kinds import AUTO, GAN_BACKENDS, PARALLEL_PREFERENCE, WAVENET_IMPLS, VocoderKind
from vocoders.registry import VOCODERS, load_vocoder
from vocoders.serialization import config_from_dict, load_state, read_meta
from vocoders.wavenet_vocoder import WaveNetVocoder

logger = logging.getLogger(__name__)

# Silence put between sentences synthesized piecewise (Piper uses 0.2 s too).
SENTENCE_PAUSE_S = 0.2


def _requested_kinds(names: Sequence[str | VocoderKind], offered: list[VocoderKind]) -> list[VocoderKind]:
    """``names`` as kinds the voice holds; :class:`UserError` naming the offered ones otherwise."""
    kinds = []
    for name in names:
        try:
            kind = VocoderKind.parse(name)
        except ValueError:
            kind = None
        if kind not in offered:
            choices = ", ".join(k.value for k in offered)
            raise UserError(f"unknown vocoder {str(name)!r}; this voice offers: {choices}")
        kinds.append(kind)
    return kinds


@dataclass
class Timings:
    """Stage latencies of one synthesis, in milliseconds, and the real-time factor."""

    frontend_ms: float = 0.0
    text2mel_ms: float = 0.0
    vocoder_ms: float = 0.0
    total_ms: float = 0.0
    audio_seconds: float = 0.0
    sample_rate: int = 0
    vocoder: str = ""  # the vocoder kind
    generator: str = ""  # what ran: architecture, size and inference path (Vocoder.generator_name)

    @property
    def rtf(self) -> float:
        """Processing time over audio time: below 1 is faster than real time."""
        return self.total_ms / MS_PER_S / self.audio_seconds if self.audio_seconds > 0 else float("inf")

    @property
    def vocoder_rtf(self) -> float:
        return self.vocoder_ms / MS_PER_S / self.audio_seconds if self.audio_seconds > 0 else float("inf")

    def to_dict(self) -> dict[str, float | int | str]:
        d = asdict(self)
        d["rtf"] = self.rtf
        d["vocoder_rtf"] = self.vocoder_rtf
        d["x_real_time"] = 1.0 / self.rtf if self.rtf > 0 else float("inf")
        return d


@dataclass
class StreamChunk:
    """One piece of streamed audio; the last chunk of a stream carries the final timings."""

    audio: np.ndarray  # (T_chunk,) float32
    sentence_index: int  # which sentence of the text this audio belongs to
    elapsed_ms: float  # time since the request started when this chunk was ready
    timings: Timings | None = None  # set on the last chunk only
    sentences: list[str] = field(default_factory=list)  # set on the last chunk only
    words: list[WordTiming] = field(default_factory=list)  # words that start in this chunk
    marks: list[MarkTiming] = field(default_factory=list)  # marks reached in this chunk


@dataclass
class SynthesisResult:
    audio: np.ndarray  # (T,) float32 in [-1, 1]
    sample_rate: int
    timings: Timings
    sentences: list[str] = field(default_factory=list)  # normalised text of each sentence
    phonemes: list[str] = field(default_factory=list)
    words: list[WordTiming] = field(default_factory=list)  # every written word's time in ``audio``
    marks: list[MarkTiming] = field(default_factory=list)  # every SSML mark's time in ``audio``

    @property
    def normalized_text(self) -> str:
        return " ".join(self.sentences)


@dataclass
class SentenceMel:
    """One utterance turned into a mel, with what its audio and word timings need afterwards."""

    utterance: Utterance
    mel: torch.Tensor  # (1, n_mels, T)
    durations: np.ndarray  # (L,) frames per token
    semitones: float  # pitch shift still to apply to the audio (resampling method), else 0
    volume_db: float  # gain to apply to the audio
    time_scale: float  # audio seconds per mel-frame second after that shift


def load_text2mel_model(voice_dir: Path, stem: str, audio: AudioConfig) -> tuple[Text2Mel, dict[str, Any]]:
    """The text-to-mel model stored under ``voice_dir / stem`` (eval mode) and its metadata.

    Raises :class:`VoiceError` when the stem holds another kind of model and
    :class:`vocoders.audio.AudioConfigMismatch` when its audio config differs from ``audio``.
    """
    meta = read_meta(voice_dir / stem)
    if meta.get("kind") != TEXT2MEL_KIND:
        raise VoiceError(f"{voice_dir / stem}.json holds a {meta.get('kind')!r} model, not {TEXT2MEL_KIND!r}")
    check_compatible(audio, AudioConfig.from_dict(meta["audio"]), "the voice and its text2mel model")
    module = Text2Mel(config_from_dict(Text2MelConfig, meta["config"]))
    module.load_state_dict(load_state(voice_dir / stem))
    module.eval()
    return module, meta


class Synthesizer:
    """Text -> audio with any vocoder of one voice."""

    def __init__(
        self,
        manifest: VoiceManifest,
        text2mel: Text2Mel,
        vocoders: dict[VocoderKind, Vocoder],
        voice_dir: Path,
    ) -> None:
        self.manifest = manifest
        self.voice_dir = voice_dir
        self.audio_config = manifest.audio
        self.frontend = Frontend(manifest.language, SymbolTable(manifest.symbols))
        self.text2mel = text2mel
        self.vocoder_map = vocoders
        self.pitch_method = prosody.PITCH_METHOD

    @classmethod
    def load(
        cls,
        voice: str | Path | None = None,
        wavenet_impl: str = AUTO,
        gan_backend: str = AUTO,
        vocoders: Sequence[str | VocoderKind] | None = None,
        one_shot: bool = False,
    ) -> Synthesizer:
        """Load a voice directory (``None`` = the bundled voice).

        ``gan_backend``: the parallel vocoders' inference path, one of
        :data:`vocoders.kinds.GAN_BACKENDS` that each loaded one offers ("auto": each its fastest);
        ``wavenet_impl``: WaveNet's sample loop, one of :data:`vocoders.kinds.WAVENET_IMPLS` or
        "auto". ``vocoders``: the kinds to load (default: every one of the voice); a one-shot
        caller names the one it runs, so it pays no other vocoder's loading (WaveNet's fast loop
        imports numba and loads its compiled code). ``one_shot``: the caller vocodes once and
        exits, so "auto" means each kind's :attr:`Vocoder.one_shot_backend`.
        """
        for name, backend, offered in (
            ("GAN", gan_backend, GAN_BACKENDS),
            ("WaveNet", wavenet_impl, (AUTO, *WAVENET_IMPLS)),
        ):
            if backend not in offered:
                raise UserError(f"unknown {name} backend {backend!r}; choose one of {', '.join(offered)}")
        voice_dir = resolve_voice_dir(voice)
        manifest = read_manifest(voice_dir)
        if TEXT2MEL_KIND not in manifest.models:
            raise VoiceError(f"voice {voice_dir} has no text2mel model")
        kinds = manifest_vocoders(manifest)
        if not kinds:
            raise VoiceError(f"voice {voice_dir} has no vocoder ({', '.join(k.value for k in VocoderKind)})")
        if vocoders is not None:
            kinds = _requested_kinds(vocoders, kinds)
        text2mel, _ = load_text2mel_model(voice_dir, manifest.models[TEXT2MEL_KIND], manifest.audio)
        vocoders = {}
        for kind in kinds:
            # gan_backend applies to every parallel vocoder, wavenet_impl to the sample-by-sample ones.
            backend = gan_backend if VOCODERS[kind].parallel else wavenet_impl
            if backend == AUTO and one_shot:
                backend = VOCODERS[kind].one_shot_backend
            if backend not in (AUTO, *VOCODERS[kind].backends):
                offered = ", ".join((AUTO, *VOCODERS[kind].backends))
                raise UserError(f"{kind} has no backend {backend!r}; choose one of {offered}")
            try:
                stem = voice_dir / manifest.models[kind.value]
                vocoders[kind] = load_vocoder(stem, manifest.audio, backend)
            except BackendUnavailable as exc:
                raise UserError(str(exc)) from None
        wavenet = vocoders.get(VocoderKind.WAVENET)
        if isinstance(wavenet, WaveNetVocoder):
            wavenet.temperature = manifest.wavenet_temperature
        if not manifest.trained:
            logger.warning("voice %s is randomly initialised (a test fixture): it will not speak", voice_dir)
        return cls(manifest, text2mel, vocoders, voice_dir)

    @property
    def sample_rate(self) -> int:
        return self.audio_config.sample_rate

    @property
    def vocoders(self) -> list[VocoderKind]:
        return list(self.vocoder_map)

    @property
    def default_vocoder(self) -> VocoderKind:
        """The vocoder used when none is named: the voice's preferred parallel one, else its first."""
        return preferred_vocoder(self.vocoders)

    def with_backend(self, kind: str | VocoderKind, backend: str) -> Synthesizer:
        """A synthesizer sharing this one's models in which ``kind`` runs through ``backend``."""
        voc = self.check_vocoder(kind)
        try:
            vocoders = {**self.vocoder_map, voc.kind: voc.with_backend(backend)}
        except BackendUnavailable as exc:
            raise UserError(str(exc)) from None
        return Synthesizer(self.manifest, self.text2mel, vocoders, self.voice_dir)

    @property
    def backends_in_use(self) -> dict[str, str]:
        """Each vocoder kind's concrete inference path ("auto" resolved)."""
        return {k.value: v.backend for k, v in self.vocoder_map.items()}

    @property
    def wavenet_temperature(self) -> float:
        """The WaveNet's sampling temperature (the voice's; evaluation may override it)."""
        return self.manifest.wavenet_temperature

    @wavenet_temperature.setter
    def wavenet_temperature(self, value: float) -> None:
        self.manifest.wavenet_temperature = value
        wavenet = self.vocoder_map.get(VocoderKind.WAVENET)
        if isinstance(wavenet, WaveNetVocoder):
            wavenet.temperature = value

    def check_vocoder(self, vocoder: str | VocoderKind | None) -> Vocoder:
        """The voice's vocoder of kind ``vocoder`` (``None``: :attr:`default_vocoder`).

        Raises :class:`UserError` naming the offered ones for a kind the voice does not hold.
        """
        if vocoder is None:
            return self.vocoder_map[self.default_vocoder]
        offered = ", ".join(k.value for k in self.vocoder_map)
        try:
            return self.vocoder_map[VocoderKind.parse(vocoder)]
        except (ValueError, KeyError):
            raise UserError(f"unknown vocoder {str(vocoder)!r}; this voice offers: {offered}") from None

    def analyze(self, text: str, ssml: bool | None = None) -> list[Utterance]:
        """Normalise, split into sentences and phonemize; raises TextError when nothing is speakable.

        ``ssml``: True parses ``text`` as SSML, False as plain text, None (default) as SSML when it
        starts with ``<speak>``.
        """
        if not text or not text.strip():
            raise TextError("text is empty: give at least one word to speak")
        if ssml or (ssml is None and is_ssml(text)):
            return self.frontend.process_ssml(text)
        return self.frontend.process(text)

    def _prepare(
        self, utterance: Utterance, speaking_rate: float, pitch: float, volume_db: float
    ) -> SentenceMel:
        """Mel and durations of ``utterance`` at the request's settings combined with its SSML prosody."""
        rate = speaking_rate * utterance.prosody.rate
        semitones = prosody.check_pitch(pitch + utterance.prosody.pitch)
        gain = prosody.check_volume_gain(volume_db + utterance.prosody.volume_db)
        time_scale = 1.0
        if self.pitch_method is prosody.PitchMethod.RESAMPLE and semitones:
            ratio = prosody.resample_ratio(semitones)
            rate /= float(ratio)  # speak ratio times longer; resampling brings it back
            time_scale = 1.0 / float(ratio)
        if not rate > 0:
            raise UserError(f"speaking rate must be positive, got {rate}")
        with torch.inference_mode():
            tokens = torch.tensor([utterance.ids], dtype=torch.long)  # (1, L)
            mel, _, durations = self.text2mel.infer_with_durations(
                tokens, torch.tensor([len(utterance.ids)]), speaking_rate=rate
            )
            if self.pitch_method is prosody.PitchMethod.MEL:
                mel = prosody.shift_mel_pitch(mel, semitones, self.audio_config)
        shift = semitones if self.pitch_method is prosody.PitchMethod.RESAMPLE else 0.0
        return SentenceMel(utterance, mel, durations[0].numpy(), shift, gain, time_scale)

    def _finish(self, piece: SentenceMel, audio: np.ndarray) -> np.ndarray:
        """Vocoder output of ``piece`` with its resampling pitch shift and volume gain applied."""
        return prosody.apply_gain(prosody.resample_pitch(audio, piece.semitones), piece.volume_db)

    def _piece_timings(
        self, piece: SentenceMel, offset_samples: int
    ) -> tuple[list[WordTiming], list[MarkTiming]]:
        seconds_per_frame = self.audio_config.hop_length / self.sample_rate * piece.time_scale
        return utterance_timings(
            piece.utterance, piece.durations, seconds_per_frame, offset_samples / self.sample_rate
        )

    def _pause_samples(self, utterances: list[Utterance], i: int) -> int:
        """Silence after utterance ``i``: its break, the sentence pause between sentences, none at the end."""
        pause = utterances[i].pause_after_s
        if pause is None:
            pause = SENTENCE_PAUSE_S if i + 1 < len(utterances) else 0.0
        return round(pause * self.sample_rate)

    def text_to_mel(self, utterance: Utterance, speaking_rate: float = 1.0) -> torch.Tensor:
        """Mel ``(1, n_mels, T)`` of one sentence."""
        return self.text_to_mel_with_words(utterance, speaking_rate)[0]

    def text_to_mel_with_words(
        self, utterance: Utterance, speaking_rate: float = 1.0
    ) -> tuple[torch.Tensor, list[WordTiming]]:
        """Mel ``(1, n_mels, T)`` of one sentence and when each of its words is spoken in its audio."""
        if not speaking_rate > 0:
            raise UserError(f"speaking rate must be positive, got {speaking_rate}")
        with torch.inference_mode():
            tokens = torch.tensor([utterance.ids], dtype=torch.long)  # (1, L)
            mel, _, durations = self.text2mel.infer_with_durations(
                tokens, torch.tensor([len(utterance.ids)]), speaking_rate=speaking_rate
            )
        words, _ = utterance_timings(utterance, durations[0].numpy(), self.audio_config.frame_seconds, 0.0)
        return mel, words

    def vocode(
        self,
        mels: list[torch.Tensor],
        vocoder: str | VocoderKind,
        seed: int = 0,
        should_stop: Callable[[], bool] | None = None,
    ) -> list[np.ndarray]:
        """Audio ``(T_i * hop,)`` for each mel ``(1, n_mels, T_i)``."""
        voc = self.check_vocoder(vocoder)
        with torch.inference_mode():
            return voc.vocode(mels, seed=seed, should_stop=should_stop)

    def vocode_batch(self, mels: list[torch.Tensor], vocoder: str | VocoderKind) -> list[np.ndarray]:
        """:meth:`vocode`'s audio from one batched pass of a parallel vocoder over all ``mels``."""
        voc = self.check_vocoder(vocoder)
        with torch.inference_mode():
            return voc.vocode_batch(mels)

    def synthesize(
        self,
        text: str,
        vocoder: str | VocoderKind | None = None,
        speaking_rate: float = 1.0,
        seed: int = 0,
        should_stop: Callable[[], bool] | None = None,
        on_audio_samples: Callable[[int], None] | None = None,
        pitch: float = 0.0,
        volume_gain_db: float = 0.0,
        ssml: bool | None = None,
    ) -> SynthesisResult:
        """Speak ``text`` (any length: split into sentences; SSML as :meth:`analyze` decides) with
        ``vocoder`` (``None``: the default).

        ``on_audio_samples`` gets, after each sentence is turned to mel and before any vocoder runs,
        how many samples the audio holds at least (:meth:`prepare_sentences`); it may raise to
        refuse audio that would be too long.
        ``pitch`` in semitones and ``volume_gain_db`` in dB, within :mod:`tts.prosody`'s ranges.
        """
        voc = self.check_vocoder(vocoder)
        prosody.check_pitch(pitch)
        prosody.check_volume_gain(volume_gain_db)
        t0 = time.perf_counter()
        utterances = self.analyze(text, ssml)
        t1 = time.perf_counter()
        prepared = self.prepare_sentences(utterances, speaking_rate, pitch, volume_gain_db, on_audio_samples)
        t2 = time.perf_counter()
        vocoded = self.vocode([p.mel for p in prepared], voc.kind, seed=seed, should_stop=should_stop)
        t3 = time.perf_counter()
        audio, words, marks = self.assemble(prepared, vocoded)
        timings = Timings(
            frontend_ms=(t1 - t0) * MS_PER_S,
            text2mel_ms=(t2 - t1) * MS_PER_S,
            vocoder_ms=(t3 - t2) * MS_PER_S,
            total_ms=(t3 - t0) * MS_PER_S,
            audio_seconds=len(audio) / self.sample_rate,
            sample_rate=self.sample_rate,
            vocoder=voc.kind.value,
            generator=voc.generator_name,
        )
        logger.debug("synthesized %d sentences: %s", len(utterances), timings)
        return SynthesisResult(
            audio=audio,
            sample_rate=self.sample_rate,
            timings=timings,
            sentences=[u.text for u in utterances],
            phonemes=[u.phonemes for u in utterances],
            words=words,
            marks=marks,
        )

    def synthesize_stream(
        self,
        text: str,
        vocoder: str | VocoderKind | None = None,
        speaking_rate: float = 1.0,
        seed: int = 0,
        should_stop: Callable[[], bool] | None = None,
        chunk_frames: int | None = None,
        on_audio_samples: Callable[[int], None] | None = None,
        pitch: float = 0.0,
        volume_gain_db: float = 0.0,
        ssml: bool | None = None,
    ) -> Iterator[StreamChunk]:
        """Yield audio as soon as it is ready, sentence by sentence.

        Each vocoder streams a sentence its own way (:meth:`vocoders.base.Vocoder.stream`): the
        parallel ones in mel chunks of ``chunk_frames`` vocoded with context overlap
        (:mod:`vocoders.streaming`), so the first audio leaves after a fraction of the first
        sentence; the concatenation equals the whole-utterance output. Pauses (between sentences,
        and SSML breaks) are emitted as their own silent chunks so the stream adds up to
        :meth:`synthesize`'s audio. Each word and mark timing travels with the chunk its time falls in.
        With ``on_audio_samples`` (as in :meth:`synthesize`) every sentence is turned to mel before
        the first is vocoded.
        """
        voc = self.check_vocoder(vocoder)
        prosody.check_pitch(pitch)
        prosody.check_volume_gain(volume_gain_db)
        t0 = time.perf_counter()
        timings = Timings(sample_rate=self.sample_rate, vocoder=voc.kind.value, generator=voc.generator_name)
        utterances = self.analyze(text, ssml)
        t1 = time.perf_counter()
        timings.frontend_ms = (t1 - t0) * MS_PER_S
        n_samples = 0
        words: list[WordTiming] = []
        marks: list[MarkTiming] = []

        def chunk(audio: np.ndarray, i: int, t: float) -> StreamChunk:
            """A chunk carrying the pending timings that fall before its end."""
            nonlocal n_samples, words, marks
            n_samples += len(audio)
            out = StreamChunk(audio, i, (t - t0) * MS_PER_S)
            out.words = [w for w in words if to_sample(w.start_s, self.sample_rate) < n_samples]
            out.marks = [m for m in marks if to_sample(m.time_s, self.sample_rate) < n_samples]
            words = words[len(out.words) :]
            marks = marks[len(out.marks) :]
            return out

        lead = np.zeros(round(utterances[0].pause_before_s * self.sample_rate), dtype=np.float32)
        if len(lead):
            yield chunk(lead, 0, time.perf_counter())
        ready = None
        if on_audio_samples is not None:
            ready = self.prepare_sentences(utterances, speaking_rate, pitch, volume_gain_db, on_audio_samples)
            timings.text2mel_ms = (time.perf_counter() - t1) * MS_PER_S
        for i, utt in enumerate(utterances):
            if should_stop is not None and should_stop():
                return
            ta = time.perf_counter()
            if ready is not None:
                piece = ready[i]
            else:
                piece = self._prepare(utt, speaking_rate, pitch, volume_gain_db)
            piece_words, piece_marks = self._piece_timings(piece, n_samples)
            words += piece_words
            marks += piece_marks
            tb = time.perf_counter()
            timings.text2mel_ms += (tb - ta) * MS_PER_S
            # Sentence i is sampled with seed + i, as in synthesize's batch: the stream equals it.
            # Resampling (pitch) needs the whole sentence: it is vocoded in one piece then.
            sentence = self._stream_sentence(
                voc, piece.mel, sentence_seed(seed, i), should_stop, chunk_frames, whole=bool(piece.semitones)
            )
            for audio in sentence:
                tc = time.perf_counter()
                timings.vocoder_ms += (tc - tb) * MS_PER_S
                yield chunk(self._finish(piece, audio), i, tc)
                tb = time.perf_counter()
            pause = np.zeros(self._pause_samples(utterances, i), dtype=np.float32)
            if len(pause):
                yield chunk(pause, min(i + 1, len(utterances) - 1), time.perf_counter())
        timings.total_ms = (time.perf_counter() - t0) * MS_PER_S
        timings.audio_seconds = n_samples / self.sample_rate
        last = StreamChunk(
            np.zeros(0, dtype=np.float32),
            len(utterances) - 1,
            timings.total_ms,
            timings=timings,
            sentences=[u.text for u in utterances],
        )
        last.words, last.marks = words, marks  # those at the very end of the audio
        yield last

    def prepare_sentences(
        self,
        utterances: list[Utterance],
        speaking_rate: float = 1.0,
        pitch: float = 0.0,
        volume_gain_db: float = 0.0,
        on_audio_samples: Callable[[int], None] | None = None,
    ) -> list[SentenceMel]:
        """Every sentence turned to mel (:meth:`_prepare`).

        After each one, ``on_audio_samples`` is told how many samples (at :attr:`sample_rate`) the
        audio of the sentences so far will hold with their pauses, SSML breaks and pitch stretch: a
        lower bound on the whole audio that :meth:`assemble` makes, known before any vocoder runs.
        """
        prepared: list[SentenceMel] = []
        samples = round(utterances[0].pause_before_s * self.sample_rate) if utterances else 0
        for i, utterance in enumerate(utterances):
            piece = self._prepare(utterance, speaking_rate, pitch, volume_gain_db)
            prepared.append(piece)
            voiced = piece.mel.shape[-1] * self.audio_config.hop_length * piece.time_scale
            samples += math.floor(voiced) + self._pause_samples(utterances, i)
            if on_audio_samples is not None:
                on_audio_samples(samples)
        return prepared

    def assemble(
        self, prepared: list[SentenceMel], vocoded: list[np.ndarray]
    ) -> tuple[np.ndarray, list[WordTiming], list[MarkTiming]]:
        """The utterance's audio ``(T,)`` from each sentence's vocoder output, with its word and
        mark timings: pitch shift and gain applied, SSML breaks and sentence pauses inserted."""
        utterances = [p.utterance for p in prepared]
        out = [np.zeros(round(utterances[0].pause_before_s * self.sample_rate), np.float32)]
        words: list[WordTiming] = []
        marks: list[MarkTiming] = []
        offset = len(out[0])
        for i, (piece, raw) in enumerate(zip(prepared, vocoded)):
            piece_words, piece_marks = self._piece_timings(piece, offset)
            words += piece_words
            marks += piece_marks
            out.append(self._finish(piece, raw.astype(np.float32, copy=False)))
            out.append(np.zeros(self._pause_samples(utterances, i), dtype=np.float32))
            offset += len(out[-2]) + len(out[-1])
        return np.concatenate(out), words, marks

    @staticmethod
    def _stream_sentence(
        voc: Vocoder,
        mel: torch.Tensor,
        seed: int,
        should_stop: Callable[[], bool] | None,
        chunk_frames: int | None,
        whole: bool = False,
    ) -> Iterator[np.ndarray]:
        """``voc``'s stream of ``mel``, or with ``whole`` its audio in one piece."""
        if whole:
            with torch.inference_mode():
                yield voc.vocode([mel], seed=seed, should_stop=should_stop)[0]
            return
        # inference_mode is entered and left around each piece: the generator is suspended in between.
        pieces = voc.stream(mel, chunk_frames=chunk_frames, seed=seed, should_stop=should_stop)
        while True:
            with torch.inference_mode():
                piece = next(pieces, None)
            if piece is None:
                return
            yield piece


def preferred_vocoder(kinds: Sequence[VocoderKind]) -> VocoderKind:
    """Of a voice's vocoder ``kinds``, the one used when none is named: the first of
    :data:`vocoders.kinds.PARALLEL_PREFERENCE` it holds, else another parallel one, else its first."""
    for kind in PARALLEL_PREFERENCE:
        if kind in kinds:
            return kind
    parallel = [kind for kind in kinds if VOCODERS[kind].parallel]
    return (parallel or list(kinds))[0]


def manifest_vocoders(manifest: VoiceManifest) -> list[VocoderKind]:
    """The vocoder kinds a voice's manifest lists, in :class:`VocoderKind` order."""
    return [k for k in VocoderKind if k.value in manifest.models]


def voice_vocoders(voice: str | Path | None) -> list[VocoderKind]:
    """The vocoder kinds voice directory ``voice`` holds (``None`` = the bundled voice), read from
    its manifest without loading any model."""
    return manifest_vocoders(read_manifest(resolve_voice_dir(voice)))
