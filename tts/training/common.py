"""What every recipe shares: the run context, initial weights and exporting a model into a voice directory."""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from tts.training.loop import DistInfo, LoopConfig
from tts.voice import init_voice, register_model
from vocoders.audio import AudioConfig
from vocoders.serialization import load_state, save_model

logger = logging.getLogger(__name__)

# GAN recipes clip gradients this many times looser than the loop's grad_clip: the generator's
# mel term x45 makes large but healthy gradient norms common early on.
GAN_CLIP_FACTOR = 100.0


@dataclass
class RunContext:
    """Where a recipe reads, writes and runs."""

    data_dir: Path  # LJSpeech-format corpus
    voice_dir: Path  # where inference weights are exported (manifest updated)
    run_dir: Path  # training state: checkpoint.pt, metrics.jsonl, samples/
    audio: AudioConfig  # feature config of the voice
    language: str  # espeak-ng language of the frontend
    loop: LoopConfig
    device: torch.device
    dist: DistInfo
    voice_name: str = "voice"
    amp: bool = False  # bf16 autocast of the models' forward passes (tts.training.precision decides)
    half_weights: bool = False  # store exported inference weights as float16
    init_from: Path | None = None  # voice directory whose weights initialise the model


def export_model(
    ctx: RunContext,
    module: torch.nn.Module,
    kind: str,
    config: Any,
    symbols: list[str],
    step: int,
    training_note: dict[str, Any],
) -> None:
    """Write ``module`` as ``kind`` into the voice directory and record it in the manifest."""
    init_voice(ctx.voice_dir, ctx.voice_name, ctx.language, ctx.audio, symbols)
    extra = {"step": step, "training": training_note}
    save_model(ctx.voice_dir / kind, module, kind, config, ctx.audio, extra=extra, half=ctx.half_weights)
    register_model(ctx.voice_dir, kind)
    logger.info("exported %s at step %d to %s", kind, step, ctx.voice_dir)


def load_init_weights(ctx: RunContext, module: torch.nn.Module, kind: str) -> bool:
    """Load the ``kind`` weights of the voice ``ctx.init_from`` into ``module``.

    Returns False, leaving ``module`` as it is, when the run starts from scratch.
    """
    if ctx.init_from is None:
        return False
    module.load_state_dict(load_state(ctx.init_from / kind))
    logger.info("%s initialised from %s", kind, ctx.init_from)
    return True


def training_note(ctx: RunContext, recipe: str, recipe_config: Any) -> dict[str, Any]:
    """What an exported model's metadata records about its training: recipe, hyperparameters, data, device."""
    return {"recipe": recipe, **asdict(recipe_config), "data": str(ctx.data_dir), "device": str(ctx.device)}
