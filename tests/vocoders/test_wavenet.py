"""WaveNet: causality, teacher-forced vs incremental logits, the reference sample loop, mu-law."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from vocoders.mulaw import mu_law_decode, mu_law_encode, silence_class
from vocoders.serialization import config_from_dict, config_to_dict
from vocoders.wavenet import (
    STOP_CHECK_INTERVAL,
    WAVENET_PRESETS,
    GenerationCancelled,
    WaveNet,
    WaveNetConfig,
    draw_uniforms,
    sample_from_logits,
    wavenet_config,
)

HOP = 16
N_MELS = 6
N_FRAMES = 6


def tiny_model(seed: int = 0) -> WaveNet:
    torch.manual_seed(seed)
    return WaveNet(wavenet_config("tiny", hop_length=HOP, n_mels=N_MELS)).eval()


def random_mel(batch: int = 2, frames: int = N_FRAMES, seed: int = 1) -> torch.Tensor:
    return torch.randn(batch, N_MELS, frames, generator=torch.Generator().manual_seed(seed))


def random_classes(batch: int, n: int, seed: int = 2) -> torch.Tensor:
    return torch.randint(0, 256, (batch, n), generator=torch.Generator().manual_seed(seed))


def test_presets_and_config() -> None:
    assert WaveNetConfig().dilations == tuple(2**i for i in range(10)) * 2
    cfg = wavenet_config("small", hop_length=200, n_mels=40)
    assert (cfg.hop_length, cfg.n_mels) == (200, 40)
    assert cfg.n_layers == WAVENET_PRESETS["small"].n_layers
    assert config_from_dict(WaveNetConfig, config_to_dict(cfg)) == cfg
    assert WaveNetConfig(n_layers=3, dilation_cycle=2).receptive_field == 1 + 2 + 1 + 1
    with pytest.raises(ValueError):
        wavenet_config("huge", hop_length=HOP, n_mels=N_MELS)
    with pytest.raises(ValueError):
        WaveNetConfig(gate_channels=7)


def test_forward_is_causal_with_the_stated_receptive_field() -> None:
    model = tiny_model()
    mel = random_mel()
    n = N_FRAMES * HOP
    x = random_classes(2, n)
    rf = model.cfg.receptive_field
    t0 = 20
    with torch.no_grad():
        base = model(x, mel)
        changed_tail = x.clone()
        changed_tail[:, t0:] = (changed_tail[:, t0:] + 97) % 256
        tail = model(changed_tail, mel)
        changed_one = x.clone()
        changed_one[:, t0] = (changed_one[:, t0] + 97) % 256
        one = model(changed_one, mel)
    assert base.shape == (2, 256, n)
    # logits[t] sees x[:t] only: positions <= t0 are untouched, t0 + 1 is not.
    assert torch.equal(tail[..., : t0 + 1], base[..., : t0 + 1])
    assert not torch.allclose(tail[..., t0 + 1], base[..., t0 + 1])
    # One changed sample reaches exactly receptive_field positions: t0 + 1 ... t0 + rf.
    assert torch.equal(one[..., : t0 + 1], base[..., : t0 + 1])
    assert not torch.allclose(one[..., t0 + rf], base[..., t0 + rf])
    torch.testing.assert_close(one[..., t0 + rf + 1 :], base[..., t0 + rf + 1 :], rtol=0, atol=1e-6)


def test_forward_accepts_fewer_samples_than_frames_cover() -> None:
    model = tiny_model()
    mel = random_mel()
    x = random_classes(2, N_FRAMES * HOP)
    with torch.no_grad():
        full = model(x, mel)
        part = model(x[:, :37], mel)
        with pytest.raises(ValueError):
            model(random_classes(2, N_FRAMES * HOP + 1), mel)
    torch.testing.assert_close(part, full[..., :37], rtol=0, atol=1e-6)


def test_conditioning_is_upsampled_by_exactly_hop() -> None:
    model = tiny_model()
    mel = random_mel(frames=5)
    with torch.no_grad():
        cond = model.conditioning(mel)
        per_layer = model.layer_conditioning(mel)
    assert cond.shape == (2, model.cfg.cond_channels, 5 * HOP)
    assert torch.equal(cond[..., 3 * HOP], cond[..., 4 * HOP - 1])
    assert per_layer.shape == (2, model.cfg.n_layers, model.cfg.gate_channels, 5)


def test_incremental_logits_equal_teacher_forced_logits() -> None:
    model = tiny_model()
    mel = random_mel()
    n = N_FRAMES * HOP
    x = random_classes(2, n)
    with torch.no_grad():
        teacher = model(x, mel)  # (B, n_classes, T)
    state = model.incremental_state(mel)
    prev = torch.full((2,), silence_class(), dtype=torch.long)
    for t in range(n):
        logits = state.step(prev)
        torch.testing.assert_close(logits, teacher[:, :, t], rtol=0, atol=1e-4)
        prev = x[:, t]  # force the true sample instead of sampling
    with pytest.raises(IndexError):
        state.step(prev)


def test_generate_is_deterministic_batch_invariant_and_full_length() -> None:
    model = tiny_model()
    mel = random_mel()
    n = N_FRAMES * HOP
    u = draw_uniforms(2, n, torch.Generator().manual_seed(5))
    with torch.inference_mode():
        wav = model.generate(mel, uniforms=u)
        again = model.generate(mel, uniforms=u)
        first = model.generate(mel[:1], uniforms=u[:1])
        second = model.generate(mel[1:], uniforms=u[1:])
        other = model.generate(mel, uniforms=draw_uniforms(2, n, torch.Generator().manual_seed(6)))
        seeded = model.generate(mel, generator=torch.Generator().manual_seed(5))
    assert wav.shape == (2, n) and wav.dtype == torch.float32
    assert wav.abs().max() <= 1.0
    assert torch.equal(wav, again)
    assert torch.equal(wav, torch.cat([first, second]))
    assert torch.equal(wav, seeded)  # the generator path draws the same uniforms
    assert not torch.equal(wav, other)


def test_generate_matches_replayed_incremental_sampling() -> None:
    # Each sample is the inverse-CDF draw from the step's logits, fed back as the next input.
    model = tiny_model()
    mel = random_mel(batch=1, frames=2)
    n = 2 * HOP
    u = draw_uniforms(1, n, torch.Generator().manual_seed(7))
    wav = model.generate(mel, uniforms=u, temperature=0.8)
    state = model.incremental_state(mel)
    prev = torch.full((1,), silence_class(), dtype=torch.long)
    classes = []
    for t in range(n):
        logits = state.step(prev).double() / 0.8
        cdf = torch.softmax(logits, dim=-1).cumsum(-1)[0]
        prev = torch.nonzero(cdf > u[0, t])[:1, 0]
        classes.append(int(prev))
    assert torch.equal(wav[0], mu_law_decode(torch.tensor(classes)))


def test_sample_loop_caches_hold_no_graph_in_grad_mode() -> None:
    # generate()'s audio is decoded from integer classes, so it never carries a graph; what must not
    # is every cache the loop reads and the logits of each step, or sampling builds a graph per sample.
    assert torch.is_grad_enabled()
    model = tiny_model()
    state = model.incremental_state(random_mel(batch=1, frames=1))
    cached = {**state.w, "embed": state.embed, "cond": state.cond}
    assert [k for k, v in cached.items() if v.requires_grad or v.grad_fn is not None] == []
    logits = state.step(torch.full((1,), silence_class(), dtype=torch.long))
    assert not logits.requires_grad and logits.grad_fn is None


def test_should_stop_cancels_and_progress_reports() -> None:
    model = tiny_model()
    frames = 40  # 640 samples: stop checks at 0, 256, 512
    mel = random_mel(batch=1, frames=frames)
    calls = []

    def stop_on_second_check() -> bool:
        calls.append(1)
        return len(calls) == 2

    with pytest.raises(GenerationCancelled):
        model.generate(mel, generator=torch.Generator().manual_seed(0), should_stop=stop_on_second_check)
    assert len(calls) == 2
    seen: list[tuple[int, int]] = []
    model.generate(mel, generator=torch.Generator().manual_seed(0), progress=lambda d, t: seen.append((d, t)))
    n = frames * HOP
    assert seen == [(STOP_CHECK_INTERVAL, n), (2 * STOP_CHECK_INTERVAL, n), (n, n)]


def test_sample_from_logits_inverse_cdf_rule() -> None:
    logits = torch.log(torch.tensor([[0.25, 0.25, 0.5]])).repeat(5, 1)
    u = torch.tensor([0.0, 0.2, 0.3, 0.6, 0.999999], dtype=torch.float64)
    assert sample_from_logits(logits, u).tolist() == [0, 0, 1, 2, 2]
    # A low temperature sharpens towards the most likely class.
    assert (
        sample_from_logits(logits[:1], torch.tensor([0.4], dtype=torch.float64), temperature=0.01).item() == 2
    )
    with pytest.raises(ValueError):
        tiny_model().generate(random_mel(batch=1, frames=1), temperature=0.0)


def test_mu_law_round_trip() -> None:
    q = torch.arange(256)
    assert torch.equal(mu_law_encode(mu_law_decode(q)), q)
    x = torch.linspace(-1.0, 1.0, 10001)
    err = (mu_law_decode(mu_law_encode(x)) - x).abs()
    # Half a quantisation step: largest at full scale (~0.022), tiny near zero.
    mu = 255
    y = torch.log1p(mu * x.abs()) / math.log1p(mu)  # companded magnitude
    half_step = (1 + mu) ** (y + 1 / mu) * math.log1p(mu) / mu / mu
    assert (err <= half_step).all()
    assert err.max() < 0.025 and err[x.abs() < 0.01].max() < 1e-3
    assert mu_law_encode(torch.tensor([-2.0, 0.0, 2.0])).tolist() == [0, silence_class(), 255]
    # numpy in, numpy out, same numbers.
    xn = np.linspace(-1.0, 1.0, 999, dtype=np.float32)
    qn = mu_law_encode(xn)
    assert isinstance(qn, np.ndarray) and np.array_equal(qn, mu_law_encode(torch.from_numpy(xn)).numpy())
    assert np.array_equal(mu_law_decode(qn), mu_law_decode(torch.from_numpy(qn)).numpy())
