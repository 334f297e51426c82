"""Predicting a run's cost from a shorter text, so a case that cannot fit its budget is skipped up front."""

from __future__ import annotations

from dataclasses import dataclass

from tts.bench.report import BenchConfig, CaseResult
from tts.units import MS_PER_S


@dataclass(frozen=True)
class CostModel:
    """A run's cost predicted from a shorter text: fixed overhead plus vocoder time per audio second."""

    overhead_s: float  # frontend + text-to-mel, which barely grow with length
    vocoder_rtf: float  # vocoder seconds per audio second: what grows with length

    @classmethod
    def from_case(cls, case: CaseResult) -> CostModel | None:
        total, vocoder, rtf = case.median("total_ms"), case.median("vocoder_ms"), case.median("vocoder_rtf")
        if total is None or vocoder is None or rtf is None:
            return None
        return cls(max(total - vocoder, 0.0) / MS_PER_S, rtf)

    def run_seconds(self, audio_seconds: float) -> float:
        return self.overhead_s + self.vocoder_rtf * audio_seconds

    def first_run_seconds(self, audio_seconds: float, config: BenchConfig) -> float:
        """Projected wall time of a case's warm-up and first timed run (unary and, when
        ``config.stream``, streamed): what must fit ``config.case_budget_s`` for it to start."""
        calls_per_run = 2 if config.stream else 1
        return self.run_seconds(audio_seconds) * calls_per_run * (config.warmup + 1)

    def fits(self, audio_seconds: float, config: BenchConfig) -> bool:
        """Whether a case of ``audio_seconds`` is measured, not skipped, under ``config``'s budget."""
        return self.first_run_seconds(audio_seconds, config) <= config.case_budget_s
