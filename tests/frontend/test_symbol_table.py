"""The symbol table is a promise: the id of a symbol never changes, or trained voices read wrong phonemes.

New symbols may only be appended; this test pins every id that exists today.
"""

from __future__ import annotations

from tts.frontend.symbols import DEFAULT_SYMBOLS, PAD, PAD_ID, SymbolTable

# Id i is character i. Combining marks are written as escapes (they would fuse with their neighbour).
PINNED_SYMBOLS = (
    "_ !'(),-.:"  # ids 0-9
    ';?"ˈəntːsɪ'  # ids 10-19
    "ˌaldɛkɾmʊf"  # ids 20-29
    "iɡbʃpzrɜeɑ"  # ids 30-39
    "ɹɔvoŋhuçæɚ"  # ids 40-49
    "jʌʏøwxɐɒʒy"  # ids 50-59
    "ᵻœθð\u0329ʔ\u0303ɬʲɝ"  # ids 60-69
    "ˑʁʀɫʍɘɵʉɨɯ"  # ids 70-79
    "ɤβɸχɣɲɳɴɭʎ"  # ids 80-89
    "ʝɕʑʂʐɟcqɢħ"  # ids 90-99
    "ʕɦɻɰʋɺɽɓɗɠ"  # ids 100-109
    "ʰʷˠˤ\u0361\u035c\u032a\u0325\u032f˞"  # ids 110-119
)


def test_existing_ids_never_change() -> None:
    assert len(DEFAULT_SYMBOLS) >= len(PINNED_SYMBOLS)  # symbols are only ever appended
    changed = [(i, a, b) for i, (a, b) in enumerate(zip(PINNED_SYMBOLS, DEFAULT_SYMBOLS)) if a != b]
    assert changed == []


def test_pad_is_id_zero_and_the_table_encodes_by_position() -> None:
    table = SymbolTable(DEFAULT_SYMBOLS)
    assert PAD_ID == 0 and PINNED_SYMBOLS[PAD_ID] == PAD
    assert table.encode(PINNED_SYMBOLS) == list(range(len(PINNED_SYMBOLS)))
