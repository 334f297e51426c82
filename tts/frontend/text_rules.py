"""Rewriting helpers every language's normaliser shares: Unicode clean-up, rule tables, tidying.

A rule is a compiled pattern and its replacement function (:data:`Rule`); a language's normaliser
is mostly a list of rules applied in order (:func:`apply_rules`).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

DIGIT_BY_DIGIT_ABOVE = 10**18  # beyond the scale words we know, read digits one by one

# ---------------------------------------------------------------- Unicode clean-up

_ASCII_PUNCTUATION = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
        "\u201b": "'",
        "\u2032": "'",
        "\u2039": "'",
        "\u203a": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u201f": '"',
        "\u2033": '"',
        "\u00ab": '"',
        "\u00bb": '"',
        "\u2010": "-",
        "\u2011": "-",
        "\u2012": "-",
        "\u2212": "-",
        "\u00ad": "",
    }
)
# A dash used as a break in a sentence (an em dash, or an en dash between spaces) becomes a
# comma so the voice pauses there; an en dash inside a word ("Berlin–Paris") becomes a hyphen.
_BREAK_DASH_RE = re.compile(r"\s+\u2013\s+|\s*[\u2014\u2015]\s*")
_NUMBER_RANGE_RE = re.compile(r"(\d)\s*[\u2013\u2014]\s*(?=\d)")
_WHITESPACE_RE = re.compile(r"\s+")
_SPACE_BEFORE_PUNCT_RE = re.compile(r"\s+([,.!?;:])")
# A run of marks ("!!!", "?!", "there. !") keeps one mark; an ellipsis stays as it is.
_MARK_RUN_RE = re.compile(r"[.!?;:,](?:\s*[.!?;:,])+")
_LEADING_COMMA_RE = re.compile(r"^[\s,]+")
# Control and format characters (zero-width spaces, BOMs, directional marks) carry no sound.
_DROPPED_CATEGORIES = frozenset({"Cc", "Cf", "Co", "Cs", "Cn"})


def clean_unicode(text: str, range_word: str | None = None) -> str:
    """NFKC, ASCII quotes and dashes, no control characters; ``range_word`` reads "1990–2000" as a range."""
    text = unicodedata.normalize("NFKC", text)
    text = "".join(
        " " if ch.isspace() else ch
        for ch in text
        if ch.isspace() or unicodedata.category(ch) not in _DROPPED_CATEGORIES
    )
    if range_word:
        text = _NUMBER_RANGE_RE.sub(rf"\1 {range_word} ", text)
    text = _BREAK_DASH_RE.sub(", ", text).replace("\u2013", "-")
    return text.translate(_ASCII_PUNCTUATION)


def _one_mark(m: re.Match[str]) -> str:
    run = m.group(0).replace(" ", "")
    if run == "...":
        return run
    strong = run.lstrip(",")  # "word, !" ends with the stronger mark
    return strong[0] if strong else ","


def tidy(text: str) -> str:
    """Collapse whitespace, repeated marks and stray commas left by the rewrites."""
    text = _WHITESPACE_RE.sub(" ", text)
    text = _SPACE_BEFORE_PUNCT_RE.sub(r"\1", text)
    text = _MARK_RUN_RE.sub(_one_mark, text)
    text = _LEADING_COMMA_RE.sub("", text)
    return text.strip()


def ends_sentence(text: str, pos: int, capital_means_end: bool) -> bool:
    """Whether an abbreviation's period that ends at ``pos`` also ends the sentence."""
    rest = text[pos:]
    if not rest.strip():
        return True
    return capital_means_end and re.match(r"\s+[\"'(]?[A-Z]", rest) is not None


Replacement = Callable[[re.Match[str]], str]

Rule = tuple[re.Pattern[str], Replacement]


def abbreviation_rule(
    pattern: str, expansion: str, can_end: bool, flags: int = 0
) -> tuple[re.Pattern[str], Replacement]:
    """A rewrite of ``pattern`` to ``expansion``, keeping a sentence-ending period when ``can_end``."""
    regex = re.compile(r"(?<![\w.])" + pattern, flags)

    def replace(m: re.Match[str]) -> str:
        if can_end and m.group(0).endswith(".") and ends_sentence(m.string, m.end(), capital_means_end=True):
            return expansion + "."
        return expansion

    return regex, replace


def apply_rules(rules: list[tuple[re.Pattern[str], Replacement]], text: str) -> str:
    for regex, replace in rules:
        text = regex.sub(replace, text)
    return text


def symbol_rule(words: dict[str, str]) -> Rule:
    """Each symbol in ``words`` (``{"&": " and "}``) read as its word(s), padded with spaces."""
    regex = re.compile("|".join(re.escape(s) for s in words))
    return regex, lambda m: words[m.group(0)]


# Shared by the number rules of every language.
# An ISO 8601 calendar date, 2024-03-05: year, month, day (read before the year and number rules,
# which would otherwise read it as three numbers joined by hyphens).
ISO_DATE_RE = re.compile(r"(?<![\d-])(\d{4})-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])(?![\d-])")
NEGATIVE_RE = re.compile(r"(?<![\w)\]])-(?=\d)")
LETTER_DIGIT_RE = re.compile(r"(?<=[^\W\d_])(?=\d)|(?<=\d)(?=[^\W\d_])")
