"""Giving freed memory back to the operating system after long jobs.

A long utterance makes HiFi-GAN allocate large activations, hundreds of MB per sentence. glibc
keeps what such a job frees in its per-thread heaps, so without a trim the server's resident
memory stays near the peak of the longest request it has served (and grows as other handler
threads serve long requests). ``malloc_trim`` hands the free pages back; it costs nothing when
there is little to release, and about 0.15 s per GB when there is.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
from collections.abc import Callable

logger = logging.getLogger(__name__)


def _find_malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim``; None on other C libraries (musl, macOS), where there is nothing to do."""
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        return ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):
        return None


_MALLOC_TRIM = _find_malloc_trim()


def release_free_memory() -> None:
    """Return the C heap's free pages to the operating system (a no-op without glibc)."""
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)
