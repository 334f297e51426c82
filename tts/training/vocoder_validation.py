"""Validation every vocoder recipe shares: mel L1, wide-band PESQ and STOI of copy synthesis.

Each pass vocodes the first validation utterances whole from their own mels and scores the audio
against the recordings, so ``metrics.jsonl`` holds the same quality figures, next to the CPU hours
spent, for every vocoder kind; ``ganspeech plot-quality`` draws them as quality-per-CPU-hour curves.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from tts.evaluation.metrics import pesq_wb, stoi
from tts.training.vocoder_data import VocoderData
from vocoders.audio import AudioConfig, mel_spectrogram, save_audio

logger = logging.getLogger(__name__)

# Validation utterances scored at each pass (PESQ and STOI of a few seconds each cost well under a
# second per utterance, small against the steps between passes).
N_QUALITY_UTTERANCES = 8
# Of those, how many are written to run_dir/samples for listening.
N_SAVED_SAMPLES = 3
SAMPLES_DIR = "samples"


def score_copy_synthesis(
    vocode: Callable[[torch.Tensor], np.ndarray],
    data: VocoderData,
    audio: AudioConfig,
    step: int,
    run_dir: Path,
    limit: int = N_QUALITY_UTTERANCES,
) -> dict[str, float]:
    """``val_mel_l1``, ``val_pesq`` and ``val_stoi``, means over ``limit`` validation utterances.

    ``vocode`` maps a mel ``(1, n_mels, T)`` to audio ``(T * hop,)``. An utterance PESQ cannot
    score (no speech found) is left out of the PESQ mean only.
    """
    samples = run_dir / SAMPLES_DIR
    samples.mkdir(parents=True, exist_ok=True)
    mel_l1, pesqs, stois = [], [], []
    for i, (utt_id, ref, mel) in enumerate(data.validation_utterances(limit)):
        wav = vocode(mel.unsqueeze(0))
        n = min(len(wav), len(ref))
        mel_hat = mel_spectrogram(torch.from_numpy(np.ascontiguousarray(wav[:n])), audio)[0]
        frames = min(mel_hat.shape[-1], mel.shape[-1])
        mel_l1.append(float(torch.mean(torch.abs(mel_hat[:, :frames] - mel[:, :frames]))))
        reference = ref.numpy()[:n]
        try:
            pesqs.append(pesq_wb(reference, wav[:n], audio.sample_rate))
        except ValueError as exc:
            logger.warning("validation utterance %s: %s", utt_id, exc)
        stois.append(stoi(reference, wav[:n], audio.sample_rate))
        if i < N_SAVED_SAMPLES:
            save_audio(samples / f"step{step:07d}_{utt_id}.wav", wav, audio.sample_rate)
    result = {"val_mel_l1": float(np.mean(mel_l1)), "val_stoi": float(np.mean(stois))}
    if pesqs:
        result["val_pesq"] = float(np.mean(pesqs))
    return result
