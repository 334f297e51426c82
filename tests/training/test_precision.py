"""bf16 autocast only where the CPU computes bf16 natively."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tts.training.precision import Precision, cpu_flags, resolve_precision

CPU = torch.device("cpu")


def test_auto_falls_back_to_float32_on_a_cpu_without_native_bf16() -> None:
    assert resolve_precision(Precision.AUTO, CPU, flags={"avx2", "fma", "avx512f"}) is Precision.FLOAT32
    assert resolve_precision(Precision.AUTO, CPU, flags=set()) is Precision.FLOAT32


@pytest.mark.parametrize("flag", ["avx512_bf16", "amx_bf16"])
def test_auto_picks_bf16_on_a_cpu_with_native_bf16(flag: str) -> None:
    assert resolve_precision(Precision.AUTO, CPU, flags={"avx2", flag}) is Precision.BF16


def test_an_explicit_request_is_kept() -> None:
    assert resolve_precision(Precision.FLOAT32, CPU, flags={"amx_bf16"}) is Precision.FLOAT32
    assert resolve_precision(Precision.BF16, CPU, flags=set()) is Precision.BF16


def test_flags_are_read_from_cpuinfo(tmp_path: Path) -> None:
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nmodel name\t: Some CPU\nflags\t\t: fpu sse2 avx512_bf16 amx_tile\n\n")
    assert cpu_flags(info) == {"fpu", "sse2", "avx512_bf16", "amx_tile"}
    assert cpu_flags(tmp_path / "missing") == frozenset()
