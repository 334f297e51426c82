"""Objective speech-quality metrics of the evaluation: WER, MCD, PESQ and STOI.

* :func:`word_error_rate` — corpus WER: word-level Levenshtein edits summed over all pairs,
  divided by the number of reference words. Both sides go through :func:`normalize_words` first.
* :func:`mel_cepstral_distortion` — MFCC-style mel-cepstral distortion in dB after DTW alignment
  (recipe in the function's docstring). It compares two renditions of the same sentence whose
  timing differs (text-to-mel output against the teacher), hence the alignment.
* :func:`pesq_wb` — wide-band PESQ (ITU-T P.862.2) at 16 kHz, MOS-LQO from about 1.0 to 4.64.
* :func:`stoi` — short-time objective intelligibility (Taal et al., 2011), 0 to 1.

PESQ and STOI need sample-aligned signals of equal length, so they suit copy synthesis (same
timing as the reference) and truncate both signals to the shorter one.
"""

from __future__ import annotations

import logging
import math
import re

import librosa
import numpy as np

logger = logging.getLogger(__name__)

# --------------------------------------------------------------------------- WER

# Anything that is neither a letter, a digit nor an apostrophe separates words; hyphens too, so
# "ninety-nine" from the normaliser matches "ninety nine" from a recogniser.
_NON_WORD_RE = re.compile(r"[^\w']+|_")
_EDGE_APOSTROPHES = "'"


def normalize_words(text: str, language: str = "en-us") -> list[str]:
    """Lower-case words of ``text`` with numbers spelled out as
    :func:`tts.frontend.normalize.normalize_text` does.

    Applying the TTS normaliser to both reference and hypothesis makes "3" and "three" the same
    word; punctuation is dropped and apostrophes are kept only inside words ("don't").
    """
    from tts.frontend.normalize import normalize_text

    spoken = normalize_text(text, language) if text.strip() else ""
    words = (w.strip(_EDGE_APOSTROPHES) for w in _NON_WORD_RE.split(spoken.lower()))
    return [w for w in words if w]


def word_edit_distance(ref: list[str], hyp: list[str]) -> int:
    """Minimum substitutions + insertions + deletions turning ``ref`` into ``hyp``."""
    previous = list(range(len(hyp) + 1))  # distances from an empty ref prefix
    for i, ref_word in enumerate(ref, start=1):
        current = [i] + [0] * len(hyp)
        for j, hyp_word in enumerate(hyp, start=1):
            current[j] = min(
                previous[j] + 1,  # deletion of ref_word
                current[j - 1] + 1,  # insertion of hyp_word
                previous[j - 1] + (ref_word != hyp_word),  # match or substitution
            )
        previous = current
    return previous[-1]


def word_errors(ref: str, hyp: str, language: str = "en-us") -> tuple[int, int]:
    """``(edits, reference words)`` of one pair after :func:`normalize_words`."""
    ref_words = normalize_words(ref, language)
    return word_edit_distance(ref_words, normalize_words(hyp, language)), len(ref_words)


def word_error_rate(refs: list[str], hyps: list[str], language: str = "en-us") -> float:
    """Corpus WER: total word edits over total reference words (can exceed 1 with insertions)."""
    if len(refs) != len(hyps):
        raise ValueError(f"{len(refs)} references but {len(hyps)} hypotheses")
    edits = n_words = 0
    for ref, hyp in zip(refs, hyps):
        e, n = word_errors(ref, hyp, language)
        edits += e
        n_words += n
    if n_words == 0:
        raise ValueError("the references hold no words: WER is undefined")
    return edits / n_words


# --------------------------------------------------------------------------- MCD

MCD_WINDOW_S = 0.025  # 25 ms analysis window, the usual frame for cepstral features
MCD_HOP_S = 0.005  # 5 ms hop, as in the MCD literature (SPTK-based recipes)
MCD_N_MELS = 40  # mel bands before the DCT, the common MFCC front end
MCD_N_CEPSTRA = 13  # c1..c13 compared; c0 (overall level) is excluded
# Keeps the log finite in digital silence; -100 dB re full scale, like vocoders.audio.LOG_CLAMP.
MCD_LOG_FLOOR = 1e-5
# 10 / ln(10) * sqrt(2): turns a Euclidean distance of natural-log cepstra into dB (Kubichek, 1993).
MCD_DB_FACTOR = 10.0 / math.log(10.0) * math.sqrt(2.0)


def mel_cepstra(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """Mel-cepstra c1..c13 ``(13, frames)`` of ``audio`` ``(T,)``, the features of :func:`mel_cepstral_distortion`."""
    win = round(MCD_WINDOW_S * sample_rate)
    hop = round(MCD_HOP_S * sample_rate)
    n_fft = 1 << (win - 1).bit_length()  # next power of two holding the window
    magnitude_mel = librosa.feature.melspectrogram(
        y=np.asarray(audio, dtype=np.float32),
        sr=sample_rate,
        n_fft=n_fft,
        hop_length=hop,
        win_length=win,
        n_mels=MCD_N_MELS,
        power=1.0,
    )  # (n_mels, frames)
    log_mel = np.log(np.maximum(magnitude_mel, MCD_LOG_FLOOR))
    # librosa.feature.mfcc given S applies an orthonormal DCT-II over the mel bands. Dividing by
    # sqrt(2 * n_mels) turns that into cepstral coefficients c_m of
    # log|X(w)| = c0 + 2 * sum_m c_m cos(m w) on the mel-warped axis, the scale MCD's dB factor assumes.
    cepstra = librosa.feature.mfcc(S=log_mel, n_mfcc=MCD_N_CEPSTRA + 1, dct_type=2, norm="ortho")
    cepstra = cepstra / math.sqrt(2 * MCD_N_MELS)
    return cepstra[1:]  # drop c0: loudness differences are not spectral distortion


def mel_cepstral_distortion(ref: np.ndarray, test: np.ndarray, sample_rate: int) -> float:
    """Mel-cepstral distortion in dB between ``ref`` and ``test`` ``(T,)``, DTW-aligned.

    Recipe: 25 ms Hann windows every 5 ms (FFT size: the next power of two); 40-band Slaney mel
    magnitude spectrum (librosa, 0 Hz to Nyquist); natural log (floor 1e-5); orthonormal DCT-II
    divided by ``sqrt(2 * 40)`` (the cepstral scale, see :func:`mel_cepstra`); keep c1..c13. The two
    sequences are aligned with :func:`librosa.sequence.dtw` (Euclidean cost, standard steps), and
    ``MCD = 10 / ln 10 * sqrt(2 * sum_d (c_d - c'_d)^2)`` is averaged over the frame pairs of the
    warping path. 0 for identical audio. Since these are MFCC-style cepstra and not SPTK mel-cepstra
    (all-pass warping, other scaling), values compare between systems scored here, not with
    numbers in papers.
    """
    ref_c = mel_cepstra(ref, sample_rate)  # (13, N)
    test_c = mel_cepstra(test, sample_rate)  # (13, M)
    _, path = librosa.sequence.dtw(X=ref_c, Y=test_c, metric="euclidean")  # path: (L, 2) pairs (i, j)
    diff = ref_c[:, path[:, 0]] - test_c[:, path[:, 1]]  # (13, L)
    return float(MCD_DB_FACTOR * np.mean(np.sqrt(np.sum(diff**2, axis=0))))


# --------------------------------------------------------------------------- PESQ, STOI

PESQ_SAMPLE_RATE = 16000  # wide-band PESQ is defined at 16 kHz only


def _aligned(ref: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both signals as float64 ``(T,)``, truncated to the shorter one."""
    ref = np.asarray(ref, dtype=np.float64).reshape(-1)
    test = np.asarray(test, dtype=np.float64).reshape(-1)
    n = min(len(ref), len(test))
    if n == 0:
        raise ValueError("cannot score empty audio")
    return ref[:n], test[:n]


def pesq_wb(ref: np.ndarray, test: np.ndarray, sample_rate: int) -> float:
    """Wide-band PESQ (MOS-LQO, about 1.0 to 4.64) of ``test`` against ``ref``, both ``(T,)``.

    Resampled to 16 kHz when ``sample_rate`` differs. Raises ``ValueError`` when PESQ finds no
    speech in the reference (silence, pure tones) or the audio is too short.
    """
    from pesq import PesqError, pesq

    if sample_rate != PESQ_SAMPLE_RATE:
        ref = librosa.resample(
            np.asarray(ref, dtype=np.float32), orig_sr=sample_rate, target_sr=PESQ_SAMPLE_RATE
        )
        test = librosa.resample(
            np.asarray(test, dtype=np.float32), orig_sr=sample_rate, target_sr=PESQ_SAMPLE_RATE
        )
    ref, test = _aligned(ref, test)
    if not np.any(ref) or not np.any(test):
        raise ValueError("PESQ failed: a signal is digital silence")  # pesq would divide by zero
    try:
        return float(pesq(PESQ_SAMPLE_RATE, ref, test, "wb"))
    except PesqError as exc:
        raise ValueError(f"PESQ failed: {type(exc).__name__}: {exc}") from exc


def stoi(ref: np.ndarray, test: np.ndarray, sample_rate: int) -> float:
    """STOI (0 to 1, higher is more intelligible) of ``test`` against ``ref``, both ``(T,)``.

    pystoi resamples to its own 10 kHz internally and drops silent frames of ``ref``.
    """
    from pystoi import stoi as pystoi_stoi

    ref, test = _aligned(ref, test)
    return float(pystoi_stoi(ref, test, sample_rate, extended=False))
