"""Which phonemes belong to which written word, so durations per phoneme become word timings.

espeak-ng separates words in its IPA with spaces, but it joins some function words to their
neighbour ("of the" -> "ʌvðə", "at it" -> "ˈæɾɪt"). When the counts differ, the words are matched
to the phoneme words by the lengths of their phonemes spoken alone, and a joined phoneme word is
shared among its written words in proportion to those lengths.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from tts.frontend.symbols import PUNCTUATION

STRESS_MARKS = "ˈˌ"  # take no time of their own; left out when comparing phoneme lengths
_PHONEME_WORD_RE = re.compile(r"\S+")


@dataclass(frozen=True)
class WordSpan:
    """A written word and its phoneme tokens ``[start, end)`` in its utterance's ids."""

    text: str  # the word without surrounding punctuation
    start: int  # first token of the word
    end: int  # one past its last phoneme token; clause punctuation after it is not part of it


def bare_word(token: str) -> str:
    """``token`` without the punctuation around it: '"Hello,' -> 'Hello'."""
    return token.strip(PUNCTUATION + "\u201c\u201d\u2018\u2019[]")


def phoneme_length(phonemes: str) -> int:
    """Sounds in ``phonemes``: characters other than stress marks, punctuation and spaces."""
    return sum(1 for c in phonemes if c not in STRESS_MARKS and c not in PUNCTUATION and not c.isspace())


def _group(short: Sequence[int], long: Sequence[int]) -> list[int]:
    """How many consecutive items of ``long`` go with each item of ``short`` (each >= 1), by lengths.

    Greedy: each item of ``short`` takes the run of ``long`` whose total length is closest to its
    own, leaving at least one item for each that follows.
    """
    counts = []
    i = 0
    for j, target in enumerate(short):
        left_after = len(short) - j - 1
        most = len(long) - i - left_after
        if left_after == 0:
            k = most
        else:
            totals = [sum(long[i : i + k]) for k in range(1, most + 1)]
            k = 1 + min(range(len(totals)), key=lambda n: abs(totals[n] - target))
        counts.append(k)
        i += k
    return counts


def _trim_punctuation(phonemes: str, start: int, end: int) -> tuple[int, int]:
    while end > start and phonemes[end - 1] in PUNCTUATION:
        end -= 1
    return start, end


def align_words(
    words: Sequence[str], phonemes: str, phonemize_word: Callable[[str], str]
) -> list[tuple[int, int]]:
    """Character span ``[start, end)`` in ``phonemes`` of each of ``words`` (the text they were made from).

    ``phonemize_word`` is called only when espeak joined or split words, to weigh them.
    Spans exclude the clause punctuation after a word; words are never empty lists of spans.
    """
    found = [(m.start(), m.end()) for m in _PHONEME_WORD_RE.finditer(phonemes)]
    if not words:
        return []
    if not found:
        return [(0, 0)] * len(words)
    if len(found) == len(words):
        return [_trim_punctuation(phonemes, s, e) for s, e in found]
    alone = [max(1, phoneme_length(phonemize_word(w))) for w in words]
    found_lengths = [max(1, phoneme_length(phonemes[s:e])) for s, e in found]
    spans: list[tuple[int, int]] = []
    if len(found) < len(words):  # joined: share each phoneme word among its written words
        i = 0
        for (s, e), k in zip(found, _group(found_lengths, alone)):
            s, e = _trim_punctuation(phonemes, s, e)
            weights = alone[i : i + k]
            total, acc = sum(weights), 0
            for w in weights:
                a = s + round((e - s) * acc / total)
                acc += w
                spans.append((a, s + round((e - s) * acc / total)))
            i += k
    else:  # split: a written word covers several phoneme words
        j = 0
        for k in _group(alone, found_lengths):
            spans.append(_trim_punctuation(phonemes, found[j][0], found[j + k - 1][1]))
            j += k
    return spans
