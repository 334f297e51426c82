"""Which floating-point type a training step computes in: bf16 autocast where the hardware has it.

bf16 autocast halves a vocoder training step on CPUs with native bf16 arithmetic (AVX512-BF16 or
AMX) and slows it down on CPUs without: there torch emulates bf16 with float32 conversions. So the
choice is made from the CPU's feature flags, never assumed. Losses, STFTs and optimizer state stay
float32 in every case (the recipes leave autocast before computing them).
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Iterable
from pathlib import Path

import torch

logger = logging.getLogger(__name__)

CPUINFO = Path("/proc/cpuinfo")
# /proc/cpuinfo flags of x86 CPUs that compute bf16 natively (dot products or tile matrix products).
NATIVE_BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})


class Precision(enum.Enum):
    """What a recipe is asked to compute in; ``AUTO`` resolves with :func:`resolve_precision`."""

    AUTO = "auto"
    FLOAT32 = "fp32"
    BF16 = "bf16"


def cpu_flags(cpuinfo: Path = CPUINFO) -> frozenset[str]:
    """The feature flags of the first CPU in ``cpuinfo``; empty where the file cannot be read."""
    try:
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("flags"):
                return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


def cpu_has_native_bf16(flags: Iterable[str]) -> bool:
    """True when ``flags`` name a native bf16 instruction set."""
    return bool(NATIVE_BF16_FLAGS & set(flags))


def resolve_precision(
    requested: Precision, device: torch.device, flags: Iterable[str] | None = None
) -> Precision:
    """``requested``, with ``AUTO`` resolved: bf16 on CUDA devices that support it and on CPUs with
    native bf16 (``flags``, default read from /proc/cpuinfo), float32 everywhere else."""
    if requested is not Precision.AUTO:
        return requested
    if device.type == "cuda":
        return Precision.BF16 if torch.cuda.is_bf16_supported() else Precision.FLOAT32
    native = cpu_has_native_bf16(cpu_flags() if flags is None else flags)
    return Precision.BF16 if native else Precision.FLOAT32
