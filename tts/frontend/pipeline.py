"""Text frontend: raw text -> normalised sentences -> IPA phonemes -> symbol ids.

Order: ``normalize_text`` on the whole text (so abbreviation periods are gone), then
``split_sentences``, then per sentence the espeak-ng phonemizer and the symbol table.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from tts.errors import TextError
from tts.frontend.normalize import normalize_text
from tts.frontend.phonemizer import Phonemizer
from tts.frontend.sentences import split_sentences
from tts.frontend.symbols import DEFAULT_SYMBOLS, SILENT_SYMBOLS, SymbolTable

logger = logging.getLogger(__name__)

MAX_TEXT_IN_ERROR = 80  # characters of the user's text quoted back in an error message


@dataclass
class Utterance:
    """One sentence ready for the text-to-mel model."""

    text: str  # the normalised sentence
    phonemes: str  # IPA from espeak-ng, clause punctuation kept
    ids: list[int]  # symbol ids of ``phonemes``, length L


def _has_words(text: str) -> bool:
    """Whether there is anything to pronounce; espeak would read bare "!!!" aloud as "exclamation"."""
    return any(ch.isalnum() for ch in text)


def _quote(text: str) -> str:
    return repr(text if len(text) <= MAX_TEXT_IN_ERROR else text[:MAX_TEXT_IN_ERROR] + "...")


class Frontend:
    """Turns text in one language into per-sentence phoneme ids.

    ``language`` is an espeak-ng code ("en-us", "en-gb", "de", ...); an unknown code raises
    ``UserError``. ``symbols`` defaults to the table of ``DEFAULT_SYMBOLS``.
    """

    def __init__(self, language: str = "en-us", symbols: SymbolTable | None = None) -> None:
        self.language = language
        self.symbols = symbols if symbols is not None else SymbolTable(DEFAULT_SYMBOLS)
        self._phonemizer = Phonemizer(language)
        self._silent_ids = frozenset(i for i, s in enumerate(self.symbols.to_list()) if s in SILENT_SYMBOLS)

    def phonemize_sentence(self, text: str) -> tuple[str, str]:
        """(normalised text, phonemes) of one already-split sentence; phonemes are "" when it has no words."""
        normalised = normalize_text(text, self.language)
        if not _has_words(normalised):
            return normalised, ""
        return normalised, self._phonemizer.phonemize(normalised)

    def process(self, text: str) -> list[Utterance]:
        """Normalise, split into sentences, phonemize and encode.

        Sentences with nothing to pronounce are skipped; raises ``TextError`` when ``text`` is
        empty or none of it is speakable.
        """
        if not text or not text.strip():
            raise TextError("text is empty: give at least one word to speak")
        utterances = []
        for sentence in split_sentences(normalize_text(text, self.language)):
            if not _has_words(sentence):
                logger.debug("skipping sentence without words: %r", sentence)
                continue
            phonemes = self._phonemizer.phonemize(sentence)
            ids = self.symbols.encode(phonemes)
            if all(i in self._silent_ids for i in ids):
                logger.debug("skipping sentence with no speakable phonemes: %r -> %r", sentence, phonemes)
                continue
            utterances.append(Utterance(text=sentence, phonemes=phonemes, ids=ids))
        if not utterances:
            raise TextError(
                f"nothing speakable in {_quote(text)}: it has no words or numbers the voice can read"
            )
        return utterances
