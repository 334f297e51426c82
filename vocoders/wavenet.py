"""Autoregressive WaveNet vocoder conditioned on log-mel frames, and its reference sample loop.

Architecture (van den Oord et al. 2016, mel-conditioned as in Shen et al. 2018):

* Input: the mu-law class of the previous sample through an ``nn.Embedding``. A lookup costs
  nothing in the sample loop and lets each class get its own vector (a 1x1 conv on the decoded
  float would force a linear function of the amplitude). Position ``t`` sees class ``x[t - 1]``;
  position 0 sees the silence class, so ``logits[t]`` depends only on ``x[:t]``.
* Conditioning: a few convolutions over mel frames, then one 1x1 projection to ``gate_channels``
  per layer, repeated ``hop_length`` times per frame. Projection and repetition commute, so the
  per-layer terms are computed at frame rate once per utterance (``hop_length`` times cheaper) and
  the sample loops read frame ``t // hop_length``. The projection's bias is the only bias of the
  gate pre-activation; the dilated convs have none.
* Layers: gated (tanh x sigmoid) dilated causal convs of kernel 2, a residual path scaled by
  sqrt(1/2) and a skip path; the skip sum (scaled by sqrt(1/n_layers)) goes through
  ReLU -> 1x1 -> ReLU -> 1x1 to ``n_classes`` logits.

Linear-prediction mode (``lpc_order > 0``, after LPCNet, Valin & Skoglund 2019): a source-filter
voice is an excitation through a slowly varying all-pole filter, and the filter is already in the
mel. Each frame's predictor ``a`` ``(order,)`` comes from the mel (:mod:`vocoders.lpc`), the
prediction ``p_t = sum_k a_k s_{t-k}`` of the past signal does the spectral shaping, and the
network only models the excitation ``e_t = s_t - p_t``: a nearly white, far simpler distribution
to learn than the speech itself. The classes the network predicts and takes as ``x`` are those of
``e`` (clipped to [-1, 1]); position ``t`` also sees the class of ``s[t - 1]`` and of ``p_t``, each
through its own embedding, summed with the excitation's. The sample loops then make
``s_t = clip(p_t + decoded class, -1, 1)`` and feed the class of the realised excitation
``s_t - p_t`` back, exactly what teacher forcing computes from the audio. Causality holds: ``p_t``
and every input at ``t`` depend on ``s[:t]`` alone; the network's own receptive field is unchanged,
and through ``p`` a signal sample reaches ``lpc_order`` samples further. ``p_t`` is summed in
float64 in the order ``k = 1 .. order``, one rounding per operation, and classes are found by
comparison with fixed boundaries (:func:`vocoders.mulaw.mu_law_quantize`), so both sample loops
and the teacher-forced forward get the same classes bit for bit.

Numerics of the reference loop (:meth:`WaveNet.generate`): weights and activations are float32,
but every matrix-vector product accumulates in float64 and is rounded to float32 once, and the
gate and softmax run in float64. A product of two float32 values is exact in float64, so two
implementations that sum in different orders disagree only at the 1e-16 level, which almost
never survives the rounding to float32: an independent loop (:mod:`vocoders.wavenet_fast`) fed
the same uniforms reproduces the samples bit for bit. With float32 accumulation the logits of two
implementations would differ by ~1e-7 relative at every step, and any step whose uniform falls
that close to a CDF boundary would pick another class, after which the sequences diverge.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from vocoders.audio import AudioConfig, check_mel
from vocoders.lpc import lpc_from_mel, predict
from vocoders.mulaw import mu_law_decode, mu_law_encode, mu_law_quantize, mu_law_thresholds, silence_class

logger = logging.getLogger(__name__)

KERNEL_SIZE = 2  # dilated conv taps: x[t - dilation] and x[t]
# Keeps the residual stream's variance from growing with depth.
RESIDUAL_SCALE = math.sqrt(0.5)
COND_LEAKY_SLOPE = 0.1  # negative slope of the conditioning network's activations
# Samples between should_stop / progress calls: ~16 ms of 16 kHz audio, so a cancel lands quickly
# while the Python call costs nothing next to the 256 sample steps between calls.
STOP_CHECK_INTERVAL = 256


class GenerationCancelled(RuntimeError):
    """Raised by a sample loop when its ``should_stop`` callback returns True."""


@dataclass(frozen=True)
class WaveNetConfig:
    """Hyperparameters of :class:`WaveNet`."""

    n_mels: int = 80  # conditioning width: the voice's AudioConfig.n_mels
    hop_length: int = 256  # samples per mel frame; the conditioning is repeated exactly this often
    n_layers: int = 20  # gated dilated layers; two cycles of ten as in the WaveNet paper
    dilation_cycle: int = 10  # dilations 1, 2, ..., 2**(cycle - 1), repeated: 1..512 here
    residual_channels: int = 64  # width of the residual stream (and of the input embedding)
    gate_channels: int = 128  # dilated conv output, split into tanh and sigmoid halves
    skip_channels: int = 64  # width of the skip sum fed to the output head
    n_classes: int = 256  # mu-law classes (8-bit)
    cond_channels: int = 128  # width of the frame-rate conditioning network
    cond_layers: int = 2  # convs over mel frames before the per-layer projections
    cond_kernel_size: int = 3  # frames each conditioning conv sees (odd: keeps the frame count)
    # Linear-prediction order: 0 models the signal itself (plain WaveNet); > 0 models the excitation
    # behind a predictor derived from the mel (LPCNet uses 16 at 16 kHz). See the module docstring.
    lpc_order: int = 0

    def __post_init__(self) -> None:
        if self.gate_channels % 2:
            raise ValueError(
                f"gate_channels must be even (tanh and sigmoid halves), got {self.gate_channels}"
            )
        if self.cond_kernel_size % 2 == 0:
            raise ValueError(f"cond_kernel_size must be odd, got {self.cond_kernel_size}")
        if min(self.n_layers, self.dilation_cycle, self.hop_length, self.cond_layers) < 1:
            raise ValueError("n_layers, dilation_cycle, hop_length and cond_layers must be positive")
        if self.n_classes < 2:
            raise ValueError(f"n_classes must be at least 2, got {self.n_classes}")
        if self.lpc_order < 0:
            raise ValueError(f"lpc_order must be 0 (no prediction) or positive, got {self.lpc_order}")

    @property
    def dilations(self) -> tuple[int, ...]:
        return tuple(2 ** (i % self.dilation_cycle) for i in range(self.n_layers))

    @property
    def receptive_field(self) -> int:
        """Past positions of the network's inputs that ``logits[t]`` can see (the prediction of
        LPC mode reaches ``lpc_order`` signal samples beyond)."""
        return sum(self.dilations) * (KERNEL_SIZE - 1) + 1


WAVENET_PRESETS: dict[str, WaveNetConfig] = {
    # Unit tests: a few layers, a handful of channels.
    "tiny": WaveNetConfig(
        n_layers=4, dilation_cycle=2, residual_channels=8, gate_channels=16, skip_channels=8, cond_channels=8
    ),
    # Trainable on 2 CPU cores (about 1 s per step of 4 x 8000 samples); receptive field 511
    # samples (32 ms at 16 kHz), the mel supplies the longer context.
    "small": WaveNetConfig(
        n_layers=16,
        dilation_cycle=8,
        residual_channels=64,
        gate_channels=128,
        skip_channels=64,
        cond_channels=64,
    ),
    # GPU training: deeper (receptive field 766 samples) but as narrow as "small", which keeps
    # the CPU sample loop (wavenet_fast) near real time.
    "base": WaveNetConfig(
        n_layers=24,
        dilation_cycle=8,
        residual_channels=64,
        gate_channels=128,
        skip_channels=64,
        cond_channels=128,
    ),
}
# LPC mode (lpc_order > 0): the same networks modelling the excitation behind a predictor.
WAVENET_PRESETS.update(
    {
        # Unit tests of LPC mode, and quick comparisons with "tiny" (order 8 suits the test
        # features' coarse 20-band mels).
        "tiny-lpc": dataclasses.replace(WAVENET_PRESETS["tiny"], lpc_order=8),
        # "small" behind a 16th-order predictor, as LPCNet does at 16 kHz.
        "small-lpc": dataclasses.replace(WAVENET_PRESETS["small"], lpc_order=16),
    }
)


def wavenet_config(name: str, hop_length: int, n_mels: int) -> WaveNetConfig:
    """Preset ``name`` with the voice's ``hop_length`` and ``n_mels``."""
    if name not in WAVENET_PRESETS:
        raise ValueError(f"unknown WaveNet preset {name!r}; choose one of {sorted(WAVENET_PRESETS)}")
    return dataclasses.replace(WAVENET_PRESETS[name], hop_length=hop_length, n_mels=n_mels)


def sample_flops(cfg: WaveNetConfig) -> int:
    """Floating-point operations per generated sample in the matrix products, a multiply-add counted as 2.

    With ``L`` layers, residual ``R``, gate ``G``, skip ``S`` and ``C`` classes:

    * dilated conv, every layer: ``2R`` inputs (two taps) x ``G`` outputs;
    * output 1x1, layers ``1 .. L-1``: ``G/2`` x ``(R + S)``; the last layer computes only its skip
      columns, ``G/2`` x ``S`` (its residual output feeds nothing);
    * head: ``S`` x ``S`` and ``S`` x ``C``.

    So ``2 * (L*2R*G + (L-1)*(G/2)*(R+S) + (G/2)*S + S*S + S*C)``. For the bundled "small" WaveNet
    (L=16, R=64, G=128, S=64, C=256): ``2 * (262144 + 122880 + 4096 + 4096 + 16384) = 819,200``.
    Left out: the element-wise work (``L*G + C`` exponentials, 2,304 for "small", with their adds
    and divisions), the conditioning, computed at frame rate once per utterance, and in LPC mode the
    prediction (``2 * lpc_order``) and two more embedding rows added to the input (``2R``).
    """
    r, g, s, c, n = cfg.residual_channels, cfg.gate_channels, cfg.skip_channels, cfg.n_classes, cfg.n_layers
    half = g // 2
    macs = n * 2 * r * g + (n - 1) * half * (r + s) + half * s + s * s + s * c
    return 2 * macs


def floor_rtf(cfg: WaveNetConfig, sample_rate: int, gflops: float) -> float:
    """Real-time factor (compute seconds per audio second) of :func:`sample_flops` at ``gflops`` GFLOP/s."""
    return sample_flops(cfg) * sample_rate / (gflops * 1e9)


def draw_uniforms(batch: int, n_samples: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """The random numbers of one generation: ``(B, n_samples)`` float64 in [0, 1), on the CPU."""
    return torch.rand(batch, n_samples, generator=generator, dtype=torch.float64)


def resolve_uniforms(
    uniforms: torch.Tensor | None, batch: int, n_samples: int, generator: torch.Generator | None
) -> torch.Tensor:
    """``uniforms`` checked and as float64 (CPU), or fresh ones from ``generator``: ``(B, n_samples)``."""
    if uniforms is None:
        return draw_uniforms(batch, n_samples, generator)
    if tuple(uniforms.shape) != (batch, n_samples):
        raise ValueError(f"uniforms must have shape {(batch, n_samples)}, got {tuple(uniforms.shape)}")
    u = uniforms.detach().to("cpu", torch.float64)
    if u.numel() and (u.min() < 0 or u.max() >= 1):
        raise ValueError("uniforms must lie in [0, 1)")
    return u


def sample_from_logits(logits: torch.Tensor, u: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """Inverse-CDF sampling: per row, the first class whose float64 CDF exceeds ``u``.

    ``logits`` ``(B, n_classes)``, ``u`` ``(B,)`` in [0, 1) -> classes ``(B,)`` (int64). When
    rounding leaves the CDF's last entry at or below ``u``, the last class is returned.
    """
    scaled = logits.double() / temperature
    e = torch.exp(scaled - scaled.max(dim=-1, keepdim=True).values)
    cdf = torch.cumsum(e / e.sum(dim=-1, keepdim=True), dim=-1)
    # The CDF is non-decreasing, so counting entries <= u finds the first one > u.
    below = (cdf <= u.to(cdf.device, torch.float64).unsqueeze(-1)).sum(dim=-1)
    return below.clamp(max=logits.shape[-1] - 1)


def gate_activation(za: torch.Tensor, zb: torch.Tensor) -> torch.Tensor:
    """``tanh(za) * sigmoid(zb)`` in float64 from ``exp`` and IEEE arithmetic alone.

    Written as ``(2 / (1 + exp(-2 za)) - 1) * (1 / (1 + exp(-zb)))`` so a compiled loop can evaluate
    the same expression with its own ``exp`` (which agrees to the last float64 bit or so) rather
    than a ``tanh`` of unknown provenance; ``exp`` is also the cheaper call.
    """
    return (2.0 / (1.0 + torch.exp(-2.0 * za)) - 1.0) * (1.0 / (1.0 + torch.exp(-zb)))


def generation_uniforms(
    cfg: WaveNetConfig,
    mel: torch.Tensor,
    uniforms: torch.Tensor | None,
    generator: torch.Generator | None,
    temperature: float,
) -> torch.Tensor:
    """The checked arguments of a sample loop as its uniforms ``(B, F * hop_length)`` float64 (CPU).

    Both sample loops (:meth:`WaveNet.generate` and :mod:`vocoders.wavenet_fast`) start here, so
    they reject the same arguments and draw the same uniforms from the same ``generator``.
    """
    if temperature <= 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    check_mel(mel, cfg.n_mels)
    b, _, n_frames = mel.shape
    return resolve_uniforms(uniforms, b, n_frames * cfg.hop_length, generator)


class _GatedLayer(nn.Module):
    """One dilated layer: ``h`` ``(B, R, T)`` and its conditioning ``(B, G, T)`` -> next ``h``, skip."""

    def __init__(self, cfg: WaveNetConfig, dilation: int) -> None:
        super().__init__()
        self.dilation = dilation
        self.dilated = nn.Conv1d(
            cfg.residual_channels, cfg.gate_channels, KERNEL_SIZE, dilation=dilation, bias=False
        )
        self.out = nn.Conv1d(cfg.gate_channels // 2, cfg.residual_channels + cfg.skip_channels, 1)

    def forward(self, h: torch.Tensor, cond: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # Left padding by the dilation makes the conv causal: output t sees h[t - d] and h[t].
        z = self.dilated(F.pad(h, (self.dilation, 0))) + cond
        half = z.shape[1] // 2
        o = self.out(torch.tanh(z[:, :half]) * torch.sigmoid(z[:, half:]))
        r = h.shape[1]
        return (h + o[:, :r]) * RESIDUAL_SCALE, o[:, r:]


class WaveNet(nn.Module):
    """Mel-conditioned autoregressive WaveNet over mu-law classes (of the excitation in LPC mode)."""

    def __init__(self, cfg: WaveNetConfig, audio: AudioConfig | None = None) -> None:
        """``audio``: the features the mel follows; needed only in LPC mode, whose predictor is
        derived from the mel through the voice's filterbank."""
        super().__init__()
        if cfg.lpc_order:
            if audio is None:
                raise ValueError("an LPC WaveNet (lpc_order > 0) needs the voice's AudioConfig")
            if (audio.n_mels, audio.hop_length) != (cfg.n_mels, cfg.hop_length):
                raise ValueError(
                    f"audio config has n_mels {audio.n_mels}, hop_length {audio.hop_length}; "
                    f"the WaveNet config {cfg.n_mels}, {cfg.hop_length}"
                )
        self.cfg = cfg
        self.audio = audio
        self.silence = silence_class(cfg.n_classes)
        self.skip_scale = math.sqrt(1.0 / cfg.n_layers)  # keeps the skip sum's scale independent of depth
        self.embed = nn.Embedding(cfg.n_classes, cfg.residual_channels)
        cond: list[nn.Module] = []
        in_ch = cfg.n_mels
        for _ in range(cfg.cond_layers):
            cond += [
                nn.Conv1d(in_ch, cfg.cond_channels, cfg.cond_kernel_size, padding=cfg.cond_kernel_size // 2),
                nn.LeakyReLU(COND_LEAKY_SLOPE),
            ]
            in_ch = cfg.cond_channels
        self.cond_net = nn.Sequential(*cond)
        # All layers' conditioning projections as one conv: (B, C, F) -> (B, L * G, F).
        self.cond_proj = nn.Conv1d(cfg.cond_channels, cfg.n_layers * cfg.gate_channels, 1)
        self.layers = nn.ModuleList(_GatedLayer(cfg, d) for d in cfg.dilations)
        self.head1 = nn.Conv1d(cfg.skip_channels, cfg.skip_channels, 1)
        self.head2 = nn.Conv1d(cfg.skip_channels, cfg.n_classes, 1)
        if cfg.lpc_order:
            # Created last, so the other weights draw the same random numbers as a plain model's.
            self.embed_signal = nn.Embedding(cfg.n_classes, cfg.residual_channels)  # class of s[t - 1]
            self.embed_pred = nn.Embedding(cfg.n_classes, cfg.residual_channels)  # class of p_t
            # Class boundaries as a plain CPU tensor: the sample loops quantise on the CPU.
            self.thresholds = torch.from_numpy(mu_law_thresholds(cfg.n_classes))

    def lpc_coefficients(self, mel: torch.Tensor) -> torch.Tensor:
        """Predictor ``(B, F, lpc_order)`` float64 (CPU) of mel ``(B, n_mels, F)`` (LPC mode only)."""
        if not self.cfg.lpc_order or self.audio is None:
            raise ValueError("this WaveNet has no linear prediction (lpc_order 0)")
        return lpc_from_mel(mel, self.audio, self.cfg.lpc_order)

    def quantize(self, x: torch.Tensor) -> torch.Tensor:
        """Mu-law classes (int64) of float64 ``x`` by comparison with the class boundaries (LPC mode)."""
        return mu_law_quantize(x, self.thresholds)

    def teacher_inputs(
        self, audio: torch.Tensor, mel: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Teacher-forcing inputs of audio ``(B, T)`` in [-1, 1] and its mel ``(B, n_mels, F)``.

        Returns the target classes ``x`` ``(B, T)`` (also the input, shifted, of :meth:`forward`)
        and, in LPC mode, ``lpc_in`` ``(B, 2, T)``: at position ``t`` the classes of ``s[t - 1]``
        (0.0 before the start) and of the prediction ``p_t`` from the true past audio; the targets
        are then the classes of the excitation ``clip(s_t - p_t, -1, 1)``. Plain mode: ``x`` is
        the audio's classes and ``lpc_in`` is None.
        """
        if not self.cfg.lpc_order:
            return mu_law_encode(audio.clamp(-1.0, 1.0), self.cfg.n_classes), None
        s = audio.detach().float()
        p = predict(s, self.lpc_coefficients(mel), self.cfg.hop_length)  # (B, T) float64
        x = self.quantize((s.double() - p).clamp(-1.0, 1.0))
        signal = self.quantize(F.pad(s, (1, 0))[:, :-1].double())
        lpc_in = torch.stack([signal, self.quantize(p)], dim=1)
        return x.to(audio.device), lpc_in.to(audio.device)

    def conditioning(self, mel: torch.Tensor) -> torch.Tensor:
        """Conditioning features at sample rate: mel ``(B, n_mels, F)`` -> ``(B, cond_channels, F * hop)``."""
        check_mel(mel, self.cfg.n_mels)
        return self.cond_net(mel).repeat_interleave(self.cfg.hop_length, dim=-1)

    def layer_conditioning(self, mel: torch.Tensor) -> torch.Tensor:
        """Per-layer gate conditioning at frame rate: ``(B, n_mels, F)`` -> ``(B, n_layers, gate_channels, F)``.

        Sample ``t`` of layer ``l`` adds ``out[:, l, :, t // hop_length]`` (bias included) to its
        gate pre-activation. Precompute once per utterance.
        """
        check_mel(mel, self.cfg.n_mels)
        b, _, n_frames = mel.shape
        proj = self.cond_proj(self.cond_net(mel))  # (B, L * G, F)
        return proj.view(b, self.cfg.n_layers, self.cfg.gate_channels, n_frames)

    def forward(self, x: torch.Tensor, mel: torch.Tensor, lpc_in: torch.Tensor | None = None) -> torch.Tensor:
        """Teacher-forced logits ``(B, n_classes, T)`` for true classes ``x`` ``(B, T)`` and mel ``(B, n_mels, F)``.

        ``logits[:, :, t]`` depends only on ``x[:, :t]``, ``lpc_in[:, :, :t + 1]`` and the mel;
        ``T <= F * hop_length`` (the conditioning is cropped to ``T``). Sample 0 of ``x`` is aligned
        with the start of frame 0, so training segments must start on a frame boundary. ``lpc_in``
        ``(B, 2, T)``, required exactly in LPC mode, is :meth:`teacher_inputs`' second output.
        """
        cfg = self.cfg
        b, t = x.shape
        if t > mel.shape[-1] * cfg.hop_length:
            raise ValueError(f"{t} samples need more than the {mel.shape[-1]} mel frames given")
        if (lpc_in is None) != (cfg.lpc_order == 0):
            raise ValueError("lpc_in must be given exactly when lpc_order > 0 (see teacher_inputs)")
        start = torch.full((b, 1), self.silence, dtype=x.dtype, device=x.device)
        prev = torch.cat([start, x[:, :-1]], dim=1)  # (B, T): the input shifted right by one
        emb = self.embed(prev)  # (B, T, R)
        if lpc_in is not None:
            # Summed in this order in the sample loops too: (excitation + signal) + prediction.
            emb = emb + self.embed_signal(lpc_in[:, 0]) + self.embed_pred(lpc_in[:, 1])
        h = emb.transpose(1, 2)  # (B, T, R) -> (B, R, T)
        n_frames = -(-t // cfg.hop_length)
        lc = self.layer_conditioning(mel)[..., :n_frames]  # (B, L, G, ceil(T / hop))
        skip = torch.zeros(b, cfg.skip_channels, t, dtype=h.dtype, device=h.device)
        for i, layer in enumerate(self.layers):
            cond = lc[:, i].repeat_interleave(cfg.hop_length, dim=-1)[..., :t]  # (B, G, T)
            h, s = layer(h, cond)
            skip = skip + s
        y = self.head1(torch.relu(skip * self.skip_scale))
        return self.head2(torch.relu(y))

    def inference_weights(self) -> dict[str, torch.Tensor]:
        """Detached float32 weights in the sample loops' layout: every matrix is ``(in, out)``.

        ``embed`` ``(n_classes, R)``; ``dilated`` ``(L, 2R, G)`` with rows ``[:R]`` the tap on
        ``h[t - d]`` and rows ``[R:]`` the tap on ``h[t]``; ``out_w`` ``(L, G/2, R + S)`` (residual
        columns first), ``out_b`` ``(L, R + S)``; ``head1_w`` ``(S, S)``, ``head1_b`` ``(S,)``;
        ``head2_w`` ``(S, n_classes)``, ``head2_b`` ``(n_classes,)``; in LPC mode also
        ``embed_signal`` and ``embed_pred`` ``(n_classes, R)``.
        """
        with torch.no_grad():
            taps = torch.stack([layer.dilated.weight for layer in self.layers])  # (L, G, R, 2)
            lpc = (
                {
                    "embed_signal": self.embed_signal.weight.detach().float().clone(),
                    "embed_pred": self.embed_pred.weight.detach().float().clone(),
                }
                if self.cfg.lpc_order
                else {}
            )
            return {
                **lpc,
                "embed": self.embed.weight.detach().float().clone(),
                # (L, G, R, 2) -> (L, 2, R, G) -> (L, 2R, G): tap k=0 multiplies h[t - d].
                "dilated": taps.permute(0, 3, 2, 1)
                .reshape(self.cfg.n_layers, -1, self.cfg.gate_channels)
                .float(),
                "out_w": torch.stack([layer.out.weight[:, :, 0].t() for layer in self.layers]).float(),
                "out_b": torch.stack([layer.out.bias for layer in self.layers]).float(),
                "head1_w": self.head1.weight[:, :, 0].t().float().contiguous(),
                "head1_b": self.head1.bias.detach().float().clone(),
                "head2_w": self.head2.weight[:, :, 0].t().float().contiguous(),
                "head2_b": self.head2.bias.detach().float().clone(),
            }

    def incremental_state(self, mel: torch.Tensor) -> IncrementalState:
        """Fresh caches for sampling ``mel`` ``(B, n_mels, F)`` step by step."""
        return IncrementalState(self, mel)

    def generate(
        self,
        mel: torch.Tensor,
        uniforms: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
        temperature: float = 1.0,
        should_stop: Callable[[], bool] | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> torch.Tensor:
        """Sample audio ``(B, F * hop_length)`` float32 for mel ``(B, n_mels, F)``: the reference loop.

        Step ``t`` of utterance ``b`` takes the first class whose CDF exceeds ``uniforms[b, t]``
        (float64 in [0, 1), drawn up front from ``generator`` when not given); in LPC mode that
        class is the excitation's, added to the prediction (module docstring). ``should_stop`` is
        polled every :data:`STOP_CHECK_INTERVAL` samples and raises :class:`GenerationCancelled`;
        ``progress(done, total)`` is called as often. Runs without autograd state whatever the
        caller's grad mode: the caches hold detached tensors.
        """
        device = self.embed.weight.device
        u = generation_uniforms(self.cfg, mel, uniforms, generator, temperature).to(device)
        b, n = u.shape
        state = self.incremental_state(mel.to(device))
        prev = torch.full((b,), self.silence, dtype=torch.long, device=device)
        classes = torch.empty(b, n, dtype=torch.long, device=device)
        predictor = LinearPredictor(self, mel, n) if self.cfg.lpc_order else None
        for t in range(n):
            if t % STOP_CHECK_INTERVAL == 0:
                if should_stop is not None and should_stop():
                    raise GenerationCancelled(f"cancelled after {t} of {n} samples")
                if progress is not None and t:
                    progress(t, n)
            if predictor is None:
                prev = sample_from_logits(state.step(prev), u[:, t], temperature)
                classes[:, t] = prev
            else:
                lpc_in = predictor.inputs(t).to(device)
                chosen = sample_from_logits(state.step(prev, lpc_in), u[:, t], temperature)
                prev = predictor.push(t, chosen.cpu()).to(device)
        if progress is not None:
            progress(n, n)
        if predictor is not None:
            return predictor.signal.to(mel.device)
        return mu_law_decode(classes, self.cfg.n_classes).to(mel.device)


class LinearPredictor:
    """The signal side of the reference loop in LPC mode: past samples, predictions, classes (CPU).

    Per step, :meth:`inputs` predicts ``p_t`` and :meth:`push` turns the sampled excitation class
    into ``s_t`` and the class of the realised excitation, the next step's ``x`` input.
    """

    def __init__(self, model: WaveNet, mel: torch.Tensor, n_samples: int) -> None:
        cfg = model.cfg
        self.model = model
        self.hop = cfg.hop_length
        self.coeffs = model.lpc_coefficients(mel)  # (B, F, order) float64
        self.decoded = mu_law_decode(torch.arange(cfg.n_classes), cfg.n_classes)  # (n_classes,) float32
        self.signal = torch.zeros(mel.shape[0], n_samples, dtype=torch.float32)  # (B, n) s, float32
        self.p = torch.zeros(mel.shape[0], dtype=torch.float64)

    def inputs(self, t: int) -> torch.Tensor:
        """``(B, 2)`` classes of ``s[t - 1]`` and of ``p_t``, as :meth:`WaveNet.teacher_inputs` gives them."""
        a = self.coeffs[:, t // self.hop]  # (B, order)
        p = torch.zeros(a.shape[0], dtype=torch.float64)
        for k in range(1, a.shape[1] + 1):
            # The terms and order of vocoders.lpc.predict: zeros before the first sample.
            past = self.signal[:, t - k].double() if t >= k else torch.zeros_like(p)
            p = p + a[:, k - 1] * past
        self.p = p
        last = self.signal[:, t - 1].double() if t else torch.zeros_like(p)
        return torch.stack([self.model.quantize(last), self.model.quantize(p)], dim=1)

    def push(self, t: int, chosen: torch.Tensor) -> torch.Tensor:
        """Store ``s_t`` for the sampled excitation classes ``chosen`` ``(B,)``; returns the classes
        of the realised excitation ``clip(s_t - p_t, -1, 1)`` (``(B,)``)."""
        s = (self.p + self.decoded[chosen].double()).clamp(-1.0, 1.0).float()
        self.signal[:, t] = s
        return self.model.quantize((s.double() - self.p).clamp(-1.0, 1.0))


class IncrementalState:
    """Caches of the reference sample loop (fast-wavenet, Paine et al. 2016) for a batch of utterances.

    Layer ``l`` keeps its last ``dilation`` inputs in a ring buffer ``(B, dilation, R)``: slot
    ``t % dilation`` holds ``h[t - dilation]`` until step ``t`` reads it and stores ``h[t]``. A step
    is then a few matrix-vector products on ``(B, C)`` vectors.
    """

    def __init__(self, model: WaveNet, mel: torch.Tensor) -> None:
        cfg = model.cfg
        self.cfg = cfg
        self.skip_scale = model.skip_scale
        with torch.no_grad():
            # float64 copies: products of float32 values are exact in float64 (see module docstring).
            self.w = {k: v.double() for k, v in model.inference_weights().items()}
            self.embed = model.embed.weight.detach().float()
            if cfg.lpc_order:
                self.embed_signal = model.embed_signal.weight.detach().float()
                self.embed_pred = model.embed_pred.weight.detach().float()
            lc = model.layer_conditioning(mel).detach()  # (B, L, G, F)
            self.cond = lc.permute(0, 3, 1, 2).double().contiguous()  # (B, F, L, G): one frame per read
        b = mel.shape[0]
        self.queues = [
            torch.zeros(b, d, cfg.residual_channels, dtype=torch.float32, device=mel.device)
            for d in cfg.dilations
        ]
        self.position = 0
        self.n_samples = mel.shape[-1] * cfg.hop_length

    def step(self, prev: torch.Tensor, lpc_in: torch.Tensor | None = None) -> torch.Tensor:
        """Logits ``(B, n_classes)`` float32 of the next sample, given the previous classes ``prev`` ``(B,)``
        and, in LPC mode, the classes of the last sample and of the prediction ``lpc_in`` ``(B, 2)``."""
        cfg = self.cfg
        t = self.position
        if t >= self.n_samples:
            raise IndexError(f"all {self.n_samples} samples of the conditioning are used")
        r, half = cfg.residual_channels, cfg.gate_channels // 2
        cond = self.cond[:, t // cfg.hop_length]  # (B, L, G)
        h = self.embed[prev]  # (B, R)
        if (lpc_in is None) != (cfg.lpc_order == 0):
            raise ValueError("lpc_in must be given exactly when lpc_order > 0")
        if lpc_in is not None:
            h = h + self.embed_signal[lpc_in[:, 0]] + self.embed_pred[lpc_in[:, 1]]
        skip = torch.zeros(prev.shape[0], cfg.skip_channels, dtype=torch.float32, device=h.device)
        last = cfg.n_layers - 1
        for i, d in enumerate(cfg.dilations):
            queue = self.queues[i]
            z = torch.cat([queue[:, t % d], h], dim=1).double() @ self.w["dilated"][i] + cond[:, i]  # (B, G)
            queue[:, t % d] = h
            a = gate_activation(z[:, :half], z[:, half:]).float().double()  # (B, G/2) rounded to float32
            if i == last:
                # The last layer's residual output feeds nothing.
                skip = skip + (a @ self.w["out_w"][i, :, r:] + self.w["out_b"][i, r:]).float()
            else:
                o = (a @ self.w["out_w"][i] + self.w["out_b"][i]).float()  # (B, R + S)
                h = (h + o[:, :r]) * RESIDUAL_SCALE
                skip = skip + o[:, r:]
        y = torch.relu(skip * self.skip_scale).double()
        y = torch.relu((y @ self.w["head1_w"] + self.w["head1_b"]).float()).double()
        self.position += 1
        return (y @ self.w["head2_w"] + self.w["head2_b"]).float()
