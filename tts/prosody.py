"""Pitch and volume of synthesized speech, and the ranges a request may ask for.

Volume is a gain on the waveform. Pitch has two implementations, compared by recogniser WER in the
README: :func:`shift_mel_pitch` moves the log-mel spectrum along frequency by the semitone ratio
before the vocoder (durations unchanged, so it streams), and :func:`resample_pitch` speaks the
mel slower or faster by the ratio and resamples the audio back to the original duration.
:data:`PITCH_METHOD` is the one the synthesizer uses.
"""

from __future__ import annotations

import enum
import logging
from fractions import Fraction

import numpy as np
import torch

from tts.errors import UserError
from vocoders.audio import MEL_PAD_VALUE, AudioConfig

logger = logging.getLogger(__name__)

PITCH_RANGE_SEMITONES = (-12.0, 12.0)  # an octave either way, as Google's AudioConfig.pitch
VOLUME_GAIN_RANGE_DB = (-96.0, 16.0)  # Google's AudioConfig.volume_gain_db: -96 is silence, +16 loud
SEMITONES_PER_OCTAVE = 12.0
DB_PER_AMPLITUDE_DECADE = 20.0  # gain in dB = 20 log10(amplitude ratio)
MAX_RESAMPLE_DENOMINATOR = 100  # pitch ratios as fractions p/q with q <= 100: < 0.02 semitone error


class PitchMethod(enum.Enum):
    MEL = "mel"  # shift the mel spectrum along frequency; the vocoder renders the shifted voice
    RESAMPLE = "resample"  # stretch durations by the ratio, vocode, resample back to the duration


# The method the synthesizer applies: recogniser WER on the bundled voice was lower or equal with
# resampling at -2, +2 and +4 semitones (README, "Pitch and volume"); the vocoder does not follow a
# shifted mel well. Streaming then vocodes a pitch-shifted sentence whole, since it is resampled whole.
PITCH_METHOD = PitchMethod.RESAMPLE


def check_pitch(semitones: float) -> float:
    """``semitones`` if inside :data:`PITCH_RANGE_SEMITONES`, else :class:`UserError`."""
    low, high = PITCH_RANGE_SEMITONES
    if not low <= semitones <= high:
        raise UserError(f"pitch must be between {low:g} and {high:+g} semitones, got {semitones:g}")
    return semitones


def check_volume_gain(db: float) -> float:
    """``db`` if inside :data:`VOLUME_GAIN_RANGE_DB`, else :class:`UserError`."""
    low, high = VOLUME_GAIN_RANGE_DB
    if not low <= db <= high:
        raise UserError(f"volume gain must be between {low:g} and {high:+g} dB, got {db:g}")
    return db


def pitch_ratio(semitones: float) -> float:
    """Frequency ratio of a shift by ``semitones``: 12 -> 2.0."""
    return float(2.0 ** (semitones / SEMITONES_PER_OCTAVE))


def apply_gain(audio: np.ndarray, db: float) -> np.ndarray:
    """``audio`` ``(T,)`` scaled by ``db`` decibels, clipped to [-1, 1]."""
    if db == 0:
        return audio
    gain = 10.0 ** (db / DB_PER_AMPLITUDE_DECADE)
    return np.clip(audio * gain, -1.0, 1.0).astype(np.float32)


def shift_mel_pitch(mel: torch.Tensor, semitones: float, audio: AudioConfig) -> torch.Tensor:
    """Log-mel ``(B, n_mels, T)`` with its spectrum moved along frequency by ``semitones``.

    Output bin k takes the (linearly interpolated, in Hz) log energy the input had at
    ``f_k / ratio``; frequencies below the lowest band centre become silence.
    """
    if semitones == 0:
        return mel
    import librosa  # here, not at the top: synthesis without a mel pitch shift never needs it

    # Band centres of the Slaney mel basis (vocoders.audio): n_mels + 2 edges, drop the outer two.
    centres = librosa.mel_frequencies(audio.n_mels + 2, fmin=audio.fmin, fmax=audio.fmax)[1:-1]
    source = centres / pitch_ratio(semitones)
    position = np.interp(source, centres, np.arange(audio.n_mels, dtype=np.float64))
    below = source < centres[0]
    lo = np.floor(position).astype(np.int64)
    hi = np.minimum(lo + 1, audio.n_mels - 1)
    frac = torch.tensor(position - lo, dtype=mel.dtype, device=mel.device).view(1, -1, 1)
    shifted = mel[:, lo, :] * (1 - frac) + mel[:, hi, :] * frac
    mask = torch.tensor(below, device=mel.device).view(1, -1, 1)
    return shifted.masked_fill(mask, MEL_PAD_VALUE)


def resample_ratio(semitones: float) -> Fraction:
    """The pitch ratio as the fraction the resampler uses (exact, so timings can follow it)."""
    return Fraction(pitch_ratio(semitones)).limit_denominator(MAX_RESAMPLE_DENOMINATOR)


def resample_pitch(audio: np.ndarray, semitones: float) -> np.ndarray:
    """``audio`` ``(T,)`` played ``ratio`` times faster: ``(ceil(T / ratio),)``, pitch up by ``semitones``.

    Pair with durations stretched by the ratio (speaking rate divided by it) to keep the tempo.
    """
    if semitones == 0:
        return audio
    # Here, not at the top: importing scipy.signal costs 0.8-1.1 CPU seconds (2 busy cores), which
    # synthesis at the voice's own pitch does not need.
    from scipy.signal import resample_poly

    ratio = resample_ratio(semitones)
    return resample_poly(audio, ratio.denominator, ratio.numerator).astype(np.float32)
