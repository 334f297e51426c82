"""Golden frontend cases: text -> normalised sentences -> espeak-ng phonemes -> symbol ids.

Every value here was produced by the frontend and checked for plausibility (words and IPA). A failure
means what a voice hears for these texts changed (a normalisation rule, the espeak-ng data shipped
with espeakng-loader, or the symbol table): voices trained before the change would then read
differently. Update a case only after checking the new output is right.
"""

from __future__ import annotations

from typing import NamedTuple

import pytest

from tts.frontend.pipeline import Frontend
from tts.frontend.symbols import DEFAULT_SYMBOLS


class Case(NamedTuple):
    text: str
    sentences: list[tuple[str, str]]  # (normalised sentence, phonemes), one per sentence


ENGLISH: list[Case] = [
    Case(
        "I have 3 cats and 21 dogs.",
        [("I have three cats and twenty-one dogs.", "aɪ hæv θɹˈiː kˈæts ænd twˈɛntiwˈʌn dˈɑːɡz.")],
    ),
    Case(
        "He finished 1st, she came 22nd and they were 103rd.",
        [
            (
                "He finished first, she came twenty-second and they were one hundred third.",
                "hiː fˈɪnɪʃt fˈɜːst, ʃiː kˈeɪm twˈɛntisˈɛkənd ænd ðeɪ wɜː wˈʌn hˈʌndɹɪd θˈɜːd.",
            )
        ],
    ),
    Case(
        "The meeting is at 3:30 pm on 2024-03-05.",
        [
            (
                "The meeting is at three thirty PM on March fifth, twenty twenty-four.",
                "ðə mˈiːɾɪŋ ɪz æt θɹˈiː θˈɜːɾi pˌiːˈɛm ˌɔn mˈɑːɹtʃ fˈɪfθ, twˈɛnti twˈɛntifˈɔːɹ.",
            )
        ],
    ),
    Case(
        "It was founded in 1984.",
        [("It was founded in nineteen eighty-four.", "ɪt wʌz fˈaʊndᵻd ɪn nˈaɪntiːn ˈeɪɾifˈɔːɹ.")],
    ),
    Case(
        "It costs $5.50, or £3.",
        [
            (
                "It costs five dollars and fifty cents, or three pounds.",
                "ɪt kˈɔsts fˈaɪv dˈɑːlɚz ænd fˈɪfti sˈɛnts, ɔːɹ θɹˈiː pˈaʊndz.",
            )
        ],
    ),
    Case(
        "Only €1.01 left.",
        [("Only one euro and one cent left.", "ˈoʊnli wˈʌn jˈʊɹɹoʊ ænd wˈʌn sˈɛnt lˈɛft.")],
    ),
    Case("He paid $2 million.", [("He paid two million dollars.", "hiː pˈeɪd tˈuː mˈɪliən dˈɑːlɚz.")]),
    Case(
        "Dr. Smith lives on Main St. near Mt. Rainier.",
        [
            (
                "Doctor Smith lives on Main Street near Mount Rainier.",
                "dˈɑːktɚ smˈɪθ lˈaɪvz ˌɔn mˈeɪn stɹˈiːt nˌɪɹ mˈaʊnt ɹˈeɪniɚ.",
            )
        ],
    ),
    Case(
        "Mr. and Mrs. Jones met Prof. Lee.",
        [("Mister and Missus Jones met Professor Lee.", "mˈɪstɚɹ ænd mˈɪsəs dʒˈoʊnz mˈɛt pɹəfˈɛsɚ lˈiː.")],
    ),
    Case(
        "St. Louis is 7:05 am away.",
        [("Saint Louis is seven oh five AM away.", "sˈeɪnt lˈuːi ɪz sˈɛvən ˈoʊ fˈaɪv ˌeɪˈɛm ɐwˈeɪ.")],
    ),
    Case(
        "Temperatures fell to -5°C overnight.",
        [
            (
                "Temperatures fell to minus five degrees Celsius overnight.",
                "tˈɛmpɹɪtʃɚz fˈɛl tə mˈaɪnəs fˈaɪv dᵻɡɹˈiːz sˈɛlsɪəs ˌoʊvɚnˈaɪt.",
            )
        ],
    ),
    Case(
        "About 50% of 1,234,567 people agreed.",
        [
            (
                "About fifty percent of one million two hundred thirty-four thousand five hundred sixty-seven people agreed.",
                "ɐbˌaʊt fˈɪfti pɚsˈɛnt ʌv wˈʌn mˈɪliən tˈuː hˈʌndɹɪd θˈɜːɾifˈɔːɹ θˈaʊzənd fˈaɪv hˈʌndɹɪd sˈɪkstisˈɛvən pˈiːpəl ɐɡɹˈiːd.",
            )
        ],
    ),
    Case("Tom & Jerry were #1.", [("Tom and Jerry were number one.", "tˈɑːm ænd dʒˈɛɹi wɜː nˈʌmbɚ wˌʌn.")]),
    Case(
        "Mix @ home: 2+2=4.",
        [("Mix at home: two plus two equals four.", "mˈɪks æt hˈoʊm: tˈuː plˈʌs tˈuː ˈiːkwəlz fˈɔːɹ.")],
    ),
    Case(
        "“Hello,” she said — ‘goodbye.’", [("\"Hello,\" she said, 'goodbye.'", "həlˈoʊ, ʃiː sˈɛd, ɡʊdbˈaɪ.")]
    ),
    Case(
        "Wait… really?! Yes; it's true: all of it.",
        [
            ("Wait...", "wˈeɪt."),
            ("really?", "ɹˈiəli?"),
            ("Yes;", "jˈɛs;"),
            ("it's true: all of it.", "ɪts tɹˈuː: ˈɔːl ʌv ɪt."),
        ],
    ),
    Case(
        "The years 1999–2001 were busy.",
        [
            (
                "The years nineteen ninety-nine to two thousand one were busy.",
                "ðə jˈɪɹz nˈaɪntiːn nˈaɪntinˈaɪn tə tˈuː θˈaʊzənd wˈʌn wɜː bˈɪzi.",
            )
        ],
    ),
    Case(
        "Call me at 5 o'clock, e.g. after lunch.",
        [
            (
                "Call me at five o'clock, for example after lunch.",
                "kˈɔːl mˌiː æt fˈaɪv əklˈɑːk, fɔːɹ ɛɡzˈæmpəl ˈæftɚ lˈʌntʃ.",
            )
        ],
    ),
    Case(
        "Version 2.5 is 3.14 times faster.",
        [
            (
                "Version two point five is three point one four times faster.",
                "vˈɜːʒən tˈuː pˈɔɪnt fˈaɪv ɪz θɹˈiː pˈɔɪnt wˈʌn fˈɔːɹ tˈaɪmz fˈæstɚ.",
            )
        ],
    ),
    Case(
        "The 1990s were great.", [("The nineteen nineties were great.", "ðə nˈaɪntiːn nˈaɪntiz wɜː ɡɹˈeɪt.")]
    ),
    Case(
        "Room 42B, vs. room 7.",
        [("Room forty-two B, versus room seven.", "ɹˈuːm fˈɔːɹɾitˈuː bˈiː, vˈɜːsᵻz ɹˈuːm sˈɛvən.")],
    ),
    Case(
        "Agent 007 arrived at 10 a.m. sharp.",
        [
            (
                "Agent zero zero seven arrived at ten AM sharp.",
                "ˈeɪdʒənt zˈiəɹoʊ zˈiəɹoʊ sˈɛvən ɚɹˈaɪvd æt tˈɛn ˌeɪˈɛm ʃˈɑːɹp.",
            )
        ],
    ),
]
GERMAN: list[Case] = [
    Case(
        "Ich habe 3 Katzen und 21 Hunde.",
        [
            (
                "Ich habe drei Katzen und einundzwanzig Hunde.",
                "ɪç hɑːbə dɾˈaɪ kˈatsən ʊnt ˈaɪnˌʊnttsvˌantsɪç hˈʊndə.",
            )
        ],
    ),
    Case(
        "Am 3. Oktober 1990 war es soweit.",
        [
            (
                "Am dritten Oktober neunzehnhundertneunzig war es soweit.",
                "am dɾˈɪtən ɔktˈoːbɜ nˈɔøntseːnhˌʊndɜtnˌɔøntsɪç vɑːɾ ɛs zoːvˈaɪt.",
            )
        ],
    ),
    Case(
        "Wir sehen uns am 2024-10-03.",
        [
            (
                "Wir sehen uns am dritten Oktober zweitausendvierundzwanzig.",
                "viːɾ zˈeːən ʊns am dɾˈɪtən ɔktˈoːbɜ tsvˈaɪtaʊzˌɛndviːrˌʊnttsvantsˌɪç.",
            )
        ],
    ),
    Case(
        "Der Zug fährt um 14:30 Uhr.",
        [("Der Zug fährt um vierzehn Uhr dreißig.", "dɛɾ tsˈuːk fˈɛːɾt ʊm fˈiːɾtseːn ˈuːɾ dɾˈaɪsɪç.")],
    ),
    Case(
        "Das kostet 5,50 € oder 12 Euro.",
        [
            (
                "Das kostet fünf Euro fünfzig oder zwölf Euro.",
                "das kˈɔstət fˈʏnf ˈɔøroː fˈʏnftsɪç ˌoːdɜ tsvˈœlf ˈɔøroː.",
            )
        ],
    ),
    Case(
        "Dr. Müller wohnt in der Hauptstr. 5, z. B. bei Familie Schmidt.",
        [
            (
                "Doktor Müller wohnt in der Hauptstraße fünf, zum Beispiel bei Familie Schmidt.",
                "dˈɔktoːɾ mˈʏlɜ vˈoːnt ɪn dɛɾ hˈaʊptstɾˌɑːsə fˈʏnf, tsʊm bˈaɪʃpiːl baɪ famˈiːlɪə ʃmˈɪt.",
            )
        ],
    ),
    Case(
        "Es sind 50 % von 1.234.567 Menschen.",
        [
            (
                "Es sind fünfzig Prozent von eine Million zweihundertvierunddreißigtausendfünfhundertsiebenundsechzig Menschen.",
                "ɛs zɪnt fˈʏnftsɪç pɾoːtsˈɛnt fɔn ˌaɪnə mɪljˈoːn tsvˈaɪhʊndɜtvˌiːrʊndɾˌaɪsɪçtˌaʊzəntfˌʏnfhʊndɜtsˌiːbənˌʊndzɛçtsˌɪç mˈɛnʃən.",
            )
        ],
    ),
    Case(
        "„Hallo“, sagte sie – ‚tschüss‘.",
        [("\"Hallo\", sagte sie, 'tschüss'.", "hˈaloː, zˈɑːɡtə ziː, tʃˈʏs.")],
    ),
    Case(
        "Es ist -5 °C kalt.",
        [("Es ist minus fünf Grad Celsius kalt.", "ɛsɪst mˈiːnʊs fˈʏnf ɡɾˈɑːt tsˈɛlziːˌʊs kˈalt.")],
    ),
    Case(
        "Straßenbahn & Bus, usw.",
        [("Straßenbahn und Bus, und so weiter.", "ʃtɾˈɑsənbˌɑːn ʊnt bˈʊs, ʊnt zoː vˈaɪtɜ.")],
    ),
    Case(
        "Größe: ca. 3,5 Meter.",
        [("Größe: circa drei Komma fünf Meter.", "ɡɾˈøːsə: kˈɪɾkɑː dɾˈaɪ kˈɔmɑː fˈʏnf mˈeːtɜ.")],
    ),
]


# A few id sequences written out in full, so the text -> ids path is pinned without the table too.
PINNED_IDS = {
    ("en-us", "Hello world"): [45, 14, 22, 13, 43, 28, 1, 54, 13, 37, 17, 22, 23],
    ("de", "Guten Tag."): [31, 13, 46, 17, 16, 14, 15, 1, 16, 13, 39, 17, 25, 8],
}


@pytest.fixture(scope="module")
def frontends() -> dict[str, Frontend]:
    return {"en-us": Frontend("en-us"), "de": Frontend("de")}


def _check(frontend: Frontend, case: Case) -> None:
    utterances = frontend.process(case.text)
    assert [(u.text, u.phonemes) for u in utterances] == case.sentences
    for u in utterances:
        # Every phoneme has an id (none dropped); test_symbol_table pins the table itself.
        assert u.ids == [DEFAULT_SYMBOLS.index(ch) for ch in u.phonemes]


@pytest.mark.parametrize("case", ENGLISH, ids=lambda c: c.text[:40])
def test_english_golden(case: Case, frontends: dict[str, Frontend]) -> None:
    _check(frontends["en-us"], case)


@pytest.mark.parametrize("case", GERMAN, ids=lambda c: c.text[:40])
def test_german_golden(case: Case, frontends: dict[str, Frontend]) -> None:
    _check(frontends["de"], case)


@pytest.mark.parametrize(("language", "text"), list(PINNED_IDS))
def test_pinned_id_sequences(language: str, text: str, frontends: dict[str, Frontend]) -> None:
    (utterance,) = frontends[language].process(text)
    assert utterance.ids == PINNED_IDS[(language, text)]
