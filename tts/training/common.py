"""What every recipe shares: the run context, initial weights and exporting a model into a voice directory."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from tts.errors import UserError
from tts.frontend.symbols import DEFAULT_SYMBOLS
from tts.synthesizer import TEXT2MEL_KIND
from tts.training.loop import DistInfo, LoopConfig
from tts.voice import init_voice, read_manifest, register_model
from vocoders.audio import AudioConfig, AudioConfigMismatch, check_compatible
from vocoders.serialization import load_state, read_meta, save_model

logger = logging.getLogger(__name__)

# GAN recipes clip gradients this many times looser than the loop's grad_clip: the generator's
# mel term x45 makes large but healthy gradient norms common early on.
GAN_CLIP_FACTOR = 100.0
# Key of an exported model's metadata that records the CPU hours its weights cost.
CPU_HOURS_KEY = "cpu_hours"


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
    # CPU hours already spent on the --init-from weights: metrics count on from them, so a
    # continued or fine-tuned run plots at its true cost on the quality-per-CPU-hour curve.
    init_cpu_hours: float = 0.0


def export_model(
    ctx: RunContext,
    module: torch.nn.Module,
    kind: str,
    config: Any,
    symbols: list[str],
    step: int,
    training_note: dict[str, Any],
    cpu_hours: float | None = None,
) -> None:
    """Write ``module`` as ``kind`` into the voice directory and record it in the manifest.

    ``cpu_hours``: the processor time the weights cost so far, recorded (when known) so that a run
    started from them with ``--init-from`` counts on from it.
    """
    init_voice(ctx.voice_dir, ctx.voice_name, ctx.language, ctx.audio, symbols)
    extra: dict[str, Any] = {"step": step, "training": training_note}
    if cpu_hours is not None:
        extra[CPU_HOURS_KEY] = cpu_hours
    save_model(ctx.voice_dir / kind, module, kind, config, ctx.audio, extra=extra, half=ctx.half_weights)
    register_model(ctx.voice_dir, kind)
    logger.info("exported %s at step %d to %s", kind, step, ctx.voice_dir)


def load_init_weights(
    ctx: RunContext, module: torch.nn.Module, kind: str, symbols: Sequence[str] = DEFAULT_SYMBOLS
) -> bool:
    """Load the ``kind`` weights of the voice ``ctx.init_from`` into ``module``.

    Returns False, leaving ``module`` as it is, when the run starts from scratch. Raises
    :class:`UserError` naming what differs when the weights were trained on another audio config
    than the run's, for a text-to-mel model on another symbol table than ``symbols`` (the run's),
    or for another model size.
    """
    if ctx.init_from is None:
        return False
    stem = ctx.init_from / kind
    meta = read_meta(stem)
    try:
        check_compatible(ctx.audio, AudioConfig.from_dict(meta["audio"]), f"this run and --init-from {stem}")
    except AudioConfigMismatch as exc:
        raise UserError(f"{exc}: start from a voice with this run's audio config") from None
    if kind == TEXT2MEL_KIND:
        check_same_symbols(list(symbols), read_manifest(ctx.init_from).symbols, ctx.init_from)
    try:
        module.load_state_dict(load_state(stem))
    except RuntimeError as exc:
        # Shape mismatches: the source was trained with another --config.
        first = str(exc).strip().splitlines()[-1].strip()
        raise UserError(
            f"the {kind} weights of --init-from {ctx.init_from} do not fit this run's model ({first}): "
            "pass the --config they were trained with"
        ) from None
    logger.info("%s initialised from %s", kind, ctx.init_from)
    return True


def recorded_cpu_hours(voice_dir: Path, kind: str) -> float:
    """The CPU hours the ``kind`` weights of ``voice_dir`` record, 0 where they record none."""
    hours = read_meta(voice_dir / kind).get(CPU_HOURS_KEY)
    if hours is None:
        logger.warning("%s/%s records no CPU hours: this run counts from 0", voice_dir, kind)
        return 0.0
    return float(hours)


def check_same_symbols(run: list[str], source: list[str], voice_dir: Path) -> None:
    """Raise :class:`UserError` naming where the symbol table of ``voice_dir`` differs from the run's.

    Ids are positions in the table, so a text-to-mel model's embedding rows only mean the same
    phonemes under the same table.
    """
    if run == source:
        return
    diffs = []
    if len(run) != len(source):
        diffs.append(f"{len(source)} symbols, this run {len(run)}")
    first = next((i for i, (a, b) in enumerate(zip(run, source)) if a != b), None)
    if first is not None:
        diffs.append(f"id {first} is {source[first]!r}, this run's {run[first]!r}")
    raise UserError(
        f"--init-from {voice_dir} uses another symbol table ({'; '.join(diffs)}): "
        "its text-to-mel weights would read the wrong phonemes"
    )


def training_note(ctx: RunContext, recipe: str, recipe_config: Any) -> dict[str, Any]:
    """What an exported model's metadata records about its training: recipe, hyperparameters, data, device."""
    return {"recipe": recipe, **asdict(recipe_config), "data": str(ctx.data_dir), "device": str(ctx.device)}
