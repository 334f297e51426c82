"""Sentence splitting: sentences of (normalised) text, long ones cut into chunks at commas."""

from __future__ import annotations

import re

# Longer sentences are cut at commas, so every chunk the text-to-mel and the vocoder receive (and the
# wait for its first audio when streaming) stays bounded whatever the input.
MAX_WORDS_PER_CHUNK = 40

_SENTENCE_END_RE = re.compile(r"[.!?;]+[\"')\]]*(?=\s|$)")
# Periods after these do not end a sentence when split_sentences sees text that was not normalised.
_NON_FINAL_ABBREVIATIONS = frozenset(
    {
        "mr",
        "mrs",
        "ms",
        "dr",
        "prof",
        "st",
        "rev",
        "gen",
        "col",
        "capt",
        "lt",
        "sgt",
        "gov",
        "sen",
        "mt",
        "ft",
        "vs",
        "e.g",
        "i.e",
        "z.b",
        "d.h",
        "u.a",
        "nr",
        "bzw",
        "ca",
        "vgl",
    }
)


def _is_abbreviation_period(sentence_so_far: str) -> bool:
    word = sentence_so_far.rsplit(" ", 1)[-1].rstrip(".").lower()
    return len(word) == 1 and word.isalpha() or word in _NON_FINAL_ABBREVIATIONS


def _chunk_long(sentence: str, max_words: int) -> list[str]:
    """Cut a sentence of more than ``max_words`` words at commas, and at word boundaries if it must."""
    if len(sentence.split()) <= max_words:
        return [sentence]
    pieces: list[list[str]] = []
    for clause in re.split(r"(?<=,)\s+", sentence):
        words = clause.split()
        while len(words) > max_words:  # a comma-free run longer than a chunk: cut it blind
            pieces.append(words[:max_words])
            words = words[max_words:]
        pieces.append(words)
    chunks: list[list[str]] = []
    for words in pieces:
        if chunks and len(chunks[-1]) + len(words) <= max_words:
            chunks[-1].extend(words)
        else:
            chunks.append(list(words))
    return [" ".join(words) for words in chunks if words]


def split_sentences(text: str, max_words: int = MAX_WORDS_PER_CHUNK) -> list[str]:
    """Sentences of (normalised) ``text``, each keeping its final . ! ? or ;.

    Sentences longer than ``max_words`` words are further cut at commas so each chunk stays
    short enough to synthesise. Empty pieces are dropped.
    """
    sentences: list[str] = []
    start = 0
    for m in _SENTENCE_END_RE.finditer(text):
        candidate = text[start : m.end()]
        if m.group(0) == "." and _is_abbreviation_period(candidate):
            continue
        sentences.append(candidate.strip())
        start = m.end()
    sentences.append(text[start:].strip())
    return [chunk for sentence in sentences if sentence for chunk in _chunk_long(sentence, max_words)]
