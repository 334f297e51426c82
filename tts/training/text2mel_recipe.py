"""Text-to-mel recipe: learned alignment (forward-sum + MAS) with a ramped binarisation loss.

The aligner needs no external tool: early on, its soft attention is dominated by the diagonal
beta-binomial prior (it "warms up on its own prior"), the forward-sum loss sharpens it, and the
binarisation loss — ramped in after ``bin_start`` steps — pulls the soft attention towards the hard
MAS path whose durations train the duration predictor (MSE on log durations).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch.nn.parallel import DistributedDataParallel as DDP

from tts.corpus.dataset import Text2MelDataset, collate_text2mel
from tts.frontend.symbols import DEFAULT_SYMBOLS
from tts.text2mel.losses import binarization_weight, text2mel_loss
from tts.text2mel.model import Text2Mel, text2mel_config
from tts.training.common import RunContext, export_model, load_init_weights, training_note
from tts.training.vocoder_data import build_cache

logger = logging.getLogger(__name__)

# Items used to estimate the mel mean/std the model normalises with.
N_STAT_ITEMS = 200
# Validation batches per validation pass.
N_VAL_BATCHES = 4


@dataclass(frozen=True)
class Text2MelRecipeConfig:
    """Recipe hyperparameters."""

    model: str = "small"  # tiny | small (CPU) | base (GPU)
    lr: float = 1e-3  # AdamW; LSTMs with layer-normalised inputs are stable here
    weight_decay: float = 1e-6  # light regularisation
    warmup_steps: int = 500  # linear learning-rate warm-up
    lr_decay: float = 0.5  # halve the learning rate every decay_steps after warm-up
    decay_steps: int = 10_000
    bin_start: int = 1000  # steps before the binarisation loss starts
    bin_ramp: int = 2000  # steps over which its weight ramps from 0 to 1


class Text2MelRecipe:
    name = "text2mel"

    def __init__(self, ctx: RunContext, cfg: Text2MelRecipeConfig) -> None:
        self.ctx = ctx
        self.cfg = cfg
        self.symbols = list(DEFAULT_SYMBOLS)
        cache = build_cache(ctx, self.symbols)
        self.train_set = Text2MelDataset(cache, "train")
        self.val_set = Text2MelDataset(cache, "val")
        self.collate = collate_text2mel
        self.model_cfg = text2mel_config(cfg.model, n_symbols=len(self.symbols), n_mels=ctx.audio.n_mels)
        self.model = Text2Mel(self.model_cfg)
        if not load_init_weights(ctx, self.model, "text2mel"):
            self._set_mel_stats()
        self.model.to(ctx.device)
        self.opt = torch.optim.AdamW(self.model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        self.sched = torch.optim.lr_scheduler.LambdaLR(self.opt, self._lr_factor)
        self.train_model: torch.nn.Module = DDP(self.model) if ctx.dist.enabled else self.model

    def _lr_factor(self, step: int) -> float:
        if step < self.cfg.warmup_steps:
            return (step + 1) / self.cfg.warmup_steps
        return self.cfg.lr_decay ** ((step - self.cfg.warmup_steps) // self.cfg.decay_steps)

    def _set_mel_stats(self) -> None:
        mels = [self.train_set[i]["mel"] for i in range(min(N_STAT_ITEMS, len(self.train_set)))]
        flat = torch.cat([m.reshape(-1) for m in mels])
        self.model.mel_mean.fill_(flat.mean().item())
        self.model.mel_std.fill_(flat.std().item())

    def __len__(self) -> int:
        return len(self.train_set)

    def state_modules(self) -> dict[str, torch.nn.Module]:
        return {"model": self.model}

    def state_optimizers(self) -> dict[str, Any]:
        return {"opt": self.opt, "sched": self.sched}

    def get_batch(self, indices: Sequence[int]) -> Any:
        return self.collate([self.train_set[i] for i in indices])

    def _losses(self, model: torch.nn.Module, batch: Any, step: int) -> tuple[torch.Tensor, dict[str, float]]:
        tokens, token_lens, mels, mel_lens = (t.to(self.ctx.device) for t in batch)
        with torch.autocast(self.ctx.device.type, dtype=torch.bfloat16, enabled=self.ctx.amp):
            out = model(tokens, token_lens, mels, mel_lens)
        bin_w = binarization_weight(step, self.cfg.bin_start, self.cfg.bin_ramp)
        total, parts = text2mel_loss(out, mels, mel_lens, token_lens, bin_w)
        return total, {k: float(v) for k, v in parts.items()}

    def train_step(self, step: int, batch: Any) -> dict[str, float]:
        self.train_model.train()
        total, parts = self._losses(self.train_model, batch, step)
        self.opt.zero_grad(set_to_none=True)
        total.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.ctx.loop.grad_clip)
        self.opt.step()
        self.sched.step()
        return {"loss": total.item(), **parts, "grad_norm": float(grad_norm), "lr": self.sched.get_last_lr()[0]}

    def validate(self, step: int, run_dir: Path) -> dict[str, float]:
        self.model.eval()
        sums: dict[str, float] = {}
        n = 0
        bs = self.ctx.loop.batch_size
        with torch.no_grad():
            for b in range(min(N_VAL_BATCHES, max(1, len(self.val_set) // bs))):
                items = [self.val_set[i] for i in range(b * bs, min((b + 1) * bs, len(self.val_set)))]
                if not items:
                    break
                total, parts = self._losses(self.model, self.collate(items), step)
                for k, v in {"loss": total.item(), **parts}.items():
                    sums[k] = sums.get(k, 0.0) + v
                n += 1
        return {f"val_{k}": v / max(n, 1) for k, v in sums.items()}

    def export(self, step: int, cpu_hours: float | None = None) -> None:
        note = training_note(self.ctx, self.name, self.cfg)
        export_model(self.ctx, self.model, "text2mel", self.model_cfg, self.symbols, step, note, cpu_hours)
