"""A fused CPU sample loop for :class:`vocoders.wavenet.WaveNet`, compiled with numba.

One module, longer than the others, because its single-utterance, lock-step and streamed entry
points share private numba kernels and one state layout whose exactness against the reference
loop is argued once, below.

:class:`FastWaveNet` returns exactly the samples of the reference loop :meth:`WaveNet.generate`
for the same uniforms: it performs the same float32 roundings after the same float64
accumulations (see the numerics note in :mod:`vocoders.wavenet`), only in its own summation order,
and samples with the same float64 inverse-CDF rule.

Per utterance, the conditioning of every layer is computed once with torch at frame rate; the
kernel then runs the sample loop without touching Python: ring buffers of all layers live in one
contiguous array, every matrix is stored ``(in, out)`` so the inner loop of each matrix product
runs over contiguous outputs (it vectorises without reordering sums), the gate's and the
softmax's ``exp`` run vectorised (:func:`_exp_inplace`), and all scratch space is allocated
before the loop.

Several utterances run in lock step: at each sample step one matrix-matrix product per layer
serves all of them, so each float32 weight is loaded and widened to float64 once per step rather
than once per utterance, which is what bounds the single-utterance loop. Utterances of different
lengths share a batch; one that has finished drops out of the products. With several threads the
batch is split into as many lock-step groups. Each utterance's arithmetic is the same whatever its
company, so a batch returns exactly what each utterance gives alone.

The loop runs in blocks of :data:`FAST_BLOCK_SIZE` samples with its state kept in arrays between
calls: :meth:`FastWaveNet.stream` yields each block as soon as it is computed, and ``should_stop``
is honoured between blocks.

In LPC mode (``lpc_order > 0``) the kernel also keeps each utterance's signal: per step it sums the
prediction in float64 in the reference loop's order (:class:`vocoders.wavenet.LinearPredictor`, no
fused multiply-add: those products are not exact), finds classes by comparison with the same
boundaries, and rounds the new sample to float32 as the reference does.

"Exactly the same samples" holds against the reference run on the CPU: on a GPU its conditioning
network, and so its samples, may differ in the last bits.
"""

from __future__ import annotations

import copy
import logging
import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numba
import numpy as np
import torch

from vocoders.mulaw import mu_law_decode, mu_law_thresholds
from vocoders.wavenet import (
    RESIDUAL_SCALE,
    GenerationCancelled,
    WaveNet,
    WaveNetConfig,
    generation_uniforms,
)

logger = logging.getLogger(__name__)

# Samples per kernel call, and so per streamed block: 128 ms of 16 kHz audio and, for the bundled
# voice, about 60 ms of compute on one core (the delay before the first block and the worst-case
# delay of a cancel); the call overhead (microseconds) is negligible at this size.
FAST_BLOCK_SIZE = 2048
# Input rows folded into one pass over the outputs in a matrix product: fewer loads and stores of
# the accumulators, same left-to-right summation per output. _matmul_acc spells out this many rows.
_UNROLL = 4
# Utterances that share each widened weight in the widest tile of _matmul_acc.
_TILE = 4
# Extra elements per row of the work arrays, so that rows of different utterances are not a multiple
# of 4 KiB apart, where a CPU can hold the loads of one back behind the stores of another (4K aliasing).
_ROW_PAD = 8

# exp(x) = 2**n * exp(r), n = round(x / ln 2), r = x - n ln 2 in [-ln2 / 2, ln2 / 2] (Cody-Waite:
# ln 2 split so that n * _LN2_HI is exact for |n| < 2**11; fdlibm's constants).
_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10
_INV_LN2 = 1.44269504088896338700e00
# Adding 1.5 * 2**52 rounds a float64 of magnitude < 2**51 to an integer held in its low mantissa bits.
_ROUND_SHIFT = 6755399441055744.0
_ROUND_SHIFT_BITS = int(np.array([_ROUND_SHIFT]).view(np.int64)[0])
_EXP_BIAS = 1023  # float64 exponent bias
_EXP_MANTISSA_BITS = 52
# Arguments are clamped here so 2**n stays a normal float64. exp(709) ~ 8e307 and exp(-708) ~ 3e-308
# act as inf and 0 do in the gate (2 / (1 + e) - 1 rounds to the same -1 or 1) and in the softmax
# (terms ~1e-308 against a sum >= 1).
_EXP_MIN = -708.0
_EXP_MAX = 709.0
# Taylor coefficients 1/k! of exp(r) for k = 2..13: the truncation error |r|**14 / 14! < 5e-18 is far
# below half an ulp of the result.
_C2, _C3, _C4, _C5, _C6, _C7, _C8, _C9, _C10, _C11, _C12, _C13 = (
    1.0 / math.factorial(k) for k in range(2, 14)
)


# Contraction into FMA is the one fast-math flag allowed here: in the matrix products a float32 x
# float32 product is exact in float64, so fma(w, x, acc) and acc + w * x round identically; in exp
# it only makes the polynomial more accurate.
#
# The kernels index arrays with integers only: a slice or a row view in the sample loop would cost
# a reference-count update (an atomic operation) each time it is made.
@numba.njit(cache=True, fastmath={"contract"}, nogil=True, error_model="numpy")
def _exp_inplace(x: np.ndarray, row: int, n: int, scale: np.ndarray, scale_bits: np.ndarray) -> None:
    """``x[row, j] = exp(x[row, j])`` for ``j < n`` in float64, within one ulp (~1.5% of results
    differ from libm's by one ulp).

    A vectorisable replacement for ``math.exp`` (a scalar libm call): range reduction by Cody-Waite,
    a degree-13 Taylor polynomial whose leading ``1 + r_hi`` is summed with its rounding error
    carried, and ``2**n`` built from its exponent bits. ``scale`` is float64 scratch and
    ``scale_bits`` the same memory viewed as int64. One ulp in float64 changes the float32
    roundings downstream about as rarely as the summation order does (module docstring of
    :mod:`vocoders.wavenet`).
    """
    for j in range(n):
        v = min(max(x[row, j], _EXP_MIN), _EXP_MAX)
        shifted = v * _INV_LN2 + _ROUND_SHIFT
        scale[row, j] = shifted
        m = shifted - _ROUND_SHIFT  # n as a float64
        r_hi = v - m * _LN2_HI  # exact
        r_lo = -(m * _LN2_LO)
        r = r_hi + r_lo
        p = _C13
        p = p * r + _C12
        p = p * r + _C11
        p = p * r + _C10
        p = p * r + _C9
        p = p * r + _C8
        p = p * r + _C7
        p = p * r + _C6
        p = p * r + _C5
        p = p * r + _C4
        p = p * r + _C3
        p = p * r + _C2
        hi = 1.0 + r_hi
        lo = (1.0 - hi) + r_hi  # the rounding error of hi, exactly
        x[row, j] = hi + (lo + (r_lo + r * r * p))
    for j in range(n):
        scale_bits[row, j] = (scale_bits[row, j] - _ROUND_SHIFT_BITS + _EXP_BIAS) << _EXP_MANTISSA_BITS
    for j in range(n):
        x[row, j] *= scale[row, j]  # 2**n


@numba.njit(cache=True, fastmath=False, nogil=True, error_model="numpy")
def _gate(ez: np.ndarray, a: np.ndarray, row: int, half: int) -> None:
    """``a[row, j] = float32(tanh(za) * sigmoid(zb))`` from ``ez[row] = [exp(-2 za), exp(-zb)]``:
    the rest of :func:`vocoders.wavenet.gate_activation`, operation for operation."""
    for j in range(half):
        a[row, j] = np.float32((2.0 / (1.0 + ez[row, j]) - 1.0) * (1.0 / (1.0 + ez[row, half + j])))


@numba.njit(cache=True, fastmath={"contract"}, nogil=True, error_model="numpy")
def _row4(x: np.ndarray, b: int, i: int) -> tuple[float, float, float, float]:
    """``x[b, i:i + 4]`` as float64."""
    return np.float64(x[b, i]), np.float64(x[b, i + 1]), np.float64(x[b, i + 2]), np.float64(x[b, i + 3])


@numba.njit(cache=True, fastmath={"contract"}, nogil=True, error_model="numpy")
def _col4(w: np.ndarray, m: int, i: int, j: int) -> tuple[float, float, float, float]:
    """``w[m, i:i + 4, j]`` as float64."""
    return (
        np.float64(w[m, i, j]),
        np.float64(w[m, i + 1, j]),
        np.float64(w[m, i + 2, j]),
        np.float64(w[m, i + 3, j]),
    )


@numba.njit(cache=True, fastmath={"contract"}, nogil=True, error_model="numpy")
def _acc4(acc: float, w: tuple[float, float, float, float], x: tuple[float, float, float, float]) -> float:
    """``acc + w0 x0 + w1 x1 + w2 x2 + w3 x3`` summed left to right: every matrix product's unit of work."""
    return (((acc + w[0] * x[0]) + w[1] * x[1]) + w[2] * x[2]) + w[3] * x[3]


@numba.njit(cache=True, fastmath={"contract"}, nogil=True, error_model="numpy")
def _matmul_acc(w: np.ndarray, m: int, x: np.ndarray, acc: np.ndarray, lo: int, hi: int) -> None:
    """``acc[b, j] += sum_i w[m, i, j] * x[b, i]`` for ``b`` in ``lo:hi``, in float64, summing over ``i`` in order.

    ``w`` ``(M, n_in, n_out)`` float32, ``x`` ``(B, >= n_in)`` float32, ``acc`` ``(B, >= n_out)``
    float64. Utterances are taken :data:`_TILE` = 4 (then two, then one) at a time, so that each
    float32 weight is widened to float64 once per tile rather than once per utterance: for a single
    utterance the widening, not the multiply-adds, bounds the loop. Every tile performs the same
    operations per utterance (:func:`_acc4` over the same groups of rows), so an utterance's sums
    do not depend on its batch.
    """
    n_in = w.shape[1]
    n_out = w.shape[2]
    n_main = n_in - n_in % _UNROLL
    for i in range(0, n_main, _UNROLL):
        b = lo
        while b + _TILE <= hi:
            xa, xb, xc, xd = _row4(x, b, i), _row4(x, b + 1, i), _row4(x, b + 2, i), _row4(x, b + 3, i)
            for j in range(n_out):
                wj = _col4(w, m, i, j)
                acc[b, j] = _acc4(acc[b, j], wj, xa)
                acc[b + 1, j] = _acc4(acc[b + 1, j], wj, xb)
                acc[b + 2, j] = _acc4(acc[b + 2, j], wj, xc)
                acc[b + 3, j] = _acc4(acc[b + 3, j], wj, xd)
            b += _TILE
        if b + 2 <= hi:
            xa, xb = _row4(x, b, i), _row4(x, b + 1, i)
            for j in range(n_out):
                wj = _col4(w, m, i, j)
                acc[b, j] = _acc4(acc[b, j], wj, xa)
                acc[b + 1, j] = _acc4(acc[b + 1, j], wj, xb)
            b += 2
        if b < hi:
            xa = _row4(x, b, i)
            for j in range(n_out):
                acc[b, j] = _acc4(acc[b, j], _col4(w, m, i, j), xa)
    for i in range(n_main, n_in):
        for b in range(lo, hi):
            xi = np.float64(x[b, i])
            for j in range(n_out):
                acc[b, j] += np.float64(w[m, i, j]) * xi


@numba.njit(cache=True, fastmath=False, nogil=True, error_model="numpy")
def _sample_group(
    lo: int,
    hi: int,
    start: int,
    stop: int,
    hop: int,
    temperature: float,
    scales: tuple,
    dilations: np.ndarray,
    offsets: np.ndarray,
    weights: tuple,
    lengths: np.ndarray,
    cond: np.ndarray,
    uniforms: np.ndarray,
    queues: np.ndarray,
    prev: np.ndarray,
    classes: np.ndarray,
    scratch: tuple,
    lpc: tuple,
) -> None:
    """Samples ``start:stop`` of utterances ``lo:hi`` in lock step: ``IncrementalState.step`` +
    ``sample_from_logits`` for each (and ``LinearPredictor``'s work in LPC mode).

    ``lengths[lo:hi]`` must be non-increasing: the utterances still running at step ``t`` are
    then rows ``lo:lo + k``. ``scratch`` holds ``(B, ...)`` work arrays (see :func:`_scratch`);
    ``lpc`` the run's ``coeffs``, ``signal`` and ``pred`` (:class:`_Run`) followed by the LPC
    weights of :class:`FastWaveNet` (``order`` 0: a plain WaveNet, which reads none of them).
    """
    embed, dilated, out_w, out_b, last_skip_w, head1_w, head1_b, head2_w, head2_b = weights
    coeffs, signal, pred, embed_signal, embed_pred, decoded, thresholds = lpc
    order = coeffs.shape[2]
    res_scale, skip_scale = scales
    taps, a, skip, y, logits, z, o, y_acc, e, scale, scale_bits = scratch
    n_layers, two_r, n_gate = dilated.shape
    r = two_r // 2
    half = n_gate // 2
    n_skip = last_skip_w.shape[2]
    n_classes = head2_w.shape[2]
    last = n_layers - 1
    k = hi - lo
    for t in range(start, stop):
        while k > 0 and lengths[lo + k - 1] <= t:
            k -= 1  # the shortest running utterance has finished
        if k == 0:
            return
        end = lo + k
        frame = t // hop
        # taps[b] = [h[t - d], h[t]]: the dilated conv's input; its second half is h.
        for b in range(lo, end):
            x_prev = prev[b]
            if order > 0:
                # LinearPredictor.inputs: the same terms in the same order, zeros before the start.
                p = 0.0
                for lag in range(1, order + 1):
                    past = np.float64(signal[b, t - lag]) if t >= lag else 0.0
                    p = p + coeffs[b, frame, lag - 1] * past
                pred[b] = p
                c_signal = _quantize(np.float64(signal[b, t - 1]) if t >= 1 else 0.0, thresholds)
                c_pred = _quantize(p, thresholds)
                for j in range(r):
                    taps[b, r + j] = embed[x_prev, j] + embed_signal[c_signal, j] + embed_pred[c_pred, j]
            else:
                for j in range(r):
                    taps[b, r + j] = embed[x_prev, j]
            for j in range(n_skip):
                skip[b, j] = np.float32(0.0)
        for layer in range(n_layers):
            slot = offsets[layer] + (t % dilations[layer]) * r
            for b in range(lo, end):
                for j in range(r):
                    taps[b, j] = queues[b, slot + j]
                    queues[b, slot + j] = taps[b, r + j]
                for j in range(n_gate):
                    z[b, j] = 0.0
            _matmul_acc(dilated, layer, taps, z, lo, end)
            for b in range(lo, end):
                # The expression of wavenet.gate_activation, operation for operation, with both
                # halves' exp arguments in one vector.
                for j in range(half):
                    z[b, j] = -2.0 * (z[b, j] + np.float64(cond[b, frame, layer, j]))
                for j in range(half, n_gate):
                    z[b, j] = -(z[b, j] + np.float64(cond[b, frame, layer, j]))
                _exp_inplace(z, b, n_gate, scale, scale_bits)
                _gate(z, a, b, half)
            if layer < last:
                for b in range(lo, end):
                    for j in range(r + n_skip):
                        o[b, j] = 0.0
                _matmul_acc(out_w, layer, a, o, lo, end)
                for b in range(lo, end):
                    for j in range(r):
                        h_j = taps[b, r + j] + np.float32(o[b, j] + np.float64(out_b[layer, j]))
                        taps[b, r + j] = h_j * res_scale
                    for j in range(n_skip):
                        skip[b, j] = skip[b, j] + np.float32(o[b, r + j] + np.float64(out_b[layer, r + j]))
            else:
                # The last layer's residual output feeds nothing: only its skip columns are computed.
                for b in range(lo, end):
                    for j in range(n_skip):
                        y_acc[b, j] = 0.0
                _matmul_acc(last_skip_w, 0, a, y_acc, lo, end)
                for b in range(lo, end):
                    for j in range(n_skip):
                        skip[b, j] = skip[b, j] + np.float32(y_acc[b, j] + np.float64(out_b[layer, r + j]))
        for b in range(lo, end):
            for j in range(n_skip):
                y[b, j] = max(skip[b, j] * skip_scale, np.float32(0.0))
                y_acc[b, j] = 0.0
        _matmul_acc(head1_w, 0, y, y_acc, lo, end)
        for b in range(lo, end):
            for j in range(n_skip):
                y[b, j] = max(np.float32(y_acc[b, j] + np.float64(head1_b[j])), np.float32(0.0))
            for c in range(n_classes):
                e[b, c] = 0.0
        _matmul_acc(head2_w, 0, y, e, lo, end)
        for b in range(lo, end):
            for c in range(n_classes):
                logits[b, c] = np.float32(e[b, c] + np.float64(head2_b[c]))
            # Inverse CDF in float64, as sample_from_logits: softmax, running sum, first entry > u.
            peak = -np.inf
            for c in range(n_classes):
                e[b, c] = np.float64(logits[b, c]) / temperature
                peak = max(peak, e[b, c])
            for c in range(n_classes):
                e[b, c] = e[b, c] - peak
            _exp_inplace(e, b, n_classes, scale, scale_bits)
            total = 0.0
            for c in range(n_classes):
                total += e[b, c]
            u = uniforms[b, t]
            chosen = n_classes - 1
            cdf = 0.0
            for c in range(n_classes):
                cdf += e[b, c] / total
                if cdf > u:
                    chosen = c
                    break
            classes[b, t] = chosen
            if order > 0:
                # LinearPredictor.push: the sample, and the class of the realised excitation.
                v = min(max(pred[b] + np.float64(decoded[chosen]), -1.0), 1.0)
                s_t = np.float32(v)
                signal[b, t] = s_t
                prev[b] = _quantize(min(max(np.float64(s_t) - pred[b], -1.0), 1.0), thresholds)
            else:
                prev[b] = chosen


@numba.njit(cache=True, fastmath=False, nogil=True, error_model="numpy")
def _quantize(x: float, thresholds: np.ndarray) -> int:
    """The boundaries at or below ``x``: :func:`vocoders.mulaw.mu_law_quantize` by bisection."""
    lo = 0
    hi = thresholds.shape[0]
    while lo < hi:
        mid = (lo + hi) // 2
        if thresholds[mid] <= x:
            lo = mid + 1
        else:
            hi = mid
    return lo


@numba.njit(cache=True, fastmath=False, nogil=True, error_model="numpy")
def _sample_block(
    bounds: np.ndarray,
    start: int,
    stop: int,
    hop: int,
    temperature: float,
    scales: tuple,
    dilations: np.ndarray,
    offsets: np.ndarray,
    weights: tuple,
    lengths: np.ndarray,
    cond: np.ndarray,
    uniforms: np.ndarray,
    queues: np.ndarray,
    prev: np.ndarray,
    classes: np.ndarray,
    scratch: tuple,
    lpc: tuple,
) -> None:
    """Samples ``start:stop`` of every lock-step group ``bounds[g]:bounds[g + 1]``, one after another."""
    for g in range(bounds.shape[0] - 1):
        _sample_group(
            bounds[g], bounds[g + 1], start, stop, hop, temperature, scales, dilations, offsets, weights,
            lengths, cond, uniforms, queues, prev, classes, scratch, lpc,
        )  # fmt: skip


# A copy of _sample_block rather than one Python function compiled twice: numba's on-disk cache
# keys compiled code by function location and argument types, not by options like ``parallel``,
# so the two would share cache entries and one could load the other's code (numba issue 6845).
@numba.njit(cache=True, fastmath=False, nogil=True, parallel=True, error_model="numpy")
def _sample_block_parallel(
    bounds: np.ndarray,
    start: int,
    stop: int,
    hop: int,
    temperature: float,
    scales: tuple,
    dilations: np.ndarray,
    offsets: np.ndarray,
    weights: tuple,
    lengths: np.ndarray,
    cond: np.ndarray,
    uniforms: np.ndarray,
    queues: np.ndarray,
    prev: np.ndarray,
    classes: np.ndarray,
    scratch: tuple,
    lpc: tuple,
) -> None:
    """:func:`_sample_block` with the groups spread over numba's threads (they share nothing)."""
    for g in numba.prange(bounds.shape[0] - 1):
        _sample_group(
            bounds[g], bounds[g + 1], start, stop, hop, temperature, scales, dilations, offsets, weights,
            lengths, cond, uniforms, queues, prev, classes, scratch, lpc,
        )  # fmt: skip


def _scratch(cfg: WaveNetConfig, batch: int) -> tuple[np.ndarray, ...]:
    """Work arrays of :func:`_sample_group`, one row per utterance: float32 taps ``2R``, gate ``G/2``,
    skip ``S``, head ``S``, logits; float64 gate pre-activation ``G``, layer output ``R + S``, head
    ``S``, softmax; and float64 scratch for :func:`_exp_inplace`."""
    r, g, s, c = cfg.residual_channels, cfg.gate_channels, cfg.skip_channels, cfg.n_classes
    f32 = [np.zeros((batch, n + _ROW_PAD), dtype=np.float32) for n in (2 * r, g // 2, s, s, c)]
    f64 = [np.zeros((batch, n + _ROW_PAD), dtype=np.float64) for n in (g, r + s, s, c, max(g, c))]
    return (*f32, *f64, f64[-1].view(np.int64))


@numba.njit(cache=True, nogil=True)
def _repeat_matmul(w: np.ndarray, x: np.ndarray, acc: np.ndarray, reps: int) -> None:
    for _ in range(reps):
        _matmul_acc(w, 0, x, acc, 0, x.shape[0])


def measure_peak_gflops(seconds: float = 0.2) -> float:
    """Best GFLOP/s of the loop's own multiply-add kernel in its most favourable setting.

    :func:`_matmul_acc` (float32 weights, float64 sums) on a ``64 x 128`` matrix that stays in the
    L1 cache, for a tile of four utterances (each widened weight feeds four multiply-adds), timed in
    runs of 1,000 products for about ``seconds``; the best run counts. This is the rate the sample loop
    could reach if nothing but its matrix products took time.
    """
    rng = np.random.default_rng(0)
    w = rng.standard_normal((1, 64, 128)).astype(np.float32)
    x = rng.standard_normal((4, 64)).astype(np.float32)
    acc = np.zeros((4, 128 + _ROW_PAD))
    reps = 1000
    _repeat_matmul(w, x, acc, 1)  # compile or load, and warm the caches
    flops = 2 * w.size * x.shape[0]
    best = math.inf
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        t0 = time.perf_counter()
        _repeat_matmul(w, x, acc, reps)
        best = min(best, (time.perf_counter() - t0) / reps)
    return flops / best / 1e9


@dataclass
class _Run:
    """The state of one generation: utterances in kernel order (lock-step groups, each sorted by
    decreasing length), their conditioning, uniforms, caches and sampled classes."""

    order: np.ndarray  # kernel row -> caller's utterance index
    bounds: np.ndarray  # (n_groups + 1,) group g is rows bounds[g]:bounds[g + 1]
    lengths: np.ndarray  # (B,) samples of each row
    cond: np.ndarray  # (B, F_max, L, G) float32 per-layer conditioning, zero-padded
    uniforms: np.ndarray  # (B, n_max) float64
    queues: np.ndarray  # (B, queue_size) float32 ring buffers
    prev: np.ndarray  # (B,) int64 previous class
    classes: np.ndarray  # (B, n_max) int64
    scratch: tuple[np.ndarray, ...]
    coeffs: np.ndarray  # (B, F_max, order) float64 predictor; order 0 for a plain WaveNet
    signal: np.ndarray  # (B, n_max) float32 samples in LPC mode, (B, 1) unused otherwise
    pred: np.ndarray  # (B,) float64 the current step's prediction (LPC mode)


class FastWaveNet:
    """The numba sample loop for one :class:`WaveNet`: same API and samples as ``WaveNet.generate``,
    plus per-utterance seeding of batches of unequal lengths (:meth:`generate_many`) and block
    streaming (:meth:`stream`, :meth:`stream_many`).

    Holds a snapshot of the model (weights exported once; a CPU copy of the model computes the
    per-utterance conditioning), so later changes to ``model`` need a new ``from_model``. With
    ``parallel``, a batch of several utterances is split into lock-step groups spread over numba's
    threads; the kernels release the GIL, so other Python threads (a server's) keep running meanwhile.
    """

    def __init__(self, model: WaveNet, parallel: bool = True) -> None:
        self.cfg: WaveNetConfig = model.cfg
        self.parallel = parallel
        self._model = copy.deepcopy(model).cpu().eval()
        w = {k: v.cpu().numpy() for k, v in self._model.inference_weights().items()}
        r = self.cfg.residual_channels

        def f32(x: np.ndarray) -> np.ndarray:
            return np.ascontiguousarray(x, dtype=np.float32)

        # The order _sample_group unpacks; every matrix is (in, out), see inference_weights.
        self._weights = (
            f32(w["embed"]),
            f32(w["dilated"]),
            f32(w["out_w"]),
            f32(w["out_b"]),
            # The last layer needs only the skip columns: a contiguous copy keeps its loop vectorised.
            # Single matrices carry a leading axis of 1, as _matmul_acc takes stacks of matrices.
            f32(w["out_w"][-1:, :, r:]),
            f32(w["head1_w"][None]),
            f32(w["head1_b"]),
            f32(w["head2_w"][None]),
            f32(w["head2_b"]),
        )
        self._scales = (np.float32(RESIDUAL_SCALE), np.float32(self._model.skip_scale))
        self._dilations = np.asarray(self.cfg.dilations, dtype=np.int64)
        # Layer l's ring buffer starts at offsets[l] in an utterance's queue row: dilation * R floats.
        self._offsets = np.concatenate([[0], np.cumsum(self._dilations[:-1])]).astype(np.int64) * r
        self._queue_size = int(self._dilations.sum()) * r
        n_classes = self.cfg.n_classes
        if self.cfg.lpc_order:
            # The order _sample_group unpacks after the run's arrays: embeddings of the last sample's
            # and the prediction's classes, every class's decoded sample, the class boundaries.
            self._lpc_weights = (
                f32(w["embed_signal"]),
                f32(w["embed_pred"]),
                mu_law_decode(np.arange(n_classes), n_classes),
                mu_law_thresholds(n_classes),
            )
        else:
            # Placeholders of the same types: a plain WaveNet never reads them.
            self._lpc_weights = (
                np.zeros((1, r), dtype=np.float32),
                np.zeros((1, r), dtype=np.float32),
                np.zeros(1, dtype=np.float32),
                np.zeros(1, dtype=np.float64),
            )

    @classmethod
    def from_model(cls, model: WaveNet, parallel: bool = True) -> FastWaveNet:
        """Export ``model``'s weights into contiguous float32 arrays."""
        return cls(model, parallel)

    def _n_groups(self, batch: int) -> int:
        """Lock-step groups for ``batch`` utterances: one per thread, but a group is split off only
        when each keeps a full tile of :data:`_TILE` utterances. A second thread helps only while a
        core is free; the weights a tile shares help always."""
        if not self.parallel:
            return 1
        return max(1, min(batch // _TILE, numba.get_num_threads()))

    def _start(
        self, conds: list[np.ndarray], uniforms: list[np.ndarray], coeffs: list[np.ndarray] | None = None
    ) -> _Run:
        """A run over utterances with per-layer conditioning ``(F_i, L, G)``, uniforms ``(n_i,)`` and,
        in LPC mode, predictor coefficients ``(F_i, order)`` float64."""
        cfg = self.cfg
        b = len(conds)
        n_groups = self._n_groups(b)
        by_length = sorted(range(b), key=lambda i: -len(uniforms[i]))
        # Round-robin over the groups evens out their work; each group stays sorted by length.
        groups = [by_length[g::n_groups] for g in range(n_groups)]
        order = np.asarray([i for grp in groups for i in grp], dtype=np.int64)
        bounds = np.cumsum([0] + [len(grp) for grp in groups]).astype(np.int64)
        lengths = np.asarray([len(uniforms[i]) for i in order], dtype=np.int64)
        n_max = int(lengths.max())
        cond = np.zeros((b, -(-n_max // cfg.hop_length), cfg.n_layers, cfg.gate_channels), dtype=np.float32)
        u = np.zeros((b, n_max), dtype=np.float64)
        lpc_order = self.cfg.lpc_order
        a = np.zeros((b, cond.shape[1] if lpc_order else 1, lpc_order), dtype=np.float64)
        for row, i in enumerate(order):
            cond[row, : conds[i].shape[0]] = conds[i]
            u[row, : len(uniforms[i])] = uniforms[i]
            if coeffs is not None:
                a[row, : coeffs[i].shape[0]] = coeffs[i]
        return _Run(
            order=order,
            bounds=bounds,
            lengths=lengths,
            cond=cond,
            uniforms=u,
            queues=np.zeros((b, self._queue_size), dtype=np.float32),
            prev=np.full(b, self._model.silence, dtype=np.int64),
            classes=np.zeros((b, n_max), dtype=np.int64),
            scratch=_scratch(cfg, b),
            coeffs=a,
            signal=np.zeros((b, n_max if lpc_order else 1), dtype=np.float32),
            pred=np.zeros(b, dtype=np.float64),
        )

    def _coefficients(self, mel: torch.Tensor) -> list[np.ndarray] | None:
        """Predictor ``(F, order)`` float64 of each utterance of mel ``(B, n_mels, F)``; None without LPC."""
        if not self.cfg.lpc_order:
            return None
        return list(self._model.lpc_coefficients(mel.detach().cpu().float()).numpy())

    def _audio(self, run: _Run, row: int | np.ndarray, start: int, stop: int) -> torch.Tensor:
        """Samples ``start:stop`` of kernel row(s) ``row`` as float32: the signal in LPC mode, else
        the decoded classes."""
        if self.cfg.lpc_order:
            return torch.from_numpy(run.signal[row, start:stop].copy())
        return mu_law_decode(torch.from_numpy(run.classes[row, start:stop]), self.cfg.n_classes)

    def _layer_conditioning(self, mel: torch.Tensor) -> np.ndarray:
        """``(B, n_mels, F)`` -> ``(B, F, L, G)`` float32: one frame of all layers per read."""
        with torch.no_grad():
            lc = self._model.layer_conditioning(mel.detach().cpu().float())  # (B, L, G, F)
            return np.ascontiguousarray(lc.permute(0, 3, 1, 2).numpy())

    def _blocks(
        self,
        run: _Run,
        temperature: float,
        should_stop: Callable[[], bool] | None,
        progress: Callable[[int, int], None] | None,
    ) -> Iterator[tuple[int, int]]:
        """Run the kernel block by block, yielding ``(start, stop)`` after each block is sampled."""
        cfg = self.cfg
        n = int(run.lengths.max())
        kernel = _sample_block_parallel if len(run.bounds) > 2 else _sample_block
        for start in range(0, n, FAST_BLOCK_SIZE):
            if should_stop is not None and should_stop():
                raise GenerationCancelled(f"cancelled after {start} of {n} samples")
            stop = min(start + FAST_BLOCK_SIZE, n)
            kernel(
                run.bounds, start, stop, cfg.hop_length, float(temperature), self._scales, self._dilations,
                self._offsets, self._weights, run.lengths, run.cond, run.uniforms, run.queues, run.prev,
                run.classes, run.scratch, (run.coeffs, run.signal, run.pred, *self._lpc_weights),
            )  # fmt: skip
            if progress is not None:
                progress(stop, n)
            yield start, stop

    def _batch_run(
        self,
        mel: torch.Tensor,
        uniforms: torch.Tensor | None,
        generator: torch.Generator | None,
        temperature: float,
    ) -> _Run:
        u = generation_uniforms(self.cfg, mel, uniforms, generator, temperature).numpy()
        lc = self._layer_conditioning(mel)
        return self._start(list(lc), list(u), self._coefficients(mel))

    def stream(
        self,
        mel: torch.Tensor,
        uniforms: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
        temperature: float = 1.0,
        should_stop: Callable[[], bool] | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> Iterator[torch.Tensor]:
        """Audio of mel ``(B, n_mels, F)`` as blocks ``(B, <= FAST_BLOCK_SIZE)`` float32, each yielded
        as soon as it is sampled; concatenated, they are :meth:`generate`'s output for the same arguments.

        Arguments are checked and the uniforms drawn on the call; the sampling runs lazily, one block
        per item taken.
        """
        run = self._batch_run(mel, uniforms, generator, temperature)
        return self._stream_batch(run, temperature, should_stop, progress)

    def _stream_batch(
        self,
        run: _Run,
        temperature: float,
        should_stop: Callable[[], bool] | None,
        progress: Callable[[int, int], None] | None,
    ) -> Iterator[torch.Tensor]:
        inverse = np.argsort(run.order)
        for start, stop in self._blocks(run, temperature, should_stop, progress):
            yield self._audio(run, inverse, start, stop)

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

        Arguments as :meth:`WaveNet.generate` (``generator`` draws all rows' uniforms, row by row);
        ``should_stop`` and ``progress`` are called between blocks of :data:`FAST_BLOCK_SIZE`
        samples. The result is on the CPU.
        """
        run = self._batch_run(mel, uniforms, generator, temperature)
        for _ in self._blocks(run, temperature, should_stop, progress):
            pass
        return self._audio(run, np.argsort(run.order), 0, int(run.lengths.max()))

    def _many_run(
        self,
        mels: Sequence[torch.Tensor],
        generators: Sequence[torch.Generator | None] | None,
        uniforms: Sequence[torch.Tensor] | None,
        temperature: float,
    ) -> _Run:
        if not mels:
            raise ValueError("give at least one mel")
        for name, given in (("generators", generators), ("uniforms", uniforms)):
            if given is not None and len(given) != len(mels):
                raise ValueError(f"{name} must have one entry per mel ({len(mels)}), got {len(given)}")
        conds, us, coeffs = [], [], []
        for i, mel in enumerate(mels):
            if mel.dim() != 2:
                raise ValueError(f"each mel must have shape (n_mels, F), got {tuple(mel.shape)} at {i}")
            u_i = None if uniforms is None else uniforms[i].reshape(1, -1)
            gen = None if generators is None else generators[i]
            # One utterance at a time: the same calls, and so the same numbers, as generate(mel[None]).
            us.append(generation_uniforms(self.cfg, mel[None], u_i, gen, temperature).numpy()[0])
            conds.append(self._layer_conditioning(mel[None])[0])
            a = self._coefficients(mel[None])
            if a is not None:
                coeffs.append(a[0])
        return self._start(conds, us, coeffs if self.cfg.lpc_order else None)

    def stream_many(
        self,
        mels: Sequence[torch.Tensor],
        generators: Sequence[torch.Generator | None] | None = None,
        uniforms: Sequence[torch.Tensor] | None = None,
        temperature: float = 1.0,
        should_stop: Callable[[], bool] | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> Iterator[list[torch.Tensor]]:
        """:meth:`generate_many` block by block: per block, one ``(<= FAST_BLOCK_SIZE,)`` float32
        piece per utterance (empty once that utterance has ended), yielded as soon as it is sampled.

        ``progress(done, total)`` counts samples of the longest utterance.
        """
        run = self._many_run(mels, generators, uniforms, temperature)
        return self._stream_many(run, temperature, should_stop, progress)

    def _stream_many(
        self,
        run: _Run,
        temperature: float,
        should_stop: Callable[[], bool] | None,
        progress: Callable[[int, int], None] | None,
    ) -> Iterator[list[torch.Tensor]]:
        rows = np.argsort(run.order)  # caller's index -> kernel row
        for start, stop in self._blocks(run, temperature, should_stop, progress):
            pieces = []
            for row in rows:
                end = max(start, min(stop, int(run.lengths[row])))
                pieces.append(self._audio(run, row, start, end))
            yield pieces

    def generate_many(
        self,
        mels: Sequence[torch.Tensor],
        generators: Sequence[torch.Generator | None] | None = None,
        uniforms: Sequence[torch.Tensor] | None = None,
        temperature: float = 1.0,
        should_stop: Callable[[], bool] | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> list[torch.Tensor]:
        """Audio ``(F_i * hop_length,)`` float32 for each mel ``(n_mels, F_i)``, sampled in lock step.

        Each utterance has its own random stream: ``generators[i]`` (or ``uniforms[i]``
        ``(F_i * hop_length,)``) gives utterance ``i`` exactly the audio of
        ``generate(mels[i][None], generator=generators[i])[0]``, whatever else is in the batch.
        Lengths may differ; an utterance that has ended drops out of the lock step.
        """
        run = self._many_run(mels, generators, uniforms, temperature)
        for _ in self._blocks(run, temperature, should_stop, progress):
            pass
        return [self._audio(run, row, 0, int(run.lengths[row])) for row in np.argsort(run.order)]
