"""What the two GAN vocoder recipes (HiFi-GAN, Vocos-style) share: a generator and discriminators
with their AdamW optimizers and exponential decay, DDP wrapping, checkpoint layout, validation by
copy synthesis and export. Each recipe adds its own losses in ``train_step``."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel as DDP

from tts.training.common import RunContext, export_model, training_note
from tts.training.vocoder_data import VocoderData
from tts.training.vocoder_validation import score_copy_synthesis
from vocoders.losses import MultiResolutionSTFTLoss, scaled_resolutions

logger = logging.getLogger(__name__)


class GANRecipe:
    """Base of the GAN vocoder recipes; see the module docstring."""

    name: str

    def __init__(
        self,
        ctx: RunContext,
        cfg: Any,
        data: VocoderData,
        generator: torch.nn.Module,
        gen_cfg: Any,
        disc: torch.nn.Module,
    ) -> None:
        """``cfg`` holds ``lr``, ``betas``, ``lr_decay`` (per ``steps_per_decay`` steps)."""
        self.ctx = ctx
        self.cfg = cfg
        self.data = data
        self.generator = generator
        self.gen_cfg = gen_cfg
        self.disc = disc
        self.opt_g = torch.optim.AdamW(self.generator.parameters(), lr=cfg.lr, betas=cfg.betas)
        self.opt_d = torch.optim.AdamW(self.disc.parameters(), lr=cfg.lr, betas=cfg.betas)
        gamma = cfg.lr_decay ** (1.0 / cfg.steps_per_decay)
        self.sched_g = torch.optim.lr_scheduler.ExponentialLR(self.opt_g, gamma)
        self.sched_d = torch.optim.lr_scheduler.ExponentialLR(self.opt_d, gamma)
        self.stft_loss = MultiResolutionSTFTLoss(scaled_resolutions(ctx.audio.sample_rate)).to(ctx.device)
        self.g_train: torch.nn.Module = self.generator
        self.d_train: torch.nn.Module = self.disc
        if ctx.dist.enabled:
            self.g_train = DDP(self.generator)
            self.d_train = DDP(self.disc)

    def __len__(self) -> int:
        return len(self.data)

    def state_modules(self) -> dict[str, torch.nn.Module]:
        return {"generator": self.generator, "discriminators": self.disc}

    def state_optimizers(self) -> dict[str, Any]:
        return {"opt_g": self.opt_g, "opt_d": self.opt_d, "sched_g": self.sched_g, "sched_d": self.sched_d}

    def get_batch(self, indices: Sequence[int]) -> Any:
        return self.data.batch(indices)

    def _vocode(self, mel: torch.Tensor) -> np.ndarray:
        with torch.no_grad():
            return self.generator(mel.to(self.ctx.device)).reshape(-1).cpu().numpy()

    def validate(self, step: int, run_dir: Path) -> dict[str, float]:
        self.generator.eval()
        return score_copy_synthesis(self._vocode, self.data, self.ctx.audio, step, run_dir)

    def export(self, step: int, cpu_hours: float | None = None) -> None:
        note = training_note(self.ctx, self.name, self.cfg)
        symbols = self.data.symbols
        export_model(self.ctx, self.generator, self.name, self.gen_cfg, symbols, step, note, cpu_hours)
