"""Shared audio configuration, log-mel features and audio file I/O.

Every model stores the :class:`AudioConfig` it was trained with; whenever two models are
combined (text-to-mel + vocoder) the configs are compared with :func:`check_compatible`.
The log-mel computation follows HiFi-GAN's ``meldataset.mel_spectrogram`` exactly.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
import torch
import torch.nn.functional as F

from vocoders.errors import AudioConfigMismatch

logger = logging.getLogger(__name__)

# Floor for the magnitude before the log: HiFi-GAN's dynamic_range_compression clip value.
LOG_CLAMP = 1e-5
# The log-mel of digital silence: what padding frames hold, so padding sounds like nothing.
MEL_PAD_VALUE = math.log(LOG_CLAMP)
# Added inside the magnitude sqrt so its gradient is finite at zero (as in HiFi-GAN).
MAGNITUDE_EPS = 1e-9


@dataclass(frozen=True)
class AudioConfig:
    """Signal and feature parameters shared by every model of a voice."""

    sample_rate: int = 16000  # Hz; the bundled voice's rate (the Flite teacher speaks at 16 kHz)
    n_fft: int = 1024  # FFT size of the STFT behind the mel
    hop_length: int = 256  # samples between frames; every vocoder upsamples by exactly this
    win_length: int = 1024  # Hann window length
    n_mels: int = 80  # mel bands, the vocoders' conditioning width
    fmin: float = 0.0  # lowest mel filter edge, Hz
    fmax: float = 8000.0  # highest mel filter edge, Hz (Nyquist at 16 kHz)

    def __post_init__(self) -> None:
        if self.win_length > self.n_fft:
            raise ValueError(f"win_length {self.win_length} exceeds n_fft {self.n_fft}")
        if self.fmax > self.sample_rate / 2:
            raise ValueError(f"fmax {self.fmax} is above Nyquist ({self.sample_rate / 2})")
        if self.hop_length <= 0 or self.n_mels <= 0:
            raise ValueError("hop_length and n_mels must be positive")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> AudioConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown audio config keys: {sorted(unknown)}")
        return cls(**d)

    @property
    def frame_seconds(self) -> float:
        """Duration of one mel frame (one hop) in seconds."""
        return self.hop_length / self.sample_rate


# Presets: the bundled 16 kHz voice and the LJSpeech / HiFi-GAN V1 convention.
AUDIO_PRESETS: dict[str, AudioConfig] = {
    "16k": AudioConfig(),
    "ljspeech": AudioConfig(
        sample_rate=22050, n_fft=1024, hop_length=256, win_length=1024, n_mels=80, fmin=0.0, fmax=8000.0
    ),
}


def check_compatible(a: AudioConfig, b: AudioConfig, what: str = "models") -> None:
    """Raise :class:`AudioConfigMismatch` naming every field in which ``a`` and ``b`` differ."""
    if a == b:
        return
    diffs = [
        f"{f.name}: {getattr(a, f.name)} != {getattr(b, f.name)}"
        for f in dataclasses.fields(AudioConfig)
        if getattr(a, f.name) != getattr(b, f.name)
    ]
    raise AudioConfigMismatch(f"audio configs of {what} differ ({'; '.join(diffs)})")


@functools.lru_cache(maxsize=16)
def _mel_basis_np(cfg: AudioConfig) -> np.ndarray:
    # Imported on first use: librosa.filters pulls in scipy.signal (0.8-1.1 CPU seconds), and
    # synthesis builds no mel filterbank unless a vocoder has an amplitude prior.
    import librosa

    # librosa's default norm="slaney" and htk=False give the Slaney mel basis HiFi-GAN uses.
    return librosa.filters.mel(
        sr=cfg.sample_rate, n_fft=cfg.n_fft, n_mels=cfg.n_mels, fmin=cfg.fmin, fmax=cfg.fmax
    )


def mel_basis(cfg: AudioConfig, device: torch.device | str = "cpu") -> torch.Tensor:
    """Slaney mel filterbank ``(n_mels, n_fft // 2 + 1)``."""
    return torch.from_numpy(_mel_basis_np(cfg)).to(device)


def stft(wav: torch.Tensor, cfg: AudioConfig) -> torch.Tensor:
    """Complex STFT ``(B, n_fft // 2 + 1, T // hop)`` of ``wav`` ``(B, T)`` or ``(T,)``, HiFi-GAN framing."""
    if wav.dim() == 1:
        wav = wav.unsqueeze(0)
    pad = (cfg.n_fft - cfg.hop_length) // 2
    # Reflect padding of (n_fft - hop) / 2 with center=False gives exactly T // hop frames.
    padded = F.pad(wav.unsqueeze(1), (pad, pad), mode="reflect").squeeze(1)
    window = torch.hann_window(cfg.win_length, device=wav.device, dtype=wav.dtype)
    return torch.stft(
        padded,
        cfg.n_fft,
        hop_length=cfg.hop_length,
        win_length=cfg.win_length,
        window=window,
        center=False,
        normalized=False,
        onesided=True,
        return_complex=True,
    )


def linear_magnitude(wav: torch.Tensor, cfg: AudioConfig) -> torch.Tensor:
    """STFT magnitude ``(B, n_fft // 2 + 1, T // hop)`` of ``wav`` ``(B, T)``, HiFi-GAN framing."""
    spec = stft(wav, cfg)
    return torch.sqrt(spec.real.pow(2) + spec.imag.pow(2) + MAGNITUDE_EPS)


def mel_spectrogram(wav: torch.Tensor, cfg: AudioConfig) -> torch.Tensor:
    """Log-mel ``(B, n_mels, T // hop)`` of ``wav`` ``(B, T)`` (or ``(T,)``), float32 in [-1, 1].

    Natural log of the Slaney-mel magnitude, clamped at 1e-5, as HiFi-GAN computes it.
    """
    mag = linear_magnitude(wav, cfg)
    mel = torch.matmul(mel_basis(cfg, wav.device).to(mag.dtype), mag)
    return torch.log(torch.clamp(mel, min=LOG_CLAMP))


def check_mel(mel: torch.Tensor, n_mels: int) -> None:
    """Raise ``ValueError`` unless ``mel`` is a vocoder input ``(B, n_mels, T)`` with ``T >= 1``."""
    if mel.dim() != 3 or mel.shape[1] != n_mels:
        raise ValueError(f"expected mel (B, {n_mels}, T), got {tuple(mel.shape)}")
    if mel.shape[-1] == 0:
        raise ValueError("mel has no frames")


def num_frames(n_samples: int, cfg: AudioConfig) -> int:
    """Frames :func:`mel_spectrogram` yields for ``n_samples`` samples."""
    return n_samples // cfg.hop_length


def load_audio(path: str | Path, sample_rate: int) -> np.ndarray:
    """Read an audio file as mono float32 ``(T,)`` at ``sample_rate`` (resampled with librosa)."""
    data, sr = sf.read(str(path), dtype="float32", always_2d=True)
    if data.shape[0] == 0:
        raise ValueError(f"{path}: the file holds no samples")
    mono = data.mean(axis=1)  # (T, C) -> (T,)
    if sr != sample_rate:
        import librosa  # on first use, as in _mel_basis_np

        mono = librosa.resample(mono, orig_sr=sr, target_sr=sample_rate)
    return np.ascontiguousarray(mono, dtype=np.float32)


def save_audio(path: str | Path, audio: np.ndarray, sample_rate: int) -> None:
    """Write mono float audio ``(T,)`` as 16-bit PCM (WAV or FLAC, chosen by the suffix)."""
    audio = np.clip(np.asarray(audio, dtype=np.float32), -1.0, 1.0)
    fmt = "FLAC" if str(path).lower().endswith(".flac") else "WAV"
    sf.write(str(path), audio, sample_rate, subtype="PCM_16", format=fmt)
