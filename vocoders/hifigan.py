"""HiFi-GAN generator (Kong et al., 2020): log-mel ``(B, n_mels, T)`` -> waveform ``(B, 1, T * hop)``.

The mel is lifted to ``upsample_initial_channel`` channels, then each stage upsamples with a
transposed convolution (halving the channels) followed by a multi-receptive-field fusion (MRF):
the mean of several residual blocks with different kernel sizes and dilations. A final
convolution and ``tanh`` give the waveform. The whole utterance is produced in one parallel pass.

Weight norm (a training aid) is applied to every convolution; :meth:`HiFiGANGenerator.remove_weight_norm`
folds it into plain weights for inference.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import weight_norm

from vocoders.audio import check_mel

logger = logging.getLogger(__name__)

# Negative slope of the leaky ReLUs inside the network (HiFi-GAN's LRELU_SLOPE).
LRELU_SLOPE = 0.1
# Before conv_post HiFi-GAN calls F.leaky_relu with torch's default slope; kept for fidelity.
POST_LRELU_SLOPE = 0.01
# Kernel of the input (mel -> channels) and output (channels -> waveform) convolutions.
PRE_KERNEL = 7
POST_KERNEL = 7
# Std of the normal initialisation of the upsampling, residual and output convolutions.
INIT_STD = 0.01
RESBLOCK_TYPES = ("1", "2")


@dataclass(frozen=True)
class HiFiGANConfig:
    """Generator hyperparameters; the defaults are the published V1 configuration."""

    n_mels: int = 80  # conditioning width; must equal the AudioConfig's n_mels
    upsample_rates: tuple[int, ...] = (8, 8, 2, 2)  # per-stage upsampling; product = hop (256)
    upsample_kernel_sizes: tuple[int, ...] = (16, 16, 4, 4)  # 2 x rate: neighbouring outputs overlap
    upsample_initial_channel: int = 512  # channels after conv_pre; halved at every stage
    resblock: str = "1"  # "1": two convs per dilation (V1/V2); "2": one per dilation (V3, lighter)
    resblock_kernel_sizes: tuple[int, ...] = (3, 7, 11)  # one MRF branch per kernel size
    # Dilations of each MRF branch's convolutions; widening them grows the receptive field cheaply.
    resblock_dilation_sizes: tuple[tuple[int, ...], ...] = ((1, 3, 5), (1, 3, 5), (1, 3, 5))

    def __post_init__(self) -> None:
        if len(self.upsample_rates) != len(self.upsample_kernel_sizes) or not self.upsample_rates:
            raise ValueError("upsample_rates and upsample_kernel_sizes must be non-empty and of equal length")
        for u, k in zip(self.upsample_rates, self.upsample_kernel_sizes):
            if u < 1 or k < u:
                raise ValueError(f"upsampling stage (rate {u}, kernel {k}) needs 1 <= rate <= kernel")
            if (k - u) % 2 and u < 2:
                # The odd remainder is repaired with output_padding = 1, which must be below the stride.
                raise ValueError(f"upsampling stage (rate 1, kernel {k}): kernel - rate must be even")
        if self.resblock not in RESBLOCK_TYPES:
            raise ValueError(f"resblock must be one of {RESBLOCK_TYPES}, got {self.resblock!r}")
        n_branches = len(self.resblock_kernel_sizes)
        if n_branches != len(self.resblock_dilation_sizes) or not n_branches:
            raise ValueError("resblock kernel and dilation sizes must be non-empty and of equal length")
        if any(k % 2 == 0 for k in self.resblock_kernel_sizes):
            raise ValueError("resblock kernel sizes must be odd so 'same' padding keeps the length")
        if any(not d for d in self.resblock_dilation_sizes):
            raise ValueError("every resblock needs at least one dilation")
        if self.upsample_initial_channel >> len(self.upsample_rates) < 1:
            raise ValueError(
                f"{self.upsample_initial_channel} channels cannot be halved {len(self.upsample_rates)} times"
            )

    @property
    def hop_length(self) -> int:
        """Samples per mel frame: the product of the upsampling rates."""
        return math.prod(self.upsample_rates)


HIFIGAN_PRESETS: dict[str, HiFiGANConfig] = {
    "v1": HiFiGANConfig(),
    "v2": HiFiGANConfig(upsample_initial_channel=128),
    "v3": HiFiGANConfig(
        upsample_rates=(8, 8, 4),
        upsample_kernel_sizes=(16, 16, 8),
        upsample_initial_channel=256,
        resblock="2",
        resblock_kernel_sizes=(3, 5, 7),
        resblock_dilation_sizes=((1, 2), (2, 6), (3, 12)),
    ),
    # Test fixture size: V1's layout, 32 channels and a single MRF branch.
    "tiny": HiFiGANConfig(
        upsample_initial_channel=32,
        resblock_kernel_sizes=(3,),
        resblock_dilation_sizes=((1, 3, 5),),
    ),
}


def _factorisations(n: int, parts: int, max_factor: int) -> list[tuple[int, ...]]:
    """Non-increasing tuples of ``parts`` integers in [2, max_factor] whose product is ``n``."""
    if parts == 1:
        return [(n,)] if 2 <= n <= max_factor else []
    found = []
    for f in range(min(n, max_factor), 1, -1):
        if n % f == 0:
            found.extend((f, *rest) for rest in _factorisations(n // f, parts - 1, f))
    return found


def factorise_hop(hop_length: int, n_stages: int) -> tuple[int, ...]:
    """Upsampling rates (descending, each >= 2) whose product is ``hop_length``.

    Among all factorisations the most balanced one (least spread of log-factors) is chosen, so
    no single stage has to upsample by a large factor: 200 in 4 stages -> (5, 5, 4, 2), in 3
    stages -> (8, 5, 5). Raises ValueError when ``hop_length`` has fewer prime factors than stages.
    """
    if hop_length < 2 or n_stages < 1:
        raise ValueError(f"cannot split hop_length {hop_length} into {n_stages} upsampling stages")
    candidates = _factorisations(hop_length, n_stages, hop_length)
    if not candidates:
        raise ValueError(
            f"hop_length {hop_length} cannot be written as a product of {n_stages} factors >= 2; "
            "choose a hop with more prime factors or a preset with fewer stages"
        )
    # Equal products give equal mean log-factor, so the sum of squared logs measures the spread;
    # ties go to the lexicographically larger tuple (bigger early stages) for determinism.
    return min(candidates, key=lambda c: (sum(math.log(f) ** 2 for f in c), tuple(-f for f in c)))


def hifigan_config(name: str, hop_length: int, n_mels: int = 80) -> HiFiGANConfig:
    """Preset ``name`` adapted to ``hop_length`` and ``n_mels``.

    The published upsampling is kept when its product already equals ``hop_length``; otherwise
    ``hop_length`` is factorised into the same number of stages with kernel = 2 x rate.
    """
    if name not in HIFIGAN_PRESETS:
        raise ValueError(f"unknown HiFi-GAN preset {name!r}; choose one of {sorted(HIFIGAN_PRESETS)}")
    preset = HIFIGAN_PRESETS[name]
    if preset.hop_length == hop_length:
        return dataclasses.replace(preset, n_mels=n_mels)
    rates = factorise_hop(hop_length, len(preset.upsample_rates))
    logger.debug("HiFi-GAN %s: hop %d -> upsample rates %s", name, hop_length, rates)
    return dataclasses.replace(
        preset,
        n_mels=n_mels,
        upsample_rates=rates,
        upsample_kernel_sizes=tuple(2 * r for r in rates),
    )


def preset_name(cfg: HiFiGANConfig) -> str | None:
    """The preset ``cfg`` was made from (``hifigan_config(name, hop, n_mels)``), or None for a custom one."""
    for name in HIFIGAN_PRESETS:
        try:
            if hifigan_config(name, cfg.hop_length, cfg.n_mels) == cfg:
                return name
        except ValueError:  # the preset's stage count cannot factorise this hop
            continue
    return None


def _same_padding(kernel_size: int, dilation: int) -> int:
    return dilation * (kernel_size - 1) // 2


def _init_normal(conv: nn.Module) -> nn.Module:
    # Initialised before weight norm wraps it, so the norm's magnitude starts at this weight's norm.
    nn.init.normal_(conv.weight, 0.0, INIT_STD)
    return conv


def _residual_conv(channels: int, kernel_size: int, dilation: int) -> nn.Module:
    pad = _same_padding(kernel_size, dilation)
    conv = nn.Conv1d(channels, channels, kernel_size, dilation=dilation, padding=pad)
    return weight_norm(_init_normal(conv))


class ResBlock1(nn.Module):
    """Per dilation: lrelu -> dilated conv -> lrelu -> conv, added to the input (V1/V2)."""

    def __init__(self, channels: int, kernel_size: int, dilations: tuple[int, ...]) -> None:
        super().__init__()
        self.convs1 = nn.ModuleList(_residual_conv(channels, kernel_size, d) for d in dilations)
        self.convs2 = nn.ModuleList(_residual_conv(channels, kernel_size, 1) for _ in dilations)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C, L) -> (B, C, L)``."""
        for c1, c2 in zip(self.convs1, self.convs2):
            y = c2(F.leaky_relu(c1(F.leaky_relu(x, LRELU_SLOPE)), LRELU_SLOPE))
            x = x + y
        return x


class ResBlock2(nn.Module):
    """Per dilation: lrelu -> dilated conv, added to the input (V3)."""

    def __init__(self, channels: int, kernel_size: int, dilations: tuple[int, ...]) -> None:
        super().__init__()
        self.convs = nn.ModuleList(_residual_conv(channels, kernel_size, d) for d in dilations)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C, L) -> (B, C, L)``."""
        for c in self.convs:
            x = x + c(F.leaky_relu(x, LRELU_SLOPE))
        return x


def upsample_padding(rate: int, kernel_size: int) -> tuple[int, int]:
    """``(padding, output_padding)`` making a transposed conv output exactly ``rate * L`` samples.

    Its output length is ``(L - 1) * rate - 2 * padding + kernel + output_padding``; this is
    ``rate * L`` when ``2 * padding - output_padding = kernel - rate``. An odd ``kernel - rate``
    (e.g. rate 5, kernel 10) needs the extra sample from output_padding.
    """
    excess = kernel_size - rate
    return (excess + 1) // 2, excess % 2


class HiFiGANGenerator(nn.Module):
    """Mel-to-waveform generator; see the module docstring for the layout."""

    def __init__(self, cfg: HiFiGANConfig) -> None:
        super().__init__()
        self.cfg = cfg
        ch = cfg.upsample_initial_channel
        self.conv_pre = weight_norm(nn.Conv1d(cfg.n_mels, ch, PRE_KERNEL, padding=PRE_KERNEL // 2))
        block = ResBlock1 if cfg.resblock == "1" else ResBlock2
        self.ups = nn.ModuleList()
        self.resblocks = nn.ModuleList()
        for i, (u, k) in enumerate(zip(cfg.upsample_rates, cfg.upsample_kernel_sizes)):
            c_in, c_out = ch >> i, ch >> (i + 1)
            pad, out_pad = upsample_padding(u, k)
            up = nn.ConvTranspose1d(c_in, c_out, k, u, padding=pad, output_padding=out_pad)
            self.ups.append(weight_norm(_init_normal(up)))
            for rk, rd in zip(cfg.resblock_kernel_sizes, cfg.resblock_dilation_sizes):
                self.resblocks.append(block(c_out, rk, rd))
        c_last = ch >> len(cfg.upsample_rates)
        post = nn.Conv1d(c_last, 1, POST_KERNEL, padding=POST_KERNEL // 2)
        self.conv_post = weight_norm(_init_normal(post))

    @property
    def hop_length(self) -> int:
        return self.cfg.hop_length

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        """Waveform ``(B, 1, T * hop)`` in [-1, 1] from log-mel ``(B, n_mels, T)``, ``T >= 1``."""
        check_mel(mel, self.cfg.n_mels)
        n_branches = len(self.cfg.resblock_kernel_sizes)
        x = self.conv_pre(mel)
        for i, up in enumerate(self.ups):
            x = up(F.leaky_relu(x, LRELU_SLOPE))
            branches = self.resblocks[i * n_branches : (i + 1) * n_branches]
            # MRF: averaging (not summing) keeps the scale independent of the branch count.
            x = sum(rb(x) for rb in branches) / n_branches
        x = self.conv_post(F.leaky_relu(x, POST_LRELU_SLOPE))
        return torch.tanh(x)

    def remove_weight_norm(self) -> None:
        """Fold every weight-norm parametrisation into a plain ``weight`` (idempotent)."""
        for module in self.modules():
            if parametrize.is_parametrized(module, "weight"):
                parametrize.remove_parametrizations(module, "weight", leave_parametrized=True)


def _mrf_reach(cfg: HiFiGANConfig) -> int:
    """One-sided reach, in samples of its own level, of one multi-receptive-field fusion block."""
    reaches = []
    for kernel, dilations in zip(cfg.resblock_kernel_sizes, cfg.resblock_dilation_sizes):
        half = (kernel - 1) // 2
        if cfg.resblock == "1":
            # Each dilation adds a dilated conv and an undilated one in series.
            reaches.append(sum(d * half + half for d in dilations))
        else:
            reaches.append(sum(d * half for d in dilations))
    # The branches run in parallel, so the widest one decides.
    return max(reaches)


def receptive_field_frames(cfg: HiFiGANConfig) -> int:
    """Context frames on each side that make a chunk's samples equal the whole-utterance ones.

    Walks from the samples of one frame back to the mel, tracking the interval of positions
    they depend on at every level: conv_post and each MRF widen it by their half-widths; a
    transposed conv (rate ``u``, kernel ``k``, padding ``p``) maps output positions ``[lo, hi]``
    to inputs ``[ceil((lo + p - k + 1) / u), floor((hi + p) / u)]``; conv_pre widens it in frames.
    It is not enough that the mel frames in reach lie inside the chunk: every intermediate
    position in reach must exist in the chunk's own pass too (a transposed conv's overhang past
    the chunk edge is cut off there, but feeds the next layer in the whole pass), so the result
    is the largest reach over all levels, each converted to whole frames. At hop 256 it is 13
    frames for V1 and 11 for V3; with the tiny preset at hop 64, 9.
    """
    mrf = _mrf_reach(cfg)
    samples_per_frame = cfg.hop_length
    lo, hi = 0, samples_per_frame - 1  # the samples of frame 0
    lo, hi = lo - POST_KERNEL // 2, hi + POST_KERNEL // 2
    left = right = 0
    for rate, kernel in zip(reversed(cfg.upsample_rates), reversed(cfg.upsample_kernel_sizes)):
        lo, hi = lo - mrf, hi + mrf
        # Positions needed at this level, in whole frames before / after frame 0 (ceil for left).
        left = max(left, -(lo // samples_per_frame))
        right = max(right, hi // samples_per_frame)
        pad, _ = upsample_padding(rate, kernel)
        lo, hi = -((-(lo + pad - kernel + 1)) // rate), (hi + pad) // rate
        samples_per_frame //= rate
    lo, hi = lo - PRE_KERNEL // 2, hi + PRE_KERNEL // 2
    return max(left, right, -lo, hi)


def count_parameters(module: nn.Module) -> int:
    """Number of scalar parameters in ``module``."""
    return sum(p.numel() for p in module.parameters())

