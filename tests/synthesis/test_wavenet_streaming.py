"""A streamed WaveNet utterance equals the unary one for the same seed, and streams block by block."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tts.synthesizer import Synthesizer
from vocoders.kinds import VocoderKind

TWO_SENTENCES = "Hello there. Bye now."


@pytest.mark.parametrize("impl", ["fast", "reference"])
def test_streamed_wavenet_equals_unary_for_the_same_seed(tiny_voice_dir: Path, impl: str) -> None:
    synth = Synthesizer.load(tiny_voice_dir, wavenet_impl=impl, vocoders=[VocoderKind.WAVENET])
    unary = synth.synthesize(TWO_SENTENCES, vocoder=VocoderKind.WAVENET, seed=7).audio
    chunks = list(synth.synthesize_stream(TWO_SENTENCES, vocoder=VocoderKind.WAVENET, seed=7))
    streamed = np.concatenate([c.audio for c in chunks])
    assert len({c.sentence_index for c in chunks}) == 2  # the second sentence is not a copy of the first
    np.testing.assert_array_equal(streamed, unary)
    other = synth.synthesize(TWO_SENTENCES, vocoder=VocoderKind.WAVENET, seed=8).audio
    assert not np.array_equal(other, unary)


def test_a_sentence_does_not_depend_on_the_others_in_its_batch(tiny_voice_dir: Path) -> None:
    synth = Synthesizer.load(tiny_voice_dir, vocoders=[VocoderKind.WAVENET])
    alone = synth.synthesize("Bye now.", vocoder=VocoderKind.WAVENET, seed=8).audio
    both = synth.synthesize(TWO_SENTENCES, vocoder=VocoderKind.WAVENET, seed=7).audio
    # The second sentence of a request seeded 7 is sampled with seed 8: the end of the audio.
    np.testing.assert_array_equal(both[-len(alone) :], alone)


def test_the_fast_loop_streams_a_sentence_block_by_block(tiny_voice_dir: Path) -> None:
    synth = Synthesizer.load(tiny_voice_dir, vocoders=[VocoderKind.WAVENET])
    voc = synth.check_vocoder(VocoderKind.WAVENET)
    mel = synth.text_to_mel(synth.analyze("Hello there, how are you today?")[0])
    blocks = list(voc.stream(mel, seed=3))
    assert len(blocks) > 1 and all(len(b) > 0 for b in blocks)
    np.testing.assert_array_equal(np.concatenate(blocks), voc.vocode([mel], seed=3)[0])
