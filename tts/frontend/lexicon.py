"""A user lexicon: words the frontend pronounces as given IPA instead of asking espeak-ng.

File format: UTF-8, one ``word<TAB>IPA`` per line; blank lines and lines starting with ``#`` are
skipped. Words match case-insensitively, ignoring the punctuation around them in the text.
"""

from __future__ import annotations

import logging
from pathlib import Path

from tts.errors import UserError

logger = logging.getLogger(__name__)

COMMENT = "#"
MAX_LEXICON_BYTES = 10_000_000  # a lexicon is a list of exceptions, not a dictionary of the language


class Lexicon:
    """Word (case-folded) -> IPA."""

    def __init__(self, entries: dict[str, str] | None = None) -> None:
        self._entries = {word.casefold(): ipa for word, ipa in (entries or {}).items()}

    def __len__(self) -> int:
        return len(self._entries)

    def __bool__(self) -> bool:
        return bool(self._entries)

    def lookup(self, word: str) -> str | None:
        """IPA of ``word`` (bare, without surrounding punctuation), or ``None``."""
        return self._entries.get(word.casefold())

    @classmethod
    def read(cls, path: str | Path) -> Lexicon:
        """Load a ``word<TAB>IPA`` file; :class:`UserError` names the first bad line."""
        path = Path(path)
        try:
            if path.stat().st_size > MAX_LEXICON_BYTES:
                raise UserError(f"lexicon {path} is larger than {MAX_LEXICON_BYTES} bytes")
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as e:
            raise UserError(f"cannot read lexicon {path}: {e}") from None
        entries: dict[str, str] = {}
        for number, line in enumerate(lines, 1):
            if not line.strip() or line.lstrip().startswith(COMMENT):
                continue
            word, tab, ipa = line.partition("\t")
            if not tab or not word.strip() or not ipa.strip() or len(word.split()) != 1:
                raise UserError(f"lexicon {path} line {number}: expected one word, a TAB, then its IPA")
            entries[word.strip()] = ipa.strip()
        logger.info("lexicon %s: %d words", path, len(entries))
        return cls(entries)
