"""Offline English speech recogniser for the intelligibility (WER) part of the evaluation.

Wraps PocketSphinx 5 with the US-English acoustic model, trigram language model and CMU
dictionary that ship inside the ``pocketsphinx`` wheel, so evaluation needs no download. It is a
weak recogniser (a 2010s HMM system), so absolute WERs are high; what the evaluation reads is the
difference between the teacher's own recordings and each synthetic system on the same sentences.
"""

from __future__ import annotations

import logging
from pathlib import Path

import librosa
import numpy as np

from tts.errors import UserError

logger = logging.getLogger(__name__)

ASR_SAMPLE_RATE = 16000  # the bundled acoustic model is trained on 16 kHz speech
INT16_FULL_SCALE = 32767  # float [-1, 1] -> 16-bit PCM, the decoder's input format
MODEL_LANGUAGE = "en-us"
ACOUSTIC_MODEL = "en-us"  # sub-directory of the language's model folder
LANGUAGE_MODEL = "en-us.lm.bin"
DICTIONARY = "cmudict-en-us.dict"
DESCRIPTION = "PocketSphinx 5, bundled en-us acoustic model, en-us trigram LM, CMUdict"


def bundled_model_paths() -> dict[str, Path]:
    """Paths of the acoustic model (``hmm``), language model (``lm``) and dictionary (``dict``)."""
    from pocketsphinx import get_model_path

    root = Path(get_model_path()) / MODEL_LANGUAGE
    paths = {"hmm": root / ACOUSTIC_MODEL, "lm": root / LANGUAGE_MODEL, "dict": root / DICTIONARY}
    missing = [str(p) for p in paths.values() if not p.exists()]
    if missing:
        raise UserError(f"the pocketsphinx English model is incomplete; missing: {', '.join(missing)}")
    return paths


class Recognizer:
    """English speech to lower-case words: ``Recognizer().transcribe(audio, sample_rate)``.

    Loading takes about half a second; reuse one instance for a whole evaluation.
    """

    def __init__(self) -> None:
        from pocketsphinx import Decoder

        paths = bundled_model_paths()
        self._decoder = Decoder(
            hmm=str(paths["hmm"]),
            lm=str(paths["lm"]),
            dict=str(paths["dict"]),
            samprate=ASR_SAMPLE_RATE,
            loglevel="FATAL",  # its INFO log is hundreds of lines per utterance
        )
        self.description = DESCRIPTION

    def transcribe(self, audio: np.ndarray, sample_rate: int) -> str:
        """Words heard in ``audio`` ``(T,)`` float in [-1, 1] at ``sample_rate``; ``""`` if none."""
        audio = np.asarray(audio, dtype=np.float32).reshape(-1)
        if audio.size == 0:
            return ""
        if sample_rate != ASR_SAMPLE_RATE:
            audio = librosa.resample(audio, orig_sr=sample_rate, target_sr=ASR_SAMPLE_RATE)
        pcm = (np.clip(audio, -1.0, 1.0) * INT16_FULL_SCALE).astype("<i2")  # little-endian int16
        # The feature front end adapts (noise floor, cepstral mean) to everything it has heard: reset it
        # so a transcription depends only on this audio, not on which systems were scored before it.
        self._decoder.reinit_feat()
        self._decoder.start_utt()
        # full_utt: the whole utterance is given at once, so the decoder may use it all for its
        # cepstral mean normalisation instead of a running estimate.
        self._decoder.process_raw(pcm.tobytes(), no_search=False, full_utt=True)
        self._decoder.end_utt()
        hyp = self._decoder.hyp()
        return hyp.hypstr.strip() if hyp is not None else ""
