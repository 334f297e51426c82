"""The texts a bench run times: built-in lengths, a user's file, and their predicted audio length."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from tts.bench.report import BenchText
from tts.errors import UserError

if TYPE_CHECKING:  # the command line reads LENGTH_TEXTS before torch is imported
    from tts.synthesizer import Synthesizer

# Each built-in text is one sentence, so audio length is the only thing that changes between them:
# with several sentences WaveNet vocodes them as one batch, which hides its per-sample cost. "long"
# stays under the frontend's 40-word limit, beyond which it would cut the sentence at a comma.
LENGTH_TEXTS: dict[str, str] = {
    "short": "The quick brown fox jumps over the lazy dog.",
    "medium": (
        "A parallel vocoder turns a whole spectrogram into sound in a single pass, "
        "while an autoregressive one must predict every sample from the ones before it."
    ),
    "long": (
        "When the sun finally rose over the quiet harbour, the fishermen who had waited through the long "
        "cold night pushed their small wooden boats into the grey water and called out to one another "
        "across the waves."
    ),
}
# What a plain `ganspeech bench` times: every built-in length, so the autoregressive row has
# two or more points and its linear growth shows (BenchConfig.case_budget_s is sized for that).
DEFAULT_LENGTHS = tuple(LENGTH_TEXTS)


def parse_list(value: str) -> list[str]:
    """``"a, b,,c"`` -> ``["a", "b", "c"]``."""
    return [v.strip() for v in value.split(",") if v.strip()]


def builtin_texts(lengths: Sequence[str]) -> list[tuple[str, str]]:
    unknown = [n for n in lengths if n not in LENGTH_TEXTS]
    if unknown:
        raise UserError(f"unknown length {unknown[0]!r}; choose from {', '.join(LENGTH_TEXTS)}")
    if not lengths:
        raise UserError("give at least one length")
    return [(n, LENGTH_TEXTS[n]) for n in lengths]


def read_texts_file(path: str | Path) -> list[tuple[str, str]]:
    """One text per non-empty line, named ``t1``, ``t2``, ... in file order."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"texts file {path} does not exist")
    lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if not lines:
        raise UserError(f"texts file {path} has no non-empty line")
    return [(f"t{i}", line) for i, line in enumerate(lines, 1)]


def prepare_texts(synth: Synthesizer, texts: Sequence[tuple[str, str]]) -> list[BenchText]:
    """Analyse each text and predict its audio length from the text-to-mel frames (cheap: no vocoder)."""
    from tts.synthesizer import SENTENCE_PAUSE_S

    prepared = []
    hop_s = synth.audio_config.frame_seconds
    for name, text in texts:
        utts = synth.analyze(text)
        frames = sum(synth.text_to_mel(u).shape[-1] for u in utts)  # each mel is (1, n_mels, T_i)
        seconds = frames * hop_s + SENTENCE_PAUSE_S * (len(utts) - 1)
        prepared.append(BenchText(name, text, len(text.split()), len(utts), round(seconds, 4)))
    return prepared
