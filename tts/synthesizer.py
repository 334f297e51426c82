"""The inference wrapper: the one entry point the CLI, the server, bench and eval call.

``Synthesizer.load(voice_dir)`` reads a voice directory (no pickle: safetensors + JSON), folds
weight norm, checks that every model shares the voice's audio config, and puts the models in eval
mode. ``synthesize(text, vocoder=...)`` runs frontend -> text-to-mel -> vocoder under
``torch.inference_mode()`` and times each stage.

Every HiFi-GAN call goes through :func:`vocoders.hifigan_fast.optimize_generator`'s callable
(backend ``gan_backend``); the plain generator stays in ``vocoder_models`` as the reference.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from tts.errors import TextError, UserError, VoiceError
from tts.frontend import Frontend, Utterance
from tts.symbols import SymbolTable
from tts.text2mel import MEL_PAD_VALUE, Text2Mel, Text2MelConfig
from tts.voice import VOCODER_KINDS, VoiceManifest, read_manifest, resolve_voice_dir
from vocoders.audio import AudioConfig, check_compatible
from vocoders.hifigan import HiFiGANConfig, HiFiGANGenerator
from vocoders.hifigan_fast import AUTO, BACKENDS, OptimizedGenerator, optimize_generator
from vocoders.serialization import config_from_dict, load_state, read_meta
from vocoders.wavenet import WaveNet, WaveNetConfig

logger = logging.getLogger(__name__)

# Silence put between sentences synthesized piecewise (Piper uses 0.2 s too).
SENTENCE_PAUSE_S = 0.2
WAVENET_IMPLS = ("fast", "reference")
# "auto" picks the fastest measured backend; "eager" is the plain generator (the reference).
GAN_BACKENDS = (AUTO, *BACKENDS)
MS_PER_S = 1000.0


@dataclass
class Timings:
    """Stage latencies of one synthesis, in milliseconds, and the real-time factor."""

    frontend_ms: float = 0.0
    text2mel_ms: float = 0.0
    vocoder_ms: float = 0.0
    total_ms: float = 0.0
    audio_seconds: float = 0.0
    sample_rate: int = 0
    vocoder: str = ""

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


@dataclass
class SynthesisResult:
    audio: np.ndarray  # (T,) float32 in [-1, 1]
    sample_rate: int
    timings: Timings
    sentences: list[str] = field(default_factory=list)  # normalised text of each sentence
    phonemes: list[str] = field(default_factory=list)

    @property
    def normalized_text(self) -> str:
        return " ".join(self.sentences)


def load_module(
    voice_dir: Path, stem: str, kind: str, audio: AudioConfig
) -> tuple[torch.nn.Module, dict[str, Any]]:
    """Model ``kind`` stored under ``voice_dir / stem`` (eval mode, weight norm folded) and its metadata.

    Raises :class:`VoiceError` when the stem holds another kind of model and
    :class:`vocoders.audio.AudioConfigMismatch` when its audio config differs from ``audio``.
    """
    meta = read_meta(voice_dir / stem)
    if meta.get("kind") != kind:
        raise VoiceError(f"{voice_dir / stem}.json holds a {meta.get('kind')!r} model, not {kind!r}")
    check_compatible(audio, AudioConfig.from_dict(meta["audio"]), f"the voice and its {kind} model")
    module: torch.nn.Module
    if kind == "text2mel":
        module = Text2Mel(config_from_dict(Text2MelConfig, meta["config"]))
    elif kind == "hifigan":
        module = HiFiGANGenerator(config_from_dict(HiFiGANConfig, meta["config"]))
    elif kind == "wavenet":
        module = WaveNet(config_from_dict(WaveNetConfig, meta["config"]))
    else:
        raise VoiceError(f"unknown model kind {kind!r}")
    module.load_state_dict(load_state(voice_dir / stem))
    # Weight norm is a training aid: folding it once here makes every inference call cheaper.
    remove = getattr(module, "remove_weight_norm", None)
    if callable(remove):
        remove()
    module.eval()
    return module, meta


class Synthesizer:
    """Text -> audio with either vocoder of one voice."""

    def __init__(
        self,
        manifest: VoiceManifest,
        text2mel: Text2Mel,
        vocoders: dict[str, torch.nn.Module],
        voice_dir: Path,
        wavenet_impl: str = "fast",
        gan_backend: str = AUTO,
    ) -> None:
        if wavenet_impl not in WAVENET_IMPLS:
            raise UserError(f"unknown WaveNet implementation {wavenet_impl!r}; choose one of {WAVENET_IMPLS}")
        if gan_backend not in GAN_BACKENDS:
            raise UserError(f"unknown HiFi-GAN backend {gan_backend!r}; choose one of {GAN_BACKENDS}")
        self.manifest = manifest
        self.voice_dir = voice_dir
        self.audio_config = manifest.audio
        self.frontend = Frontend(manifest.language, SymbolTable(manifest.symbols))
        self.text2mel = text2mel
        self.vocoder_models = vocoders
        self.wavenet_impl = wavenet_impl
        # The voice's sampling temperature; evaluation may override it (tuning on a validation split).
        self.wavenet_temperature = manifest.wavenet_temperature
        self._fast_wavenet = None
        if "wavenet" in vocoders and wavenet_impl == "fast":
            from vocoders.wavenet_fast import FastWaveNet

            self._fast_wavenet = FastWaveNet.from_model(vocoders["wavenet"])
        self.gan_backend = gan_backend
        # Every HiFi-GAN call (whole utterance and streamed chunks) goes through this callable.
        self._fast_hifigan: OptimizedGenerator | None = None
        if "hifigan" in vocoders:
            self._fast_hifigan = optimize_generator(vocoders["hifigan"], gan_backend)  # type: ignore[arg-type]

    @property
    def gan_backend_in_use(self) -> str | None:
        """The concrete HiFi-GAN backend ("auto" resolved); None when the voice has no HiFi-GAN."""
        return self._fast_hifigan.backend if self._fast_hifigan is not None else None

    @classmethod
    def load(
        cls, voice: str | Path | None = None, wavenet_impl: str = "fast", gan_backend: str = AUTO
    ) -> Synthesizer:
        """Load a voice directory (``None`` = the bundled voice).

        ``gan_backend``: HiFi-GAN inference path, one of :data:`GAN_BACKENDS`.
        """
        voice_dir = resolve_voice_dir(voice)
        manifest = read_manifest(voice_dir)
        if "text2mel" not in manifest.models:
            raise VoiceError(f"voice {voice_dir} has no text2mel model")
        vocs = [k for k in VOCODER_KINDS if k in manifest.models]
        if not vocs:
            raise VoiceError(f"voice {voice_dir} has no vocoder (hifigan or wavenet)")
        text2mel, _ = load_module(voice_dir, manifest.models["text2mel"], "text2mel", manifest.audio)
        vocoders = {k: load_module(voice_dir, manifest.models[k], k, manifest.audio)[0] for k in vocs}
        if not manifest.trained:
            logger.warning("voice %s is randomly initialised (a test fixture): it will not speak", voice_dir)
        return cls(manifest, text2mel, vocoders, voice_dir, wavenet_impl, gan_backend)  # type: ignore[arg-type]

    @property
    def sample_rate(self) -> int:
        return self.audio_config.sample_rate

    @property
    def vocoders(self) -> list[str]:
        return list(self.vocoder_models)

    def check_vocoder(self, vocoder: str) -> None:
        if vocoder not in self.vocoder_models:
            raise UserError(f"unknown vocoder {vocoder!r}; this voice offers: {', '.join(self.vocoders)}")

    def _gan(self) -> OptimizedGenerator:
        """The optimised HiFi-GAN callable; callers have run :meth:`check_vocoder` first."""
        if self._fast_hifigan is None:
            raise UserError(f"unknown vocoder 'hifigan'; this voice offers: {', '.join(self.vocoders)}")
        return self._fast_hifigan

    def analyze(self, text: str) -> list[Utterance]:
        """Normalise, split into sentences and phonemize; raises TextError when nothing is speakable."""
        if not text or not text.strip():
            raise TextError("text is empty: give at least one word to speak")
        return self.frontend.process(text)

    def text_to_mel(self, utterance: Utterance, speaking_rate: float = 1.0) -> torch.Tensor:
        """Mel ``(1, n_mels, T)`` of one sentence."""
        if not speaking_rate > 0:
            raise UserError(f"speaking rate must be positive, got {speaking_rate}")
        with torch.inference_mode():
            tokens = torch.tensor([utterance.ids], dtype=torch.long)  # (1, L)
            mel, _ = self.text2mel.infer(tokens, torch.tensor([len(utterance.ids)]), speaking_rate=speaking_rate)
        return mel

    def vocode(
        self,
        mels: list[torch.Tensor],
        vocoder: str,
        seed: int = 0,
        should_stop: Callable[[], bool] | None = None,
    ) -> list[np.ndarray]:
        """Audio ``(T_i * hop,)`` for each mel ``(1, n_mels, T_i)``.

        WaveNet vocodes all sentences as one batch: the sample loop's per-step cost barely grows
        with batch size, so batching is the cheap way to amortise it.
        """
        self.check_vocoder(vocoder)
        hop = self.audio_config.hop_length
        with torch.inference_mode():
            if vocoder == "hifigan":
                gen = self._gan()
                return [gen(m).reshape(-1).numpy() for m in mels]  # (1, 1, T*hop) -> (T*hop,)
            lengths = [m.shape[-1] for m in mels]
            # Shorter mels are padded with silence; the samples it yields are cut off below.
            batch = torch.full(
                (len(mels), self.audio_config.n_mels, max(lengths)), MEL_PAD_VALUE, dtype=torch.float32
            )
            for i, m in enumerate(mels):
                batch[i, :, : lengths[i]] = m[0]
            rng = torch.Generator().manual_seed(seed)
            impl = self._fast_wavenet if self._fast_wavenet is not None else self.vocoder_models["wavenet"]
            wav = impl.generate(
                batch, generator=rng, temperature=self.wavenet_temperature, should_stop=should_stop
            )  # (B, max_T * hop)
            return [wav[i, : lengths[i] * hop].numpy() for i in range(len(mels))]

    def synthesize(
        self,
        text: str,
        vocoder: str = "hifigan",
        speaking_rate: float = 1.0,
        seed: int = 0,
        should_stop: Callable[[], bool] | None = None,
        on_mel_frames: Callable[[list[int]], None] | None = None,
    ) -> SynthesisResult:
        """Speak ``text`` (any length: split into sentences) with ``vocoder``.

        ``on_mel_frames`` gets the frame counts of the sentences turned to mel so far, after each
        one and before any vocoder runs; it may raise to refuse audio that would be too long.
        """
        self.check_vocoder(vocoder)
        t0 = time.perf_counter()
        utterances = self.analyze(text)
        t1 = time.perf_counter()
        mels = self._mels(utterances, speaking_rate, on_mel_frames)
        t2 = time.perf_counter()
        pieces = self.vocode(mels, vocoder, seed=seed, should_stop=should_stop)
        t3 = time.perf_counter()
        audio = join_sentences(pieces, self.sample_rate)
        timings = Timings(
            frontend_ms=(t1 - t0) * MS_PER_S,
            text2mel_ms=(t2 - t1) * MS_PER_S,
            vocoder_ms=(t3 - t2) * MS_PER_S,
            total_ms=(t3 - t0) * MS_PER_S,
            audio_seconds=len(audio) / self.sample_rate,
            sample_rate=self.sample_rate,
            vocoder=vocoder,
        )
        logger.debug("synthesized %d sentences: %s", len(utterances), timings)
        return SynthesisResult(
            audio=audio,
            sample_rate=self.sample_rate,
            timings=timings,
            sentences=[u.text for u in utterances],
            phonemes=[u.phonemes for u in utterances],
        )

    def synthesize_stream(
        self,
        text: str,
        vocoder: str = "hifigan",
        speaking_rate: float = 1.0,
        seed: int = 0,
        should_stop: Callable[[], bool] | None = None,
        chunk_frames: int | None = None,
        on_mel_frames: Callable[[list[int]], None] | None = None,
    ) -> Iterator[StreamChunk]:
        """Yield audio as soon as it is ready, sentence by sentence.

        HiFi-GAN also splits each sentence into mel chunks of ``chunk_frames`` vocoded with
        context overlap (:mod:`vocoders.streaming`), so the first audio leaves after a fraction of
        the first sentence; the concatenation equals the whole-utterance output. Sentence pauses
        are emitted as their own silent chunks so the stream adds up to :meth:`synthesize`'s audio.
        With ``on_mel_frames`` (as in :meth:`synthesize`) every sentence is turned to mel before
        the first is vocoded.
        """
        self.check_vocoder(vocoder)
        t0 = time.perf_counter()
        timings = Timings(sample_rate=self.sample_rate, vocoder=vocoder)
        utterances = self.analyze(text)
        t1 = time.perf_counter()
        timings.frontend_ms = (t1 - t0) * MS_PER_S
        pause = np.zeros(int(SENTENCE_PAUSE_S * self.sample_rate), dtype=np.float32)
        n_samples = 0
        ready = self._mels(utterances, speaking_rate, on_mel_frames) if on_mel_frames is not None else None
        timings.text2mel_ms = (time.perf_counter() - t1) * MS_PER_S
        for i, utt in enumerate(utterances):
            if should_stop is not None and should_stop():
                return
            ta = time.perf_counter()
            mel = ready[i] if ready is not None else self.text_to_mel(utt, speaking_rate)
            tb = time.perf_counter()
            timings.text2mel_ms += (tb - ta) * MS_PER_S
            if i:
                n_samples += len(pause)
                yield StreamChunk(pause, i, (time.perf_counter() - t0) * MS_PER_S)
            for piece in self._vocode_pieces(mel, vocoder, seed, should_stop, chunk_frames):
                tc = time.perf_counter()
                timings.vocoder_ms += (tc - tb) * MS_PER_S
                n_samples += len(piece)
                yield StreamChunk(piece, i, (tc - t0) * MS_PER_S)
                tb = time.perf_counter()
        timings.total_ms = (time.perf_counter() - t0) * MS_PER_S
        timings.audio_seconds = n_samples / self.sample_rate
        yield StreamChunk(
            np.zeros(0, dtype=np.float32),
            len(utterances) - 1,
            timings.total_ms,
            timings=timings,
            sentences=[u.text for u in utterances],
        )

    def _mels(
        self,
        utterances: list[Utterance],
        speaking_rate: float,
        on_mel_frames: Callable[[list[int]], None] | None,
    ) -> list[torch.Tensor]:
        mels: list[torch.Tensor] = []
        for utterance in utterances:
            mels.append(self.text_to_mel(utterance, speaking_rate))
            if on_mel_frames is not None:
                on_mel_frames([m.shape[-1] for m in mels])
        return mels

    def _vocode_pieces(
        self,
        mel: torch.Tensor,
        vocoder: str,
        seed: int,
        should_stop: Callable[[], bool] | None,
        chunk_frames: int | None,
    ) -> Iterator[np.ndarray]:
        if vocoder != "hifigan" or not chunk_frames:
            yield self.vocode([mel], vocoder, seed=seed, should_stop=should_stop)[0]
            return
        from vocoders.streaming import stream_vocode

        with torch.inference_mode():
            # OptimizedGenerator has the cfg and hop_length that stream_vocode reads.
            pieces = stream_vocode(self._gan(), mel, chunk_frames=chunk_frames)  # type: ignore[arg-type]
            for piece in pieces:
                yield piece.reshape(-1).numpy()


def join_sentences(pieces: list[np.ndarray], sample_rate: int) -> np.ndarray:
    """Concatenate sentence audio with :data:`SENTENCE_PAUSE_S` of silence between them."""
    pause = np.zeros(int(SENTENCE_PAUSE_S * sample_rate), dtype=np.float32)
    out: list[np.ndarray] = []
    for i, piece in enumerate(pieces):
        if i:
            out.append(pause)
        out.append(piece.astype(np.float32, copy=False))
    return np.concatenate(out) if out else np.zeros(0, dtype=np.float32)
