"""A fused CPU sample loop for :class:`vocoders.wavenet.WaveNet`, compiled with numba.

:meth:`FastWaveNet.generate` returns exactly the samples of the reference loop
:meth:`WaveNet.generate` for the same uniforms: it performs the same float32 roundings after the
same float64 accumulations (see the numerics note in :mod:`vocoders.wavenet`), only in its own
summation order, and samples with the same float64 inverse-CDF rule.

Per utterance, the conditioning of every layer is computed once with torch at frame rate; the
kernel then runs the whole sample loop without touching Python: ring buffers of all layers live in
one contiguous array, every matrix is stored ``(in, out)`` so the inner loop of each
matrix-vector product runs over contiguous outputs (it vectorises without reordering sums), and
all scratch space is allocated before the loop. The loop runs in blocks of
:data:`FAST_BLOCK_SIZE` samples with its state kept in arrays between calls, so ``should_stop``
is honoured between blocks. A batch of several utterances is spread over numba's threads
(``prange``): the utterances share nothing, and with two free cores this nearly halves the time.

"Exactly the same samples" holds against the reference run on the CPU: on a GPU its conditioning
network, and so its samples, may differ in the last bits.
"""

from __future__ import annotations

import copy
import logging
import math
from collections.abc import Callable

import numba
import numpy as np
import torch

from vocoders.mulaw import mu_law_decode
from vocoders.wavenet import (
    RESIDUAL_SCALE,
    GenerationCancelled,
    WaveNet,
    WaveNetConfig,
    generation_uniforms,
)

logger = logging.getLogger(__name__)

# Samples per kernel call: ~0.1-0.2 s of compute on one core, the worst-case delay of a cancel;
# the call overhead (microseconds) is negligible at this size.
FAST_BLOCK_SIZE = 2048
# Input rows folded into one pass over the outputs in a matrix-vector product: fewer loads and
# stores of the accumulators, same left-to-right summation per output. _matvec_acc spells out
# exactly this many rows.
_UNROLL = 4


# Contraction into FMA is the one fast-math flag allowed here: a float32 x float32 product is
# exact in float64, so fma(w, x, acc) and acc + w * x round identically.
@numba.njit(cache=True, fastmath={"contract"})
def _matvec_acc(w: np.ndarray, x: np.ndarray, acc: np.ndarray) -> None:
    """``acc[j] += sum_i w[i, j] * x[i]`` in float64, summing over ``i`` in order.

    ``w`` ``(n_in, n_out)`` float32, ``x`` ``(n_in,)`` float32, ``acc`` ``(n_out,)`` float64.
    """
    n_in, n_out = w.shape
    n_main = n_in - n_in % _UNROLL
    for i in range(0, n_main, _UNROLL):
        x0 = np.float64(x[i])
        x1 = np.float64(x[i + 1])
        x2 = np.float64(x[i + 2])
        x3 = np.float64(x[i + 3])
        w0 = w[i]
        w1 = w[i + 1]
        w2 = w[i + 2]
        w3 = w[i + 3]
        for j in range(n_out):
            acc[j] = (
                ((acc[j] + np.float64(w0[j]) * x0) + np.float64(w1[j]) * x1) + np.float64(w2[j]) * x2
            ) + np.float64(w3[j]) * x3
    for i in range(n_main, n_in):
        xi = np.float64(x[i])
        wi = w[i]
        for j in range(n_out):
            acc[j] += np.float64(wi[j]) * xi


@numba.njit(cache=True, fastmath=False, nogil=True)
def _sample_utterance(
    b: int,
    start: int,
    stop: int,
    hop: int,
    temperature: float,
    scales: tuple,
    dilations: np.ndarray,
    offsets: np.ndarray,
    weights: tuple,
    cond: np.ndarray,
    uniforms: np.ndarray,
    queues: np.ndarray,
    prev: np.ndarray,
    classes: np.ndarray,
    s32: np.ndarray,
    s64: np.ndarray,
) -> None:
    """Samples ``start:stop`` of utterance ``b``: ``IncrementalState.step`` + ``sample_from_logits``.

    ``s32``/``s64`` are this utterance's float32/float64 scratch rows (sizes in :func:`_scratch_sizes`).
    """
    embed, dilated, out_w, out_b, last_skip_w, head1_w, head1_b, head2_w, head2_b = weights
    res_scale, skip_scale = scales
    n_layers, two_r, n_gate = dilated.shape
    r = two_r // 2
    half = n_gate // 2
    n_skip = last_skip_w.shape[1]
    n_classes = head2_w.shape[1]
    last = n_layers - 1
    # Consecutive views into the scratch rows. taps = [h[t - d], h[t]]: the dilated conv's input.
    taps = s32[: 2 * r]
    h = taps[r:]
    a = s32[2 * r : 2 * r + half]
    skip = s32[2 * r + half : 2 * r + half + n_skip]
    y = s32[2 * r + half + n_skip : 2 * r + half + 2 * n_skip]
    logits = s32[2 * r + half + 2 * n_skip : 2 * r + half + 2 * n_skip + n_classes]
    z = s64[:n_gate]
    o = s64[n_gate : n_gate + r + n_skip]
    y_acc = s64[n_gate + r + n_skip : n_gate + r + 2 * n_skip]
    e = s64[n_gate + r + 2 * n_skip : n_gate + r + 2 * n_skip + n_classes]
    for t in range(start, stop):
        frame = t // hop
        x_prev = prev[b]
        for j in range(r):
            h[j] = embed[x_prev, j]
        for j in range(n_skip):
            skip[j] = np.float32(0.0)
        for layer in range(n_layers):
            slot = offsets[layer] + (t % dilations[layer]) * r
            for j in range(r):
                taps[j] = queues[b, slot + j]
                queues[b, slot + j] = h[j]
            for j in range(n_gate):
                z[j] = 0.0
            _matvec_acc(dilated[layer], taps, z)
            c = cond[b, frame, layer]
            for j in range(half):
                za = z[j] + np.float64(c[j])
                zb = z[half + j] + np.float64(c[half + j])
                # The expression of wavenet.gate_activation, operation for operation.
                a[j] = np.float32((2.0 / (1.0 + math.exp(-2.0 * za)) - 1.0) * (1.0 / (1.0 + math.exp(-zb))))
            if layer < last:
                for j in range(r + n_skip):
                    o[j] = 0.0
                _matvec_acc(out_w[layer], a, o)
                for j in range(r):
                    h[j] = (h[j] + np.float32(o[j] + np.float64(out_b[layer, j]))) * res_scale
                for j in range(n_skip):
                    skip[j] = skip[j] + np.float32(o[r + j] + np.float64(out_b[layer, r + j]))
            else:
                # The last layer's residual output feeds nothing.
                for j in range(n_skip):
                    o[j] = 0.0
                _matvec_acc(last_skip_w, a, o[:n_skip])
                for j in range(n_skip):
                    skip[j] = skip[j] + np.float32(o[j] + np.float64(out_b[layer, r + j]))
        for j in range(n_skip):
            y[j] = max(skip[j] * skip_scale, np.float32(0.0))
        for j in range(n_skip):
            y_acc[j] = 0.0
        _matvec_acc(head1_w, y, y_acc)
        for j in range(n_skip):
            y[j] = max(np.float32(y_acc[j] + np.float64(head1_b[j])), np.float32(0.0))
        for k in range(n_classes):
            e[k] = 0.0
        _matvec_acc(head2_w, y, e)
        for k in range(n_classes):
            logits[k] = np.float32(e[k] + np.float64(head2_b[k]))
        # Inverse CDF in float64, as sample_from_logits: softmax, running sum, first entry > u.
        peak = -np.inf
        for k in range(n_classes):
            e[k] = np.float64(logits[k]) / temperature
            peak = max(peak, e[k])
        total = 0.0
        for k in range(n_classes):
            e[k] = math.exp(e[k] - peak)
            total += e[k]
        u = uniforms[b, t]
        chosen = n_classes - 1
        cdf = 0.0
        for k in range(n_classes):
            cdf += e[k] / total
            if cdf > u:
                chosen = k
                break
        classes[b, t] = chosen
        prev[b] = chosen


@numba.njit(cache=True, fastmath=False, nogil=True)
def _sample_block(
    start: int,
    stop: int,
    hop: int,
    temperature: float,
    scales: tuple,
    dilations: np.ndarray,
    offsets: np.ndarray,
    weights: tuple,
    cond: np.ndarray,
    uniforms: np.ndarray,
    queues: np.ndarray,
    prev: np.ndarray,
    classes: np.ndarray,
    scratch_f32: np.ndarray,
    scratch_f64: np.ndarray,
) -> None:
    """Samples ``start:stop`` of every utterance, one after another (state in ``queues``/``prev``)."""
    for b in range(cond.shape[0]):
        _sample_utterance(
            b, start, stop, hop, temperature, scales, dilations, offsets, weights, cond, uniforms,
            queues, prev, classes, scratch_f32[b], scratch_f64[b],
        )  # fmt: skip


# A copy of _sample_block rather than one Python function compiled twice: numba's on-disk cache
# keys compiled code by function location and argument types, not by options like ``parallel``,
# so the two would share cache entries and one could load the other's code (numba issue 6845).
@numba.njit(cache=True, fastmath=False, nogil=True, parallel=True)
def _sample_block_parallel(
    start: int,
    stop: int,
    hop: int,
    temperature: float,
    scales: tuple,
    dilations: np.ndarray,
    offsets: np.ndarray,
    weights: tuple,
    cond: np.ndarray,
    uniforms: np.ndarray,
    queues: np.ndarray,
    prev: np.ndarray,
    classes: np.ndarray,
    scratch_f32: np.ndarray,
    scratch_f64: np.ndarray,
) -> None:
    """:func:`_sample_block` with the utterances spread over numba's threads (they share nothing)."""
    for b in numba.prange(cond.shape[0]):
        _sample_utterance(
            b, start, stop, hop, temperature, scales, dilations, offsets, weights, cond, uniforms,
            queues, prev, classes, scratch_f32[b], scratch_f64[b],
        )  # fmt: skip


def _scratch_sizes(cfg: WaveNetConfig) -> tuple[int, int]:
    """Per-utterance scratch lengths: float32 (taps 2R, a G/2, skip S, y S, logits n_classes)
    and float64 (z G, o R + S, y_acc S, e n_classes)."""
    r, g, s = cfg.residual_channels, cfg.gate_channels, cfg.skip_channels
    return 2 * r + g // 2 + 2 * s + cfg.n_classes, g + r + 2 * s + cfg.n_classes


class FastWaveNet:
    """The numba sample loop for one :class:`WaveNet`: same API and samples as ``WaveNet.generate``.

    Holds a snapshot of the model (weights exported once; a CPU copy of the model computes the
    per-utterance conditioning), so later changes to ``model`` need a new ``from_model``. With
    ``parallel``, a batch of several utterances is spread over numba's threads; the kernels
    release the GIL, so other Python threads (a server's) keep running meanwhile.
    """

    def __init__(self, model: WaveNet, parallel: bool = True) -> None:
        self.cfg: WaveNetConfig = model.cfg
        self.parallel = parallel
        self._model = copy.deepcopy(model).cpu().eval()
        w = {k: v.cpu().numpy() for k, v in self._model.inference_weights().items()}
        r = self.cfg.residual_channels

        def f32(x: np.ndarray) -> np.ndarray:
            return np.ascontiguousarray(x, dtype=np.float32)

        # The order _sample_utterance unpacks; every matrix is (in, out), see inference_weights.
        self._weights = (
            f32(w["embed"]),
            f32(w["dilated"]),
            f32(w["out_w"]),
            f32(w["out_b"]),
            # The last layer needs only the skip columns: a contiguous copy keeps its loop vectorised.
            f32(w["out_w"][-1, :, r:]),
            f32(w["head1_w"]),
            f32(w["head1_b"]),
            f32(w["head2_w"]),
            f32(w["head2_b"]),
        )
        self._scales = (np.float32(RESIDUAL_SCALE), np.float32(self._model.skip_scale))
        self._dilations = np.asarray(self.cfg.dilations, dtype=np.int64)
        # Layer l's ring buffer starts at offsets[l] in an utterance's queue row: dilation * R floats.
        self._offsets = np.concatenate([[0], np.cumsum(self._dilations[:-1])]).astype(np.int64) * r
        self._queue_size = int(self._dilations.sum()) * r

    @classmethod
    def from_model(cls, model: WaveNet, parallel: bool = True) -> FastWaveNet:
        """Export ``model``'s weights into contiguous float32 arrays."""
        return cls(model, parallel)

    def generate(
        self,
        mel: torch.Tensor,
        uniforms: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
        temperature: float = 1.0,
        should_stop: Callable[[], bool] | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> torch.Tensor:
        """Sample audio ``(B, F * hop_length)`` float32 for mel ``(B, n_mels, F)``.

        Arguments as :meth:`WaveNet.generate`; ``should_stop`` and ``progress`` are called between
        blocks of :data:`FAST_BLOCK_SIZE` samples. The result is on the CPU.
        """
        cfg = self.cfg
        u = np.ascontiguousarray(generation_uniforms(cfg, mel, uniforms, generator, temperature).numpy())
        b, n = u.shape
        with torch.no_grad():
            lc = self._model.layer_conditioning(mel.detach().cpu().float())  # (B, L, G, F)
            cond = np.ascontiguousarray(lc.permute(0, 3, 1, 2).numpy())  # (B, F, L, G): one frame per read
        queues = np.zeros((b, self._queue_size), dtype=np.float32)
        prev = np.full(b, self._model.silence, dtype=np.int64)
        classes = np.empty((b, n), dtype=np.int64)
        n32, n64 = _scratch_sizes(cfg)
        scratch_f32 = np.zeros((b, n32), dtype=np.float32)
        scratch_f64 = np.zeros((b, n64), dtype=np.float64)
        kernel = (
            _sample_block_parallel
            if self.parallel and b > 1 and numba.get_num_threads() > 1
            else _sample_block
        )
        for start in range(0, n, FAST_BLOCK_SIZE):
            if should_stop is not None and should_stop():
                raise GenerationCancelled(f"cancelled after {start} of {n} samples")
            stop = min(start + FAST_BLOCK_SIZE, n)
            kernel(
                start, stop, cfg.hop_length, float(temperature), self._scales, self._dilations, self._offsets,
                self._weights, cond, u, queues, prev, classes, scratch_f32, scratch_f64,
            )  # fmt: skip
            if progress is not None:
                progress(stop, n)
        return mu_law_decode(torch.from_numpy(classes), cfg.n_classes)
