"""Phoneme symbol inventory and the character <-> id mapping fed to the text-to-mel model.

Every symbol is one Unicode code point, so encoding is per character: a combining diacritic
(nasal ̃, syllabic ̩) or a modifier (ˈ ˌ ː ʲ) gets its own id rather than one id per
letter+diacritic pair, which keeps the table small and covers unseen combinations.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence

from tts.errors import UserError

logger = logging.getLogger(__name__)

PAD = "_"  # id 0: padding in batches; never produced by the phonemizer
PAD_ID = 0  # the id of PAD: first in every table, so padded batches are zeros
SPACE = " "  # word boundary
PUNCTUATION = "!'(),-.:;?\""  # the phonemizer keeps , . ! ? ; : ; the rest are reserved for other frontends
# Symbols that make no sound: a sentence whose ids are all among these has nothing to say.
SILENT_SYMBOLS = frozenset(PAD + SPACE + PUNCTUATION)

# Every code point espeak-ng emitted in IPA mode for the full CMU dictionary (en-us, en-gb) and
# a 356k-word German word list (de), in order of frequency there, first; the ids of these never change.
_ESPEAK_EN_DE = (
    "ˈəntːsɪˌaldɛkɾmʊfiɡbʃpzrɜeɑɹɔvoŋhuçæɚjʌʏøwxɐɒʒyᵻœθð"
    "\u0329"  # combining vertical line below: syllabic consonant (English "button")
    "ʔ"
    "\u0303"  # combining tilde: nasal vowel in French loanwords
    "ɬʲ"
)
# Not seen in that sweep but standard in espeak's English/German tables or cheap to reserve, so
# a voice trained now can still encode them later: r-coloured ɝ, half-long ˑ, tie bars, etc.
_RESERVED_IPA = (
    "ɝˑʁʀɫʍɘɵʉɨɯɤβɸχɣɲɳɴɭʎʝɕʑʂʐɟcqɢħʕɦɻɰʋɺɽɓɗɠʰʷˠˤ"
    "\u0361"  # combining double inverted breve: tie bar (t͡ʃ)
    "\u035c"  # combining double breve below: tie bar variant
    "\u032a"  # combining bridge below: dental
    "\u0325"  # combining ring below: voiceless
    "\u032f"  # combining inverted breve below: non-syllabic (diphthong glide)
    "˞"
)

DEFAULT_SYMBOLS: tuple[str, ...] = (PAD, SPACE, *PUNCTUATION, *_ESPEAK_EN_DE, *_RESERVED_IPA)


class SymbolTable:
    """Maps phoneme strings to integer ids per character; ids are positions in ``symbols``."""

    pad_id = PAD_ID

    def __init__(self, symbols: Sequence[str]) -> None:
        symbols = list(symbols)
        bad = [s for s in symbols if len(s) != 1]
        if bad:
            raise UserError(f"symbol table entries must be single characters, got {bad!r}")
        duplicates = sorted({s for s in symbols if symbols.count(s) > 1})
        if duplicates:
            raise UserError(f"symbol table has duplicate entries {duplicates!r}")
        if not symbols or symbols[0] != PAD:
            raise UserError(f"symbol table must start with the pad symbol {PAD!r} at id 0")
        self._symbols = symbols
        self._ids = {s: i for i, s in enumerate(symbols)}

    def __len__(self) -> int:
        return len(self._symbols)

    def __contains__(self, symbol: object) -> bool:
        return symbol in self._ids

    def encode(self, phonemes: str) -> list[int]:
        """Ids of the characters of ``phonemes``; characters not in the table are dropped with one warning."""
        ids: list[int] = []
        unknown: list[str] = []
        for char in phonemes:
            idx = self._ids.get(char)
            if idx is None:
                if char not in unknown:
                    unknown.append(char)
            else:
                ids.append(idx)
        if unknown:
            listed = ", ".join(f"{c!r} (U+{ord(c):04X})" for c in unknown)
            logger.warning("dropping phoneme symbols not in the symbol table: %s", listed)
        return ids

    def decode(self, ids: Iterable[int]) -> str:
        """Inverse of :meth:`encode` for ids from this table."""
        return "".join(self._symbols[int(i)] for i in ids)

    def to_list(self) -> list[str]:
        """The symbols in id order (for the voice manifest)."""
        return list(self._symbols)
