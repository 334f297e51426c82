"""German normalisation: numbers, years, ISO dates, money, clock times, dative ordinals, abbreviations, symbols."""

from __future__ import annotations

import re

from tts.frontend.text_rules import (
    DIGIT_BY_DIGIT_ABOVE,
    ISO_DATE_RE,
    LETTER_DIGIT_RE,
    NEGATIVE_RE,
    Replacement,
    abbreviation_rule,
    apply_rules,
    ends_sentence,
    symbol_rule,
)

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
_DE_MONTHS = (
    "Januar",
    "Februar",
    "März",
    "April",
    "Mai",
    "Juni",
    "Juli",
    "August",
    "September",
    "Oktober",
    "November",
    "Dezember",
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
# The ordinal's ending follows the word before it: "am fünften", "der fünfte", bare "fünfter".
_DE_DATIVE_BEFORE_RE = re.compile(r"\b(?:am|im|vom|zum|beim|dem|den|seit|bis)\s+$", re.IGNORECASE)
_DE_ARTICLE_BEFORE_RE = re.compile(r"\b(?:der|die|das)\s+$", re.IGNORECASE)
_DE_DEGREES_RE = re.compile(r"\s?°\s?([CF])\b")
# "Hauptstr.": the street abbreviation inside a compound, which the word-start rule for "Str." misses.
_DE_COMPOUND_STREET_RE = re.compile(r"(?<=[a-zäöüß])str\.")
_DE_SYMBOLS = symbol_rule(
    {"&": " und ", "%": " Prozent", "+": " plus ", "=": " gleich ", "°": " Grad", "@": " at "}
)

# German nouns are capitalised, so a capital after an abbreviation does not mean a new sentence:
# only "usw." and "etc." keep their period, and only at the very end of the text.
_DE_ABBREVIATIONS = [
    abbreviation_rule(r"z\.\s?B\.", "zum Beispiel", can_end=False),
    abbreviation_rule(r"d\.\s?h\.", "das heißt", can_end=False),
    abbreviation_rule(r"u\.\s?a\.", "unter anderem", can_end=False),
    abbreviation_rule(r"Dr\.", "Doktor", can_end=False),
    abbreviation_rule(r"Prof\.", "Professor", can_end=False),
    abbreviation_rule(r"Nr\.", "Nummer", can_end=False),
    abbreviation_rule(r"bzw\.", "beziehungsweise", can_end=False),
    abbreviation_rule(r"ca\.", "circa", can_end=False),
    abbreviation_rule(r"vgl\.", "vergleiche", can_end=False),
    abbreviation_rule(r"evtl\.", "eventuell", can_end=False),
    abbreviation_rule(r"ggf\.", "gegebenenfalls", can_end=False),
    abbreviation_rule(r"inkl\.", "inklusive", can_end=False),
    abbreviation_rule(r"Hr\.", "Herr", can_end=False),
    abbreviation_rule(r"Fr\.", "Frau", can_end=False),
    abbreviation_rule(r"St\.", "Sankt", can_end=False),
    abbreviation_rule(r"Str\.", "Straße", can_end=False),
    abbreviation_rule(r"Mio\.", "Millionen", can_end=False),
    abbreviation_rule(r"Mrd\.", "Milliarden", can_end=False),
]
_DE_SENTENCE_FINAL_ABBREVIATIONS = [
    (re.compile(r"(?<![\w.])usw\."), "und so weiter"),
    (re.compile(r"(?<![\w.])etc\."), "et cetera"),
]


def _de_final_abbreviation(expansion: str) -> Replacement:
    def replace(m: re.Match[str]) -> str:
        return expansion + ("." if ends_sentence(m.string, m.end(), capital_means_end=False) else "")

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


def _de_iso_date(m: re.Match[str]) -> str:
    """2024-03-05 -> "fünfte(n/r) März zweitausendvierundzwanzig", the ending chosen by the word before."""
    year, month, day = (int(g) for g in m.groups())
    before = m.string[: m.start()]
    if _DE_DATIVE_BEFORE_RE.search(before):
        ending = "en"
    elif _DE_ARTICLE_BEFORE_RE.search(before):
        ending = "e"
    else:
        ending = "er"
    return f"{german_ordinal_stem(day)}{ending} {_DE_MONTHS[month - 1]} {german_year(year)}"


def _de_clock(m: re.Match[str]) -> str:
    hour, minute = int(m.group(1)), int(m.group(2))
    return f"{german_cardinal(hour)} Uhr" + (f" {german_cardinal(minute)}" if minute else "")


def normalize_german(text: str) -> str:
    text = ISO_DATE_RE.sub(_de_iso_date, text)
    text = apply_rules(_DE_ABBREVIATIONS, text)
    for regex, expansion in _DE_SENTENCE_FINAL_ABBREVIATIONS:
        text = regex.sub(_de_final_abbreviation(expansion), text)
    text = _DE_COMPOUND_STREET_RE.sub(_de_final_abbreviation("straße"), text)
    text = _DE_DEGREES_RE.sub(lambda m: " Grad " + {"C": "Celsius", "F": "Fahrenheit"}[m.group(1)], text)
    text = _DE_CLOCK_RE.sub(_de_clock, text)
    text = _DE_MONEY_RE.sub(_de_money, text)
    # "am 3. Mai" is an ordinal in the dative; other cases need grammar we do not model.
    text = _DE_ORDINAL_CONTEXT_RE.sub(
        lambda m: f"{m.group(1)} {german_ordinal_stem(int(m.group(2)))}en", text
    )
    text = apply_rules([_DE_SYMBOLS], text)
    text = _DE_YEAR_RE.sub(lambda m: german_year(int(m.group(1))), text)
    text = LETTER_DIGIT_RE.sub(" ", text)
    text = NEGATIVE_RE.sub("minus ", text)
    return _DE_NUMBER_RE.sub(lambda m: _german_number(m.group(1)), text)

