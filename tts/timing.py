"""Word and mark timings of synthesized audio, from the text-to-mel's per-token durations.

A token of ``d`` frames lasts ``d * hop_length`` samples of the vocoder's output, so word times are
exact arithmetic on the durations plus the offset of the piece in the joined audio.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import numpy as np

from tts.frontend.pipeline import Utterance


@dataclass(frozen=True)
class WordTiming:
    """A written word and when it is spoken, in seconds from the start of the audio."""

    word: str
    start_s: float
    end_s: float

    def to_dict(self) -> dict[str, float | str]:
        return asdict(self)


@dataclass(frozen=True)
class MarkTiming:
    """An SSML ``<mark>`` and the time the speech reaches it, in seconds."""

    name: str
    time_s: float

    def to_dict(self) -> dict[str, float | str]:
        return asdict(self)


def utterance_timings(
    utterance: Utterance, durations: np.ndarray, seconds_per_frame: float, offset_s: float
) -> tuple[list[WordTiming], list[MarkTiming]]:
    """Timings of ``utterance``'s words and marks given its token ``durations`` ``(L,)`` in frames.

    ``seconds_per_frame`` is hop_length / sample_rate, times any stretch applied to the audio
    afterwards; ``offset_s`` is where the utterance's audio starts.
    """
    edges = (
        np.concatenate([[0], np.cumsum(np.asarray(durations, dtype=np.int64))]) * seconds_per_frame + offset_s
    )
    words = [WordTiming(w.text, float(edges[w.start]), float(edges[w.end])) for w in utterance.words]
    marks = [MarkTiming(m.name, float(edges[m.token])) for m in utterance.marks]
    return words, marks


def shifted(items: list[WordTiming] | list[MarkTiming], seconds: float) -> list:
    """``items`` moved by ``seconds`` (e.g. into a longer response, or after leading audio)."""
    out: list = []
    for item in items:
        if isinstance(item, WordTiming):
            out.append(replace(item, start_s=item.start_s + seconds, end_s=item.end_s + seconds))
        else:
            out.append(replace(item, time_s=item.time_s + seconds))
    return out


def to_sample(seconds: float, sample_rate: int) -> int:
    """Sample index of ``seconds`` in audio at ``sample_rate`` (any rate it is resampled to)."""
    return round(seconds * sample_rate)
