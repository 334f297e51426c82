"""Vocos-style frame-rate GAN vocoder: a ConvNeXt trunk at mel frame rate and an inverse-STFT head.

Siuzdak, "Vocos: Closing the gap between time-domain and Fourier-based neural vocoders" (2023).
Where HiFi-GAN upsamples the mel to the sample rate with transposed convolutions and runs its
residual blocks on every sample, this generator never leaves the frame rate: ``num_layers``
ConvNeXt blocks turn the log-mel ``(B, n_mels, T)`` into a complex STFT ``(B, n_fft // 2 + 1, T)``
(a log-magnitude and a phase angle per bin), and one inverse STFT with hop ``hop_length`` makes the
waveform ``(B, 1, T * hop)``. Nearly all of its arithmetic is frame-rate matrix products, which
is why it trains and runs several times faster than HiFi-GAN on a CPU.

The amplitude prior (FreeV, APNet2) is optional: with ``amplitude_prior`` the head predicts the
log-magnitude as a correction to ``log(W · exp(mel))``, the mel spread back over the linear bins
by ``W``, the filterbank's transpose normalised so that a flat spectrum comes back flat (a
non-negative, smooth stand-in for the pseudo-inverse, which rings below zero).

Every layer sees a finite window of frames (the convolutions pad with zeros; the layer norms act on
one frame at a time), so chunks vocoded with :func:`receptive_field_frames` of context on each side
join into exactly the whole-utterance output (:mod:`vocoders.streaming`).
"""

from __future__ import annotations

import dataclasses
import logging
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from vocoders.audio import AudioConfig, check_mel, mel_basis

logger = logging.getLogger(__name__)

EMBED_KERNEL = 7  # kernel of the input convolution from n_mels to the trunk width (as Vocos)
LAYER_NORM_EPS = 1e-6  # ConvNeXt's LayerNorm epsilon
# Ceiling on the predicted linear magnitude: exp() of an untrained head can overflow (Vocos clips at 1e2).
MAX_MAGNITUDE = 1e2
# Floor under the amplitude prior before its log, the same floor as the log-mel's.
PRIOR_FLOOR = 1e-5
# The window envelope of the overlap-add is checked against this: below it the iSTFT is ill-posed.
MIN_WINDOW_ENVELOPE = 1e-11


@dataclass(frozen=True)
class VocosConfig:
    """Generator shape; ``n_fft`` and ``hop_length`` define the iSTFT head."""

    n_mels: int = 80  # conditioning width (the voice's audio config)
    hop_length: int = 256  # iSTFT hop = the mel hop, so one trunk frame makes one hop of audio
    n_fft: int = 1024  # iSTFT size (and Hann window length); 4x the hop as in Vocos
    dim: int = 384  # trunk width
    intermediate_dim: int = 1152  # ConvNeXt inverted-bottleneck width (3x dim, as Vocos)
    num_layers: int = 8  # ConvNeXt blocks
    kernel_size: int = 7  # depthwise kernel of each block, in frames
    amplitude_prior: bool = False  # predict log-magnitude as a correction to the mel's linear spread

    def __post_init__(self) -> None:
        if self.n_fft < self.hop_length or self.hop_length < 1:
            raise ValueError(f"need n_fft >= hop_length >= 1, got {self.n_fft} and {self.hop_length}")
        if (self.n_fft - self.hop_length) % 2:
            raise ValueError("n_fft - hop_length must be even (the iSTFT trims equally on both sides)")
        if self.kernel_size % 2 == 0 or self.kernel_size < 1:
            raise ValueError(f"kernel_size must be odd, got {self.kernel_size}")
        if min(self.dim, self.intermediate_dim, self.num_layers, self.n_mels) < 1:
            raise ValueError("dim, intermediate_dim, num_layers and n_mels must be positive")

    @property
    def n_bins(self) -> int:
        return self.n_fft // 2 + 1


# Presets. "base" is the Vocos-like generator measured at 0.064 s forward + backward per batch of
# 8 x 8192 samples on 2 cores; "small" halves the width for smaller voices; "tiny" is for tests.
VOCOS_PRESETS: dict[str, dict[str, int]] = {
    "base": {"dim": 384, "intermediate_dim": 1152, "num_layers": 8},
    "small": {"dim": 256, "intermediate_dim": 768, "num_layers": 8},
    "tiny": {"dim": 32, "intermediate_dim": 64, "num_layers": 2},
}


def vocos_config(name: str, audio: AudioConfig, **overrides: object) -> VocosConfig:
    """Preset ``name`` for ``audio`` (n_mels, hop and n_fft come from the voice's audio config)."""
    if name not in VOCOS_PRESETS:
        raise ValueError(f"unknown Vocos preset {name!r}; choose one of {sorted(VOCOS_PRESETS)}")
    shape = {**VOCOS_PRESETS[name], **overrides}
    return VocosConfig(n_mels=audio.n_mels, hop_length=audio.hop_length, n_fft=audio.n_fft, **shape)  # type: ignore[arg-type]


def receptive_field_frames(cfg: VocosConfig) -> int:
    """Context frames on each side that make a chunk's samples equal the whole-utterance ones.

    The embedding and each block widen the reach by half their kernel; the iSTFT adds the frames
    whose windows overlap a hop of output: with the trim of ``(n_fft - hop) / 2`` samples, frame
    ``f`` covers samples ``[f * hop - trim, f * hop - trim + n_fft)``, so a hop of output reaches
    ``ceil(trim / hop)`` frames back and ``ceil((n_fft - trim - hop) / hop)`` ahead.
    """
    trunk = EMBED_KERNEL // 2 + cfg.num_layers * (cfg.kernel_size // 2)
    trim = (cfg.n_fft - cfg.hop_length) // 2
    back = math.ceil(trim / cfg.hop_length)
    ahead = math.ceil((cfg.n_fft - trim - cfg.hop_length) / cfg.hop_length)
    istft = max(back, ahead)
    return trunk + istft


class ConvNeXtBlock(nn.Module):
    """Depthwise conv over time, per-frame LayerNorm, inverted-bottleneck MLP, layer scale, residual."""

    def __init__(self, dim: int, intermediate_dim: int, kernel_size: int, layer_scale: float) -> None:
        super().__init__()
        self.dwconv = nn.Conv1d(dim, dim, kernel_size, padding=kernel_size // 2, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=LAYER_NORM_EPS)
        self.pwconv1 = nn.Linear(dim, intermediate_dim)
        self.pwconv2 = nn.Linear(intermediate_dim, dim)
        # Layer scale (ConvNeXt): each block starts as a small perturbation of the identity.
        self.gamma = nn.Parameter(torch.full((dim,), layer_scale))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, dim, T)`` -> ``(B, dim, T)``."""
        y = self.dwconv(x).transpose(1, 2)  # (B, T, dim)
        y = self.pwconv2(F.gelu(self.pwconv1(self.norm(y))))
        return x + (self.gamma * y).transpose(1, 2)


def istft_same(spec: torch.Tensor, n_fft: int, hop_length: int, window: torch.Tensor) -> torch.Tensor:
    """Inverse STFT with "same" padding: ``(B, n_fft // 2 + 1, T)`` complex -> ``(B, T * hop)``.

    Overlap-add of the windowed inverse FFTs, divided by the summed squared window, then trimmed by
    ``(n_fft - hop) / 2`` on both sides, which is the framing of :func:`vocoders.audio.stft`
    (reflect padding of that size, no centring), so analysis and synthesis frames line up.
    ``torch.istft`` cannot do this: its ``center=False`` leaves the edges unnormalised.
    """
    n_frames = spec.shape[-1]
    trim = (n_fft - hop_length) // 2
    frames = torch.fft.irfft(spec, n_fft, dim=1) * window[None, :, None]  # (B, n_fft, T)
    length = (n_frames - 1) * hop_length + n_fft
    y = F.fold(frames, output_size=(1, length), kernel_size=(1, n_fft), stride=(1, hop_length))
    envelope = F.fold(
        window.square()[None, :, None].expand(1, n_fft, n_frames),
        output_size=(1, length),
        kernel_size=(1, n_fft),
        stride=(1, hop_length),
    )
    y = y[:, 0, 0, trim : length - trim]
    envelope = envelope[:, 0, 0, trim : length - trim]
    if bool((envelope < MIN_WINDOW_ENVELOPE).any()):
        raise ValueError("the window does not overlap enough for an inverse STFT at this hop")
    return y / envelope


class VocosGenerator(nn.Module):
    """Log-mel ``(B, n_mels, T)`` -> waveform ``(B, 1, T * hop)``; see the module docstring."""

    def __init__(self, cfg: VocosConfig, audio: AudioConfig | None = None) -> None:
        """``audio`` (the voice's feature config) is needed only for ``cfg.amplitude_prior``."""
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Conv1d(cfg.n_mels, cfg.dim, EMBED_KERNEL, padding=EMBED_KERNEL // 2)
        self.norm = nn.LayerNorm(cfg.dim, eps=LAYER_NORM_EPS)
        scale = 1.0 / cfg.num_layers  # Vocos: layer scale 1 / depth keeps the trunk's sum bounded
        self.blocks = nn.ModuleList(
            ConvNeXtBlock(cfg.dim, cfg.intermediate_dim, cfg.kernel_size, scale)
            for _ in range(cfg.num_layers)
        )
        self.final_norm = nn.LayerNorm(cfg.dim, eps=LAYER_NORM_EPS)
        self.head = nn.Linear(cfg.dim, 2 * cfg.n_bins)  # log-magnitude and phase angle per bin
        self.register_buffer("window", torch.hann_window(cfg.n_fft), persistent=False)
        if cfg.amplitude_prior:
            if audio is None:
                raise ValueError("the amplitude prior needs the voice's audio config (its mel filterbank)")
            win = min(audio.win_length, cfg.n_fft)
            basis = mel_basis(dataclasses.replace(audio, n_fft=cfg.n_fft, win_length=win))
            # A band's mel value is its filter's weight sum times the magnitude under it, so dividing
            # by that sum recovers a magnitude; each linear bin then averages the bands covering it,
            # weighted by their filter gains. A flat spectrum comes back flat.
            spread = basis.T / basis.T.sum(dim=1, keepdim=True).clamp(min=PRIOR_FLOOR)  # (n_bins, n_mels)
            spread = spread / basis.sum(dim=1).clamp(min=PRIOR_FLOOR)
            self.register_buffer("prior_basis", spread, persistent=False)  # (n_bins, n_mels)

    @property
    def hop_length(self) -> int:
        return self.cfg.hop_length

    def spectrum(self, mel: torch.Tensor) -> torch.Tensor:
        """Complex STFT ``(B, n_fft // 2 + 1, T)`` the head predicts for ``mel`` ``(B, n_mels, T)``."""
        check_mel(mel, self.cfg.n_mels)
        x = self.embed(mel)  # (B, dim, T)
        x = self.norm(x.transpose(1, 2)).transpose(1, 2)
        for block in self.blocks:
            x = block(x)
        x = self.head(self.final_norm(x.transpose(1, 2))).transpose(1, 2)  # (B, 2 * n_bins, T)
        # The iSTFT and the exp/cos/sin run in float32 even under bf16 autocast: phase needs the bits.
        log_mag, phase = x.float().chunk(2, dim=1)
        if self.cfg.amplitude_prior:
            prior = torch.matmul(self.prior_basis, mel.float().exp())  # (B, n_bins, T)
            log_mag = log_mag + torch.log(prior.clamp(min=PRIOR_FLOOR))
        mag = torch.exp(log_mag).clamp(max=MAX_MAGNITUDE)
        return torch.polar(mag, phase)

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        """Waveform ``(B, 1, T * hop)`` from log-mel ``(B, n_mels, T)``, ``T >= 1``."""
        wav = istft_same(self.spectrum(mel), self.cfg.n_fft, self.cfg.hop_length, self.window)
        return wav.clamp(-1.0, 1.0).unsqueeze(1)
