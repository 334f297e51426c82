"""A subset of SSML 1.1 parsed into a flat list of events the frontend turns into utterances.

Supported tags (:data:`SUPPORTED_TAGS`): ``<speak>`` (the root), ``<p>``, ``<s>``, ``<break time
strength>``, ``<prosody rate pitch volume>``, ``<phoneme alphabet="ipa" ph>``, ``<sub alias>``,
``<say-as interpret-as format>`` and ``<mark name>``. Anything else -- an unknown tag or attribute,
malformed XML, a DTD -- raises :class:`SsmlError` naming the tag and its line and column; nothing
is ever read aloud as markup.

The parser is the standard library's expat with every DTD construct refused, so entity
expansion (billion laughs) and external entities cannot happen; depth, size and total break time
are bounded so hostile input fails at once instead of eating memory or producing hours of silence.
"""

from __future__ import annotations

import logging
import math
import re
import xml.parsers.expat
from dataclasses import dataclass, field, replace

from tts.errors import TextError
from tts.units import MS_PER_S

logger = logging.getLogger(__name__)

SPEAK_TAG = "<speak"  # input starting with this (after whitespace) is SSML
MAX_SSML_CHARS = 100_000  # bounds parse time and memory; longer documents are refused
MAX_DEPTH = 32  # nesting deeper than any real document; 10k nested elements fail fast
MAX_BREAK_S = 10.0  # one <break>; longer pauses are almost certainly a unit mistake ("5000s")
MAX_TOTAL_BREAK_S = 60.0  # all breaks together, so a document cannot ask for hours of silence
# <break strength>: pause in seconds. "medium" is also the pause of a bare <break/> (SSML 1.1).
BREAK_STRENGTHS = {"none": 0.0, "x-weak": 0.1, "weak": 0.2, "medium": 0.4, "strong": 0.7, "x-strong": 1.0}
# <prosody rate>: multiplier of the speaking rate.
RATE_WORDS = {"x-slow": 0.5, "slow": 0.75, "medium": 1.0, "default": 1.0, "fast": 1.25, "x-fast": 1.5}
# <prosody pitch>: semitones added.
PITCH_WORDS = {"x-low": -6.0, "low": -3.0, "medium": 0.0, "default": 0.0, "high": 3.0, "x-high": 6.0}
# <prosody volume>: decibels added; "silent" is the quietest gain a request may ask for.
VOLUME_WORDS = {
    "silent": -96.0,
    "x-soft": -12.0,
    "soft": -6.0,
    "medium": 0.0,
    "default": 0.0,
    "loud": 6.0,
    "x-loud": 12.0,
}
SAY_AS_KINDS = ("characters", "spell-out", "cardinal", "number", "ordinal", "digits", "date", "telephone")
PHONEME_ALPHABETS = ("ipa",)
# Attributes each tag accepts; any other attribute is an error (a typo would otherwise be ignored).
SUPPORTED_TAGS: dict[str, frozenset[str]] = {
    "speak": frozenset({"version", "xmlns", "xml:lang", "xmlns:xsi", "xsi:schemaLocation"}),
    "p": frozenset(),
    "s": frozenset(),
    "break": frozenset({"time", "strength"}),
    "prosody": frozenset({"rate", "pitch", "volume"}),
    "phoneme": frozenset({"alphabet", "ph"}),
    "sub": frozenset({"alias"}),
    "say-as": frozenset({"interpret-as", "format", "detail"}),
    "mark": frozenset({"name"}),
}
# Tags whose content is plain text only (what they replace or interpret).
_TEXT_ONLY_TAGS = frozenset({"phoneme", "sub", "say-as"})
_TIME_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s)\s*$")
_PERCENT_RE = re.compile(r"^\s*([+-]?\d+(?:\.\d+)?)\s*%\s*$")
_NUMBER_RE = re.compile(r"^\s*([+-]?\d+(?:\.\d+)?)\s*$")
_SEMITONES_RE = re.compile(r"^\s*([+-]?\d+(?:\.\d+)?)\s*st\s*$")
_DECIBELS_RE = re.compile(r"^\s*([+-]?\d+(?:\.\d+)?)\s*dB\s*$", re.IGNORECASE)
SEMITONES_PER_OCTAVE = 12


class SsmlError(TextError):
    """SSML that is malformed, hostile or uses a tag or attribute outside the supported subset."""


@dataclass(frozen=True)
class Prosody:
    """Relative prosody of a stretch of SSML, combined with the request's own settings."""

    rate: float = 1.0  # multiplies the request's speaking rate
    pitch: float = 0.0  # semitones added to the request's pitch
    volume_db: float = 0.0  # decibels added to the request's volume gain


@dataclass(frozen=True)
class Text:
    """Words to normalise and phonemize as usual."""

    text: str
    prosody: Prosody


@dataclass(frozen=True)
class Phonemes:
    """A word or phrase pronounced as the given IPA; ``text`` is what the timings call it."""

    ipa: str
    text: str
    prosody: Prosody


@dataclass(frozen=True)
class SayAs:
    """Text to interpret as ``interpret_as`` (one of :data:`SAY_AS_KINDS`)."""

    text: str
    interpret_as: str
    format: str | None
    prosody: Prosody


@dataclass(frozen=True)
class Mark:
    """A named point whose time the result reports."""

    name: str


@dataclass(frozen=True)
class Break:
    """A pause of ``seconds``; it replaces the sentence pause where it falls on a sentence end."""

    seconds: float


@dataclass(frozen=True)
class SentenceEnd:
    """The end of a ``<s>`` or ``<p>``: the next words start a new sentence."""


Event = Text | Phonemes | SayAs | Mark | Break | SentenceEnd


def is_ssml(text: str) -> bool:
    """Whether ``text`` is an SSML document by the ``<speak>`` convention."""
    return text.lstrip().startswith(SPEAK_TAG)


@dataclass
class _Open:
    tag: str
    prosody: Prosody
    text: list[str] = field(default_factory=list)  # character data of a text-only tag
    attrs: dict[str, str] = field(default_factory=dict)


class _Parser:
    def __init__(self) -> None:
        self.events: list[Event] = []
        self.stack: list[_Open] = []
        self.total_break_s = 0.0
        self.seen_root = False
        self.expat = xml.parsers.expat.ParserCreate()
        self.expat.SetParamEntityParsing(xml.parsers.expat.XML_PARAM_ENTITY_PARSING_NEVER)
        self.expat.StartDoctypeDeclHandler = self._refuse_dtd
        self.expat.EntityDeclHandler = self._refuse_dtd
        self.expat.UnparsedEntityDeclHandler = self._refuse_dtd
        self.expat.ExternalEntityRefHandler = self._refuse_dtd
        self.expat.StartElementHandler = self._start
        self.expat.EndElementHandler = self._end
        self.expat.CharacterDataHandler = self._chars

    def where(self) -> str:
        return f"line {self.expat.CurrentLineNumber}, column {self.expat.CurrentColumnNumber + 1}"

    def fail(self, message: str) -> SsmlError:
        return SsmlError(f"SSML: {message} at {self.where()}")

    def _refuse_dtd(self, *_: object) -> None:
        raise self.fail("DTDs and entity declarations are not allowed")

    def _prosody(self) -> Prosody:
        return self.stack[-1].prosody if self.stack else Prosody()

    def _start(self, tag: str, attrs: dict[str, str]) -> None:
        if tag not in SUPPORTED_TAGS:
            raise self.fail(f"unsupported tag <{tag}> (supported: {', '.join(SUPPORTED_TAGS)})")
        if not self.stack and (tag != "speak" or self.seen_root):
            raise self.fail(f"<{tag}> outside <speak>: the document must be one <speak> element")
        if self.stack and tag == "speak":
            raise self.fail("nested <speak>")
        if self.stack and self.stack[-1].tag in _TEXT_ONLY_TAGS:
            raise self.fail(f"<{tag}> inside <{self.stack[-1].tag}>, which holds text only")
        if len(self.stack) >= MAX_DEPTH:
            raise self.fail(f"elements nested deeper than {MAX_DEPTH}")
        unknown = sorted(set(attrs) - SUPPORTED_TAGS[tag])
        if unknown:
            allowed = ", ".join(sorted(SUPPORTED_TAGS[tag])) or "none"
            raise self.fail(f"unsupported attribute {unknown[0]!r} on <{tag}> (allowed: {allowed})")
        self.seen_root = True
        prosody = self._prosody()
        if tag == "prosody":
            prosody = self._parse_prosody(prosody, attrs)
        elif tag == "break":
            self._add_break(attrs)
        elif tag == "mark":
            if not attrs.get("name"):
                raise self.fail("<mark> needs a name attribute")
            self.events.append(Mark(attrs["name"]))
        elif tag in ("p", "s"):
            self.events.append(SentenceEnd())
        self._check_required(tag, attrs)
        self.stack.append(_Open(tag, prosody, attrs=attrs))

    def _check_required(self, tag: str, attrs: dict[str, str]) -> None:
        if tag == "phoneme":
            if attrs.get("alphabet", "ipa") not in PHONEME_ALPHABETS:
                raise self.fail(f'<phoneme alphabet={attrs["alphabet"]!r}>: only alphabet="ipa" is supported')
            if not attrs.get("ph", "").strip():
                raise self.fail("<phoneme> needs a non-empty ph attribute")
        elif tag == "sub" and "alias" not in attrs:
            raise self.fail("<sub> needs an alias attribute")
        elif tag == "say-as" and attrs.get("interpret-as") not in SAY_AS_KINDS:
            raise self.fail(
                f"<say-as interpret-as={attrs.get('interpret-as')!r}>: use one of {', '.join(SAY_AS_KINDS)}"
            )

    def _end(self, tag: str) -> None:
        node = self.stack.pop()
        content = "".join(node.text)
        if tag == "phoneme":
            self.events.append(Phonemes(node.attrs["ph"].strip(), content.strip(), node.prosody))
        elif tag == "sub":
            self.events.append(Text(node.attrs["alias"], node.prosody))
        elif tag == "say-as":
            interpret_as = node.attrs["interpret-as"]
            self.events.append(SayAs(content.strip(), interpret_as, node.attrs.get("format"), node.prosody))
        elif tag in ("p", "s"):
            self.events.append(SentenceEnd())

    def _chars(self, data: str) -> None:
        if not self.stack:
            return
        top = self.stack[-1]
        if top.tag in _TEXT_ONLY_TAGS:
            top.text.append(data)
        elif data:
            last = self.events[-1] if self.events else None
            if isinstance(last, Text) and last.prosody == top.prosody:
                # expat hands text over in pieces (around entities, at line ends); keep one event per run.
                self.events[-1] = replace(last, text=last.text + data)
            else:
                self.events.append(Text(data, top.prosody))

    def _add_break(self, attrs: dict[str, str]) -> None:
        if "time" in attrs:
            m = _TIME_RE.match(attrs["time"])
            if m is None:
                raise self.fail(f'<break time={attrs["time"]!r}>: give a time such as "500ms" or "1.5s"')
            seconds = float(m.group(1)) / (MS_PER_S if m.group(2) == "ms" else 1.0)
        else:
            strength = attrs.get("strength", "medium")
            if strength not in BREAK_STRENGTHS:
                raise self.fail(f"<break strength={strength!r}>: use one of {', '.join(BREAK_STRENGTHS)}")
            seconds = BREAK_STRENGTHS[strength]
        if seconds > MAX_BREAK_S:
            raise self.fail(f"<break> of {seconds:g} s is longer than the {MAX_BREAK_S:g} s allowed")
        self.total_break_s += seconds
        if self.total_break_s > MAX_TOTAL_BREAK_S:
            raise self.fail(f"breaks add up to more than {MAX_TOTAL_BREAK_S:g} s")
        self.events.append(Break(seconds))

    def _parse_prosody(self, outer: Prosody, attrs: dict[str, str]) -> Prosody:
        rate, pitch, volume = outer.rate, outer.pitch, outer.volume_db
        if "rate" in attrs:
            rate *= self._relative(attrs["rate"], "rate", RATE_WORDS)
        if "pitch" in attrs:
            value = attrs["pitch"]
            m = _SEMITONES_RE.match(value)
            pm = _PERCENT_RE.match(value)
            if m is not None:
                pitch += float(m.group(1))
            elif pm is not None and float(pm.group(1)) > -100:
                pitch += SEMITONES_PER_OCTAVE * math.log2(1 + float(pm.group(1)) / 100)
            elif value in PITCH_WORDS:
                pitch += PITCH_WORDS[value]
            else:
                raise self.fail(
                    f'<prosody pitch={value!r}>: give semitones ("+2st"), a percentage or one of '
                    f"{', '.join(PITCH_WORDS)}"
                )
        if "volume" in attrs:
            value = attrs["volume"]
            m = _DECIBELS_RE.match(value)
            if m is not None:
                volume += float(m.group(1))
            elif value in VOLUME_WORDS:
                volume += VOLUME_WORDS[value]
            else:
                raise self.fail(
                    f'<prosody volume={value!r}>: give decibels ("-6dB") or one of {", ".join(VOLUME_WORDS)}'
                )
        return Prosody(rate=rate, pitch=pitch, volume_db=volume)

    def _relative(self, value: str, name: str, words: dict[str, float]) -> float:
        m = _PERCENT_RE.match(value)
        n = _NUMBER_RE.match(value)
        if value in words:
            factor = words[value]
        elif m is not None:
            factor = float(m.group(1)) / 100
        elif n is not None:
            factor = float(n.group(1))
        else:
            factor = 0.0
        if not factor > 0:
            raise self.fail(
                f'<prosody {name}={value!r}>: give a positive percentage ("150%"), a factor or one of '
                f"{', '.join(words)}"
            )
        return factor


def parse_ssml(document: str) -> list[Event]:
    """Events of an SSML ``document`` in reading order; raises :class:`SsmlError` on anything unsupported."""
    if len(document) > MAX_SSML_CHARS:
        raise SsmlError(
            f"SSML: the document has {len(document)} characters; at most {MAX_SSML_CHARS} are allowed"
        )
    parser = _Parser()
    try:
        parser.expat.Parse(document.strip(), True)
    except xml.parsers.expat.ExpatError as e:
        raise SsmlError(
            f"SSML: malformed XML ({xml.parsers.expat.ErrorString(e.code)}) at line {e.lineno}, "
            f"column {e.offset + 1}"
        ) from None
    if not parser.seen_root:
        raise SsmlError("SSML: the document must be one <speak> element")
    return parser.events
