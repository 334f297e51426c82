"""``<say-as interpret-as=...>``: the words a number, date, phone number or spelled token is read as.

English gets every kind; German gets cardinals, ordinals, digits, characters and telephone
numbers; other languages get characters and digits only, because wrong words are worse than none.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tts.errors import TextError
from tts.frontend.english import EN_MONTHS, english_cardinal, english_ordinal, english_year
from tts.frontend.german import german_cardinal, german_ordinal_stem

GERMAN_ORDINAL_ENDING = "te"  # nominative "der dritte"
DATE_FORMATS = ("mdy", "dmy", "ymd", "md", "dm", "ym", "my", "y", "yyyymmdd")
DEFAULT_DATE_FORMAT = "ymd"  # ISO 8601 order, the unambiguous one
_DATE_PART_RE = re.compile(r"\d+")
_TELEPHONE_GROUP_RE = re.compile(r"\d+")
_ORDINAL_SUFFIX_RE = re.compile(r"(st|nd|rd|th|\.)$", re.IGNORECASE)  # "3rd", "3." -> "3"
_PLUS = {"en": "plus", "de": "plus"}


@dataclass(frozen=True)
class SaidAs:
    """What ``<say-as>`` turned its content into."""

    words: list[str]  # words to speak
    spelled: bool  # True: each word is one character, pronounced on its own (its letter name)


def _family(language: str) -> str:
    return language.strip().lower()[:2]


def _unsupported(kind: str, language: str) -> TextError:
    return TextError(f"SSML: <say-as interpret-as={kind!r}> is not available for language {language!r}")


def _integer(text: str, kind: str) -> int:
    digits = text.replace(",", "").replace("_", "").strip()
    if not re.fullmatch(r"-?\d+", digits):
        raise TextError(f"SSML: <say-as interpret-as={kind!r}> needs a whole number, got {text!r}")
    return int(digits)


def _digit_words(digits: str, language: str) -> list[str]:
    family = _family(language)
    if family == "en":
        return [english_cardinal(int(d)) for d in digits]
    if family == "de":
        return [german_cardinal(int(d)) for d in digits]
    return list(digits)


def _date_en(text: str, fmt: str) -> str:
    if fmt not in DATE_FORMATS:
        raise TextError(
            f"SSML: <say-as interpret-as='date' format={fmt!r}>: use one of {', '.join(DATE_FORMATS)}"
        )
    if fmt == "yyyymmdd":
        if not re.fullmatch(r"\d{8}", text):
            raise TextError(f"SSML: date {text!r} does not match format 'yyyymmdd'")
        parts, fmt = [text[:4], text[4:6], text[6:]], "ymd"
    else:
        parts = _DATE_PART_RE.findall(text)
    if len(parts) != len(fmt):
        raise TextError(f"SSML: date {text!r} does not match format {fmt!r}")
    value = {field: int(part) for field, part in zip(fmt, parts)}
    month = value.get("m")
    if month is not None and not 1 <= month <= len(EN_MONTHS):
        raise TextError(f"SSML: date {text!r} has no month {month}")
    words = []
    if month is not None:
        words.append(EN_MONTHS[month - 1])
    if "d" in value:
        words.append(english_ordinal(value["d"]) + ("," if "y" in value else ""))
    if "y" in value:
        words.append(english_year(value["y"]))
    return " ".join(words)


def say_as(text: str, interpret_as: str, fmt: str | None, language: str) -> SaidAs:
    """The words ``text`` is read as under ``interpret_as`` (:data:`tts.frontend.ssml.SAY_AS_KINDS`)."""
    family = _family(language)
    if interpret_as in ("characters", "spell-out"):
        return SaidAs([ch for ch in text if not ch.isspace()], spelled=True)
    if interpret_as == "digits":
        return SaidAs(_digit_words("".join(ch for ch in text if ch.isdigit()), language), spelled=False)
    if interpret_as in ("cardinal", "number"):
        n = _integer(text, interpret_as)
        if family == "en":
            return SaidAs([english_cardinal(n)], spelled=False)
        if family == "de":
            return SaidAs([german_cardinal(n)], spelled=False)
        raise _unsupported(interpret_as, language)
    if interpret_as == "ordinal":
        n = _integer(_ORDINAL_SUFFIX_RE.sub("", text.strip()), interpret_as)
        if family == "en":
            return SaidAs([english_ordinal(n)], spelled=False)
        if family == "de":
            return SaidAs([german_ordinal_stem(n) + GERMAN_ORDINAL_ENDING], spelled=False)
        raise _unsupported(interpret_as, language)
    if interpret_as == "date":
        if family != "en":
            raise _unsupported(interpret_as, language)
        return SaidAs([_date_en(text, fmt or DEFAULT_DATE_FORMAT)], spelled=False)
    if interpret_as == "telephone":
        groups = [" ".join(_digit_words(g, language)) for g in _TELEPHONE_GROUP_RE.findall(text)]
        if not groups:
            raise TextError(f"SSML: <say-as interpret-as='telephone'> needs digits, got {text!r}")
        # A comma after each group gives the pause people make between the groups of a number.
        words = [", ".join(groups)]
        if text.strip().startswith("+") and family in _PLUS:
            words.insert(0, _PLUS[family])
        return SaidAs(words, spelled=False)
    raise TextError(f"SSML: unsupported <say-as interpret-as={interpret_as!r}>")
