"""Vocos recipe: a frame-rate iSTFT generator, spectral and phase losses first, then adversarial.

Two phases, both resumable at any step:

1. generator-only (``warmup_steps``): mel L1 x45 (HiFi-GAN's), multi-resolution STFT (spectral
   convergence + log magnitude) and the anti-wrapping phase losses (APNet) on the STFT of the
   generated audio, weighted by the target magnitude. A step costs a fraction of an adversarial
   one and gets the spectrum and most of the phase structure right;
2. adversarial: HiFi-GAN's framework on top, least-squares GAN + feature matching x2, with cheap
   discriminators: the MPD at ``disc_width`` and a slim MRD (UnivNet / Vocos) of ``mrd_channels``.

The generator trunk runs under bf16 autocast where the CPU computes bf16 natively
(:mod:`tts.training.precision`); its head, the iSTFT, every loss and every STFT run in float32.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from tts.training.common import GAN_CLIP_FACTOR, RunContext, load_init_weights
from tts.training.gan_recipe import GANRecipe
from tts.training.vocoder_data import VocoderData
from vocoders.audio import stft
from vocoders.discriminators import DiscriminatorConfig, Discriminators
from vocoders.kinds import VocoderKind
from vocoders.losses import (
    discriminator_loss,
    feature_matching_loss,
    generator_adversarial_loss,
    mel_l1_loss,
    scaled_resolutions,
)
from vocoders.phase_losses import phase_losses
from vocoders.vocos import VocosGenerator, vocos_config

logger = logging.getLogger(__name__)

# Vocos's MRD resolutions (n_fft, hop, win), tuned at 24 kHz; scaled to the voice's rate.
VOCOS_MRD_RESOLUTIONS: tuple[tuple[int, int, int], ...] = (
    (512, 128, 512),
    (1024, 256, 1024),
    (2048, 512, 2048),
)


@dataclass(frozen=True)
class VocosRecipeConfig:
    """Recipe hyperparameters."""

    generator: str = "base"  # preset of vocoders.vocos.VOCOS_PRESETS
    amplitude_prior: bool = False  # log-magnitude as a correction to the mel spread over linear bins
    segment_samples: int = 8192  # training segment length (HiFi-GAN's)
    lr: float = 5e-4  # AdamW learning rate (Vocos)
    betas: tuple[float, float] = (0.8, 0.9)  # AdamW betas (Vocos)
    lr_decay: float = 0.985  # exponential decay per steps_per_decay: lr / 4.5 after 100k steps
    steps_per_decay: int = 1000  # steps over which lr_decay applies once
    warmup_steps: int = 30_000  # generator-only steps before the discriminators join
    mel_weight: float = 45.0  # L1 on log-mel (HiFi-GAN's weight)
    stft_weight: float = 2.5  # multi-resolution STFT, sc + log-magnitude
    phase_weight: float = 10.0  # each anti-wrapping phase loss (IP, GD, IAF); they lie in [0, pi]
    ip_weight: float = 0.3  # relative weight of instantaneous phase: only defined up to the pulse timing
    feature_matching_weight: float = 2.0  # HiFi-GAN's
    adversarial_weight: float = 1.0  # LSGAN generator term
    disc_width: float = 0.25  # MPD channel multiplier (1.0 = published)
    mrd_channels: int = 16  # MRD conv channels (UnivNet: 32; 16 costs about half)


class VocosRecipe(GANRecipe):
    name = VocoderKind.VOCOS.value

    def __init__(self, ctx: RunContext, cfg: VocosRecipeConfig, mel_dir: Path | None = None) -> None:
        data = VocoderData(ctx, cfg.segment_samples, mel_dir=mel_dir)
        gen_cfg = vocos_config(cfg.generator, ctx.audio, amplitude_prior=cfg.amplitude_prior)
        generator = VocosGenerator(gen_cfg, ctx.audio).to(ctx.device)
        load_init_weights(ctx, generator, self.name)
        mrd = scaled_resolutions(ctx.audio.sample_rate, VOCOS_MRD_RESOLUTIONS)
        disc_cfg = DiscriminatorConfig(
            width=cfg.disc_width, use_msd=False, mrd_resolutions=mrd, mrd_channels=cfg.mrd_channels
        )
        disc = Discriminators(disc_cfg).to(ctx.device)
        super().__init__(ctx, cfg, data, generator, gen_cfg, disc)

    def _spectral_losses(
        self, fake: torch.Tensor, audio: torch.Tensor, mel: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        """Unweighted generator losses that need no discriminator; ``fake``/``audio`` ``(B, 1, T)``."""
        sc, mag = self.stft_loss(fake, audio)
        spec_hat = stft(fake.squeeze(1), self.ctx.audio)  # (B, n_fft // 2 + 1, T // hop)
        spec = stft(audio.squeeze(1), self.ctx.audio)
        phase = phase_losses(spec_hat.angle(), spec.angle(), spec.abs())
        return {
            "mel": mel_l1_loss(fake, mel, self.ctx.audio),
            "stft": sc + mag,
            "ip": phase.instantaneous,
            "gd": phase.group_delay,
            "iaf": phase.frequency,
        }

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
            with torch.autocast(self.ctx.device.type, dtype=torch.bfloat16, enabled=self.ctx.amp):
                real_outs, fake_outs, _, _ = self.d_train(audio, fake.detach())
            loss_d = discriminator_loss([r.float() for r in real_outs], [g.float() for g in fake_outs])
            loss_d.backward()
            torch.nn.utils.clip_grad_norm_(self.disc.parameters(), self.ctx.loop.grad_clip * GAN_CLIP_FACTOR)
            self.opt_d.step()
            self.sched_d.step()
            metrics["loss_d"] = loss_d.item()
        self.opt_g.zero_grad(set_to_none=True)
        terms = self._spectral_losses(fake, audio, mel)
        phase_total = self.cfg.ip_weight * terms["ip"] + terms["gd"] + terms["iaf"]
        loss_g = (
            self.cfg.mel_weight * terms["mel"]
            + self.cfg.stft_weight * terms["stft"]
            + self.cfg.phase_weight * phase_total
        )
        if adversarial:
            with torch.autocast(self.ctx.device.type, dtype=torch.bfloat16, enabled=self.ctx.amp):
                _, fake_outs, real_fmaps, fake_fmaps = self.d_train(audio, fake)
            loss_adv = generator_adversarial_loss([g.float() for g in fake_outs])
            loss_fm = feature_matching_loss(
                [[f.float() for f in fs] for fs in real_fmaps], [[f.float() for f in fs] for fs in fake_fmaps]
            )
            adv = self.cfg.adversarial_weight * loss_adv + self.cfg.feature_matching_weight * loss_fm
            loss_g = loss_g + adv
            metrics.update(loss_adv=loss_adv.item(), loss_fm=loss_fm.item())
        loss_g.backward()
        torch.nn.utils.clip_grad_norm_(self.generator.parameters(), self.ctx.loop.grad_clip * GAN_CLIP_FACTOR)
        self.opt_g.step()
        self.sched_g.step()
        metrics.update({f"loss_{k}": v.item() for k, v in terms.items()})
        metrics.update(loss=loss_g.item(), lr=self.sched_g.get_last_lr()[0])
        return metrics
