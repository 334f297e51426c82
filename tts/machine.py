"""What machine a measurement ran on, and how much memory it took.

Benchmark numbers mean nothing without the CPU, the cores the process may use and the threads torch
ran with, so :func:`machine_info` records them next to every result. Memory is the process's peak
resident set size (``getrusage(RUSAGE_SELF).ru_maxrss``): everything the process holds in RAM —
model weights, torch's allocator, activations, libraries and the interpreter — not just tensors.
(``tracemalloc`` would miss torch entirely: tensor storage is allocated in C++, outside Python's
allocator.)
"""

from __future__ import annotations

import logging
import os
import platform
import resource
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

CPUINFO = Path("/proc/cpuinfo")
MEMINFO = Path("/proc/meminfo")
# Writing "5" to clear_refs resets the peak-RSS counter (Linux >= 4.0), which is what lets one process
# report a separate peak for each benchmark case.
CLEAR_REFS = Path("/proc/self/clear_refs")
RESET_PEAK_RSS = "5"
KIB_PER_MIB = 1024.0
BYTES_PER_MIB = 1024.0 * 1024.0


@dataclass(frozen=True)
class MachineInfo:
    """The hardware and software a benchmark ran on."""

    cpu_model: str  # /proc/cpuinfo "model name", else platform.processor()
    logical_cores: int  # os.cpu_count(): every logical core of the machine
    available_cores: int  # cores this process may run on (container or taskset limits)
    torch_threads: int  # intra-op threads torch computed with
    torch_interop_threads: int  # inter-op threads (parallel independent ops)
    torch_version: str
    numpy_version: str
    python_version: str
    platform: str  # OS and kernel, e.g. "Linux-6.1.0-x86_64-with-glibc2.36"
    device: str  # where the models ran; "cpu" for every measurement this project makes
    memory_total_mb: float | None  # physical RAM, from /proc/meminfo where present

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def cpu_model() -> str:
    """The CPU's marketing name, e.g. ``"AMD EPYC 7B13"``."""
    try:
        for line in CPUINFO.read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def available_cores() -> int:
    """Cores the scheduler lets this process use (fewer than ``os.cpu_count()`` in a limited container)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _memory_total_mb() -> float | None:
    try:
        for line in MEMINFO.read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / KIB_PER_MIB, 1)  # the value is in kB
    except (OSError, ValueError, IndexError):
        pass
    return None


def machine_info(device: str = "cpu") -> MachineInfo:
    """Describe this machine and torch's current thread settings."""
    # Imported here so that importing this module (the bench report does) loads no torch.
    import numpy as np
    import torch

    return MachineInfo(
        cpu_model=cpu_model(),
        logical_cores=os.cpu_count() or 1,
        available_cores=available_cores(),
        torch_threads=torch.get_num_threads(),
        torch_interop_threads=torch.get_num_interop_threads(),
        torch_version=torch.__version__,
        numpy_version=np.__version__,
        python_version=platform.python_version(),
        platform=platform.platform(),
        device=device,
        memory_total_mb=_memory_total_mb(),
    )


def peak_rss_mb() -> float:
    """Peak resident set size of this process in MiB since start (or since :func:`reset_peak_rss`)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports kibibytes, macOS bytes.
    return peak / BYTES_PER_MIB if sys.platform == "darwin" else peak / KIB_PER_MIB


def reset_peak_rss() -> bool:
    """Restart the peak-RSS count from the current RSS; False where the OS does not allow it."""
    try:
        with CLEAR_REFS.open("w") as f:
            f.write(RESET_PEAK_RSS)
        return True
    except OSError as exc:
        logger.debug("cannot reset the peak RSS (%s): peaks cover the whole process", exc)
        return False
