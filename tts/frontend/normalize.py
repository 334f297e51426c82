"""Text normalisation (written-form text -> words a phonemizer can read) and sentence splitting.

Order of use: ``normalize_text`` first, then ``split_sentences`` on its output. Normalising
first expands abbreviations ("Dr." -> "Doctor") and numbers ("3.14" -> "three point one four"),
so the periods left are mostly sentence ends; the splitter still refuses to split after
single-letter initials and the common abbreviations, so raw text does not break badly either.

English gets the full treatment (numbers, ordinals, years, currency, percent, time,
abbreviations, symbols); German gets numbers, a few abbreviations and symbols; every other
language only gets the Unicode clean-up, because wrong words are worse than espeak's own
digit reading.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Callable

logger = logging.getLogger(__name__)

# Longer sentences are cut at commas: attention-based text-to-mel degrades on very long inputs.
MAX_WORDS_PER_CHUNK = 40
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


def _tidy(text: str) -> str:
    """Collapse whitespace, repeated marks and stray commas left by the rewrites."""
    text = _WHITESPACE_RE.sub(" ", text)
    text = _SPACE_BEFORE_PUNCT_RE.sub(r"\1", text)
    text = _MARK_RUN_RE.sub(_one_mark, text)
    text = _LEADING_COMMA_RE.sub("", text)
    return text.strip()


def _ends_sentence(text: str, pos: int, capital_means_end: bool) -> bool:
    """Whether an abbreviation's period that ends at ``pos`` also ends the sentence."""
    rest = text[pos:]
    if not rest.strip():
        return True
    return capital_means_end and re.match(r"\s+[\"'(]?[A-Z]", rest) is not None


Replacement = Callable[[re.Match[str]], str]


def _abbreviation_rule(
    pattern: str, expansion: str, can_end: bool, flags: int = 0
) -> tuple[re.Pattern[str], Replacement]:
    """A rewrite of ``pattern`` to ``expansion``, keeping a sentence-ending period when ``can_end``."""
    regex = re.compile(r"(?<![\w.])" + pattern, flags)

    def replace(m: re.Match[str]) -> str:
        if can_end and m.group(0).endswith(".") and _ends_sentence(m.string, m.end(), capital_means_end=True):
            return expansion + "."
        return expansion

    return regex, replace


def _apply(rules: list[tuple[re.Pattern[str], Replacement]], text: str) -> str:
    for regex, replace in rules:
        text = regex.sub(replace, text)
    return text


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
_NEGATIVE_RE = re.compile(r"(?<![\w)\]])-(?=\d)")
_BARE_DECIMAL_RE = re.compile(r"(?<![\w.])\.(?=\d)")
_NUMBER_RE = re.compile(r"(?<!\d)(" + _NUMERAL + r")")
_LETTER_DIGIT_RE = re.compile(r"(?<=[^\W\d_])(?=\d)|(?<=\d)(?=[^\W\d_])")
_HASH_NUMBER_RE = re.compile(r"#\s?(?=\d)")
_DEGREES_RE = re.compile(r"\s?°\s?([CF])\b|\s?°")

_EN_SYMBOLS = {"&": " and ", "@": " at ", "+": " plus ", "=": " equals "}
_SYMBOL_RE = re.compile("|".join(re.escape(s) for s in _EN_SYMBOLS))

_EN_ABBREVIATIONS = [
    _abbreviation_rule(r"Mr\.", "Mister", can_end=False),
    _abbreviation_rule(r"Mrs\.", "Missus", can_end=False),
    _abbreviation_rule(r"Ms\.", "Miz", can_end=False),
    _abbreviation_rule(r"Dr\.", "Doctor", can_end=False),
    _abbreviation_rule(r"Prof\.", "Professor", can_end=False),
    _abbreviation_rule(r"Rev\.", "Reverend", can_end=False),
    _abbreviation_rule(r"Hon\.", "Honorable", can_end=False),
    _abbreviation_rule(r"Gen\.", "General", can_end=False),
    _abbreviation_rule(r"Col\.", "Colonel", can_end=False),
    _abbreviation_rule(r"Capt\.", "Captain", can_end=False),
    _abbreviation_rule(r"Lt\.", "Lieutenant", can_end=False),
    _abbreviation_rule(r"Sgt\.", "Sergeant", can_end=False),
    _abbreviation_rule(r"Gov\.", "Governor", can_end=False),
    _abbreviation_rule(r"Sen\.", "Senator", can_end=False),
    _abbreviation_rule(r"Mt\.", "Mount", can_end=False),
    _abbreviation_rule(r"Ft\.", "Fort", can_end=False),
    _abbreviation_rule(r"Jr\.", "Junior", can_end=True),
    _abbreviation_rule(r"Sr\.", "Senior", can_end=True),
    _abbreviation_rule(r"Inc\.", "Incorporated", can_end=True),
    _abbreviation_rule(r"Ltd\.", "Limited", can_end=True),
    _abbreviation_rule(r"Co\.", "Company", can_end=True),
    _abbreviation_rule(r"Corp\.", "Corporation", can_end=True),
    _abbreviation_rule(r"Bros\.", "Brothers", can_end=True),
    _abbreviation_rule(r"Ave\.", "Avenue", can_end=True),
    _abbreviation_rule(r"Rd\.", "Road", can_end=True),
    _abbreviation_rule(r"Blvd\.", "Boulevard", can_end=True),
    _abbreviation_rule(r"Dept\.", "Department", can_end=True),
    _abbreviation_rule(r"approx\.", "approximately", can_end=True, flags=re.IGNORECASE),
    _abbreviation_rule(r"etc\.", "et cetera", can_end=True, flags=re.IGNORECASE),
    _abbreviation_rule(r"(?:[Vv]s\.|vs(?=\s))", "versus", can_end=False),
    _abbreviation_rule(r"e\.\s?g\.", "for example", can_end=False, flags=re.IGNORECASE),
    _abbreviation_rule(r"i\.\s?e\.", "that is", can_end=False, flags=re.IGNORECASE),
    _abbreviation_rule(r"No\.(?=\s?\d)", "number", can_end=False, flags=re.IGNORECASE),
    _abbreviation_rule(r"Jan\.", "January", can_end=True),
    _abbreviation_rule(r"Feb\.", "February", can_end=True),
    _abbreviation_rule(r"Apr\.", "April", can_end=True),
    _abbreviation_rule(r"Jun\.", "June", can_end=True),
    _abbreviation_rule(r"Jul\.", "July", can_end=True),
    _abbreviation_rule(r"Aug\.", "August", can_end=True),
    _abbreviation_rule(r"Sept?\.", "September", can_end=True),
    _abbreviation_rule(r"Oct\.", "October", can_end=True),
    _abbreviation_rule(r"Nov\.", "November", can_end=True),
    _abbreviation_rule(r"Dec\.", "December", can_end=True),
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
    if m.group(0).endswith(".") and _ends_sentence(m.string, m.end(), capital_means_end=True):
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


def _normalize_english(text: str) -> str:
    text = _EN_CLOCK_RE.sub(_en_clock, text)
    text = _EN_HOUR_AM_PM_RE.sub(_en_hour_am_pm, text)
    text = _EN_SAINT_OR_STREET_RE.sub(_en_saint_or_street, text)
    text = _apply(_EN_ABBREVIATIONS, text)
    text = _HASH_NUMBER_RE.sub("number ", text)
    text = _DEGREES_RE.sub(_en_degrees, text)
    text = _SYMBOL_RE.sub(lambda m: _EN_SYMBOLS[m.group(0)], text)
    text = _EN_MONEY_RE.sub(_en_money, text)
    text = _EN_PERCENT_RE.sub(
        lambda m: ("minus " if m.group(1) else "") + _english_number(m.group(2)) + " percent", text
    )
    text = _EN_ORDINAL_RE.sub(lambda m: english_ordinal(int(m.group(1).replace(",", ""))), text)
    text = _EN_DECADE_RE.sub(lambda m: _plural_en(english_year(int(m.group(1)))), text)
    text = _EN_SHORT_DECADE_RE.sub(lambda m: _plural_en(_en_below_100(int(m.group(1)))), text)
    text = _EN_YEAR_RE.sub(lambda m: english_year(int(m.group(1))), text)
    text = _LETTER_DIGIT_RE.sub(" ", text)
    text = _NEGATIVE_RE.sub("minus ", text)
    text = _BARE_DECIMAL_RE.sub("0.", text)
    return _NUMBER_RE.sub(lambda m: _english_number(m.group(1)), text)


# ---------------------------------------------------------------- German

_DE_ONES = (
    "null",
    "eins",
    "zwei",
    "drei",
    "vier",
    "fünf",
    "sechs",
    "sieben",
    "acht",
    "neun",
    "zehn",
    "elf",
    "zwölf",
    "dreizehn",
    "vierzehn",
    "fünfzehn",
    "sechzehn",
    "siebzehn",
    "achtzehn",
    "neunzehn",
)
_DE_TENS = ("_", "_", "zwanzig", "dreißig", "vierzig", "fünfzig", "sechzig", "siebzig", "achtzig", "neunzig")
# (value, singular, plural): the large scales are separate feminine nouns ("eine Million").
_DE_LARGE_SCALES = (
    (10**12, "Billion", "Billionen"),
    (10**9, "Milliarde", "Milliarden"),
    (10**6, "Million", "Millionen"),
)


def _de_below_100(n: int, final: bool) -> str:
    """``final``: the number ends here, so 1 is "eins"; inside a compound it is "ein" (einhundert)."""
    if n == 1:
        return "eins" if final else "ein"
    if n < 20:
        return _DE_ONES[n]
    tens, ones = divmod(n, 10)
    if not ones:
        return _DE_TENS[tens]
    unit = "ein" if ones == 1 else _DE_ONES[ones]
    return f"{unit}und{_DE_TENS[tens]}"


def _de_below_million(n: int, final: bool) -> str:
    """Written as one word: 1234 -> "eintausendzweihundertvierunddreißig"."""
    thousands, n = divmod(n, 1000)
    hundreds, rest = divmod(n, 100)
    word = ""
    if thousands:
        word += _de_below_1000(thousands, final=False) + "tausend"
    if hundreds:
        word += _de_below_100(hundreds, final=False) + "hundert"
    if rest or not word:
        word += _de_below_100(rest, final)
    return word


def _de_below_1000(n: int, final: bool) -> str:
    hundreds, rest = divmod(n, 100)
    word = _de_below_100(hundreds, final=False) + "hundert" if hundreds else ""
    if rest or not word:
        word += _de_below_100(rest, final)
    return word


def german_cardinal(n: int) -> str:
    """Words of an integer: 21 -> "einundzwanzig", 2000000 -> "zwei Millionen"."""
    if n < 0:
        return "minus " + german_cardinal(-n)
    if n >= DIGIT_BY_DIGIT_ABOVE:
        return " ".join(_DE_ONES[int(d)] for d in str(n))
    parts = []
    for value, singular, plural in _DE_LARGE_SCALES:
        count, n = divmod(n, value)
        if count == 1:
            parts.append(f"eine {singular}")
        elif count:
            parts.append(f"{_de_below_million(count, final=True)} {plural}")
    if n or not parts:
        parts.append(_de_below_million(n, final=True))
    return " ".join(parts)


def german_year(n: int) -> str:
    """1984 -> "neunzehnhundertvierundachtzig"; from 2000 on years read as plain numbers."""
    if 1100 <= n < 2000:
        century, rest = divmod(n, 100)
        return (
            _de_below_100(century, final=False)
            + "hundert"
            + (_de_below_100(rest, final=True) if rest else "")
        )
    return german_cardinal(n)


def _german_number(token: str) -> str:
    """A German numeral ("1.234", "3,14"; also "3.14" written the English way) -> words."""
    if re.fullmatch(r"\d{1,3}(?:\.\d{3})+(?:,\d+)?", token):
        token = token.replace(".", "")  # "." groups thousands
    whole, _, fraction = token.replace(".", ",").partition(",")
    if len(whole) > 1 and whole.startswith("0"):
        words = " ".join(_DE_ONES[int(d)] for d in whole)
    else:
        words = german_cardinal(int(whole))
    if fraction:
        words += " Komma " + " ".join(_DE_ONES[int(d)] for d in fraction)
    return words


_DE_NUMERAL = r"\d{1,3}(?:\.\d{3})+(?:,\d+)?|\d+(?:[,.]\d+)?"
_DE_NUMBER_RE = re.compile(r"(?<!\d)(" + _DE_NUMERAL + r")")
_DE_YEAR_RE = re.compile(r"(?<![\d.,])(1[1-9]\d\d)(?![\d%]|[.,]\d|\s?Prozent)")
_DE_CLOCK_RE = re.compile(r"(?<![\d:])([01]?\d|2[0-3]):([0-5]\d)(?:\s?Uhr\b)?(?![\d:])")
# The unit name does not inflect ("fünf Euro", "zwei Pfund"), and cents follow bare: "fünf Euro fünfzig".
_DE_CURRENCY = {"€": "Euro", "$": "Dollar", "£": "Pfund"}
_DE_MONEY_RE = re.compile(r"([€$£])\s?(" + _DE_NUMERAL + r")|(" + _DE_NUMERAL + r")\s?([€$£])")
_DE_ORDINAL_CONTEXT_RE = re.compile(r"\b(am|im|vom|zum|beim|dem|den)\s+(\d{1,4})\.(?=\s)", re.IGNORECASE)
_DE_SYMBOLS = {"&": " und ", "%": " Prozent", "+": " plus ", "=": " gleich ", "°": " Grad", "@": " at "}
_DE_SYMBOL_RE = re.compile("|".join(re.escape(s) for s in _DE_SYMBOLS))

# German nouns are capitalised, so a capital after an abbreviation does not mean a new sentence:
# only "usw." and "etc." keep their period, and only at the very end of the text.
_DE_ABBREVIATIONS = [
    _abbreviation_rule(r"z\.\s?B\.", "zum Beispiel", can_end=False),
    _abbreviation_rule(r"d\.\s?h\.", "das heißt", can_end=False),
    _abbreviation_rule(r"u\.\s?a\.", "unter anderem", can_end=False),
    _abbreviation_rule(r"Dr\.", "Doktor", can_end=False),
    _abbreviation_rule(r"Prof\.", "Professor", can_end=False),
    _abbreviation_rule(r"Nr\.", "Nummer", can_end=False),
    _abbreviation_rule(r"bzw\.", "beziehungsweise", can_end=False),
    _abbreviation_rule(r"ca\.", "circa", can_end=False),
    _abbreviation_rule(r"vgl\.", "vergleiche", can_end=False),
    _abbreviation_rule(r"evtl\.", "eventuell", can_end=False),
    _abbreviation_rule(r"ggf\.", "gegebenenfalls", can_end=False),
    _abbreviation_rule(r"inkl\.", "inklusive", can_end=False),
    _abbreviation_rule(r"Hr\.", "Herr", can_end=False),
    _abbreviation_rule(r"Fr\.", "Frau", can_end=False),
    _abbreviation_rule(r"St\.", "Sankt", can_end=False),
    _abbreviation_rule(r"Str\.", "Straße", can_end=False),
    _abbreviation_rule(r"Mio\.", "Millionen", can_end=False),
    _abbreviation_rule(r"Mrd\.", "Milliarden", can_end=False),
]
_DE_SENTENCE_FINAL_ABBREVIATIONS = [
    (re.compile(r"(?<![\w.])usw\."), "und so weiter"),
    (re.compile(r"(?<![\w.])etc\."), "et cetera"),
]


def _de_final_abbreviation(expansion: str) -> Replacement:
    def replace(m: re.Match[str]) -> str:
        return expansion + ("." if _ends_sentence(m.string, m.end(), capital_means_end=False) else "")

    return replace


def german_ordinal_stem(n: int) -> str:
    """Ordinal without its ending: 3 -> "dritt", 21 -> "einundzwanzigst" (+ "e"/"en" by case)."""
    base = german_cardinal(n)
    last_two = n % 100
    if base.endswith("eins"):
        return base[: -len("eins")] + "erst"
    if last_two == 3:
        return base[: -len("drei")] + "dritt"
    if last_two == 7:
        return base[: -len("sieben")] + "siebt"
    if last_two == 8:
        return base  # "acht" + "e": the t is already there
    return base + ("t" if 0 < last_two < 20 else "st")


def _de_money(m: re.Match[str]) -> str:
    symbol, amount = (m.group(1), m.group(2)) if m.group(1) else (m.group(4), m.group(3))
    unit = _DE_CURRENCY[symbol]
    whole, sep, cents = amount.rpartition(",") if "," in amount else (amount, "", "")
    if sep and len(cents) == 2:
        words = f"{_german_number(whole)} {unit}"
        return words + (f" {german_cardinal(int(cents))}" if int(cents) else "")
    return f"{_german_number(amount)} {unit}"


def _de_clock(m: re.Match[str]) -> str:
    hour, minute = int(m.group(1)), int(m.group(2))
    return f"{german_cardinal(hour)} Uhr" + (f" {german_cardinal(minute)}" if minute else "")


def _normalize_german(text: str) -> str:
    text = _apply(_DE_ABBREVIATIONS, text)
    for regex, expansion in _DE_SENTENCE_FINAL_ABBREVIATIONS:
        text = regex.sub(_de_final_abbreviation(expansion), text)
    text = _DE_CLOCK_RE.sub(_de_clock, text)
    text = _DE_MONEY_RE.sub(_de_money, text)
    # "am 3. Mai" is an ordinal in the dative; other cases need grammar we do not model.
    text = _DE_ORDINAL_CONTEXT_RE.sub(
        lambda m: f"{m.group(1)} {german_ordinal_stem(int(m.group(2)))}en", text
    )
    text = _DE_SYMBOL_RE.sub(lambda m: _DE_SYMBOLS[m.group(0)], text)
    text = _DE_YEAR_RE.sub(lambda m: german_year(int(m.group(1))), text)
    text = _LETTER_DIGIT_RE.sub(" ", text)
    text = _NEGATIVE_RE.sub("minus ", text)
    return _DE_NUMBER_RE.sub(lambda m: _german_number(m.group(1)), text)


# ---------------------------------------------------------------- entry points


def normalize_text(text: str, language: str = "en-us") -> str:
    """Written text -> speakable words for ``language`` (an espeak-ng code such as "en-us", "de").

    Example: ``normalize_text("Dr. Smith paid $5.50 in 1984.")`` ->
    ``"Doctor Smith paid five dollars and fifty cents in nineteen eighty-four."``
    """
    lang = language.strip().lower()
    if lang.startswith("en"):
        return _tidy(_normalize_english(clean_unicode(text, range_word="to")))
    if lang.startswith("de"):
        return _tidy(_normalize_german(clean_unicode(text, range_word="bis")))
    return _tidy(clean_unicode(text))


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
