"""HiFi-GAN recipe: the published adversarial recipe, after an optional generator-only warm-up.

Published recipe (Kong et al. 2020): AdamW lr 2e-4, betas (0.8, 0.99), exponential decay 0.999 per
epoch, LSGAN + feature matching x2 + mel L1 x45, segments of 8192 samples. A full adversarial step
with the published discriminators costs ~28 s at batch 8 on 2 CPU cores; the generator-only warm-up
(mel L1 + multi-resolution STFT, ~1 s a step for V3) gets a CPU run to intelligible audio first, and
slim discriminators (``disc_width``) make the adversarial phase affordable after it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from tts.training.common import GAN_CLIP_FACTOR, RunContext, load_init_weights
from tts.training.gan_recipe import GANRecipe
from tts.training.vocoder_data import VocoderData
from vocoders.discriminators import DiscriminatorConfig, Discriminators
from vocoders.hifigan import HiFiGANGenerator, hifigan_config
from vocoders.kinds import VocoderKind
from vocoders.losses import (
    HiFiGANLossWeights,
    discriminator_loss,
    feature_matching_loss,
    generator_adversarial_loss,
    generator_loss,
    mel_l1_loss,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class HiFiGANRecipeConfig:
    """Recipe hyperparameters (published values unless noted)."""

    generator: str = "v3"  # v1 | v2 | v3 | tiny: v3 runs fastest on CPU, v1 sounds best
    disc_width: float = 0.25  # discriminator channel multiplier; 1.0 is the published size
    segment_samples: int = 8192  # training segment length (published: 8192)
    lr: float = 2e-4  # AdamW learning rate (published)
    betas: tuple[float, float] = (0.8, 0.99)  # AdamW betas (published)
    lr_decay: float = 0.999  # per-epoch exponential decay (published), applied per step
    steps_per_decay: int = 1000  # steps treated as one "epoch" for the decay
    warmup_steps: int = 0  # generator-only steps (mel + MR-STFT) before the discriminators join
    stft_weight: float = 2.5  # MR-STFT weight in warm-up (sc + mag), relative to mel x45
    weights: HiFiGANLossWeights = field(default_factory=HiFiGANLossWeights)  # adversarial-phase weights (published)


class HiFiGANRecipe(GANRecipe):
    name = VocoderKind.HIFIGAN.value

    def __init__(self, ctx: RunContext, cfg: HiFiGANRecipeConfig, mel_dir: Path | None = None) -> None:
        data = VocoderData(ctx, cfg.segment_samples, mel_dir=mel_dir)
        gen_cfg = hifigan_config(cfg.generator, ctx.audio.hop_length, ctx.audio.n_mels)
        generator = HiFiGANGenerator(gen_cfg).to(ctx.device)
        load_init_weights(ctx, generator, self.name)
        disc = Discriminators(DiscriminatorConfig(width=cfg.disc_width)).to(ctx.device)
        super().__init__(ctx, cfg, data, generator, gen_cfg, disc)

    def train_step(self, step: int, batch: Any) -> dict[str, float]:
        audio, mel = (t.to(self.ctx.device) for t in batch)  # (B, T), (B, n_mels, T // hop)
        audio = audio.unsqueeze(1)  # (B, T) -> (B, 1, T)
        self.g_train.train()
        adversarial = step >= self.cfg.warmup_steps
        with torch.autocast(self.ctx.device.type, dtype=torch.bfloat16, enabled=self.ctx.amp):
            fake = self.g_train(mel)
        fake = fake.float()
        metrics: dict[str, float] = {}
        if adversarial:
            self.opt_d.zero_grad(set_to_none=True)
            real_outs, fake_outs, _, _ = self.d_train(audio, fake.detach())
            loss_d = discriminator_loss(real_outs, fake_outs)
            loss_d.backward()
            torch.nn.utils.clip_grad_norm_(self.disc.parameters(), self.ctx.loop.grad_clip * GAN_CLIP_FACTOR)
            self.opt_d.step()
            metrics["loss_d"] = loss_d.item()
        self.opt_g.zero_grad(set_to_none=True)
        loss_mel = mel_l1_loss(fake, mel, self.ctx.audio)
        if adversarial:
            _, fake_outs, real_fmaps, fake_fmaps = self.d_train(audio, fake)
            loss_adv = generator_adversarial_loss(fake_outs)
            loss_fm = feature_matching_loss(real_fmaps, fake_fmaps)
            loss_g = generator_loss(self.cfg.weights, loss_adv, loss_fm, loss_mel)
            metrics.update(loss_adv=loss_adv.item(), loss_fm=loss_fm.item())
        else:
            sc, mag = self.stft_loss(fake.squeeze(1), audio.squeeze(1))
            loss_g = self.cfg.weights.mel * loss_mel + self.cfg.stft_weight * (sc + mag)
            metrics.update(loss_sc=sc.item(), loss_mag=mag.item())
        loss_g.backward()
        torch.nn.utils.clip_grad_norm_(self.generator.parameters(), self.ctx.loop.grad_clip * GAN_CLIP_FACTOR)
        self.opt_g.step()
        self.sched_g.step()
        if adversarial:
            self.sched_d.step()
        metrics.update(loss=loss_g.item(), loss_mel=loss_mel.item(), lr=self.sched_g.get_last_lr()[0])
        return metrics
