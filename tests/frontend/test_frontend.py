"""Text frontend: normalisation goldens, sentence splitting, espeak-ng phonemes, symbol table."""

from __future__ import annotations

import logging
import threading

import pytest

from tts.errors import TextError, UserError
from tts.frontend.english import english_cardinal, english_ordinal
from tts.frontend.german import german_cardinal
from tts.frontend.normalize import normalize_text
from tts.frontend.phonemizer import Phonemizer, available_languages
from tts.frontend.pipeline import Frontend, Utterance
from tts.frontend.sentences import split_sentences
from tts.frontend.symbols import DEFAULT_SYMBOLS, PAD, SymbolTable


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("I have 3 cats", "I have three cats"),
        ("1,234", "one thousand two hundred thirty-four"),
        ("3.14", "three point one four"),
        ("It is -5 outside", "It is minus five outside"),
        ("1,000,000 people", "one million people"),
        ("007", "zero zero seven"),
        ("the 1st, 22nd and 100th", "the first, twenty-second and one hundredth"),
        ("in 1984", "in nineteen eighty-four"),
        ("in 2005", "in two thousand five"),
        ("in 1905 and 2024", "in nineteen oh five and twenty twenty-four"),
        ("the 1980s", "the nineteen eighties"),
        ("$5.50", "five dollars and fifty cents"),
        ("$1", "one dollar"),
        ("$1 million", "one million dollars"),
        ("£3", "three pounds"),
        ("€10", "ten euros"),
        ("50%", "fifty percent"),
        ("at 3:30 pm", "at three thirty PM"),
        ("at 10:05", "at ten oh five"),
        ("Dr. Smith", "Doctor Smith"),
        ("Mr. and Mrs. Jones", "Mister and Missus Jones"),
        ("St. Louis", "Saint Louis"),
        ("cats vs. dogs", "cats versus dogs"),
        ("fruit, e.g. apples", "fruit, for example apples"),
        ("No. 5", "number five"),
        ("salt & pepper", "salt and pepper"),
        ("\u201cHi\u201d, she said \u2018twice\u2019", "\"Hi\", she said 'twice'"),
        ("a\u200bb\u0007c   d", "abc d"),
        ("1990\u20132000", "nineteen ninety to two thousand"),
    ],
)
def test_english_normalisation_golden(raw: str, expected: str) -> None:
    assert normalize_text(raw, "en-us") == expected


def test_abbreviation_that_ends_a_sentence_keeps_its_period() -> None:
    text = normalize_text("He lives on Baker St. Then he left.")
    assert text == "He lives on Baker Street. Then he left."
    assert split_sentences(text) == ["He lives on Baker Street.", "Then he left."]


def test_number_words_match_known_values() -> None:
    assert english_cardinal(0) == "zero"
    assert english_cardinal(115) == "one hundred fifteen"
    assert english_cardinal(2_000_019) == "two million nineteen"
    assert english_ordinal(12) == "twelfth"
    assert english_ordinal(40) == "fortieth"
    assert german_cardinal(1) == "eins"
    assert german_cardinal(101) == "einhunderteins"
    assert german_cardinal(1234) == "eintausendzweihundertvierunddreißig"
    assert german_cardinal(2_000_000) == "zwei Millionen"


def test_german_normalisation() -> None:
    assert "einundzwanzig" in normalize_text("Ich habe 21 Katzen", "de")
    assert (
        normalize_text("z.B. Äpfel, Öl und Straße usw.", "de")
        == "zum Beispiel Äpfel, Öl und Straße und so weiter."
    )
    assert normalize_text("Dr. Müller", "de") == "Doktor Müller"
    assert normalize_text("im Jahr 1984", "de") == "im Jahr neunzehnhundertvierundachtzig"
    assert normalize_text("5,50 €", "de") == "fünf Euro fünfzig"
    assert normalize_text("Salz & Pfeffer, 20 % mehr, a+b=c", "de") == (
        "Salz und Pfeffer, zwanzig Prozent mehr, a plus b gleich c"
    )


def test_other_languages_only_get_unicode_cleanup() -> None:
    assert normalize_text("Ça  coûte 12 \u00ab euros \u00bb", "fr") == 'Ça coûte 12 " euros "'


def test_split_sentences_keeps_punctuation() -> None:
    text = normalize_text("Dr. Smith arrived. Did he? Yes! He did; then left.")
    assert split_sentences(text) == ["Doctor Smith arrived.", "Did he?", "Yes!", "He did;", "then left."]


def test_split_sentences_does_not_split_initials_or_raw_abbreviations() -> None:
    assert split_sentences("J. K. Rowling wrote it. Mr. Smith read it.") == [
        "J. K. Rowling wrote it.",
        "Mr. Smith read it.",
    ]


def test_long_sentence_is_cut_at_commas() -> None:
    clause = " ".join(["word"] * 15)
    sentence = ", ".join([clause] * 6) + "."  # 90 words
    chunks = split_sentences(sentence)
    assert len(chunks) > 1
    assert all(len(c.split()) <= 40 for c in chunks)
    assert " ".join(chunks) == sentence
    assert all(c.endswith((",", ".")) for c in chunks)


def test_english_phonemes_are_ipa_with_stress() -> None:
    phonemes = Phonemizer("en-us").phonemize("hello world")
    assert "h" in phonemes and "ˈ" in phonemes and "w" in phonemes
    assert " " in phonemes
    assert set(phonemes) <= set(DEFAULT_SYMBOLS)
    assert "ɜː" in phonemes  # IPA, not espeak's ASCII "3:"


def test_clause_punctuation_is_kept_in_order() -> None:
    phonemes = Phonemizer("en-us").phonemize("Hello, world! How are you? Fine; thanks.")
    marks = [c for c in phonemes if c in ",.!?;:"]
    assert marks == [",", "!", "?", ";", "."]


def test_decimal_point_is_not_taken_for_clause_punctuation() -> None:
    assert "." not in Phonemizer("en-us").phonemize("pi is 3.14 roughly")


def test_british_and_american_differ() -> None:
    assert Phonemizer("en-us").phonemize("dog") != Phonemizer("en-gb").phonemize("dog")


def test_german_phonemes() -> None:
    de = Phonemizer("de")
    strasse = de.phonemize("Straße")
    assert "ʃ" in strasse and "s" in strasse
    assert "y" in de.phonemize("Bücher")
    assert "ø" in de.phonemize("schön")
    assert "ç" in de.phonemize("ich")


def test_unknown_language_is_a_user_error() -> None:
    with pytest.raises(UserError, match="available_languages"):
        Phonemizer("xx-nowhere")
    assert {"en-us", "en-gb", "de"} <= set(available_languages())


def test_phonemizer_is_safe_across_threads_and_languages() -> None:
    texts = {"en-us": "The weather is lovely today.", "de": "Das Wetter ist heute schön."}
    expected = {lang: Phonemizer(lang).phonemize(t) for lang, t in texts.items()}
    results: list[tuple[str, str]] = []

    def work(lang: str) -> None:
        ph = Phonemizer(lang)
        for _ in range(20):
            results.append((lang, ph.phonemize(texts[lang])))

    threads = [threading.Thread(target=work, args=(lang,)) for lang in texts for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 80
    assert all(out == expected[lang] for lang, out in results)


def test_symbol_table_round_trip_and_pad() -> None:
    table = SymbolTable(DEFAULT_SYMBOLS)
    assert table.pad_id == 0 and table.to_list()[0] == PAD
    assert len(table) == len(DEFAULT_SYMBOLS) == len(set(DEFAULT_SYMBOLS))
    phonemes = "ðə kwˈɪk bɹˈaʊn fˈɑːks, ʃtɾˈɑːsə!"
    ids = table.encode(phonemes)
    assert len(ids) == len(phonemes)
    assert table.decode(ids) == phonemes
    assert 0 not in ids


def test_unknown_symbols_dropped_with_one_warning(caplog: pytest.LogCaptureFixture) -> None:
    table = SymbolTable(DEFAULT_SYMBOLS)
    with caplog.at_level(logging.WARNING, logger="tts.frontend.symbols"):
        ids = table.encode("a☃b☃ʘ")
    assert table.decode(ids) == "ab"
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "☃" in warnings[0].getMessage() and "ʘ" in warnings[0].getMessage()


def test_symbol_table_rejects_bad_tables() -> None:
    with pytest.raises(UserError):
        SymbolTable([PAD, "a", "a"])
    with pytest.raises(UserError):
        SymbolTable([PAD, "ts"])
    with pytest.raises(UserError):
        SymbolTable(["a", PAD])


def test_default_symbols_cover_espeak_output(caplog: pytest.LogCaptureFixture) -> None:
    text_en = (
        "Thirty-three thousand thieves thought that they thrilled the throne throughout Thursday; "
        "measure, pleasure, button."
    )
    text_de = "Fünf Bücher über Öl, Hähnchen, Pfeffer, Zwetschgen und Straßenbahn; Restaurant, Chance, Journalistin."
    with caplog.at_level(logging.WARNING, logger="tts.frontend.symbols"):
        for lang, text in (("en-us", text_en), ("en-gb", text_en), ("de", text_de)):
            Frontend(lang).process(text)
    assert not [r for r in caplog.records if r.levelno == logging.WARNING]


def test_frontend_process_sentences() -> None:
    frontend = Frontend("en-us")
    assert frontend.language == "en-us"
    utterances = frontend.process("Dr. Smith paid $5.50, then left. Did he return?")
    assert [u.text for u in utterances] == [
        "Doctor Smith paid five dollars and fifty cents, then left.",
        "Did he return?",
    ]
    assert all(isinstance(u, Utterance) for u in utterances)
    for u in utterances:
        assert frontend.symbols.decode(u.ids) == u.phonemes
    assert "," in utterances[0].phonemes and utterances[0].phonemes.endswith(".")
    assert utterances[1].phonemes.endswith("?")


def test_frontend_skips_unspeakable_sentences() -> None:
    utterances = Frontend("en-us").process("Hello there. !!! ???")
    assert [u.text for u in utterances] == ["Hello there."]


@pytest.mark.parametrize("text", ["", "   \n\t", "!!! ???", "... -- ,,,"])
def test_frontend_rejects_nothing_speakable(text: str) -> None:
    with pytest.raises(TextError):
        Frontend("en-us").process(text)


def test_phonemize_sentence_for_dataset_cache() -> None:
    normalised, phonemes = Frontend("en-us").phonemize_sentence("I have 2 dogs.")
    assert normalised == "I have two dogs."
    assert phonemes.startswith("aɪ") and phonemes.endswith(".") and "t" in phonemes
    assert Frontend("en-us").phonemize_sentence("?!") == ("?", "")


def test_frontend_german() -> None:
    (utterance,) = Frontend("de").process("Ich habe 21 Katzen.")
    assert utterance.text == "Ich habe einundzwanzig Katzen."
    assert "ts" in utterance.phonemes  # the German affricate in "zwanzig" and "Katzen"


def test_sentence_of_only_silent_symbols_is_not_spoken(monkeypatch: pytest.MonkeyPatch) -> None:
    frontend = Frontend("en-us")
    # Words whose phonemes are only pauses and marks (as an unknown script may give) say nothing.
    monkeypatch.setattr(frontend._phonemizer, "phonemize", lambda text: " , . ")
    with pytest.raises(TextError):
        frontend.process("Hello there.")
