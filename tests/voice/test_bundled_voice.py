"""The bundled default voice: installed with the package, complete, and it speaks (no training here)."""

from __future__ import annotations

import numpy as np
import pytest

from tts.evaluation.asr import Recognizer
from tts.evaluation.metrics import word_error_rate
from tts.synthesizer import Synthesizer
from tts.voice import BUNDLED_VOICE_DIR, read_manifest, resolve_voice_dir
from vocoders.audio import AUDIO_PRESETS

TEXT = "The quick brown fox."
# A spoken sentence carries far more energy than the near-silence of an untrained generator.
MIN_SPEECH_RMS = 0.01
# The check sentence, and the word error rate the offline recogniser may leave on it: the
# HiFi-GAN path is transcribed exactly today, the WaveNet ("... over the way she died") with three
# errors in nine words (the bound leaves room for sampling to differ on other CPUs).
FOX = "The quick brown fox jumps over the lazy dog."
MAX_FOX_WER = {"hifigan": 0.25, "vocos": 0.25, "wavenet": 0.5}
# Bundled weights stay small enough to live in git: every model together <= 40 MiB.
MAX_BUNDLE_BYTES = 40 * 2**20


BUNDLED_MODELS = {"text2mel", "hifigan", "vocos", "wavenet"}


@pytest.fixture(scope="module")
def bundled() -> Synthesizer:
    return Synthesizer.load(None)


def test_the_default_voice_is_the_bundled_directory_and_is_complete() -> None:
    assert resolve_voice_dir(None) == BUNDLED_VOICE_DIR
    manifest = read_manifest(BUNDLED_VOICE_DIR)
    assert manifest.trained
    # A text-to-mel model, the two parallel GAN vocoders and the autoregressive one.
    assert set(manifest.models) == BUNDLED_MODELS
    assert manifest.audio == AUDIO_PRESETS["16k"]
    assert (BUNDLED_VOICE_DIR / "MODEL_CARD.md").is_file()
    size = sum(p.stat().st_size for p in BUNDLED_VOICE_DIR.iterdir() if p.is_file())
    assert size <= MAX_BUNDLE_BYTES


@pytest.mark.parametrize("vocoder", sorted(MAX_FOX_WER))
def test_the_bundled_voice_speaks_with_every_vocoder(bundled: Synthesizer, vocoder: str) -> None:
    result = bundled.synthesize(TEXT, vocoder=vocoder)
    audio = result.audio
    assert audio.dtype == np.float32 and audio.ndim == 1
    # A four-word sentence lasts between half a second and a few seconds.
    assert 0.5 * bundled.sample_rate <= len(audio) <= 4 * bundled.sample_rate
    assert np.isfinite(audio).all() and np.abs(audio).max() <= 1.0
    assert float(np.sqrt(np.mean(audio**2))) >= MIN_SPEECH_RMS


@pytest.mark.parametrize("vocoder", sorted(MAX_FOX_WER))
def test_the_recognizer_understands_the_bundled_voice(bundled: Synthesizer, vocoder: str) -> None:
    result = bundled.synthesize(FOX, vocoder=vocoder)
    heard = Recognizer().transcribe(result.audio, bundled.sample_rate)
    assert word_error_rate([FOX], [heard]) <= MAX_FOX_WER[vocoder], heard
