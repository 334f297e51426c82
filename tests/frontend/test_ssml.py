"""SSML parsing and the frontend's SSML, lexicon and word-span handling (no models needed)."""

from __future__ import annotations

import pytest

from tts.errors import TextError, UserError
from tts.frontend import ssml
from tts.frontend.lexicon import Lexicon
from tts.frontend.pipeline import Frontend
from tts.frontend.words import align_words


@pytest.fixture(scope="module")
def frontend() -> Frontend:
    return Frontend("en-us")


def _words(frontend: Frontend, doc: str) -> list[str]:
    return [w.text for u in frontend.process_ssml(doc) for w in u.words]


def _phonemes(frontend: Frontend, doc: str) -> str:
    return " ".join(u.phonemes for u in frontend.process_ssml(doc))


def test_detection() -> None:
    assert ssml.is_ssml("  <speak>hi</speak>")
    assert not ssml.is_ssml("I <speak> softly")


def test_events_of_every_tag() -> None:
    events = ssml.parse_ssml(
        '<speak><p><s>A <break time="500ms"/><break strength="strong"/><mark name="m"/>'
        '<prosody rate="150%" pitch="+2st" volume="-6dB">b</prosody></s></p></speak>'
    )
    breaks = [e.seconds for e in events if isinstance(e, ssml.Break)]
    assert breaks == [0.5, ssml.BREAK_STRENGTHS["strong"]]
    assert [e.name for e in events if isinstance(e, ssml.Mark)] == ["m"]
    (b,) = [e for e in events if isinstance(e, ssml.Text) and e.text == "b"]
    assert b.prosody == ssml.Prosody(rate=1.5, pitch=2.0, volume_db=-6.0)


def test_nested_prosody_combines() -> None:
    events = ssml.parse_ssml(
        '<speak><prosody rate="2" pitch="+1st"><prosody rate="50%" pitch="+2st">x</prosody></prosody></speak>'
    )
    (x,) = [e for e in events if isinstance(e, ssml.Text)]
    assert x.prosody.rate == pytest.approx(1.0) and x.prosody.pitch == pytest.approx(3.0)


@pytest.mark.parametrize(
    ("doc", "needle"),
    [
        ("<speak>Hello <emphasis>there</emphasis></speak>", "<emphasis>"),
        ("<speak>Hello <break time='500ms'></speak>", "malformed"),
        ("<speak>Hello", "malformed"),
        ("<speak><break tme='1s'/></speak>", "'tme'"),
        ("<speak><break time='soon'/></speak>", "soon"),
        ("<speak><break time='50s'/></speak>", "longer"),
        ("<speak><say-as interpret-as='verbatim'>x</say-as></speak>", "verbatim"),
        ("<speak><phoneme alphabet='x-sampa' ph='a'>a</phoneme></speak>", "x-sampa"),
        ("<speak><prosody rate='-3'>x</prosody></speak>", "rate"),
        ("<speak><sub alias='a'><mark name='m'/></sub></speak>", "text only"),
        ("<p>no speak</p>", "outside <speak>"),
        ("<speak>&nbsp;</speak>", "undefined entity"),
    ],
)
def test_bad_ssml_is_one_clear_error(doc: str, needle: str) -> None:
    with pytest.raises(ssml.SsmlError, match="line 1, column") as err:
        ssml.parse_ssml(doc)
    assert needle in str(err.value)


def test_error_position_points_at_the_tag() -> None:
    with pytest.raises(ssml.SsmlError, match=r"<audio> .* at line 2, column 3"):
        ssml.parse_ssml("<speak>\n  <audio src='x'/></speak>")


def test_billion_laughs_is_refused() -> None:
    lol = "".join(f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 10))
    doc = f'<?xml version="1.0"?><!DOCTYPE speak [<!ENTITY l0 "lol">{lol}]><speak>&l9;</speak>'
    with pytest.raises(ssml.SsmlError, match="DTDs and entity declarations are not allowed"):
        ssml.parse_ssml(doc)


def test_external_entity_is_refused() -> None:
    doc = '<!DOCTYPE speak [<!ENTITY x SYSTEM "file:///etc/passwd">]><speak>&x;</speak>'
    with pytest.raises(ssml.SsmlError, match="DTDs and entity declarations are not allowed"):
        ssml.parse_ssml(doc)


def test_deep_nesting_is_refused() -> None:
    doc = "<speak>" + "<s>" * 10_000 + "x" + "</s>" * 10_000 + "</speak>"
    with pytest.raises(ssml.SsmlError, match="nested deeper"):
        ssml.parse_ssml(doc)


def test_huge_document_is_refused() -> None:
    with pytest.raises(ssml.SsmlError, match="characters"):
        ssml.parse_ssml("<speak>" + "word " * ssml.MAX_SSML_CHARS + "</speak>")


def test_many_breaks_are_bounded() -> None:
    with pytest.raises(ssml.SsmlError, match="add up"):
        ssml.parse_ssml("<speak>" + "<break time='10s'/>" * 7 + "</speak>")


def test_sub_speaks_the_alias(frontend: Frontend) -> None:
    doc = '<speak>The <sub alias="World Wide Web">WWW</sub> is big.</speak>'
    assert _words(frontend, doc) == ["The", "World", "Wide", "Web", "is", "big"]
    assert _phonemes(frontend, doc) == frontend.process("The World Wide Web is big.")[0].phonemes


def test_say_as_characters_spells(frontend: Frontend) -> None:
    doc = '<speak><say-as interpret-as="characters">abc</say-as></speak>'
    assert _words(frontend, doc) == ["a", "b", "c"]
    assert _phonemes(frontend, doc) == "ˈeɪ bˈiː sˈiː"  # letter names, not the word "abc"
    assert _phonemes(frontend, "<speak>abc</speak>") != "ˈeɪ bˈiː sˈiː"


@pytest.mark.parametrize(
    ("kind", "fmt", "content", "words"),
    [
        ("cardinal", None, "123", "one hundred twenty-three"),
        ("ordinal", None, "3", "third"),
        ("ordinal", None, "22nd", "twenty-second"),
        ("digits", None, "123", "one two three"),
        ("date", "mdy", "12/25/2024", "December twenty-fifth, twenty twenty-four"),
        ("date", None, "1984-07-04", "July fourth, nineteen eighty-four"),
        ("telephone", None, "+1 555-0100", "plus one, five five five, zero one zero zero"),
    ],
)
def test_say_as_words(frontend: Frontend, kind: str, fmt: str | None, content: str, words: str) -> None:
    attr = f' format="{fmt}"' if fmt else ""
    doc = f'<speak><say-as interpret-as="{kind}"{attr}>{content}</say-as></speak>'
    (utt,) = frontend.process_ssml(doc)
    assert utt.text == words


def test_say_as_bad_content(frontend: Frontend) -> None:
    with pytest.raises(TextError, match="whole number"):
        frontend.process_ssml('<speak><say-as interpret-as="cardinal">many</say-as></speak>')


def test_phoneme_ipa_is_used_as_given(frontend: Frontend) -> None:
    (utt,) = frontend.process_ssml(
        '<speak>say <phoneme alphabet="ipa" ph="təmˈɑːtoʊ">tomato</phoneme>.</speak>'
    )
    assert utt.phonemes.endswith("təmˈɑːtoʊ.")
    assert [w.text for w in utt.words] == ["say", "tomato"]
    tomato = utt.words[1]
    assert frontend.symbols.decode(utt.ids[tomato.start : tomato.end]) == "təmˈɑːtoʊ"


def test_phoneme_with_unknown_symbols_is_an_error(frontend: Frontend) -> None:
    with pytest.raises(ssml.SsmlError, match="does not know"):
        frontend.process_ssml('<speak><phoneme alphabet="ipa" ph="k☃t">cat</phoneme></speak>')


def test_segments_pauses_and_marks(frontend: Frontend) -> None:
    utts = frontend.process_ssml(
        '<speak><break time="1s"/>One <mark name="a"/>two <break time="300ms"/>'
        '<prosody rate="slow">three</prosody> four. Five</speak>'
    )
    assert [u.text for u in utts] == ["One two", "three", "four.", "Five"]
    assert utts[0].pause_before_s == 1.0
    assert [u.pause_after_s for u in utts] == [0.3, 0.0, None, 0.0]
    assert utts[1].prosody.rate == ssml.RATE_WORDS["slow"] and utts[2].prosody.rate == 1.0
    (mark,) = utts[0].marks
    assert mark.name == "a" and mark.token == utts[0].words[1].start


def test_mark_before_a_break_stays_before_it(frontend: Frontend) -> None:
    utts = frontend.process_ssml(
        '<speak>One <mark name="a"/><break time="1s"/>two <mark name="end"/></speak>'
    )
    assert [m.token for m in utts[0].marks] == [len(utts[0].ids)]
    assert [m.token for m in utts[1].marks] == [len(utts[1].ids)]


def test_plain_text_words_cover_the_phonemes(frontend: Frontend) -> None:
    (utt,) = frontend.process("I went to the end of the day, and looked at it.")
    assert [w.text for w in utt.words] == [
        "I",
        "went",
        "to",
        "the",
        "end",
        "of",
        "the",
        "day",
        "and",
        "looked",
        "at",
        "it",
    ]
    starts = [w.start for w in utt.words]
    assert starts == sorted(starts) and all(w.end > w.start for w in utt.words)
    assert utt.words[-1].end == len(utt.ids) - 1  # only the final "." after the last word


def test_align_words_shares_joined_phoneme_words() -> None:
    alone = {"of": "ʌv", "the": "ðə", "day": "dˈeɪ"}
    spans = align_words(["of", "the", "day."], "ʌvðə dˈeɪ.", lambda w: alone[w.rstrip(".")])
    assert spans == [(0, 2), (2, 4), (5, 9)]


def test_lexicon_overrides_espeak(tmp_path) -> None:
    path = tmp_path / "lex.tsv"
    path.write_text("# names\nNguyen\tŋwˈɪn\n", encoding="utf-8")
    fe = Frontend("en-us", lexicon=Lexicon.read(path))
    (utt,) = fe.process("Mister nguyen, hello.")
    assert "ŋwˈɪn," in utt.phonemes
    assert [w.text for w in utt.words] == ["Mister", "nguyen", "hello"]
    assert "ŋwˈɪn" not in Frontend("en-us").process("Mister nguyen, hello.")[0].phonemes


def test_bad_lexicon_line(tmp_path) -> None:
    path = tmp_path / "lex.tsv"
    path.write_text("Nguyen ŋwˈɪn\n", encoding="utf-8")
    with pytest.raises(UserError, match="line 1"):
        Lexicon.read(path)
