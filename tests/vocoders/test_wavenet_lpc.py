"""WaveNet in linear-prediction mode: a plain config is unchanged, teacher forcing is causal and models
the excitation, the reference loop is the teacher-forced forward on its own output, the numba loop
gives the reference loop's samples bit for bit, and an LPC WaveNet goes through the vocoder interface."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch

from vocoders.audio import AudioConfig
from vocoders.kinds import VocoderKind
from vocoders.lpc import predict
from vocoders.mulaw import mu_law_decode, silence_class
from vocoders.registry import load_vocoder
from vocoders.serialization import config_from_dict, config_to_dict, save_model
from vocoders.wavenet import WAVENET_PRESETS, WaveNet, draw_uniforms, sample_from_logits, wavenet_config
from vocoders.wavenet_fast import FastWaveNet

AUDIO = AudioConfig(sample_rate=16000, n_fft=256, hop_length=64, win_length=256, n_mels=20)
CFG = wavenet_config("tiny-lpc", hop_length=AUDIO.hop_length, n_mels=AUDIO.n_mels)
N_FRAMES = 4


def lpc_model(seed: int = 0, head_gain: float = 4.0) -> WaveNet:
    torch.manual_seed(seed)
    model = WaveNet(CFG, AUDIO).eval()
    with torch.no_grad():
        # A larger output gain gives peaked distributions, as a trained model has.
        model.head2.weight.mul_(head_gain)
    return model


def random_mel(batch: int = 2, frames: int = N_FRAMES, seed: int = 1) -> torch.Tensor:
    return torch.randn(batch, AUDIO.n_mels, frames, generator=torch.Generator().manual_seed(seed)) - 3.0


def test_plain_wavenet_is_unchanged() -> None:
    # Golden figures of the tiny plain WaveNet (seed 0) computed before LPC mode existed: the same
    # initial weights, the same samples for the same uniforms, the same logits.
    assert WAVENET_PRESETS["small"].lpc_order == 0 and WAVENET_PRESETS["small-lpc"].lpc_order == 16
    torch.manual_seed(0)
    model = WaveNet(wavenet_config("tiny", hop_length=16, n_mels=6)).eval()
    assert sum(p.double().sum().item() for p in model.state_dict().values()) == pytest.approx(
        19.037918145622825
    )
    mel = torch.randn(1, 6, 4, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        wav = model.generate(mel, uniforms=draw_uniforms(1, 64, torch.Generator().manual_seed(5)))
        x, lpc_in = model.teacher_inputs(wav, mel)
        logits = model(x, mel)
    assert lpc_in is None
    assert x[0, :12].tolist() == [163, 65, 90, 78, 66, 215, 144, 181, 214, 113, 89, 81]
    assert x[0, -4:].tolist() == [53, 196, 214, 15]
    golden = torch.tensor([0.44837, 0.10515, -0.33862, 0.19065])
    torch.testing.assert_close(logits[0, :4, 10], golden, atol=1e-5, rtol=0)


def test_lpc_config_round_trips_and_needs_the_audio_config() -> None:
    assert config_from_dict(type(CFG), config_to_dict(CFG)) == CFG and CFG.lpc_order == 8
    with pytest.raises(ValueError, match="AudioConfig"):
        WaveNet(CFG)
    with pytest.raises(ValueError, match="n_mels"):
        WaveNet(CFG, dataclasses.replace(AUDIO, n_mels=10))
    with pytest.raises(ValueError, match="lpc_order"):
        dataclasses.replace(CFG, lpc_order=-1)
    model = lpc_model()
    with pytest.raises(ValueError, match="lpc_in"):
        model(torch.zeros(1, 8, dtype=torch.long), random_mel(1))


def test_teacher_inputs_model_the_excitation_and_are_causal() -> None:
    model = lpc_model()
    mel = random_mel()
    n = N_FRAMES * AUDIO.hop_length
    audio = 0.3 * torch.randn(2, n, generator=torch.Generator().manual_seed(3))
    x, lpc_in = model.teacher_inputs(audio, mel)
    assert lpc_in is not None and x.shape == (2, n) and lpc_in.shape == (2, 2, n)
    p = predict(audio, model.lpc_coefficients(mel), AUDIO.hop_length)
    # Targets: the excitation's classes; inputs: the last sample's and the prediction's classes.
    assert torch.equal(x, model.quantize((audio.double() - p).clamp(-1, 1)))
    assert torch.equal(lpc_in[:, 1], model.quantize(p))
    assert torch.equal(lpc_in[:, 0, 1:], model.quantize(audio[:, :-1].double()))
    assert bool((lpc_in[:, 0, 0] == silence_class()).all())
    t0 = 100
    changed = audio.clone()
    changed[:, t0] += 0.2
    x_changed, lpc_changed = model.teacher_inputs(changed, mel)
    with torch.no_grad():
        base = model(x, mel, lpc_in)
        other = model(x_changed, mel, lpc_changed)
    # logits[t] sees s[:t] only: positions <= t0 are untouched, t0 + 1 is not.
    assert torch.equal(other[..., : t0 + 1], base[..., : t0 + 1])
    assert not torch.allclose(other[..., t0 + 1], base[..., t0 + 1])


def test_the_reference_loop_is_the_teacher_forced_forward_on_its_own_output() -> None:
    model = lpc_model()
    mel = random_mel()
    n = N_FRAMES * AUDIO.hop_length
    u = draw_uniforms(2, n, torch.Generator().manual_seed(5))
    with torch.no_grad():
        wav = model.generate(mel, uniforms=u, temperature=0.9)
        x, lpc_in = model.teacher_inputs(wav, mel)
        teacher = model(x, mel, lpc_in)  # (B, n_classes, T)
    assert wav.shape == (2, n) and wav.dtype == torch.float32 and wav.abs().max() <= 1.0
    assert lpc_in is not None
    p = predict(wav, model.lpc_coefficients(mel), AUDIO.hop_length)
    state = model.incremental_state(mel)
    prev = torch.full((2,), silence_class(), dtype=torch.long)
    for t in range(n):
        logits = state.step(prev, lpc_in[:, :, t])
        torch.testing.assert_close(logits, teacher[:, :, t], rtol=0, atol=1e-4)
        # Each sample is the prediction plus the excitation drawn from the step's logits.
        chosen = sample_from_logits(logits, u[:, t], temperature=0.9)
        expected = (p[:, t] + mu_law_decode(chosen).double()).clamp(-1, 1).float()
        assert torch.equal(wav[:, t], expected), t
        prev = x[:, t]
    # Not the plain decoding of the classes: the predictor shapes the signal.
    assert not torch.equal(wav, mu_law_decode(x))


def test_the_fast_loop_gives_the_reference_samples_in_lpc_mode() -> None:
    model = lpc_model()
    fast = FastWaveNet.from_model(model)
    mels = [random_mel(1, frames=f, seed=10 + f)[0] for f in (3, 5, 2)]
    gens = [torch.Generator().manual_seed(20 + i) for i in range(len(mels))]
    with torch.no_grad():
        reference = [
            model.generate(m[None], generator=torch.Generator().manual_seed(20 + i), temperature=0.8)[0]
            for i, m in enumerate(mels)
        ]
        many = fast.generate_many(mels, generators=gens, temperature=0.8)
        streamed = list(fast.stream_many(mels, [torch.Generator().manual_seed(20 + i) for i in range(3)],
                                         temperature=0.8))  # fmt: skip
        batch_mel = random_mel(2, frames=N_FRAMES)
        u = draw_uniforms(2, N_FRAMES * AUDIO.hop_length, torch.Generator().manual_seed(7))
        batch_ref = model.generate(batch_mel, uniforms=u)
        batch_fast = fast.generate(batch_mel, uniforms=u)
        batch_stream = torch.cat(list(fast.stream(batch_mel, uniforms=u)), dim=1)
    for i, ref in enumerate(reference):
        assert torch.equal(many[i], ref), i
        assert torch.equal(torch.cat([block[i] for block in streamed]), ref), i
    assert torch.equal(batch_fast, batch_ref) and torch.equal(batch_stream, batch_ref)


def test_an_lpc_wavenet_round_trips_through_the_vocoder_interface(tmp_path: Path) -> None:
    model = lpc_model()
    stem = tmp_path / "wavenet"
    save_model(stem, model, VocoderKind.WAVENET.value, CFG, AUDIO)
    mel = random_mel(1, frames=5, seed=4)
    with torch.no_grad():
        expected = model.generate(mel, generator=torch.Generator().manual_seed(5))[0].numpy()
    for backend in ("reference", "fast"):
        vocoder = load_vocoder(stem, AUDIO, backend)
        assert vocoder.config == CFG and "order-8 linear prediction" in vocoder.generator_name
        with torch.inference_mode():
            audio = vocoder.vocode([mel], seed=5)[0]
            streamed = np.concatenate(list(vocoder.stream(mel, chunk_frames=2, seed=5)))
        assert audio.shape == (5 * AUDIO.hop_length,) and audio.dtype == np.float32
        np.testing.assert_array_equal(audio, expected)
        np.testing.assert_array_equal(streamed, audio)
