"""The numba sample loop reproduces the reference loop's samples exactly and can be cancelled."""

from __future__ import annotations

import pytest
import torch

from vocoders import wavenet_fast
from vocoders.wavenet import GenerationCancelled, WaveNet, WaveNetConfig, draw_uniforms, wavenet_config
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


def test_batch_equals_single_utterances_in_either_kernel() -> None:
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
