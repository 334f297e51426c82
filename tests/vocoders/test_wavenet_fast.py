"""The numba sample loop reproduces the reference loop's samples exactly, alone, in lock-step batches and
block by block, and can be cancelled; the FLOP count behind its floor."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from vocoders import wavenet_fast
from vocoders.wavenet import (
    GenerationCancelled,
    WaveNet,
    WaveNetConfig,
    draw_uniforms,
    floor_rtf,
    sample_flops,
    wavenet_config,
)
from vocoders.wavenet_fast import FastWaveNet

HOP = 16
N_MELS = 6
# Widths that are not multiples of the kernel's 4-row unrolling, to cover its remainder loop.
ODD_WIDTHS = WaveNetConfig(
    n_mels=N_MELS,
    hop_length=HOP,
    n_layers=5,
    dilation_cycle=3,
    residual_channels=7,
    gate_channels=10,
    skip_channels=9,
    cond_channels=5,
    n_classes=64,
)


def make_model(cfg: WaveNetConfig, head_gain: float, seed: int = 0) -> WaveNet:
    torch.manual_seed(seed)
    model = WaveNet(cfg).eval()
    with torch.no_grad():
        # A larger output gain gives peaked distributions, as a trained model has.
        model.head2.weight.mul_(head_gain)
    return model


def random_mel(batch: int, frames: int, seed: int = 1) -> torch.Tensor:
    return torch.randn(batch, N_MELS, frames, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize(
    ("cfg", "head_gain", "temperature"),
    [
        (wavenet_config("tiny", hop_length=HOP, n_mels=N_MELS), 1.0, 1.0),
        (wavenet_config("tiny", hop_length=HOP, n_mels=N_MELS), 8.0, 0.7),
        (ODD_WIDTHS, 4.0, 1.3),
    ],
)
def test_fast_equals_reference_exactly(cfg: WaveNetConfig, head_gain: float, temperature: float) -> None:
    model = make_model(cfg, head_gain)
    mel = random_mel(batch=2, frames=12)
    u = draw_uniforms(2, 12 * HOP, torch.Generator().manual_seed(3))
    with torch.inference_mode():
        reference = model.generate(mel, uniforms=u, temperature=temperature)
    fast = FastWaveNet.from_model(model).generate(mel, uniforms=u, temperature=temperature)
    assert fast.shape == (2, 12 * HOP)
    assert torch.equal(fast, reference)
    assert len(torch.unique(fast)) > 10  # the loop really samples


def test_block_boundaries_and_generator_path(monkeypatch: pytest.MonkeyPatch) -> None:
    model = make_model(wavenet_config("tiny", hop_length=HOP, n_mels=N_MELS), 4.0)
    mel = random_mel(batch=2, frames=10)
    fast = FastWaveNet.from_model(model)
    whole = fast.generate(mel, generator=torch.Generator().manual_seed(9))
    # Blocks that split frames and ring buffers mid-way must carry the state over exactly.
    monkeypatch.setattr(wavenet_fast, "FAST_BLOCK_SIZE", 37)
    seen: list[tuple[int, int]] = []
    blocked = fast.generate(
        mel, generator=torch.Generator().manual_seed(9), progress=lambda d, t: seen.append((d, t))
    )
    assert torch.equal(blocked, whole)
    n = 10 * HOP
    assert seen[-1] == (n, n) and [d for d, _ in seen] == sorted({*range(37, n, 37), n})
    with torch.inference_mode():
        reference = model.generate(mel, generator=torch.Generator().manual_seed(9))
    assert torch.equal(whole, reference)


def test_batch_equals_single_utterances_with_or_without_threads() -> None:
    model = make_model(wavenet_config("tiny", hop_length=HOP, n_mels=N_MELS), 4.0)
    fast = FastWaveNet.from_model(model)
    mel = random_mel(batch=2, frames=6)
    u = draw_uniforms(2, 6 * HOP, torch.Generator().manual_seed(4))
    both = fast.generate(mel, uniforms=u)
    assert torch.equal(FastWaveNet.from_model(model, parallel=False).generate(mel, uniforms=u), both)
    assert torch.equal(both[0], fast.generate(mel[:1], uniforms=u[:1])[0])
    assert torch.equal(both[1], fast.generate(mel[1:], uniforms=u[1:])[0])


def test_export_is_a_snapshot() -> None:
    model = make_model(wavenet_config("tiny", hop_length=HOP, n_mels=N_MELS), 4.0)
    fast = FastWaveNet.from_model(model)
    mel = random_mel(batch=1, frames=4)
    before = fast.generate(mel, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
    assert torch.equal(fast.generate(mel, generator=torch.Generator().manual_seed(2)), before)


def test_cancel_between_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    model = make_model(wavenet_config("tiny", hop_length=HOP, n_mels=N_MELS), 1.0)
    fast = FastWaveNet.from_model(model)
    monkeypatch.setattr(wavenet_fast, "FAST_BLOCK_SIZE", 50)
    progress: list[int] = []
    checks: list[int] = []

    def stop_on_third_check() -> bool:
        checks.append(1)
        return len(checks) == 3

    with pytest.raises(GenerationCancelled):
        fast.generate(
            random_mel(batch=2, frames=20),
            generator=torch.Generator().manual_seed(0),
            should_stop=stop_on_third_check,
            progress=lambda d, t: progress.append(d),
        )
    assert progress == [50, 100]  # two blocks ran, the third never started
    with pytest.raises(ValueError):
        fast.generate(random_mel(batch=1, frames=1), uniforms=torch.rand(1, 3))


def per_utterance_mels(frames: list[int], seed: int = 5) -> list[torch.Tensor]:
    return [random_mel(1, f, seed + i)[0] for i, f in enumerate(frames)]  # each (n_mels, F_i)


@pytest.mark.parametrize("parallel", [False, True])
def test_many_equals_each_utterance_alone_with_its_own_seed(parallel: bool) -> None:
    model = make_model(ODD_WIDTHS, 4.0)
    fast = FastWaveNet.from_model(model, parallel=parallel)
    # Nine utterances of different lengths: tiles of four, two and one, and (in parallel) two groups.
    frames = [5, 9, 3, 7, 6, 2, 8, 4, 5]
    mels = per_utterance_mels(frames)
    seeds = [11 * i + 1 for i in range(len(frames))]
    many = fast.generate_many(
        mels, generators=[torch.Generator().manual_seed(s) for s in seeds], temperature=0.9
    )
    assert [w.shape for w in many] == [(f * HOP,) for f in frames]
    for mel, seed, wav in zip(mels, seeds, many, strict=True):
        alone = fast.generate(mel[None], generator=torch.Generator().manual_seed(seed), temperature=0.9)[0]
        assert torch.equal(wav, alone)
    # And against the reference loop, for the first and the longest utterance.
    with torch.inference_mode():
        for i in (0, 1):
            ref = model.generate(
                mels[i][None], generator=torch.Generator().manual_seed(seeds[i]), temperature=0.9
            )
            assert torch.equal(many[i], ref[0])
    # Per-utterance uniforms give the same as per-utterance generators.
    u = [
        draw_uniforms(1, f * HOP, torch.Generator().manual_seed(s))[0]
        for f, s in zip(frames, seeds, strict=True)
    ]
    again = fast.generate_many(mels, uniforms=u, temperature=0.9)
    assert all(torch.equal(a, b) for a, b in zip(again, many, strict=True))


def test_many_checks_its_arguments() -> None:
    fast = FastWaveNet.from_model(make_model(wavenet_config("tiny", hop_length=HOP, n_mels=N_MELS), 1.0))
    mels = per_utterance_mels([2, 3])
    with pytest.raises(ValueError, match="one entry per mel"):
        fast.generate_many(mels, generators=[torch.Generator()])
    with pytest.raises(ValueError, match=r"\(n_mels, F\)"):
        fast.generate_many([mels[0][None]])
    with pytest.raises(ValueError):
        fast.generate_many([])
    with pytest.raises(ValueError):
        fast.generate_many(mels, uniforms=[torch.rand(2 * HOP), torch.rand(5)])


def test_stream_is_lazy_and_concatenates_to_generate(monkeypatch: pytest.MonkeyPatch) -> None:
    model = make_model(wavenet_config("tiny", hop_length=HOP, n_mels=N_MELS), 4.0)
    fast = FastWaveNet.from_model(model)
    mel = random_mel(batch=2, frames=10)
    whole = fast.generate(mel, generator=torch.Generator().manual_seed(9))
    monkeypatch.setattr(wavenet_fast, "FAST_BLOCK_SIZE", 37)
    blocks_done: list[int] = []
    stream = fast.stream(
        mel, generator=torch.Generator().manual_seed(9), progress=lambda d, t: blocks_done.append(d)
    )
    assert blocks_done == []  # nothing is sampled before the first block is asked for
    first = next(stream)
    assert first.shape == (2, 37) and blocks_done == [37]  # one block's work, not the utterance's
    rest = list(stream)
    assert [b.shape[1] for b in rest] == [37, 37, 37, 160 - 4 * 37]
    assert torch.equal(torch.cat([first, *rest], dim=1), whole)


def test_stream_many_concatenates_to_generate_many(monkeypatch: pytest.MonkeyPatch) -> None:
    model = make_model(wavenet_config("tiny", hop_length=HOP, n_mels=N_MELS), 4.0)
    fast = FastWaveNet.from_model(model)
    frames = [3, 7, 5]
    mels = per_utterance_mels(frames)

    def gens() -> list[torch.Generator]:
        return [torch.Generator().manual_seed(s) for s in (4, 5, 6)]

    whole = fast.generate_many(mels, generators=gens())
    monkeypatch.setattr(wavenet_fast, "FAST_BLOCK_SIZE", 40)
    blocks_done: list[int] = []
    stream = fast.stream_many(mels, generators=gens(), progress=lambda d, t: blocks_done.append(d))
    first = next(stream)
    assert [p.shape[0] for p in first] == [40, 40, 40] and blocks_done == [40]
    pieces = [first, *stream]
    assert len(pieces) == -(-7 * HOP // 40)
    assert [p.shape[0] for p in pieces[-1]] == [0, 7 * HOP - 2 * 40 * 1 - 40 * (len(pieces) - 3), 0]
    for i in range(3):
        assert torch.equal(torch.cat([blocks[i] for blocks in pieces]), whole[i])


def test_sample_flops_hand_count() -> None:
    tiny = wavenet_config("tiny", hop_length=HOP, n_mels=N_MELS)  # L=4, R=8, G=16, S=8, C=256
    dilated = 4 * (2 * 8) * 16  # two taps of R in, G out, every layer
    out = 3 * (16 // 2) * (8 + 8) + (16 // 2) * 8  # residual + skip columns; the last layer skip only
    head = 8 * 8 + 8 * 256
    assert sample_flops(tiny) == 2 * (dilated + out + head) == 7168
    assert sample_flops(wavenet_config("small", hop_length=256, n_mels=80)) == 819_200
    assert floor_rtf(tiny, sample_rate=16000, gflops=1.0) == pytest.approx(7168 * 16000 / 1e9)


def test_sample_flops_matches_the_weights_the_loop_reads() -> None:
    # Every weight of the per-sample matrix products is one multiply-add per sample.
    model = make_model(ODD_WIDTHS, 1.0)
    w = model.inference_weights()
    r = ODD_WIDTHS.residual_channels
    macs = w["dilated"].numel() + w["out_w"][:-1].numel() + w["out_w"][-1, :, r:].numel()
    macs += w["head1_w"].numel() + w["head2_w"].numel()
    assert sample_flops(ODD_WIDTHS) == 2 * macs


def test_vectorised_exp_within_one_ulp_of_libm() -> None:
    x = np.concatenate(
        [np.linspace(-700.0, 700.0, 20001), np.random.default_rng(0).standard_normal(20000) * 5]
    )
    got = x.reshape(1, -1).copy()
    scale = np.zeros_like(got)
    wavenet_fast._exp_inplace(got, 0, x.size, scale, scale.view(np.int64))
    want = np.array([math.exp(v) for v in x])  # libm
    assert np.all(np.abs(got[0] - want) <= np.spacing(want))
    assert np.mean(got[0] == want) > 0.97  # mostly libm's value to the last bit
    # Beyond the clamp the gate and softmax see values that act as inf and 0.
    big = np.array([[800.0, -800.0]])
    wavenet_fast._exp_inplace(big, 0, 2, scale, scale.view(np.int64))
    assert big[0, 0] > 1e307 and 0 < big[0, 1] < 1e-307


def test_matmul_sums_of_an_utterance_do_not_depend_on_its_tile() -> None:
    # Bit-identical float64 sums whatever the batch: seven rows go through tiles of four, two and one.
    rng = np.random.default_rng(0)
    # Magnitudes spread over 2**-20 .. 2**20, so that sums round and another order would show.
    w = (rng.standard_normal((2, 13, 11)) * 2.0 ** rng.integers(-20, 20, (2, 13, 11))).astype(np.float32)
    x = rng.standard_normal((7, 13)).astype(np.float32)  # 13 inputs: a remainder row too
    together = np.zeros((7, 11))
    wavenet_fast._matmul_acc(w, 1, x, together, 0, 7)
    for b in range(7):
        alone = np.zeros((7, 11))
        wavenet_fast._matmul_acc(w, 1, x, alone, b, b + 1)
        assert np.array_equal(alone[b], together[b])
    np.testing.assert_allclose(together, x.astype(np.float64) @ w[1].astype(np.float64), rtol=1e-12)
