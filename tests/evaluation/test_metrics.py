"""WER, MCD, PESQ, STOI and the PocketSphinx recogniser."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from tts.evaluation.metrics import (
    mel_cepstral_distortion,
    normalize_words,
    pesq_wb,
    stoi,
    word_edit_distance,
    word_error_rate,
)
from vocoders.audio import load_audio

SR = 16000
FLITE = shutil.which("flite")
SPEECH_TEXT = "Please call Stella and ask her to bring these things with her from the store."
needs_flite = pytest.mark.skipif(FLITE is None, reason="flite is not installed")


def flite_speech(text: str, path: Path) -> np.ndarray:
    subprocess.run([FLITE, "-voice", "rms", "-t", text, "-o", str(path)], check=True, capture_output=True)
    return load_audio(path, SR)


def harmonic_chirp(seconds: float = 2.0, sample_rate: int = SR) -> np.ndarray:
    """Speech-like fallback: a gliding harmonic tone with a 4 Hz syllable-rate envelope."""
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    phase = 2 * np.pi * np.cumsum(120 + 60 * np.sin(2 * np.pi * 0.7 * t)) / sample_rate
    voiced = sum(np.sin(k * phase) / k for k in range(1, 20))
    envelope = np.clip(np.sin(2 * np.pi * 4 * t), 0, None)
    return (0.2 * voiced * envelope).astype(np.float32)


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> np.ndarray:
    """About 2 s of speech (flite) or, without flite, a speech-like harmonic signal."""
    if FLITE is None:
        return harmonic_chirp()
    audio = flite_speech(SPEECH_TEXT, tmp_path_factory.mktemp("flite") / "speech.wav")
    return audio[: 2 * SR]


def add_noise(audio: np.ndarray, snr_db: float, seed: int = 0) -> np.ndarray:
    noise = np.random.default_rng(seed).standard_normal(audio.shape)
    noise *= np.sqrt(np.mean(audio**2) / np.mean(noise**2)) / 10 ** (snr_db / 20)
    return (audio + noise).astype(np.float32)


# ----------------------------------------------------------------------------- WER


def test_wer_identical_is_zero() -> None:
    assert word_error_rate(["the cat sat"], ["the cat sat"]) == 0.0


def test_wer_substitution_insertion_deletion() -> None:
    assert word_error_rate(["the cat sat down"], ["the dog sat down"]) == pytest.approx(1 / 4)
    assert word_error_rate(["a b c"], ["a b x c"]) == pytest.approx(1 / 3)
    assert word_error_rate(["a b c"], ["a c"]) == pytest.approx(1 / 3)
    assert word_error_rate(["a b"], ["x a b y z"]) == pytest.approx(3 / 2)  # insertions can exceed 100 %


def test_wer_empty_hypothesis_is_all_deletions() -> None:
    assert word_error_rate(["one two three"], [""]) == 1.0


def test_wer_is_pooled_over_the_corpus() -> None:
    # 1 error in 1 word and 0 in 3 words: 1/4 pooled, not the 1/2 of averaging per sentence.
    assert word_error_rate(["yes", "a b c"], ["no", "a b c"]) == pytest.approx(1 / 4)


def test_wer_ignores_case_punctuation_and_number_spelling() -> None:
    assert word_error_rate(["Hello, World! It's 3 o'clock."], ["hello world it's three o'clock"]) == 0.0
    assert (
        word_error_rate(
            ["In 1999 it cost 42 dollars."], ["in nineteen ninety nine it cost forty two dollars"]
        )
        == 0.0
    )
    assert normalize_words("Rock-and-roll!") == ["rock", "and", "roll"]


def test_wer_refuses_mismatched_or_empty_references() -> None:
    with pytest.raises(ValueError):
        word_error_rate(["a"], ["a", "b"])
    with pytest.raises(ValueError):
        word_error_rate(["", "..."], ["a", "b"])


def test_edit_distance_is_levenshtein() -> None:
    assert word_edit_distance(list("kitten"), list("sitting")) == 3
    assert word_edit_distance([], list("abc")) == 3
    assert word_edit_distance(list("abc"), []) == 3


# ----------------------------------------------------------------------------- MCD


def test_mcd_is_zero_for_identical_audio_and_grows_with_noise(speech: np.ndarray) -> None:
    assert mel_cepstral_distortion(speech, speech, SR) == pytest.approx(0.0, abs=1e-6)
    mild = mel_cepstral_distortion(speech, add_noise(speech, 30), SR)
    heavy = mel_cepstral_distortion(speech, add_noise(speech, 0), SR)
    assert 0.0 < mild < heavy


def test_mcd_alignment_forgives_timing_but_not_spectrum(speech: np.ndarray) -> None:
    # Half a second of leading silence shifts every frame; DTW must absorb it.
    delayed = np.concatenate([np.zeros(SR // 2, dtype=np.float32), speech])
    shifted = mel_cepstral_distortion(speech, delayed, SR)
    noisy = mel_cepstral_distortion(speech, add_noise(speech, 0), SR)
    assert shifted < noisy / 2


# ----------------------------------------------------------------------------- PESQ, STOI


def test_pesq_and_stoi_of_identical_audio_are_at_their_maximum(speech: np.ndarray) -> None:
    assert pesq_wb(speech, speech, SR) > 4.4
    assert stoi(speech, speech, SR) > 0.99


def test_pesq_and_stoi_drop_with_noise(speech: np.ndarray) -> None:
    noisy = add_noise(speech, 0)
    assert pesq_wb(speech, noisy, SR) < 2.5
    assert stoi(speech, noisy, SR) < 0.9
    assert stoi(speech, add_noise(speech, 20), SR) > stoi(speech, noisy, SR)


def test_pesq_resamples_and_stoi_truncates(speech: np.ndarray) -> None:
    import librosa

    at_22k = librosa.resample(speech, orig_sr=SR, target_sr=22050)
    assert pesq_wb(at_22k, at_22k, 22050) > 4.4
    longer = np.concatenate([speech, np.zeros(1234, dtype=np.float32)])
    assert stoi(speech, longer, SR) > 0.99


def test_pesq_on_silence_is_a_clear_error() -> None:
    silence = np.zeros(SR, dtype=np.float32)
    with pytest.raises(ValueError, match="PESQ"):
        pesq_wb(silence, silence, SR)


# ----------------------------------------------------------------------------- recogniser


@needs_flite
def test_recognizer_transcribes_flite_speech(tmp_path: Path) -> None:
    from tts.evaluation.asr import Recognizer

    text = "The box was thrown beside the parked truck."
    audio = flite_speech(text, tmp_path / "sentence.wav")
    recognizer = Recognizer()
    hyp = recognizer.transcribe(audio, SR)
    assert word_error_rate([text], [hyp]) < 0.5
    # Resampling path: the same speech at 22.05 kHz is still recognised.
    import librosa

    hyp_22k = recognizer.transcribe(librosa.resample(audio, orig_sr=SR, target_sr=22050), 22050)
    assert word_error_rate([text], [hyp_22k]) < 0.5


@needs_flite
def test_a_transcription_does_not_depend_on_what_was_heard_before(tmp_path: Path) -> None:
    from tts.evaluation.asr import Recognizer

    # Without a reset, pocketsphinx's adaptive front end mishears this sentence after loud noise.
    audio = flite_speech("Four hours of steady work faced us.", tmp_path / "sentence.wav")
    fresh = Recognizer().transcribe(audio, SR)
    recognizer = Recognizer()
    recognizer.transcribe(np.random.default_rng(0).normal(0.0, 0.3, 3 * SR).astype(np.float32), SR)
    assert recognizer.transcribe(audio, SR) == fresh


def test_recognizer_hears_nothing_in_silence() -> None:
    from tts.evaluation.asr import Recognizer

    recognizer = Recognizer()
    assert recognizer.transcribe(np.zeros(0, dtype=np.float32), SR) == ""
    assert len(recognizer.transcribe(np.zeros(SR, dtype=np.float32), SR).split()) <= 1
