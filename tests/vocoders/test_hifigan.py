"""HiFi-GAN generator and discriminators: shapes, presets, weight-norm folding, a few GAN steps."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch
from torch import nn
from torch.nn.utils import parametrize

from vocoders.audio import AudioConfig, mel_spectrogram
from vocoders.discriminators import DiscriminatorConfig, Discriminators
from vocoders.hifigan import (
    HIFIGAN_PRESETS,
    HiFiGANConfig,
    HiFiGANGenerator,
    count_parameters,
    factorise_hop,
    hifigan_config,
    upsample_padding,
)
from vocoders.losses import (
    HiFiGANLossWeights,
    discriminator_loss,
    feature_matching_loss,
    generator_adversarial_loss,
    generator_loss,
    mel_l1_loss,
)
from vocoders.serialization import config_from_dict, config_to_dict

N_MELS = 20
# Channels small enough for fast tests yet divisible by 2 ** (number of stages).
TEST_CHANNELS = 16
SMALL_AUDIO = AudioConfig(sample_rate=16000, n_fft=256, hop_length=64, win_length=256, n_mels=N_MELS, fmax=8000.0)


def _small(preset: str, hop: int) -> HiFiGANConfig:
    return dataclasses.replace(hifigan_config(preset, hop, N_MELS), upsample_initial_channel=TEST_CHANNELS)


@pytest.mark.parametrize(("preset", "hop"), [("v1", 256), ("v3", 256), ("v1", 200), ("v3", 200), ("tiny", 64)])
def test_generator_output_is_exactly_t_times_hop(preset: str, hop: int) -> None:
    torch.manual_seed(0)
    gen = _small(preset, hop)
    model = HiFiGANGenerator(gen).eval()
    assert model.hop_length == hop
    with torch.no_grad():
        for t in (1, 7, 13, 32):
            wav = model(torch.randn(2, N_MELS, t))
            assert wav.shape == (2, 1, t * hop)
            assert wav.abs().max() <= 1.0


@pytest.mark.parametrize("rate", range(1, 11))
def test_upsample_padding_gives_rate_times_length(rate: int) -> None:
    for kernel in range(rate, 2 * rate + 4):
        pad, out_pad = upsample_padding(rate, kernel)
        if out_pad >= rate:
            # Such a stage is rejected by HiFiGANConfig; nothing to check.
            continue
        conv = nn.ConvTranspose1d(1, 1, kernel, rate, padding=pad, output_padding=out_pad)
        for length in (1, 2, 5):
            assert conv(torch.zeros(1, 1, length)).shape[-1] == rate * length, (rate, kernel, length)


def test_presets_match_the_published_configs() -> None:
    v1, v2, v3 = HIFIGAN_PRESETS["v1"], HIFIGAN_PRESETS["v2"], HIFIGAN_PRESETS["v3"]
    assert (v1.upsample_initial_channel, v1.resblock) == (512, "1")
    assert v1.upsample_rates == (8, 8, 2, 2) and v1.upsample_kernel_sizes == (16, 16, 4, 4)
    assert v1.resblock_kernel_sizes == (3, 7, 11)
    assert v1.resblock_dilation_sizes == ((1, 3, 5),) * 3
    assert dataclasses.replace(v2, upsample_initial_channel=512) == v1 and v2.upsample_initial_channel == 128
    assert (v3.upsample_initial_channel, v3.resblock) == (256, "2")
    assert v3.upsample_rates == (8, 8, 4) and v3.upsample_kernel_sizes == (16, 16, 8)
    assert v3.resblock_kernel_sizes == (3, 5, 7)
    assert v3.resblock_dilation_sizes == ((1, 2), (2, 6), (3, 12))
    # Parameter counts from the HiFi-GAN paper (Table 1): 13.92 M, 0.92 M, 1.46 M.
    for name, published in (("v1", 13.92e6), ("v2", 0.92e6), ("v3", 1.46e6)):
        assert count_parameters(HiFiGANGenerator(HIFIGAN_PRESETS[name])) == pytest.approx(published, rel=0.01)


@pytest.mark.parametrize("preset", ["v1", "v2", "v3", "tiny"])
def test_hifigan_config_product_equals_hop(preset: str) -> None:
    for hop in (64, 100, 120, 128, 160, 200, 240, 256, 300, 480, 512):
        cfg = hifigan_config(preset, hop, n_mels=N_MELS)
        assert math.prod(cfg.upsample_rates) == hop == cfg.hop_length
        assert cfg.n_mels == N_MELS
        assert len(cfg.upsample_rates) == len(HIFIGAN_PRESETS[preset].upsample_rates)
        if hop != HIFIGAN_PRESETS[preset].hop_length:
            assert cfg.upsample_kernel_sizes == tuple(2 * r for r in cfg.upsample_rates)
            assert list(cfg.upsample_rates) == sorted(cfg.upsample_rates, reverse=True)


def test_hifigan_config_keeps_the_preset_when_it_fits_and_factorises_otherwise() -> None:
    assert hifigan_config("v1", 256) == HIFIGAN_PRESETS["v1"]
    assert hifigan_config("v1", 200).upsample_rates == (5, 5, 4, 2)
    assert hifigan_config("v1", 200).upsample_kernel_sizes == (10, 10, 8, 4)
    assert hifigan_config("v3", 200).upsample_rates == (8, 5, 5)
    assert factorise_hop(64, 4) == (4, 4, 2, 2)


def test_hifigan_config_rejects_impossible_hops_and_unknown_presets() -> None:
    with pytest.raises(ValueError):
        hifigan_config("v1", 7)  # prime: cannot be split into four factors >= 2
    with pytest.raises(ValueError):
        hifigan_config("v3", 4)  # 2 * 2: only two factors for three stages
    assert hifigan_config("v3", 12).upsample_rates == (3, 2, 2)
    with pytest.raises(ValueError):
        hifigan_config("v9", 256)


def test_config_rejects_inconsistent_fields() -> None:
    with pytest.raises(ValueError):
        HiFiGANConfig(upsample_rates=(8, 8), upsample_kernel_sizes=(16,))
    with pytest.raises(ValueError):
        HiFiGANConfig(resblock="3")
    with pytest.raises(ValueError):
        HiFiGANConfig(resblock_kernel_sizes=(4,), resblock_dilation_sizes=((1,),))
    with pytest.raises(ValueError):
        HiFiGANConfig(upsample_initial_channel=8)  # cannot halve 8 channels four times


def test_config_survives_a_json_round_trip() -> None:
    for cfg in (HIFIGAN_PRESETS["v3"], hifigan_config("tiny", 200, N_MELS)):
        assert config_from_dict(HiFiGANConfig, config_to_dict(cfg)) == cfg


def _conv_modules(model: nn.Module) -> list[nn.Module]:
    return [m for m in model.modules() if isinstance(m, (nn.Conv1d, nn.ConvTranspose1d))]


def test_remove_weight_norm_keeps_the_output_and_leaves_plain_convs() -> None:
    torch.manual_seed(1)
    model = HiFiGANGenerator(_small("v3", 200)).eval()
    convs = _conv_modules(model)
    assert convs and all(parametrize.is_parametrized(m, "weight") for m in convs)
    mel = torch.randn(1, N_MELS, 9)
    with torch.no_grad():
        before = model(mel)
        model.remove_weight_norm()
        after = model(mel)
    torch.testing.assert_close(after, before, atol=1e-5, rtol=0)
    assert not any(parametrize.is_parametrized(m) for m in model.modules())
    assert not any("parametrizations" in k for k in model.state_dict())
    model.remove_weight_norm()  # a second call is harmless


def test_weights_start_near_the_published_init_std() -> None:
    torch.manual_seed(2)
    model = HiFiGANGenerator(hifigan_config("v2", 256))
    assert model.ups[0].weight.std().item() == pytest.approx(0.01, rel=0.05)
    assert model.resblocks[0].convs1[0].weight.std().item() == pytest.approx(0.01, rel=0.1)


def test_generator_rejects_wrong_mel_shapes() -> None:
    model = HiFiGANGenerator(_small("tiny", 64))
    with pytest.raises(ValueError):
        model(torch.zeros(1, N_MELS + 1, 5))
    with pytest.raises(ValueError):
        model(torch.zeros(N_MELS, 5))
    with pytest.raises(ValueError):
        model(torch.zeros(1, N_MELS, 0))


@pytest.mark.parametrize("use_msd", [True, False])
def test_discriminators_return_matching_real_and_fake_outputs(use_msd: bool) -> None:
    torch.manual_seed(3)
    cfg = DiscriminatorConfig(width=0.125, use_msd=use_msd)
    disc = Discriminators(cfg)
    real, fake = torch.randn(2, 1, 1001), torch.randn(2, 1, 1001)  # 1001: no period divides it
    real_outs, fake_outs, real_fmaps, fake_fmaps = disc(real, fake)
    n = len(cfg.periods) + (cfg.msd_scales if use_msd else 0)
    assert len(real_outs) == len(fake_outs) == len(real_fmaps) == len(fake_fmaps) == n
    for r, g in zip(real_outs, fake_outs):
        assert r.shape == g.shape and r.dim() == 2 and r.shape[0] == 2
    for rs, gs in zip(real_fmaps, fake_fmaps):
        assert len(rs) == len(gs) > 1
        assert [r.shape for r in rs] == [g.shape for g in gs]
    # The MSD scales see 2x-pooled copies: each scale scores about half as many positions.
    if use_msd:
        lengths = [o.shape[1] for o in real_outs[len(cfg.periods) :]]
        assert lengths[0] > lengths[1] > lengths[2]


def test_discriminator_gradients_reach_the_fake_waveform() -> None:
    disc = Discriminators(DiscriminatorConfig(width=0.125))
    fake = torch.randn(1, 1, 600, requires_grad=True)
    _, fake_outs, _, _ = disc(torch.randn(1, 1, 600), fake)
    generator_adversarial_loss(fake_outs).backward()
    assert fake.grad is not None and fake.grad.abs().sum() > 0


def test_discriminator_norms_and_width() -> None:
    disc = Discriminators(DiscriminatorConfig(width=0.125))
    first_scale, second_scale = disc.msd.discriminators[0], disc.msd.discriminators[1]
    assert type(first_scale.convs[0].parametrizations.weight[0]).__name__ == "_SpectralNorm"
    assert type(second_scale.convs[0].parametrizations.weight[0]).__name__ == "_WeightNorm"
    assert disc.mpd.discriminators[0].convs[0].out_channels == 4  # 32 x 0.125
    for conv in first_scale.convs:
        assert conv.in_channels % conv.groups == 0 and conv.out_channels % conv.groups == 0
    full = Discriminators(DiscriminatorConfig())
    # Published sizes: MPD 41.1 M and MSD 29.6 M parameters.
    assert count_parameters(full.mpd) == pytest.approx(41.1e6, rel=0.01)
    assert count_parameters(full.msd) == pytest.approx(29.6e6, rel=0.01)
    assert count_parameters(disc) < count_parameters(full) / 30


def test_a_few_gan_steps_on_one_batch_reduce_the_mel_loss() -> None:
    torch.manual_seed(4)
    frames = 12
    n = frames * SMALL_AUDIO.hop_length
    t = torch.arange(n) / SMALL_AUDIO.sample_rate
    # A chirp with an envelope: a fixed, non-trivial target spectrogram.
    wav = 0.5 * torch.sin(2 * math.pi * (200 + 2000 * t) * t) * torch.hann_window(n, periodic=False)
    real = wav.view(1, 1, n)
    mel = mel_spectrogram(wav.view(1, n), SMALL_AUDIO)  # (1, n_mels, frames)
    gen = HiFiGANGenerator(hifigan_config("tiny", SMALL_AUDIO.hop_length, N_MELS))
    disc = Discriminators(DiscriminatorConfig(width=0.0625, msd_scales=2))
    opt_g = torch.optim.AdamW(gen.parameters(), lr=2e-3, betas=(0.8, 0.99))
    opt_d = torch.optim.AdamW(disc.parameters(), lr=2e-3, betas=(0.8, 0.99))
    weights = HiFiGANLossWeights()
    mel_losses = []
    # Starting from the near-silent output of the 0.01-std init, the loss creeps for ~12 steps
    # and then falls quickly; 20 steps clear the bar for every seed tried.
    for _ in range(20):
        fake = gen(mel)
        opt_d.zero_grad()
        real_outs, fake_outs, _, _ = disc(real, fake.detach())
        discriminator_loss(real_outs, fake_outs).backward()
        opt_d.step()
        opt_g.zero_grad()
        loss_mel = mel_l1_loss(fake, mel, SMALL_AUDIO)
        _, fake_outs, real_fmaps, fake_fmaps = disc(real, fake)
        loss = generator_loss(
            weights, generator_adversarial_loss(fake_outs), feature_matching_loss(real_fmaps, fake_fmaps), loss_mel
        )
        loss.backward()
        opt_g.step()
        mel_losses.append(loss_mel.item())
    with torch.no_grad():
        final = mel_l1_loss(gen(mel), mel, SMALL_AUDIO).item()
    assert final < 0.9 * mel_losses[0], mel_losses + [final]
