"""Inference checkpoints: safetensors weights plus a JSON config beside them (no pickle).

A model saved under stem ``voice/hifigan`` is the pair ``hifigan.safetensors`` (weights of the
unwrapped, uncompiled module) and ``hifigan.json`` (``{"kind", "audio", "config", ...}``).
Training state (optimizers, discriminators, step) never goes here; it lives in the run folder.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import torch
from safetensors.torch import load_file, save_file

from vocoders.audio import AudioConfig

logger = logging.getLogger(__name__)

T = TypeVar("T")


def config_to_dict(cfg: Any) -> dict[str, Any]:
    """A config dataclass as plain JSON-able data (tuples become lists)."""
    return json.loads(json.dumps(dataclasses.asdict(cfg)))


def config_from_dict(cls: type[T], d: dict[str, Any]) -> T:
    """Build dataclass ``cls`` from ``d``, rejecting keys it does not know (a typo is an error)."""
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = set(d) - names
    if unknown:
        raise ValueError(f"unknown {cls.__name__} keys: {sorted(unknown)}")
    kwargs = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if f.name in d:
            value = d[f.name]
            # JSON has no tuples; configs use tuples so they stay hashable and immutable.
            kwargs[f.name] = _to_tuple(value) if isinstance(value, list) else value
    return cls(**kwargs)


def _to_tuple(value: Any) -> Any:
    return tuple(_to_tuple(v) for v in value) if isinstance(value, list) else value


def storable_state(state: Mapping[str, torch.Tensor], half: bool = False) -> dict[str, torch.Tensor]:
    """``state`` as safetensors can write it: detached contiguous CPU tensors, floating ones as
    float16 when ``half`` (:func:`load_state` casts them back to float32)."""
    stored = {}
    for name, tensor in state.items():
        t = tensor.detach().cpu()
        if half and t.is_floating_point():
            t = t.half()
        stored[name] = t.contiguous()
    return stored


def save_model(
    stem: str | Path,
    module: torch.nn.Module,
    kind: str,
    config: Any,
    audio: AudioConfig,
    extra: dict[str, Any] | None = None,
    half: bool = False,
) -> tuple[Path, Path]:
    """Write ``stem.safetensors`` and ``stem.json``; returns both paths.

    ``half`` stores floating tensors as float16 (they are cast back to float32 at load).
    """
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    weights = stem.with_suffix(".safetensors")
    meta_path = stem.with_suffix(".json")
    save_file(storable_state(module.state_dict(), half), str(weights))
    meta = {"kind": kind, "audio": audio.to_dict(), "config": config_to_dict(config), **(extra or {})}
    meta_path.write_text(json.dumps(meta, indent=2) + "\n")
    logger.info("saved %s model to %s", kind, weights)
    return weights, meta_path


def read_meta(stem: str | Path) -> dict[str, Any]:
    """The JSON written beside a model's weights."""
    path = Path(stem).with_suffix(".json")
    if not path.is_file():
        raise FileNotFoundError(f"missing model config {path}")
    return json.loads(path.read_text())


def load_state(stem: str | Path) -> dict[str, torch.Tensor]:
    """The weights of ``stem.safetensors`` as float32 tensors (safetensors executes no code)."""
    path = Path(stem).with_suffix(".safetensors")
    if not path.is_file():
        raise FileNotFoundError(f"missing model weights {path}")
    return {k: (v.float() if v.is_floating_point() else v) for k, v in load_file(str(path)).items()}
