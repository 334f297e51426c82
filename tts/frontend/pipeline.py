"""Text frontend: raw text -> normalised sentences -> IPA phonemes -> symbol ids.

Order: ``normalize_text`` on the whole text (so abbreviation periods are gone), then
``split_sentences``, then per sentence the espeak-ng phonemizer (words in the user lexicon take
its IPA instead) and the symbol table. Every utterance knows which tokens each written word
became (:class:`tts.frontend.words.WordSpan`), so the text-to-mel durations give word timings.

SSML (:mod:`tts.frontend.ssml`) is cut into segments wherever a break, a sentence end or a
prosody change falls; each segment is normalised, split into sentences and phonemized the same
way, with ``<phoneme>`` IPA and spelled ``<say-as>`` characters inserted as given.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from tts.errors import TextError
from tts.frontend import ssml
from tts.frontend.lexicon import Lexicon
from tts.frontend.normalize import normalize_text
from tts.frontend.phonemizer import CLAUSE_PUNCTUATION, Phonemizer
from tts.frontend.say_as import say_as
from tts.frontend.sentences import split_sentences
from tts.frontend.symbols import DEFAULT_SYMBOLS, PUNCTUATION, SILENT_SYMBOLS, SymbolTable
from tts.frontend.words import WordSpan, align_words, bare_word

logger = logging.getLogger(__name__)

MAX_TEXT_IN_ERROR = 80  # characters of the user's text quoted back in an error message
# Stands for a word whose IPA is already known when sentences are split: such a word never ends one.
_KNOWN_WORD_PLACEHOLDER = "w"


@dataclass(frozen=True)
class MarkSpan:
    """An SSML mark before token ``token`` of its utterance (``len(ids)``: after the last)."""

    name: str
    token: int


@dataclass
class Utterance:
    """One sentence (or a piece of one between SSML breaks) ready for the text-to-mel model."""

    text: str  # the normalised sentence
    phonemes: str  # IPA from espeak-ng, clause punctuation kept
    ids: list[int]  # symbol ids of ``phonemes``, length L
    words: list[WordSpan] = field(default_factory=list)  # each written word's tokens, in order
    marks: list[MarkSpan] = field(default_factory=list)  # SSML marks, in order
    prosody: ssml.Prosody = field(default_factory=ssml.Prosody)  # relative rate, pitch and volume of this piece
    # Silence after this piece: None means the sentence pause when another piece follows;
    # 0.0 joins the next piece directly (a prosody change inside a sentence); else a <break>.
    pause_after_s: float | None = None
    pause_before_s: float = 0.0  # silence before it: a <break> before the first words


@dataclass
class _Word:
    text: str  # a whitespace-free token of normalised text, punctuation kept
    ipa: str | None = None  # pronunciation when known (<phoneme>, spelled character); None: espeak
    punct: str = ""  # punctuation written after it in the next piece of SSML text ("</sub>.")

    @property
    def written(self) -> str:
        return self.text + self.punct


@dataclass
class _Segment:
    """Words spoken with one prosody without a break; split into sentences afterwards."""

    prosody: ssml.Prosody
    words: list[_Word] = field(default_factory=list)
    marks: list[tuple[str, int]] = field(default_factory=list)  # (name, index of the word it precedes)
    breaks_s: float | None = None  # total of the <break>s after it, if any
    sentence_end: bool = False  # a </s> or </p> follows


def _has_words(text: str) -> bool:
    """Whether there is anything to pronounce; espeak would read bare "!!!" aloud as "exclamation"."""
    return any(ch.isalnum() for ch in text)


def _quote(text: str) -> str:
    return repr(text if len(text) <= MAX_TEXT_IN_ERROR else text[:MAX_TEXT_IN_ERROR] + "...")


class Frontend:
    """Turns text in one language into per-sentence phoneme ids.

    ``language`` is an espeak-ng code ("en-us", "en-gb", "de", ...); an unknown code raises
    ``UserError``. ``symbols`` defaults to the table of ``DEFAULT_SYMBOLS``; ``lexicon`` gives
    pronunciations that replace espeak-ng's for its words.
    """

    def __init__(
        self, language: str = "en-us", symbols: SymbolTable | None = None, lexicon: Lexicon | None = None
    ) -> None:
        self.language = language
        self.symbols = symbols if symbols is not None else SymbolTable(DEFAULT_SYMBOLS)
        self.lexicon = lexicon if lexicon is not None else Lexicon()
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
            utterance = self._utterance([_Word(w) for w in sentence.split()], [], ssml.Prosody(), None)
            if utterance is not None:
                utterances.append(utterance)
        if not utterances:
            raise TextError(
                f"nothing speakable in {_quote(text)}: it has no words or numbers the voice can read"
            )
        return utterances

    def process_ssml(self, document: str) -> list[Utterance]:
        """Utterances of an SSML ``document``; :class:`tts.frontend.ssml.SsmlError` when it is not valid."""
        segments = self._segments(ssml.parse_ssml(document))
        utterances: list[Utterance] = []
        leading_s = 0.0
        for seg in segments:
            if not seg.words:  # breaks (and marks) before the first words
                leading_s += seg.breaks_s or 0.0
                continue
            pieces = self._sentences(seg)
            for n, (words, marks) in enumerate(pieces):
                last = n == len(pieces) - 1
                pause = (
                    None
                    if not last
                    else seg.breaks_s
                    if seg.breaks_s is not None
                    else (None if seg.sentence_end else 0.0)
                )
                utterance = self._utterance(words, marks, seg.prosody, pause)
                if utterance is None:
                    continue
                if not utterances:
                    utterance.pause_before_s = leading_s
                utterances.append(utterance)
        if not utterances:
            raise TextError(
                f"nothing speakable in {_quote(document)}: the SSML has no words the voice can read"
            )
        return utterances

    def _segments(self, events: list[ssml.Event]) -> list[_Segment]:
        segments: list[_Segment] = []
        seg = _Segment(ssml.Prosody())

        def close() -> _Segment:
            segments.append(seg)
            return _Segment(seg.prosody)

        for event in events:
            if isinstance(event, ssml.Break):
                if not seg.words and segments and segments[-1].words:
                    prev = segments[-1]  # a mark right before the break is timed at the end of prev
                    prev.marks.extend((name, len(prev.words)) for name, _ in seg.marks)
                    seg.marks.clear()
                    prev.breaks_s = (prev.breaks_s or 0.0) + event.seconds
                else:
                    seg.breaks_s = (seg.breaks_s or 0.0) + event.seconds
                    seg = close()
            elif isinstance(event, ssml.SentenceEnd):
                if seg.words:
                    seg.sentence_end = True
                    seg = close()
                elif segments:
                    segments[-1].sentence_end = True
            elif isinstance(event, ssml.Mark):
                seg.marks.append((event.name, len(seg.words)))
            else:
                words = self._event_words(event)
                while words and not _has_words(words[0].text) and seg.words:
                    seg.words[-1].punct += words.pop(0).text  # "</say-as>." ends the sentence
                words = [w for w in words if _has_words(w.text)]
                if words and event.prosody != seg.prosody:
                    if seg.words:
                        seg = close()
                    seg.prosody = event.prosody
                seg.words.extend(words)
        if seg.words or seg.marks:
            segments.append(seg)
        if segments and not segments[-1].words and len(segments) > 1:
            last = segments.pop()  # marks after the last words: at the end of the speech
            prev = next((s for s in reversed(segments) if s.words), None)
            if prev is not None:
                prev.marks.extend((name, len(prev.words)) for name, _ in last.marks)
        return segments

    def _event_words(self, event: ssml.Text | ssml.Phonemes | ssml.SayAs) -> list[_Word]:
        if isinstance(event, ssml.Text):
            return [_Word(w) for w in normalize_text(event.text, self.language).split()]
        if isinstance(event, ssml.Phonemes):
            unknown = sorted({c for c in event.ipa if not c.isspace() and c not in self.symbols})
            if unknown:
                raise ssml.SsmlError(
                    f"SSML: <phoneme ph={event.ipa!r}> uses symbols this voice does not know: {', '.join(unknown)}"
                )
            label = "_".join(event.text.split()) or event.ipa
            return [_Word(label, event.ipa)]
        said = say_as(event.text, event.interpret_as, event.format, self.language)
        if said.spelled:
            return [_Word(ch, self._phonemizer.phonemize(ch).strip(PUNCTUATION)) for ch in said.words]
        return [_Word(w) for w in normalize_text(" ".join(said.words), self.language).split()]

    @staticmethod
    def _sentences(seg: _Segment) -> list[tuple[list[_Word], list[tuple[str, int]]]]:
        """The segment's words cut into sentences (as the plain-text path cuts), marks re-indexed."""
        text = " ".join((w.text if w.ipa is None else _KNOWN_WORD_PLACEHOLDER) + w.punct for w in seg.words)
        counts = [len(sentence.split()) for sentence in split_sentences(text)]
        pieces: list[tuple[list[_Word], list[tuple[str, int]]]] = []
        start = 0
        for count in counts:
            end = start + count
            marks = [(name, i - start) for name, i in seg.marks if start <= i < end]
            pieces.append((seg.words[start:end], marks))
            start = end
        pieces[-1][1].extend((name, i - start + counts[-1]) for name, i in seg.marks if i >= start)
        return pieces

    def _utterance(
        self,
        words: list[_Word],
        marks: list[tuple[str, int]],
        prosody: ssml.Prosody,
        pause_after_s: float | None,
    ) -> Utterance | None:
        """Phonemize ``words`` (espeak runs in context, known IPA as is) and map each to its tokens."""
        for word in words:
            if word.ipa is None and self.lexicon:
                ipa = self.lexicon.lookup(bare_word(word.text))
                if ipa is not None:
                    word.ipa = ipa
        for word in words:
            if word.ipa is not None:
                word.ipa += _clause_mark(word.written)
        chunks: list[str] = []
        char_spans: list[tuple[int, int]] = []
        offset = 0
        i = 0
        while i < len(words):
            j = i + 1
            if words[i].ipa is None:
                while j < len(words) and words[j].ipa is None:
                    j += 1
                run = [w.written for w in words[i:j]]
                phonemes = self._phonemizer.phonemize(" ".join(run))
                spans = align_words(run, phonemes, self._phonemizer.phonemize)
            else:
                phonemes = words[i].ipa or ""
                spans = [(0, len(phonemes.rstrip(PUNCTUATION)))]
            char_spans.extend((offset + s, offset + e) for s, e in spans)
            chunks.append(phonemes)
            offset += len(phonemes) + 1  # the space that joins chunks
            i = j
        phonemes = " ".join(chunks)
        ids = self.symbols.encode(phonemes)
        if all(i in self._silent_ids for i in ids):
            logger.debug("skipping words with no speakable phonemes: %r -> %r", words, phonemes)
            return None
        # token index of each character position: characters outside the table are dropped by encode
        token_at = [0]
        for ch in phonemes:
            token_at.append(token_at[-1] + (ch in self.symbols))
        spans = [
            WordSpan(bare_word(w.text) or w.text, token_at[s], token_at[e])
            for w, (s, e) in zip(words, char_spans)
        ]
        mark_spans = [MarkSpan(name, spans[k].start if k < len(spans) else len(ids)) for name, k in marks]
        return Utterance(
            text=" ".join(w.written for w in words),
            phonemes=phonemes,
            ids=ids,
            words=spans,
            marks=mark_spans,
            prosody=prosody,
            pause_after_s=pause_after_s,
        )


def _clause_mark(token: str) -> str:
    """The clause punctuation ending ``token`` ("word," -> ","), which espeak would have kept."""
    trailing = token[len(token.rstrip(PUNCTUATION)) :]
    return next((c for c in trailing if c in CLAUSE_PUNCTUATION), "")
