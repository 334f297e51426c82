"""From a training request (the CLI's arguments) to a running recipe."""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from tts.errors import UserError
from tts.training.common import RunContext, recorded_cpu_hours
from tts.training.loop import LoopConfig, TrainResult, init_distributed, pick_device, seed_everything, train
from tts.training.precision import Precision, resolve_precision
from tts.voice import MANIFEST_NAME, read_manifest
from vocoders.audio import AUDIO_PRESETS

if TYPE_CHECKING:
    from tts.training.hifigan_recipe import HiFiGANRecipe
    from tts.training.text2mel_recipe import Text2MelRecipe
    from tts.training.vocos_recipe import VocosRecipe
    from tts.training.wavenet_recipe import WaveNetRecipe

logger = logging.getLogger(__name__)

# Per-model defaults of the loop: batch sizes that fit 2 CPU cores, and preset names.
DEFAULT_BATCH = {"text2mel": 16, "hifigan": 8, "vocos": 16, "wavenet": 4}
DEFAULT_CONFIG = {"text2mel": "small", "hifigan": "v3", "vocos": "base", "wavenet": "small"}
DEFAULT_MAX_STEPS = {"text2mel": 20_000, "hifigan": 100_000, "vocos": 150_000, "wavenet": 100_000}


@dataclass
class TrainRequest:
    model: str
    data: str
    out: str
    config: str | None = None
    run_dir: str | None = None
    max_steps: int | None = None
    batch_size: int | None = None
    resume: bool = False
    init_from: str | None = None
    init_cpu_hours: float | None = None
    audio: str = "16k"
    language: str = "en-us"
    name: str | None = None
    checkpoint_every: int | None = None
    validate_every: int | None = None
    seed: int = 1234
    cpu: bool = False
    half_weights: bool = False
    warmup_steps: int | None = None
    disc_width: float | None = None
    mel_dir: str | None = None
    threads: int | None = None
    no_progress: bool = False
    precision: str = Precision.AUTO.value


def build_context(req: TrainRequest) -> RunContext:
    data_dir = Path(req.data)
    if not (data_dir / "metadata.csv").is_file():
        raise UserError(f"{data_dir} is not an LJSpeech-format corpus: it has no metadata.csv")
    voice_dir = Path(req.out)
    if (voice_dir / MANIFEST_NAME).is_file():
        # An existing voice fixes the audio config and language: every model must share them.
        manifest = read_manifest(voice_dir)
        audio, language = manifest.audio, manifest.language
    else:
        if req.audio not in AUDIO_PRESETS:
            raise UserError(f"unknown audio preset {req.audio!r}; choose one of {sorted(AUDIO_PRESETS)}")
        audio, language = AUDIO_PRESETS[req.audio], req.language
    if req.threads:
        torch.set_num_threads(req.threads)
    dist_info = init_distributed()
    device = pick_device(dist_info, force_cpu=req.cpu)
    defaults = LoopConfig()
    loop = LoopConfig(
        max_steps=req.max_steps or DEFAULT_MAX_STEPS[req.model],
        batch_size=req.batch_size or DEFAULT_BATCH[req.model],
        seed=req.seed,
        checkpoint_every=req.checkpoint_every or defaults.checkpoint_every,
        validate_every=req.validate_every or defaults.validate_every,
    )
    run_dir = Path(req.run_dir) if req.run_dir else Path("runs") / voice_dir.name / req.model
    init_from = Path(req.init_from) if req.init_from else None
    if req.init_cpu_hours is not None and (init_from is None or req.init_cpu_hours < 0):
        raise UserError("--init-cpu-hours needs --init-from and a value >= 0")
    init_cpu_hours = 0.0
    if init_from is not None:
        init_cpu_hours = (
            req.init_cpu_hours if req.init_cpu_hours is not None else recorded_cpu_hours(init_from, req.model)
        )
    precision = resolve_precision(Precision(req.precision), device)
    logger.info("training precision: %s (requested %s)", precision.value, req.precision)
    return RunContext(
        data_dir=data_dir,
        voice_dir=voice_dir,
        run_dir=run_dir,
        audio=audio,
        language=language,
        loop=loop,
        device=device,
        dist=dist_info,
        voice_name=req.name or voice_dir.name,
        amp=precision is Precision.BF16,
        half_weights=req.half_weights,
        init_from=init_from,
        init_cpu_hours=init_cpu_hours,
    )


def build_recipe(
    req: TrainRequest, ctx: RunContext
) -> Text2MelRecipe | HiFiGANRecipe | VocosRecipe | WaveNetRecipe:
    config = req.config or DEFAULT_CONFIG[req.model]
    mel_dir = Path(req.mel_dir) if req.mel_dir else None
    if req.model == "text2mel":
        from tts.training.text2mel_recipe import Text2MelRecipe, Text2MelRecipeConfig

        return Text2MelRecipe(ctx, Text2MelRecipeConfig(model=config))
    if req.model == "hifigan":
        from tts.training.hifigan_recipe import HiFiGANRecipe, HiFiGANRecipeConfig

        overrides = {"generator": config}
        if req.warmup_steps is not None:
            overrides["warmup_steps"] = req.warmup_steps
        if req.disc_width is not None:
            overrides["disc_width"] = req.disc_width
        return HiFiGANRecipe(ctx, dataclasses.replace(HiFiGANRecipeConfig(), **overrides), mel_dir=mel_dir)
    if req.model == "vocos":
        from tts.training.vocos_recipe import VocosRecipe, VocosRecipeConfig

        overrides = {"generator": config}
        if req.warmup_steps is not None:
            overrides["warmup_steps"] = req.warmup_steps
        if req.disc_width is not None:
            overrides["disc_width"] = req.disc_width
        return VocosRecipe(ctx, dataclasses.replace(VocosRecipeConfig(), **overrides), mel_dir=mel_dir)
    if req.model == "wavenet":
        from tts.training.wavenet_recipe import WaveNetRecipe, WaveNetRecipeConfig

        return WaveNetRecipe(ctx, WaveNetRecipeConfig(model=config), mel_dir=mel_dir)
    raise UserError(f"unknown model {req.model!r}")


def run_training(req: TrainRequest) -> TrainResult:
    ctx = build_context(req)
    seed_everything(ctx.loop.seed + ctx.dist.rank)
    recipe = build_recipe(req, ctx)
    logger.info("training %s on %s (%s) -> %s", req.model, ctx.data_dir, ctx.device, ctx.voice_dir)
    return train(
        recipe,
        ctx.run_dir,
        ctx.loop,
        ctx.dist,
        resume=req.resume,
        progress=not req.no_progress,
        cpu_hours_before=ctx.init_cpu_hours,
    )
