"""CPU-tuned HiFi-GAN inference: :func:`optimize_generator` turns a generator into a faster callable.

Backends: "eager" is the generator itself with weight norm folded (the reference);
"channels_last" (:class:`ChannelsLastHiFiGAN`) runs the same convolutions as 2-D ones over
``(B, C, 1, L)`` in channels-last memory order, the layout oneDNN's convolutions prefer;
"torchscript" is that module traced and frozen, so no Python runs per layer. All match the
reference to float rounding (relative error ~1e-6).

Measured on ``hifigan_config("v2", 256, 80)`` (weight norm removed), 186 frames (~3 s of audio),
2 torch threads on a 2-core CPU that three training jobs were loading at the time, so only
speed-up ratios over eager are given: one warm-up call per backend, then the backends called
round-robin (order rotated every round) so the load hit all of them alike, ratio of the medians.
Four runs of 9-41 rounds: channels_last 1.2-1.9x, torchscript 1.8-2.9x (per-round paired
ratios: 1.2-1.7x and 1.4-1.9x). torchscript was the fastest in every run, 1.1-1.5x ahead of
channels_last, a margin the load makes imprecise. A fresh frame count on every call (150-240
frames, as sentences vary) kept the order (1.6x and 2.9x): no penalty for lengths the traced
graph has not seen. Tracing and freezing cost about half a second once, when the callable is made.

Cold versus warm, each backend in a fresh process, 1 torch thread (a 2-core CPU shared with
other jobs, so CPU seconds of the process rather than wall time), bundled V2 voice: oneDNN
builds its convolution kernels for each input length, so the first call at a frame count the
process has not vocoded before costs 2-4x a repeated one on every backend (14 lengths from 150
to 241 frames: eager 0.94-1.38 ms/frame new vs 0.34-0.38 repeated; channels_last 0.72-1.40 vs
0.38-0.46; torchscript 0.71-0.76 vs 0.30-0.36). A short dummy call at load does not remove it (it
builds the kernels of its own length only). What one sentence in a new process costs, load plus
its one call of 194 frames: eager 0.06 + 0.25 s, channels_last 0.05 + 0.22-0.29 s, torchscript
0.34 + 0.27 s (tracing). Hence :data:`ONE_SHOT_BACKEND`: a process that vocodes one sentence and
exits skips tracing, while a long-lived one (server, bench) keeps "auto".
"""

from __future__ import annotations

import logging
import warnings

import torch
import torch.nn.functional as F
from torch import nn

from vocoders.audio import check_mel
from vocoders.hifigan import LRELU_SLOPE, POST_LRELU_SLOPE, HiFiGANConfig, HiFiGANGenerator
from vocoders.kinds import AUTO, HIFIGAN_TORCH_BACKENDS

logger = logging.getLogger(__name__)

BACKENDS = HIFIGAN_TORCH_BACKENDS
# What "auto" picks on the CPU: the fastest measured backend (see the module docstring) ...
AUTO_BACKEND = "torchscript"
# What a process that vocodes one sentence and exits should use for "auto": no tracing at load and
# a first call as cheap as torchscript's (see the module docstring's cold figures).
ONE_SHOT_BACKEND = "channels_last"
# ... and what "auto" falls back to where torch.jit cannot trace (it is deprecated): same convolutions,
# the next fastest measured (torchscript was 1.1-1.5x ahead of it).
AUTO_FALLBACK = "channels_last"
# Frames of the example mel torchscript traces with; any length works since nothing in the traced
# forward depends on it, and a short one keeps tracing cheap.
TRACE_FRAMES = 16
# Axis of the dummy height the 1-D signals get so that they can use 2-D channels-last convolutions.
_HEIGHT_AXIS = 2


def _as_conv2d(conv: nn.Conv1d) -> nn.Conv2d:
    """The same convolution over ``(B, C, 1, L)``: kernel ``(1, k)``, padding and dilation on the width."""
    out = nn.Conv2d(
        conv.in_channels,
        conv.out_channels,
        (1, conv.kernel_size[0]),
        padding=(0, conv.padding[0]),
        dilation=(1, conv.dilation[0]),
        bias=conv.bias is not None,
        device=conv.weight.device,
        dtype=conv.weight.dtype,
    )
    with torch.no_grad():
        out.weight.copy_(conv.weight.unsqueeze(_HEIGHT_AXIS))  # (out, in, k) -> (out, in, 1, k)
        if conv.bias is not None:
            out.bias.copy_(conv.bias)
    return out


def _as_conv_transpose2d(conv: nn.ConvTranspose1d) -> nn.ConvTranspose2d:
    """The same transposed convolution over ``(B, C, 1, L)``: stride, padding and output padding on the width."""
    out = nn.ConvTranspose2d(
        conv.in_channels,
        conv.out_channels,
        (1, conv.kernel_size[0]),
        stride=(1, conv.stride[0]),
        padding=(0, conv.padding[0]),
        output_padding=(0, conv.output_padding[0]),
        bias=conv.bias is not None,
        device=conv.weight.device,
        dtype=conv.weight.dtype,
    )
    with torch.no_grad():
        out.weight.copy_(conv.weight.unsqueeze(_HEIGHT_AXIS))  # (in, out, k) -> (in, out, 1, k)
        if conv.bias is not None:
            out.bias.copy_(conv.bias)
    return out


class ChannelsLastHiFiGAN(nn.Module):
    """A :class:`HiFiGANGenerator` re-expressed with channels-last 2-D convolutions, weight norm folded.

    Every signal is held as ``(B, C, 1, L)`` in channels-last memory order, i.e. ``(L, C)``
    rows; oneDNN's convolutions run on that layout directly, while on the ``(B, C, L)`` layout of
    the original they fall back to slower kernels or reorder every input (see the module
    docstring for the numbers). The arithmetic is the original's, in the same order, except that
    the leaky ReLU every MRF branch starts with is computed once per stage and shared, and
    activations of tensors nobody else reads are applied in place.
    """

    def __init__(self, generator: HiFiGANGenerator) -> None:
        super().__init__()
        cfg = generator.cfg
        self.n_branches = len(cfg.resblock_kernel_sizes)
        self.conv_pre = _as_conv2d(generator.conv_pre)
        self.ups = nn.ModuleList(_as_conv_transpose2d(up) for up in generator.ups)
        # Per resblock, its residual units: (conv,) for ResBlock2, (dilated conv, conv) for ResBlock1;
        # a unit maps y to y + convs(y) with a leaky ReLU before each conv.
        self.resblocks = nn.ModuleList()
        for block in generator.resblocks:
            if cfg.resblock == "1":
                pairs = zip(block.convs1, block.convs2)
                units = [nn.ModuleList([_as_conv2d(c1), _as_conv2d(c2)]) for c1, c2 in pairs]
            else:
                units = [nn.ModuleList([_as_conv2d(c)]) for c in block.convs]
            self.resblocks.append(nn.ModuleList(units))
        self.conv_post = _as_conv2d(generator.conv_post)
        self.to(memory_format=torch.channels_last)
        self.eval()

    def _branch(self, block: nn.ModuleList, x: torch.Tensor, x_act: torch.Tensor) -> torch.Tensor:
        """One MRF branch ``(B, C, 1, L) -> (B, C, 1, L)``; ``x_act`` is ``leaky_relu(x)``, shared."""
        y = x
        for i, unit in enumerate(block):
            h = x_act if i == 0 else F.leaky_relu(y, LRELU_SLOPE)
            for j, conv in enumerate(unit):
                if j:
                    # h is a fresh convolution output that nothing else reads.
                    h = F.leaky_relu(h, LRELU_SLOPE, inplace=True)
                h = conv(h)
            y = h.add_(y)  # h is fresh, so adding into it leaves y (maybe the stage input) intact
        return y

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        """Waveform ``(B, 1, T * hop)`` from log-mel ``(B, n_mels, T)``; inputs are not validated here."""
        # (B, n_mels, T) -> (B, n_mels, 1, T), stored as (B, 1, T, n_mels) rows
        x = mel.unsqueeze(_HEIGHT_AXIS).contiguous(memory_format=torch.channels_last)
        x = self.conv_pre(x)
        for i, up in enumerate(self.ups):
            x = up(F.leaky_relu(x, LRELU_SLOPE, inplace=True))
            x_act = F.leaky_relu(x, LRELU_SLOPE)
            branches = self.resblocks[i * self.n_branches : (i + 1) * self.n_branches]
            acc = self._branch(branches[0], x, x_act)
            for block in branches[1:]:
                acc = acc.add_(self._branch(block, x, x_act))
            x = acc.div_(self.n_branches)
        x = self.conv_post(F.leaky_relu(x, POST_LRELU_SLOPE, inplace=True))
        # (B, 1, 1, T * hop) -> (B, 1, T * hop)
        return torch.tanh_(x).squeeze(_HEIGHT_AXIS).contiguous()


def _trace(module: nn.Module, n_mels: int) -> torch.jit.ScriptModule:
    """``module`` traced on a short mel and frozen (weights folded in as constants)."""
    example = torch.zeros(1, n_mels, TRACE_FRAMES)
    with warnings.catch_warnings():
        # torch.jit is deprecated in favour of torch.compile, but it is still the fastest path measured
        # here; AUTO_FALLBACK covers the day tracing goes away.
        warnings.filterwarnings("ignore", category=DeprecationWarning, message=r".*torch\.jit.*")
        with torch.no_grad():
            traced = torch.jit.trace(module, example, check_trace=False)
        return torch.jit.freeze(traced.eval())


class OptimizedGenerator:
    """A callable standing in for a :class:`HiFiGANGenerator` at inference.

    ``fast(mel)`` maps log-mel ``(B, n_mels, T)`` to waveform ``(B, 1, T * hop)`` without autograd,
    with the generator's input checks. It keeps ``cfg`` and ``hop_length``, so
    :func:`vocoders.streaming.stream_vocode` accepts it in place of the generator.
    """

    def __init__(self, forward: nn.Module, cfg: HiFiGANConfig, backend: str) -> None:
        self._forward = forward
        self.cfg = cfg
        self.backend = backend

    @property
    def hop_length(self) -> int:
        return self.cfg.hop_length

    def __call__(self, mel: torch.Tensor) -> torch.Tensor:
        """Waveform ``(B, 1, T * hop)`` from log-mel ``(B, n_mels, T)``, ``T >= 1``."""
        check_mel(mel, self.cfg.n_mels)
        with torch.no_grad():
            return self._forward(mel)


def _folded_copy(generator: HiFiGANGenerator) -> HiFiGANGenerator:
    """A new generator with ``generator``'s current weights and no weight norm; ``generator`` is untouched.

    Not ``copy.deepcopy`` + ``remove_weight_norm``: a deep copy shares the parametrized modules'
    generated classes with the original, and removing the parametrization deletes ``weight``
    from that shared class, which breaks the original.
    """
    reference = next(generator.parameters())
    folded = HiFiGANGenerator(generator.cfg)
    folded.remove_weight_norm()
    folded.to(device=reference.device, dtype=reference.dtype)
    sources = dict(generator.named_modules())
    with torch.no_grad():
        for name, module in folded.named_modules():
            if isinstance(module, (nn.Conv1d, nn.ConvTranspose1d)):
                module.weight.copy_(sources[name].weight)  # the folded weight when the source is parametrized
                module.bias.copy_(sources[name].bias)
    return folded.eval()


def resolve_backend(generator: HiFiGANGenerator, backend: str) -> str:
    """The concrete backend ``backend`` stands for; "auto" is :data:`AUTO_BACKEND` on the CPU."""
    if backend != AUTO and backend not in BACKENDS:
        raise ValueError(f"unknown HiFi-GAN backend {backend!r}; choose {AUTO!r} or one of {BACKENDS}")
    if backend != AUTO:
        return backend
    on_cpu = all(p.device.type == "cpu" for p in generator.parameters())
    # The measurements behind AUTO_BACKEND are CPU ones; elsewhere the reference path is the safe pick.
    return AUTO_BACKEND if on_cpu else "eager"


def optimize_generator(generator: HiFiGANGenerator, backend: str = AUTO) -> OptimizedGenerator:
    """A fast inference callable, mel ``(B, n_mels, T)`` -> waveform ``(B, 1, T * hop)``.

    ``backend``: "auto" (the fastest measured, :data:`AUTO_BACKEND`, or :data:`AUTO_FALLBACK` where
    tracing fails), "eager" (the reference: the generator itself, weight norm folded),
    "channels_last" (:class:`ChannelsLastHiFiGAN`) or "torchscript" (that module traced and
    frozen). Outputs agree with ``generator(mel)`` to float rounding (relative error ~1e-6).
    ``generator`` (weight norm folded or not) is left untouched: the callable holds its own folded
    copy of the weights, so later changes to ``generator`` do not reach it.
    """
    resolved = resolve_backend(generator, backend)
    forward: nn.Module
    if resolved == "eager":
        forward = _folded_copy(generator)
    else:
        # Reading a weight-normed conv's ``weight`` gives the folded weight, so no copy is needed.
        forward = ChannelsLastHiFiGAN(generator)
        if resolved == "torchscript":
            try:
                forward = _trace(forward, generator.cfg.n_mels)
            except (AttributeError, RuntimeError) as err:
                if backend != AUTO:
                    raise
                logger.warning("torchscript tracing failed (%s); using the %s backend", err, AUTO_FALLBACK)
                resolved = AUTO_FALLBACK
    logger.info("HiFi-GAN inference backend: %s (asked for %s)", resolved, backend)
    return OptimizedGenerator(forward, generator.cfg, resolved)
