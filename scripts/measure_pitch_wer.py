"""Recogniser WER of the bundled voice with each pitch-shift method at a few shifts.

Usage: ``python scripts/measure_pitch_wer.py [--shifts -4 4] [--vocoder hifigan]``; prints one line
per (method, shift) and the unshifted baseline. The sentences are Harvard sentences (IEEE 1969).
"""

from __future__ import annotations

import argparse

from tts.evaluation.asr import Recognizer
from tts.evaluation.metrics import word_error_rate
from tts.prosody import PitchMethod
from tts.synthesizer import Synthesizer

SENTENCES = (
    "The birch canoe slid on the smooth planks.",
    "Glue the sheet to the dark blue background.",
    "It's easy to tell the depth of a well.",
    "These days a chicken leg is a rare dish.",
    "Rice is often served in round bowls.",
    "The juice of lemons makes fine punch.",
    "The box was thrown beside the parked truck.",
    "The hogs were fed chopped corn and garbage.",
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--shifts", type=float, nargs="+", default=[-4.0, 4.0], help="semitones")
    parser.add_argument("--vocoder", default="hifigan")
    args = parser.parse_args()
    synth = Synthesizer.load()
    asr = Recognizer()

    def wer(semitones: float) -> float:
        hyps = [
            asr.transcribe(
                synth.synthesize(s, vocoder=args.vocoder, pitch=semitones).audio, synth.sample_rate
            )
            for s in SENTENCES
        ]
        return word_error_rate(list(SENTENCES), hyps)

    print(f"baseline (0 st): WER {wer(0.0):.3f}")
    for method in PitchMethod:
        synth.pitch_method = method
        for semitones in args.shifts:
            print(f"{method.value} {semitones:+g} st: WER {wer(semitones):.3f}", flush=True)


if __name__ == "__main__":
    main()
