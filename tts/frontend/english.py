"""English normalisation: numbers, ordinals, years, ISO dates, currency, percent, time, abbreviations, symbols."""

from __future__ import annotations

import re

from tts.frontend.text_rules import (
    DIGIT_BY_DIGIT_ABOVE,
    ISO_DATE_RE,
    LETTER_DIGIT_RE,
    NEGATIVE_RE,
    abbreviation_rule,
    apply_rules,
    ends_sentence,
    symbol_rule,
)

# ---------------------------------------------------------------- English numbers

_EN_ONES = (
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
)
EN_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
_EN_TENS = ("_", "_", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
_EN_SCALES = (
    (10**15, "quadrillion"),
    (10**12, "trillion"),
    (10**9, "billion"),
    (10**6, "million"),
    (10**3, "thousand"),
)
_EN_ORDINAL_IRREGULAR = {
    "one": "first",
    "two": "second",
    "three": "third",
    "five": "fifth",
    "eight": "eighth",
    "nine": "ninth",
    "twelve": "twelfth",
}


def _en_below_100(n: int) -> str:
    if n < 20:
        return _EN_ONES[n]
    tens, ones = divmod(n, 10)
    return _EN_TENS[tens] + (f"-{_EN_ONES[ones]}" if ones else "")


def _en_below_1000(n: int) -> str:
    hundreds, rest = divmod(n, 100)
    parts = [f"{_EN_ONES[hundreds]} hundred"] if hundreds else []
    if rest or not parts:
        parts.append(_en_below_100(rest))
    return " ".join(parts)


def _digits_en(digits: str) -> str:
    return " ".join(_EN_ONES[int(d)] for d in digits)


def english_cardinal(n: int) -> str:
    """Words of an integer in American style: 1234 -> "one thousand two hundred thirty-four"."""
    if n < 0:
        return "minus " + english_cardinal(-n)
    if n >= DIGIT_BY_DIGIT_ABOVE:
        return _digits_en(str(n))
    parts = []
    for value, name in _EN_SCALES:
        count, n = divmod(n, value)
        if count:
            parts.append(f"{_en_below_1000(count)} {name}")
    if n or not parts:
        parts.append(_en_below_1000(n))
    return " ".join(parts)


def english_ordinal(n: int) -> str:
    """22 -> "twenty-second", 100 -> "one hundredth"."""
    words = english_cardinal(n)
    head, sep, last = max((words.rpartition(" "), words.rpartition("-")), key=lambda p: len(p[0]))
    if last in _EN_ORDINAL_IRREGULAR:
        last = _EN_ORDINAL_IRREGULAR[last]
    elif last.endswith("y"):
        last = last[:-1] + "ieth"
    else:
        last += "th"
    return head + sep + last


def english_year(n: int) -> str:
    """1984 -> "nineteen eighty-four", 1905 -> "nineteen oh five", 2005 -> "two thousand five"."""
    century, rest = divmod(n, 100)
    if 2000 <= n < 2010 or n % 1000 == 0:
        return english_cardinal(n)
    if rest == 0:
        return f"{_en_below_100(century)} hundred"
    if rest < 10:
        return f"{_en_below_100(century)} oh {_EN_ONES[rest]}"
    return f"{_en_below_100(century)} {_en_below_100(rest)}"


def _plural_en(words: str) -> str:
    return words[:-1] + "ies" if words.endswith("y") else words + "s"


def _english_number(token: str) -> str:
    """A numeral as written ("1,234", "3.14", "007") -> words."""
    whole, _, fraction = token.replace(",", "").partition(".")
    if len(whole) > 1 and whole.startswith("0"):
        words = _digits_en(whole)  # leading zeros: a code, not a quantity
    else:
        words = english_cardinal(int(whole))
    if fraction:
        words += " point " + _digits_en(fraction)
    return words


# ---------------------------------------------------------------- English rules

_NUMERAL = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"
_AM_PM = r"([AaPp])\.?\s?[Mm]\b\.?"

_EN_CLOCK_RE = re.compile(r"(?<![\d:])([01]?\d|2[0-3]):([0-5]\d)(?![\d:])(?:\s*" + _AM_PM + ")?")
_EN_HOUR_AM_PM_RE = re.compile(r"(?<![\d:.,])(1[0-2]|0?[1-9])\s?" + _AM_PM)
_EN_CURRENCY = {
    "$": ("dollar", "dollars", "cent", "cents"),
    "£": ("pound", "pounds", "penny", "pence"),
    "€": ("euro", "euros", "cent", "cents"),
    "¥": ("yen", "yen", "sen", "sen"),
}
_SCALE_WORDS = r"thousand|million|billion|trillion"
_EN_MONEY_RE = re.compile(r"([$£€¥])\s?(" + _NUMERAL + r")(?:\s+(" + _SCALE_WORDS + r")\b)?", re.IGNORECASE)
_EN_PERCENT_RE = re.compile(r"(-?)(" + _NUMERAL + r")\s?%")
_EN_ORDINAL_RE = re.compile(r"(?<![\d.,])(\d{1,3}(?:,\d{3})+|\d+)(st|nd|rd|th)\b", re.IGNORECASE)
_EN_DECADE_RE = re.compile(r"(?<![\d.,])(1[1-9]\d0|20[0-9]0)'?s\b")
_EN_SHORT_DECADE_RE = re.compile(r"(?<!\w)'([2-9]0)s\b")
# A year: four digits 1100-2099 standing alone (no thousands comma, no decimals, no more digits).
_EN_YEAR_RE = re.compile(r"(?<![\d.,$£€¥])(1[1-9]\d\d|20\d\d)(?![\d%]|[.,]\d)")
_BARE_DECIMAL_RE = re.compile(r"(?<![\w.])\.(?=\d)")
_NUMBER_RE = re.compile(r"(?<!\d)(" + _NUMERAL + r")")
_HASH_NUMBER_RE = re.compile(r"#\s?(?=\d)")
_DEGREES_RE = re.compile(r"\s?°\s?([CF])\b|\s?°")

_EN_SYMBOLS = symbol_rule({"&": " and ", "@": " at ", "+": " plus ", "=": " equals "})

_EN_ABBREVIATIONS = [
    abbreviation_rule(r"Mr\.", "Mister", can_end=False),
    abbreviation_rule(r"Mrs\.", "Missus", can_end=False),
    abbreviation_rule(r"Ms\.", "Miz", can_end=False),
    abbreviation_rule(r"Dr\.", "Doctor", can_end=False),
    abbreviation_rule(r"Prof\.", "Professor", can_end=False),
    abbreviation_rule(r"Rev\.", "Reverend", can_end=False),
    abbreviation_rule(r"Hon\.", "Honorable", can_end=False),
    abbreviation_rule(r"Gen\.", "General", can_end=False),
    abbreviation_rule(r"Col\.", "Colonel", can_end=False),
    abbreviation_rule(r"Capt\.", "Captain", can_end=False),
    abbreviation_rule(r"Lt\.", "Lieutenant", can_end=False),
    abbreviation_rule(r"Sgt\.", "Sergeant", can_end=False),
    abbreviation_rule(r"Gov\.", "Governor", can_end=False),
    abbreviation_rule(r"Sen\.", "Senator", can_end=False),
    abbreviation_rule(r"Mt\.", "Mount", can_end=False),
    abbreviation_rule(r"Ft\.", "Fort", can_end=False),
    abbreviation_rule(r"Jr\.", "Junior", can_end=True),
    abbreviation_rule(r"Sr\.", "Senior", can_end=True),
    abbreviation_rule(r"Inc\.", "Incorporated", can_end=True),
    abbreviation_rule(r"Ltd\.", "Limited", can_end=True),
    abbreviation_rule(r"Co\.", "Company", can_end=True),
    abbreviation_rule(r"Corp\.", "Corporation", can_end=True),
    abbreviation_rule(r"Bros\.", "Brothers", can_end=True),
    abbreviation_rule(r"Ave\.", "Avenue", can_end=True),
    abbreviation_rule(r"Rd\.", "Road", can_end=True),
    abbreviation_rule(r"Blvd\.", "Boulevard", can_end=True),
    abbreviation_rule(r"Dept\.", "Department", can_end=True),
    abbreviation_rule(r"approx\.", "approximately", can_end=True, flags=re.IGNORECASE),
    abbreviation_rule(r"etc\.", "et cetera", can_end=True, flags=re.IGNORECASE),
    abbreviation_rule(r"(?:[Vv]s\.|vs(?=\s))", "versus", can_end=False),
    abbreviation_rule(r"e\.\s?g\.", "for example", can_end=False, flags=re.IGNORECASE),
    abbreviation_rule(r"i\.\s?e\.", "that is", can_end=False, flags=re.IGNORECASE),
    abbreviation_rule(r"No\.(?=\s?\d)", "number", can_end=False, flags=re.IGNORECASE),
    abbreviation_rule(r"Jan\.", "January", can_end=True),
    abbreviation_rule(r"Feb\.", "February", can_end=True),
    abbreviation_rule(r"Apr\.", "April", can_end=True),
    abbreviation_rule(r"Jun\.", "June", can_end=True),
    abbreviation_rule(r"Jul\.", "July", can_end=True),
    abbreviation_rule(r"Aug\.", "August", can_end=True),
    abbreviation_rule(r"Sept?\.", "September", can_end=True),
    abbreviation_rule(r"Oct\.", "October", can_end=True),
    abbreviation_rule(r"Nov\.", "November", can_end=True),
    abbreviation_rule(r"Dec\.", "December", can_end=True),
]


_EN_SAINT_OR_STREET_RE = re.compile(r"(?<![\w.])St\.")


def _en_saint_or_street(m: re.Match[str]) -> str:
    """Saint before a name ("St. Louis"), unless a name precedes it ("Baker St."): then Street."""
    before = m.string[: m.start()].rstrip()
    head, _, previous = before.rpartition(" ")
    after_name = (
        previous[:1].isupper()
        and previous.isalpha()
        and head.strip()
        and not head.rstrip().endswith((".", "!", "?"))
    )
    if re.match(r"\s+[A-Z]", m.string[m.end() :]) and not after_name:
        return "Saint"
    return "Street" + _period_if_sentence_end(m)


def _period_if_sentence_end(m: re.Match[str]) -> str:
    """ "." when the period that ends the match ("p.m.", "St.") also ends the sentence, else ""."""
    if m.group(0).endswith(".") and ends_sentence(m.string, m.end(), capital_means_end=True):
        return "."
    return ""


def _en_clock(m: re.Match[str]) -> str:
    hour, minute, half = int(m.group(1)), int(m.group(2)), m.group(3)
    words = english_cardinal(hour)
    if minute == 0:
        words += "" if half else " o'clock"
    elif minute < 10:
        words += f" oh {_EN_ONES[minute]}"
    else:
        words += " " + _en_below_100(minute)
    if half:
        # Upper case so espeak spells it ("AM" -> "eɪ ɛm"); lower-case "am" is read as the verb.
        words += f" {half.upper()}M" + _period_if_sentence_end(m)
    return words


def _en_hour_am_pm(m: re.Match[str]) -> str:
    return f"{english_cardinal(int(m.group(1)))} {m.group(2).upper()}M" + _period_if_sentence_end(m)


def _en_iso_date(m: re.Match[str]) -> str:
    """2024-03-05 -> "March fifth, twenty twenty-four" (the US reading)."""
    year, month, day = (int(g) for g in m.groups())
    return f"{EN_MONTHS[month - 1]} {english_ordinal(day)}, {english_year(year)}"


def _en_money(m: re.Match[str]) -> str:
    one, many, sub_one, sub_many = _EN_CURRENCY[m.group(1)]
    amount, scale = m.group(2).replace(",", ""), m.group(3)
    if scale:
        return f"{_english_number(amount)} {scale.lower()} {many}"
    whole_str, _, fraction = amount.partition(".")
    whole = int(whole_str)
    if len(fraction) > 2:  # not a price in cents: read the decimal as is
        return f"{_english_number(amount)} {many}"
    cents = int(fraction.ljust(2, "0")) if fraction else 0
    parts = []
    if whole or not cents:
        parts.append(f"{english_cardinal(whole)} {one if whole == 1 else many}")
    if cents:
        parts.append(f"{english_cardinal(cents)} {sub_one if cents == 1 else sub_many}")
    return " and ".join(parts)


def _en_degrees(m: re.Match[str]) -> str:
    scale = {"C": " degrees Celsius", "F": " degrees Fahrenheit"}
    return scale.get(m.group(1) or "", " degrees")


def normalize_english(text: str) -> str:
    text = ISO_DATE_RE.sub(_en_iso_date, text)
    text = _EN_CLOCK_RE.sub(_en_clock, text)
    text = _EN_HOUR_AM_PM_RE.sub(_en_hour_am_pm, text)
    text = _EN_SAINT_OR_STREET_RE.sub(_en_saint_or_street, text)
    text = apply_rules(_EN_ABBREVIATIONS, text)
    text = _HASH_NUMBER_RE.sub("number ", text)
    text = _DEGREES_RE.sub(_en_degrees, text)
    text = apply_rules([_EN_SYMBOLS], text)
    text = _EN_MONEY_RE.sub(_en_money, text)
    text = _EN_PERCENT_RE.sub(
        lambda m: ("minus " if m.group(1) else "") + _english_number(m.group(2)) + " percent", text
    )
    text = _EN_ORDINAL_RE.sub(lambda m: english_ordinal(int(m.group(1).replace(",", ""))), text)
    text = _EN_DECADE_RE.sub(lambda m: _plural_en(english_year(int(m.group(1)))), text)
    text = _EN_SHORT_DECADE_RE.sub(lambda m: _plural_en(_en_below_100(int(m.group(1)))), text)
    text = _EN_YEAR_RE.sub(lambda m: english_year(int(m.group(1))), text)
    text = LETTER_DIGIT_RE.sub(" ", text)
    text = NEGATIVE_RE.sub("minus ", text)
    text = _BARE_DECIMAL_RE.sub("0.", text)
    return _NUMBER_RE.sub(lambda m: _english_number(m.group(1)), text)

