"""IPA phonemes from espeak-ng through a direct ctypes binding to the library of ``espeakng_loader``.

espeak-ng is one process-global C library instance that is not thread-safe, so every call
into it holds ``_LOCK`` and the voice is switched only when the requested language differs
from the one last set. ``espeak_TextToPhonemes`` returns one clause per call and drops the
punctuation that ended it; we put the clause-ending punctuation back from the original text
so the acoustic model still sees pauses and question intonation cues.
"""

from __future__ import annotations

import ctypes
import logging
import re
import threading

import espeakng_loader

from tts.errors import UserError

logger = logging.getLogger(__name__)

# Constants of espeak-ng's speak_lib.h.
AUDIO_OUTPUT_SYNCHRONOUS = 2  # no sound device, no playback thread
INITIALIZE_DONT_EXIT = 0x8000  # report failures instead of calling exit() inside the library
CHARS_UTF8 = 1  # textmode: input is UTF-8
PHONEMES_IPA = 0x02  # phonememode bit 1: IPA as UTF-8 instead of espeak's ASCII names
EE_OK = 0
BUFFER_LENGTH_MS = 0  # only used for audio output, which we never produce; 0 = library default

# Punctuation that espeak treats as the end of a clause and that we re-insert.
CLAUSE_PUNCTUATION = ",.!?;:"
# A clause-ending run: punctuation, optional closing quotes/brackets, then a space or the end.
# The space/end condition keeps "3.14" or "3:30" (never clause boundaries) from matching.
_CLAUSE_END_RE = re.compile(r"([,.!?;:]+)[\"')\]]*(?=\s|$)")
# espeak marks words it pronounced with another language's rules as "(en)...(de)".
_LANGUAGE_SWITCH_RE = re.compile(r"\([a-z]{2,3}(?:-[a-z0-9]+)*\)", re.IGNORECASE)
_WHITESPACE_RE = re.compile(r"\s+")
# IPA has no digits, yet a few espeak dictionary entries leak one (German "aneinander" -> "ˌan1aɪnˈandɜ").
_DIGIT_RE = re.compile(r"[0-9]")

_LOCK = threading.Lock()
_lib: ctypes.CDLL | None = None
_current_voice: str | None = None
_languages: dict[str, str] | None = None


class _Voice(ctypes.Structure):
    """``espeak_VOICE`` of speak_lib.h."""

    _fields_ = [
        ("name", ctypes.c_char_p),
        ("languages", ctypes.c_void_p),  # packed list: (priority byte, NUL-terminated code)*, then a 0 byte
        ("identifier", ctypes.c_char_p),
        ("gender", ctypes.c_ubyte),
        ("age", ctypes.c_ubyte),
        ("variant", ctypes.c_ubyte),
        ("xx1", ctypes.c_ubyte),
        ("score", ctypes.c_int),
        ("spare", ctypes.c_void_p),
    ]


def _library() -> ctypes.CDLL:
    """Load and initialise espeak-ng once per process; caller must hold ``_LOCK``."""
    global _lib
    if _lib is not None:
        return _lib
    lib = ctypes.CDLL(espeakng_loader.get_library_path())
    lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
    lib.espeak_Initialize.restype = ctypes.c_int
    lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
    lib.espeak_SetVoiceByName.restype = ctypes.c_int
    lib.espeak_TextToPhonemes.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.c_int, ctypes.c_int]
    lib.espeak_TextToPhonemes.restype = ctypes.c_char_p
    lib.espeak_ListVoices.argtypes = [ctypes.c_void_p]
    lib.espeak_ListVoices.restype = ctypes.POINTER(ctypes.POINTER(_Voice))
    data_path = espeakng_loader.get_data_path().encode()
    sample_rate = lib.espeak_Initialize(
        AUDIO_OUTPUT_SYNCHRONOUS, BUFFER_LENGTH_MS, data_path, INITIALIZE_DONT_EXIT
    )
    if sample_rate <= 0:
        raise UserError(
            f"espeak-ng failed to initialise with data at {data_path.decode()}; reinstall espeakng-loader"
        )
    _lib = lib
    return lib


def _voice_languages(voice: _Voice) -> list[tuple[int, str]]:
    """Decode the packed ``languages`` field into (priority, code) pairs."""
    out = []
    addr = voice.languages
    while addr:
        priority = ctypes.c_ubyte.from_address(addr).value
        if priority == 0:
            break
        code = ctypes.string_at(addr + 1)
        out.append((priority, code.decode()))
        addr += len(code) + 2  # priority byte + code + its NUL
    return out


def _language_table() -> dict[str, str]:
    """Language code (lower case) -> identifier of its best-priority voice; caller holds ``_LOCK``."""
    global _languages
    if _languages is not None:
        return _languages
    voices = _library().espeak_ListVoices(None)
    best: dict[str, tuple[int, str]] = {}
    i = 0
    while voices[i]:
        voice = voices[i].contents
        identifier = voice.identifier.decode()
        for priority, code in _voice_languages(voice):
            key = code.lower()
            if key not in best or priority < best[key][0]:  # lower number = better match in espeak
                best[key] = (priority, identifier)
        i += 1
    _languages = {code: ident for code, (_, ident) in best.items()}
    return _languages


def available_languages() -> list[str]:
    """All espeak-ng language codes accepted by :class:`Phonemizer`, sorted."""
    with _LOCK:
        return sorted(_language_table())


def _resolve_voice(language: str) -> str:
    """espeak voice identifier for a language code such as ``en-us``, ``en-gb`` or ``de``."""
    with _LOCK:
        identifier = _language_table().get(language.strip().lower())
    if identifier is None:
        raise UserError(
            f"unknown espeak-ng language {language!r}; use a code such as 'en-us', 'en-gb' or 'de' "
            "(the full list is tts.frontend.phonemizer.available_languages(), or `espeak-ng --voices`)"
        )
    return identifier


def _set_voice(identifier: str) -> None:
    """Switch espeak's global voice if needed; caller holds ``_LOCK``."""
    global _current_voice
    if _current_voice == identifier:
        return
    status = _library().espeak_SetVoiceByName(identifier.encode())
    if status != EE_OK:
        raise UserError(f"espeak-ng could not load voice {identifier!r} (status {status})")
    _current_voice = identifier


def _clause_ending(segment: str) -> str:
    """The punctuation mark that ended the clause read from ``segment`` ('' when none).

    espeak advances the text pointer past the clause and reads ahead a character or so
    of the next clause, so we take the last clause-ending run in the segment. A run such as
    "..." or "?!" becomes its first mark, because one symbol is enough to cue the pause.
    """
    ends = list(_CLAUSE_END_RE.finditer(segment))
    return ends[-1].group(1)[0] if ends else ""


class Phonemizer:
    """Text -> IPA string with stress (ˈ ˌ), length (ː) and clause punctuation kept.

    Example: ``Phonemizer("en-us").phonemize("Hello, world!")`` -> ``"həlˈoʊ, wˈɜːld!"``.
    """

    def __init__(self, language: str = "en-us") -> None:
        self.language = language
        self.voice = _resolve_voice(language)

    def phonemize(self, text: str) -> str:
        """IPA of ``text``; clauses are separated by their punctuation and one space."""
        data = text.encode("utf-8")
        if not data.strip():
            return ""
        buffer = ctypes.create_string_buffer(data)  # NUL-terminated copy espeak can walk
        base = ctypes.addressof(buffer)
        pointer = ctypes.c_void_p(base)
        clauses: list[str] = []
        with _LOCK:
            lib = _library()
            _set_voice(self.voice)
            while pointer.value:  # espeak sets the pointer to NULL after the last clause
                start = pointer.value - base
                raw = lib.espeak_TextToPhonemes(ctypes.byref(pointer), CHARS_UTF8, PHONEMES_IPA)
                end = pointer.value - base if pointer.value else len(data)
                phonemes = raw.decode("utf-8", errors="replace") if raw else ""
                segment = data[start:end].decode("utf-8", errors="ignore")
                clauses.append(self._clause(phonemes, _clause_ending(segment)))
        return _WHITESPACE_RE.sub(" ", " ".join(c for c in clauses if c)).strip()

    @staticmethod
    def _clause(phonemes: str, ending: str) -> str:
        phonemes = _DIGIT_RE.sub("", _LANGUAGE_SWITCH_RE.sub("", phonemes))
        phonemes = _WHITESPACE_RE.sub(" ", phonemes).strip()
        return phonemes + ending
