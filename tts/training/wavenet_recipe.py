"""WaveNet recipe: teacher-forced cross-entropy on mu-law classes of random segments, with EMA.

Every sample's class is predicted from the true previous samples and the mel (teacher forcing), so
a whole segment trains in one parallel forward. An LPC WaveNet (``small-lpc``) trains the same way
on the classes of the excitation behind its mel-derived predictor (``WaveNet.teacher_inputs``).
The exported weights are an exponential moving average of the trained ones, which is what makes
sampled audio clean (Oord et al., 2016; Tacotron 2)."""

from __future__ import annotations

import copy
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel as DDP

from tts.training.common import RunContext, export_model, load_init_weights, training_note
from tts.training.vocoder_data import VocoderData
from tts.training.vocoder_validation import score_copy_synthesis
from vocoders.kinds import VocoderKind
from vocoders.wavenet import WaveNet, wavenet_config
from vocoders.wavenet_fast import FastWaveNet

logger = logging.getLogger(__name__)

# Validation segments scored by teacher-forced cross-entropy (cheap, unlike sampling).
N_VAL_UTTERANCES = 4
# Validation utterances sampled whole for PESQ / STOI: sampling runs at about real time, so fewer.
N_SAMPLED_UTTERANCES = 4
# Seed of validation sampling: the same draws at every pass, so the curve shows the model, not luck.
VALIDATION_SEED = 0


@dataclass(frozen=True)
class WaveNetRecipeConfig:
    """Recipe hyperparameters."""

    model: str = "small"  # tiny | small (2 CPU cores) | small-lpc (small + linear prediction) | base (GPU)
    segment_samples: int = 8000  # half a second at 16 kHz: several receptive fields per segment
    lr: float = 1e-3  # Adam; WaveNet trains stably at this rate with gradient clipping
    lr_decay: float = 0.5  # multiplied into the learning rate every decay_steps
    decay_steps: int = 20_000  # steps between learning-rate halvings
    ema_decay: float = 0.999  # EMA of weights for inference (0.9999 suits long GPU runs)


class WaveNetRecipe:
    name = VocoderKind.WAVENET.value

    def __init__(self, ctx: RunContext, cfg: WaveNetRecipeConfig, mel_dir: Path | None = None) -> None:
        self.ctx = ctx
        self.cfg = cfg
        self.data = VocoderData(ctx, cfg.segment_samples, mel_dir=mel_dir)
        self.model_cfg = wavenet_config(cfg.model, ctx.audio.hop_length, ctx.audio.n_mels)
        self.model = WaveNet(self.model_cfg, ctx.audio).to(ctx.device)
        load_init_weights(ctx, self.model, self.name)
        self.ema = copy.deepcopy(self.model).requires_grad_(False)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=cfg.lr)
        self.sched = torch.optim.lr_scheduler.StepLR(self.opt, step_size=cfg.decay_steps, gamma=cfg.lr_decay)
        self.train_model: torch.nn.Module = DDP(self.model) if ctx.dist.enabled else self.model

    def __len__(self) -> int:
        return len(self.data)

    def state_modules(self) -> dict[str, torch.nn.Module]:
        return {"model": self.model, "ema": self.ema}

    def state_optimizers(self) -> dict[str, Any]:
        return {"opt": self.opt, "sched": self.sched}

    def get_batch(self, indices: Sequence[int]) -> Any:
        return self.data.batch(indices)

    def _loss(self, model: torch.nn.Module, audio: torch.Tensor, mel: torch.Tensor) -> torch.Tensor:
        # Classes of the audio, or of the excitation and the predictor's inputs in LPC mode.
        target, lpc_in = self.model.teacher_inputs(audio, mel)  # (B, T) long, (B, 2, T) long or None
        with torch.autocast(self.ctx.device.type, dtype=torch.bfloat16, enabled=self.ctx.amp):
            logits = model(target, mel, lpc_in)  # (B, n_classes, T)
        return F.cross_entropy(logits.float(), target)

    def train_step(self, step: int, batch: Any) -> dict[str, float]:
        audio, mel = (t.to(self.ctx.device) for t in batch)
        self.train_model.train()
        loss = self._loss(self.train_model, audio, mel)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.ctx.loop.grad_clip)
        self.opt.step()
        self.sched.step()
        with torch.no_grad():
            for e, p in zip(self.ema.parameters(), self.model.parameters()):
                e.lerp_(p, 1.0 - self.cfg.ema_decay)
            for e, b in zip(self.ema.buffers(), self.model.buffers()):
                e.copy_(b)
        return {"loss": loss.item(), "grad_norm": float(grad_norm), "lr": self.sched.get_last_lr()[0]}

    def validate(self, step: int, run_dir: Path) -> dict[str, float]:
        self.ema.eval()
        losses = []
        with torch.no_grad():
            for i, batch in enumerate(self.data.validation_segments()):
                if i >= N_VAL_UTTERANCES:
                    break
                audio, mel = (t.to(self.ctx.device) for t in batch)
                losses.append(self._loss(self.ema, audio, mel).item())
        # A snapshot of the EMA weights in the exact fast sample loop, as inference runs them.
        sampler = FastWaveNet.from_model(self.ema)

        def vocode(mel: torch.Tensor) -> np.ndarray:
            rng = torch.Generator().manual_seed(VALIDATION_SEED)
            return sampler.generate(mel, generator=rng)[0].numpy()

        quality = score_copy_synthesis(vocode, self.data, self.ctx.audio, step, run_dir, N_SAMPLED_UTTERANCES)
        return {"val_ce_ema": sum(losses) / max(len(losses), 1), **quality}

    def export(self, step: int, cpu_hours: float | None = None) -> None:
        note = training_note(self.ctx, self.name, self.cfg)
        export_model(self.ctx, self.ema, self.name, self.model_cfg, self.data.symbols, step, note, cpu_hours)
