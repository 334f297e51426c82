"""GAN discriminators: HiFi-GAN's multi-period (MPD) and multi-scale (MSD), UnivNet's multi-resolution (MRD).

The MPD folds the waveform ``(B, 1, T)`` into ``(B, 1, T / p, p)`` for several prime periods
``p`` and applies 2-D convolutions along time only, so each sub-discriminator judges one periodic
structure. The MSD (from MelGAN) judges the raw waveform and 2x / 4x average-pooled versions.
Every sub-discriminator returns its score map and the feature maps of all its layers (for
the feature-matching loss).

The MRD (UnivNet; Vocos pairs it with the MPD) judges STFT magnitudes at several resolutions
with 2-D convolutions over (frames, bins), striding along frequency; it sees the spectral detail
that a frame-rate generator gets wrong, at a cost set by its channel count ``mrd_channels``.

``DiscriminatorConfig.width`` scales the published channel counts, so CPU-sized runs can pair a
small generator with slim discriminators (the published ones hold ~70 M parameters).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm, weight_norm

logger = logging.getLogger(__name__)

LRELU_SLOPE = 0.1  # leaky ReLU slope after every discriminator convolution (as published)

# MPD sub-discriminator (HiFi-GAN DiscriminatorP): output channels of the strided 2-D convs.
MPD_CHANNELS = (32, 128, 512, 1024, 1024)
MPD_KERNEL = 5  # time-axis kernel of the strided convs
MPD_STRIDE = 3  # time-axis stride of all but the last conv
MPD_POST_KERNEL = 3  # time-axis kernel of the score conv

# MSD sub-discriminator (MelGAN / HiFi-GAN DiscriminatorS): (out channels, kernel, stride, groups).
MSD_LAYERS = (
    (128, 15, 1, 1),
    (128, 41, 2, 4),
    (256, 41, 2, 16),
    (512, 41, 4, 16),
    (1024, 41, 4, 16),
    (1024, 41, 1, 16),
    (1024, 5, 1, 1),
)
MSD_POST_KERNEL = 3
# Scaled MSD channel counts are rounded up to a multiple of the largest group count, so every
# grouped conv still divides its input and output channels.
MSD_CHANNEL_MULTIPLE = max(groups for _, _, _, groups in MSD_LAYERS)
# MRD sub-discriminator (UnivNet DiscriminatorR): (kernel over (frames, bins), stride over bins) per conv.
MRD_LAYERS = (((3, 9), 1), ((3, 9), 2), ((3, 9), 2), ((3, 9), 2), ((3, 3), 1))
MRD_POST_KERNEL = (3, 3)
# Average pooling between MSD scales: halves the rate (kernel 4, stride 2, padding 2 as published).
MSD_POOL_KERNEL, MSD_POOL_STRIDE, MSD_POOL_PADDING = 4, 2, 2


@dataclass(frozen=True)
class DiscriminatorConfig:
    """Which discriminators to build and how wide; the defaults are the published HiFi-GAN set."""

    periods: tuple[int, ...] = (2, 3, 5, 7, 11)  # MPD periods; primes so the branches overlap little
    width: float = 1.0  # multiplier on the published channel counts (e.g. 0.125 for CPU training)
    use_msd: bool = True  # add the multi-scale discriminator next to the MPD
    msd_scales: int = 3  # raw, 2x-pooled and 4x-pooled waveform
    # MRD (n_fft, hop, win) resolutions, empty for none. Vocos's are (512, 128), (1024, 256), (2048, 512).
    mrd_resolutions: tuple[tuple[int, int, int], ...] = ()
    mrd_channels: int = 32  # channels of every MRD conv (UnivNet: 32); the MRD's cost grows with its square

    def __post_init__(self) -> None:
        if not self.periods or any(p < 1 for p in self.periods):
            raise ValueError(f"periods must be positive integers, got {self.periods}")
        if not self.width > 0:
            raise ValueError(f"width must be positive, got {self.width}")
        if self.use_msd and self.msd_scales < 1:
            raise ValueError(f"msd_scales must be >= 1 when use_msd is set, got {self.msd_scales}")
        for n_fft, hop, win in self.mrd_resolutions:
            if win > n_fft or hop < 1:
                raise ValueError(f"bad MRD resolution (n_fft {n_fft}, hop {hop}, win {win})")
        if self.mrd_channels < 1:
            raise ValueError(f"mrd_channels must be positive, got {self.mrd_channels}")


def _scaled(channels: int, width: float, multiple: int = 1) -> int:
    """``channels * width`` rounded up to a positive multiple of ``multiple``."""
    return max(multiple, math.ceil(channels * width / multiple) * multiple)


def _score(
    convs: nn.ModuleList, conv_post: nn.Module, x: torch.Tensor
) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """A sub-discriminator's layers on ``x``: its scores flattened to ``(B, N)`` and the feature map
    of every layer, ``convs`` (each followed by a leaky ReLU) then ``conv_post``."""
    fmaps = []
    for conv in convs:
        x = F.leaky_relu(conv(x), LRELU_SLOPE)
        fmaps.append(x)
    x = conv_post(x)
    fmaps.append(x)
    return torch.flatten(x, 1, -1), fmaps


class PeriodDiscriminator(nn.Module):
    """One MPD branch: 2-D convs over the waveform folded by ``period``."""

    def __init__(self, period: int, width: float = 1.0) -> None:
        super().__init__()
        self.period = period
        self.convs = nn.ModuleList()
        c_in = 1
        for i, c in enumerate(MPD_CHANNELS):
            c_out = _scaled(c, width)
            stride = MPD_STRIDE if i < len(MPD_CHANNELS) - 1 else 1
            conv = nn.Conv2d(c_in, c_out, (MPD_KERNEL, 1), (stride, 1), padding=(MPD_KERNEL // 2, 0))
            self.convs.append(weight_norm(conv))
            c_in = c_out
        post = nn.Conv2d(c_in, 1, (MPD_POST_KERNEL, 1), 1, padding=(MPD_POST_KERNEL // 2, 0))
        self.conv_post = weight_norm(post)

    def forward(self, wav: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Scores ``(B, N)`` and feature maps ``(B, C_i, H_i, period)`` of ``wav`` ``(B, 1, T)``."""
        b, c, t = wav.shape
        remainder = t % self.period
        if remainder:
            # Reflect-pad to whole periods (needs T > the padding, true for any real segment).
            wav = F.pad(wav, (0, self.period - remainder), mode="reflect")
            t = wav.shape[-1]
        x = wav.view(b, c, t // self.period, self.period)  # (B, 1, T) -> (B, 1, T / p, p)
        return _score(self.convs, self.conv_post, x)  # scores (B, 1, H, p) flattened to (B, H * p)


class ScaleDiscriminator(nn.Module):
    """One MSD branch: strided, grouped 1-D convs over the (pooled) waveform."""

    def __init__(self, width: float = 1.0, use_spectral_norm: bool = False) -> None:
        super().__init__()
        norm = spectral_norm if use_spectral_norm else weight_norm
        self.convs = nn.ModuleList()
        c_in = 1
        for c, kernel, stride, groups in MSD_LAYERS:
            c_out = _scaled(c, width, MSD_CHANNEL_MULTIPLE)
            conv = nn.Conv1d(c_in, c_out, kernel, stride, groups=groups, padding=kernel // 2)
            self.convs.append(norm(conv))
            c_in = c_out
        self.conv_post = norm(nn.Conv1d(c_in, 1, MSD_POST_KERNEL, 1, padding=MSD_POST_KERNEL // 2))

    def forward(self, wav: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Scores ``(B, N)`` and feature maps ``(B, C_i, L_i)`` of ``wav`` ``(B, 1, T)``."""
        return _score(self.convs, self.conv_post, wav)  # scores (B, 1, L) flattened to (B, L)


class ResolutionDiscriminator(nn.Module):
    """One MRD branch: 2-D convs over the STFT magnitude ``(B, 1, frames, bins)`` at one resolution."""

    def __init__(self, resolution: tuple[int, int, int], channels: int) -> None:
        super().__init__()
        self.n_fft, self.hop, self.win = resolution
        self.register_buffer("window", torch.hann_window(self.win), persistent=False)
        self.convs = nn.ModuleList()
        c_in = 1
        for kernel, stride in MRD_LAYERS:
            padding = (kernel[0] // 2, kernel[1] // 2)
            self.convs.append(weight_norm(nn.Conv2d(c_in, channels, kernel, (1, stride), padding=padding)))
            c_in = channels
        post_padding = (MRD_POST_KERNEL[0] // 2, MRD_POST_KERNEL[1] // 2)
        self.conv_post = weight_norm(nn.Conv2d(c_in, 1, MRD_POST_KERNEL, 1, padding=post_padding))

    def forward(self, wav: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Scores ``(B, N)`` and feature maps ``(B, C, frames, bins_i)`` of ``wav`` ``(B, 1, T)``."""
        # The STFT runs in float32 even under autocast: magnitudes of quiet bins need the range.
        with torch.autocast(wav.device.type, enabled=False):
            spec = torch.stft(
                wav.squeeze(1).float(), self.n_fft, self.hop, self.win, self.window, return_complex=True
            )
            mag = spec.abs().transpose(1, 2).unsqueeze(1)  # (B, bins, frames) -> (B, 1, frames, bins)
        return _score(self.convs, self.conv_post, mag)


class MultiResolutionDiscriminator(nn.Module):
    """One :class:`ResolutionDiscriminator` per STFT resolution."""

    def __init__(self, resolutions: tuple[tuple[int, int, int], ...], channels: int) -> None:
        super().__init__()
        self.discriminators = nn.ModuleList(ResolutionDiscriminator(r, channels) for r in resolutions)

    def forward(self, real: torch.Tensor, fake: torch.Tensor) -> DiscriminatorOutputs:
        """Outputs (see :data:`DiscriminatorOutputs`), one entry per resolution, for ``(B, 1, T)`` inputs."""
        return _judge([(d, real, fake) for d in self.discriminators])


# (real_outs, fake_outs, real_fmaps, fake_fmaps): one entry per sub-discriminator in each list.
DiscriminatorOutputs = tuple[
    list[torch.Tensor], list[torch.Tensor], list[list[torch.Tensor]], list[list[torch.Tensor]]
]


def _judge(
    branches: list[tuple[nn.Module, torch.Tensor, torch.Tensor]],
) -> DiscriminatorOutputs:
    real_outs, fake_outs, real_fmaps, fake_fmaps = [], [], [], []
    for disc, real, fake in branches:
        # One call on real and fake stacked along the batch: larger convolutions run faster on a
        # CPU than two half-size ones, and no layer mixes batch items, so the outputs are the same.
        scores, fmaps = disc(torch.cat([real, fake]))
        n = real.shape[0]
        real_outs.append(scores[:n])
        fake_outs.append(scores[n:])
        real_fmaps.append([f[:n] for f in fmaps])
        fake_fmaps.append([f[n:] for f in fmaps])
    return real_outs, fake_outs, real_fmaps, fake_fmaps


class MultiPeriodDiscriminator(nn.Module):
    """One :class:`PeriodDiscriminator` per period."""

    def __init__(self, periods: tuple[int, ...] = (2, 3, 5, 7, 11), width: float = 1.0) -> None:
        super().__init__()
        self.discriminators = nn.ModuleList(PeriodDiscriminator(p, width) for p in periods)

    def forward(self, real: torch.Tensor, fake: torch.Tensor) -> DiscriminatorOutputs:
        """Outputs (see :data:`DiscriminatorOutputs`), one entry per period, for ``(B, 1, T)`` inputs."""
        return _judge([(d, real, fake) for d in self.discriminators])


class MultiScaleDiscriminator(nn.Module):
    """:class:`ScaleDiscriminator` on the raw waveform (with spectral norm) and on pooled copies."""

    def __init__(self, scales: int = 3, width: float = 1.0) -> None:
        super().__init__()
        # As published, only the raw-rate discriminator uses spectral norm (it stabilises the
        # branch that sees the most detail); the pooled ones use weight norm.
        self.discriminators = nn.ModuleList(
            ScaleDiscriminator(width, use_spectral_norm=i == 0) for i in range(scales)
        )
        self.pool = nn.AvgPool1d(MSD_POOL_KERNEL, MSD_POOL_STRIDE, padding=MSD_POOL_PADDING)

    def forward(self, real: torch.Tensor, fake: torch.Tensor) -> DiscriminatorOutputs:
        """Outputs (see :data:`DiscriminatorOutputs`), one entry per scale, for ``(B, 1, T)`` inputs."""
        branches = []
        for i, d in enumerate(self.discriminators):
            if i:
                # Pooling is cumulative: scale i sees the waveform downsampled 2**i times.
                real, fake = self.pool(real), self.pool(fake)
            branches.append((d, real, fake))
        return _judge(branches)


class Discriminators(nn.Module):
    """The MPD and, optionally, the MSD and the MRD; outputs list the MPD's, then the MSD's and MRD's."""

    def __init__(self, cfg: DiscriminatorConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.mpd = MultiPeriodDiscriminator(cfg.periods, cfg.width)
        self.msd = MultiScaleDiscriminator(cfg.msd_scales, cfg.width) if cfg.use_msd else None
        self.mrd = None
        if cfg.mrd_resolutions:
            self.mrd = MultiResolutionDiscriminator(cfg.mrd_resolutions, cfg.mrd_channels)

    def forward(self, real: torch.Tensor, fake: torch.Tensor) -> DiscriminatorOutputs:
        """Judge ``real`` and ``fake`` waveforms ``(B, 1, T)``.

        Returns ``(real_outs, fake_outs, real_fmaps, fake_fmaps)``: per sub-discriminator a score
        tensor ``(B, N_d)`` and a list of its feature maps; real and fake entries have equal shapes.
        """
        if real.dim() != 3 or real.shape[1] != 1 or real.shape != fake.shape:
            shapes = f"{tuple(real.shape)} and {tuple(fake.shape)}"
            raise ValueError(f"expected real and fake of equal shape (B, 1, T), got {shapes}")
        outs = self.mpd(real, fake)
        for extra in (self.msd, self.mrd):
            if extra is not None:
                outs = tuple(a + b for a, b in zip(outs, extra(real, fake)))  # type: ignore[assignment]
        return outs
