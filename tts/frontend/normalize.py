"""Text normalisation: written-form text -> words a phonemizer can read, per language.

Order of use: ``normalize_text`` first, then :func:`tts.frontend.sentences.split_sentences` on its
output. Normalising first expands abbreviations ("Dr." -> "Doctor") and numbers ("3.14" -> "three
point one four"), so the periods left are mostly sentence ends; the splitter still refuses to split
after single-letter initials and the common abbreviations, so raw text does not break badly either.

The rules live in :mod:`tts.frontend.english` and :mod:`tts.frontend.german`; what they share (Unicode
clean-up, rule tables, tidying) in :mod:`tts.frontend.text_rules`.

English gets the full treatment (numbers, ordinals, years, currency, percent, time,
abbreviations, symbols); German gets numbers, a few abbreviations and symbols; every other
language only gets the Unicode clean-up, because wrong words are worse than espeak's own
digit reading.
"""

from __future__ import annotations

from tts.frontend.english import normalize_english
from tts.frontend.german import normalize_german
from tts.frontend.text_rules import clean_unicode, tidy


def normalize_text(text: str, language: str = "en-us") -> str:
    """Written text -> speakable words for ``language`` (an espeak-ng code such as "en-us", "de").

    Example: ``normalize_text("Dr. Smith paid $5.50 in 1984.")`` ->
    ``"Doctor Smith paid five dollars and fifty cents in nineteen eighty-four."``
    """
    lang = language.strip().lower()
    if lang.startswith("en"):
        return tidy(normalize_english(clean_unicode(text, range_word="to")))
    if lang.startswith("de"):
        return tidy(normalize_german(clean_unicode(text, range_word="bis")))
    return tidy(clean_unicode(text))

