"""Copy synthesis: recorded audio -> log-mel -> vocoder -> audio.

The mel is computed exactly as in training (:func:`vocoders.audio.mel_spectrogram`), so the
result isolates the vocoder: any difference from the input is the vocoder's error, not the
text-to-mel model's. Griffin-Lim needs no model, only an :class:`AudioConfig`.

Length: ``mel_spectrogram`` yields ``T // hop`` frames and every vocoder returns ``frames * hop``
samples, so the output is short of the input by ``T mod hop`` (< one hop) samples. Those tail
samples are filled with zeros, so the output always has exactly the input's length and can be
compared sample by sample (PESQ, STOI).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import soundfile as sf
import torch

from tts.errors import UserError
from tts.units import MS_PER_S
from vocoders.audio import AUDIO_PRESETS, AudioConfig, load_audio, mel_spectrogram
from vocoders.griffinlim import DEFAULT_ITERATIONS, griffin_lim_from_mel
from vocoders.kinds import COPY_VOCODERS, GRIFFIN_LIM, VocoderKind

if TYPE_CHECKING:  # the synthesizer (and its models) is imported only by callers that vocode neurally
    from tts.synthesizer import Synthesizer

logger = logging.getLogger(__name__)

GRIFFIN_LIM_GENERATOR = f"Griffin-Lim, {DEFAULT_ITERATIONS} iterations"
MAX_CHANNELS = 2  # mono or stereo (averaged to mono); more channels are not one speaker's recording


def default_audio_config() -> AudioConfig:
    """The bundled voice's audio config if it is installed, else the ``16k`` preset."""
    from tts.voice import BUNDLED_VOICE_DIR, MANIFEST_NAME, read_manifest

    if (BUNDLED_VOICE_DIR / MANIFEST_NAME).is_file():
        return read_manifest(BUNDLED_VOICE_DIR).audio
    return AUDIO_PRESETS["16k"]


def min_samples(cfg: AudioConfig) -> int:
    """Shortest input that yields one mel frame: a hop, and more than the reflect padding."""
    return max(cfg.hop_length, (cfg.n_fft - cfg.hop_length) // 2 + 1)


def read_recording(path: str | Path, sample_rate: int) -> np.ndarray:
    """Mono float32 ``(T,)`` at ``sample_rate`` from any file libsndfile reads (resampled if needed).

    Raises :class:`UserError` with a one-line reason for a missing, unreadable or empty file and
    for more than :data:`MAX_CHANNELS` channels.
    """
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such file")
    try:
        info = sf.info(str(path))
    except (sf.SoundFileError, OSError) as exc:
        raise UserError(f"{path}: not a readable audio file ({exc})") from exc
    if info.channels > MAX_CHANNELS:
        raise UserError(f"{path}: has {info.channels} channels; expected mono or stereo")
    if info.frames == 0:
        raise UserError(f"{path}: the file holds no samples")
    try:
        return load_audio(path, sample_rate)
    except (sf.SoundFileError, OSError, ValueError) as exc:
        raise UserError(f"{path}: could not be decoded ({exc})") from exc


def generator_name(vocoder: str | VocoderKind, synth: Synthesizer | None) -> str:
    """What copy synthesis with ``vocoder`` runs, for reports (see ``Vocoder.generator_name``)."""
    if vocoder == GRIFFIN_LIM:
        return GRIFFIN_LIM_GENERATOR
    if synth is None:
        raise UserError(f"the {vocoder} vocoder needs a voice; only {GRIFFIN_LIM} works without one")
    return synth.check_vocoder(vocoder).generator_name


def copy_synthesize(
    audio: np.ndarray,
    vocoder: str | VocoderKind,
    synth: Synthesizer | None = None,
    audio_cfg: AudioConfig | None = None,
    seed: int = 0,
) -> tuple[np.ndarray, float]:
    """Resynthesise ``audio`` ``(T,)`` (at the config's sample rate) from its own log-mel.

    ``vocoder`` is a :class:`~vocoders.base.VocoderKind` of ``synth``'s voice or ``griffinlim`` (needs
    only a config: ``audio_cfg``, else ``synth``'s, else :func:`default_audio_config`). Returns the audio
    ``(T,)`` float32 and the vocoder's time in milliseconds (mel computation excluded).
    """
    if vocoder not in COPY_VOCODERS:
        raise UserError(f"unknown vocoder {vocoder!r}; choose one of {', '.join(COPY_VOCODERS)}")
    if synth is not None:
        cfg = synth.audio_config
        if audio_cfg is not None and audio_cfg != cfg:
            raise UserError("copy_synthesize got an audio config that differs from the voice's")
    elif vocoder != GRIFFIN_LIM:
        raise UserError(f"the {vocoder} vocoder needs a voice; only {GRIFFIN_LIM} works without one")
    else:
        cfg = audio_cfg or default_audio_config()
    audio = np.asarray(audio, dtype=np.float32).reshape(-1)
    if audio.size < min_samples(cfg):
        raise UserError(
            f"audio of {audio.size} samples is too short: copy synthesis needs at least "
            f"{min_samples(cfg)} samples ({min_samples(cfg) / cfg.sample_rate * MS_PER_S:.0f} ms)"
        )
    with torch.inference_mode():
        mel = mel_spectrogram(torch.from_numpy(audio)[None], cfg)  # (1, n_mels, T // hop)
    start = time.perf_counter()
    if vocoder == GRIFFIN_LIM:
        out = griffin_lim_from_mel(mel, cfg, seed=seed)[0].numpy()  # (1, frames * hop) -> (frames * hop,)
    else:
        out = synth.vocode([mel], vocoder, seed=seed)[0]
    vocoder_ms = (time.perf_counter() - start) * MS_PER_S
    tail = audio.size - out.size  # < hop by construction
    if tail < 0 or tail >= cfg.hop_length:
        raise RuntimeError(
            f"{vocoder} returned {out.size} samples for {mel.shape[-1]} frames of hop {cfg.hop_length}"
        )
    padded = np.zeros(audio.size, dtype=np.float32)
    padded[: out.size] = out
    return padded, vocoder_ms
