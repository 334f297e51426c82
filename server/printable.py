"""Client-supplied text made safe to echo: bounded in length and one line of printable characters.

Status messages travel in gRPC metadata (an 8 KiB soft limit) and log fields are read line by
line, so a name a client sent is never echoed raw: a newline in it could forge a log line and a
long one could push the status itself over the metadata limit.
"""

from __future__ import annotations

# Characters of client text kept when it is echoed; enough to recognise any sensible voice name.
MAX_ECHO_CHARS = 64
# Upper bound of a status message, however many escaped names it quotes.
MAX_DETAILS_CHARS = 1000
ELLIPSIS = "..."


def escape(text: str) -> str:
    """``text`` with every non-printable character (newline, NUL, ...) as a backslash escape."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


def printable(text: str, limit: int = MAX_ECHO_CHARS) -> str:
    """``text`` escaped (:func:`escape`) and cut to at most ``limit`` characters of the original."""
    if len(text) <= limit:
        return escape(text)
    return f"{escape(text[:limit])}{ELLIPSIS}({len(text)} chars)"


def one_line(text: str, limit: int = MAX_DETAILS_CHARS) -> str:
    """Server-made ``text`` that may quote client input: escaped, and cut at ``limit`` characters."""
    line = escape(text)
    return line if len(line) <= limit else line[: limit - len(ELLIPSIS)] + ELLIPSIS
