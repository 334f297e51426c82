"""Word and mark timings, SSML breaks, pitch and volume through the synthesizer (tiny random voice).

Timings are exact arithmetic on the text-to-mel durations, so a random voice checks them as well
as a trained one: its audio is not speech, but every sample of it is placed where the timings say.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tts import prosody
from tts.cli.main import main
from tts.encoding import decode
from tts.errors import UserError
from tts.synthesizer import Synthesizer
from vocoders.audio import AudioConfig
from vocoders.kinds import VocoderKind

SILENCE = 1e-6  # a random vocoder never stays this quiet for long; a pause is exact zeros


@pytest.fixture(scope="module")
def synth(tiny_voice_dir: Path) -> Synthesizer:
    return Synthesizer.load(tiny_voice_dir)


def _hop_s(synth: Synthesizer) -> float:
    return synth.audio_config.hop_length / synth.sample_rate


def _longest_quiet_run(audio: np.ndarray) -> tuple[int, int]:
    """(start, end) samples of the longest run with |x| < SILENCE."""
    quiet = np.concatenate([[0], (np.abs(audio) < SILENCE).astype(np.int8), [0]])
    edges = np.flatnonzero(np.diff(quiet))
    starts, ends = edges[::2], edges[1::2]
    i = int(np.argmax(ends - starts))
    return int(starts[i]), int(ends[i])


def test_break_adds_its_silence_where_it_was_asked(synth: Synthesizer) -> None:
    with_break = synth.synthesize("<speak>Hello there <break time='500ms'/> big world</speak>")
    no_break = synth.synthesize("<speak>Hello there <break time='0ms'/> big world</speak>")
    sr = synth.sample_rate
    added = (len(with_break.audio) - len(no_break.audio)) / sr
    assert abs(added - 0.5) <= _hop_s(synth)
    start, end = _longest_quiet_run(with_break.audio)
    assert abs((end - start) / sr - 0.5) <= _hop_s(synth)
    words = {w.word: w for w in with_break.words}
    # The silence sits between the words on either side of the <break>, nowhere else.
    assert words["there"].end_s <= start / sr and end / sr <= words["big"].start_s + _hop_s(synth)
    assert words["big"].start_s - words["there"].end_s >= 0.5


def test_mark_lies_between_its_neighbouring_words(synth: Synthesizer) -> None:
    result = synth.synthesize("<speak>Hello big <mark name='here'/> wide world</speak>")
    (mark,) = result.marks
    by_word = {w.word: w for w in result.words}
    assert mark.name == "here"
    assert by_word["big"].end_s <= mark.time_s <= by_word["wide"].start_s


def test_timings_are_monotonic_and_cover_the_audio(synth: Synthesizer) -> None:
    result = synth.synthesize("Hello big world, how are you. I am fine and so is the day")
    assert [w.word for w in result.words] == [
        "Hello",
        "big",
        "world",
        "how",
        "are",
        "you",
        "I",
        "am",
        "fine",
        "and",
        "so",
        "is",
        "the",
        "day",
    ]
    times = [t for w in result.words for t in (w.start_s, w.end_s)]
    assert times == sorted(times)
    assert all(w.end_s > w.start_s for w in result.words)
    assert result.words[0].start_s == 0.0
    # The last word ends the audio exactly: no punctuation after it, no pause at the end.
    assert result.words[-1].end_s == pytest.approx(len(result.audio) / synth.sample_rate)
    # The sentence pause sits between "you" and "I".
    you, i = result.words[5], result.words[6]
    assert i.start_s - you.end_s >= 0.2


def test_stream_carries_the_same_timings_in_the_chunk_that_holds_them(synth: Synthesizer) -> None:
    text = "<speak>One two three <mark name='m'/> four. <break time='200ms'/> Five six seven eight</speak>"
    whole = synth.synthesize(text)
    chunks = list(synth.synthesize_stream(text, chunk_frames=4))
    assert np.array_equal(np.concatenate([c.audio for c in chunks]), whole.audio)
    assert [w for c in chunks for w in c.words] == whole.words
    assert [m for c in chunks for m in c.marks] == whole.marks
    total = len(whole.audio)
    assert all(round(w.start_s * synth.sample_rate) == total for w in chunks[-1].words)
    start = 0
    for c in chunks[:-1]:
        end = start + len(c.audio)
        for t in [w.start_s for w in c.words] + [m.time_s for m in c.marks]:
            assert start <= round(t * synth.sample_rate) < end
        start = end


@pytest.mark.parametrize("kind", list(VocoderKind))
def test_a_pitched_stream_equals_the_pitched_whole_for_every_vocoder(
    tiny_voice_dir: Path, kind: VocoderKind
) -> None:
    """Resampling for pitch needs a whole sentence: streamed, each sentence comes in one piece."""
    synth = Synthesizer.load(tiny_voice_dir, vocoders=[kind])
    synth.pitch_method = prosody.PitchMethod.RESAMPLE
    text = "One two three four five. Six seven."
    whole = synth.synthesize(text, vocoder=kind, pitch=3, seed=2)
    chunks = list(synth.synthesize_stream(text, vocoder=kind, pitch=3, seed=2, chunk_frames=4))
    np.testing.assert_allclose(np.concatenate([c.audio for c in chunks]), whole.audio, atol=1e-6)
    assert [w for c in chunks for w in c.words] == whole.words


def test_volume_scales_the_waveform(synth: Synthesizer) -> None:
    base = synth.synthesize("Hello world").audio
    half = synth.synthesize("Hello world", volume_gain_db=-20 * np.log10(2)).audio
    np.testing.assert_allclose(half, base / 2, atol=1e-6)
    ssml_half = synth.synthesize("<speak><prosody volume='-6.0206dB'>Hello world</prosody></speak>").audio
    np.testing.assert_allclose(ssml_half, base / 2, atol=1e-4)


@pytest.mark.parametrize(
    "kwargs", [{"pitch": 12.5}, {"pitch": -13}, {"volume_gain_db": 17}, {"volume_gain_db": -97}]
)
def test_out_of_range_pitch_and_volume_are_refused(synth: Synthesizer, kwargs: dict) -> None:
    with pytest.raises(UserError, match="between"):
        synth.synthesize("Hello", **kwargs)


def test_ssml_prosody_adds_to_the_request_within_range(synth: Synthesizer) -> None:
    with pytest.raises(UserError, match="pitch must be between"):
        synth.synthesize("<speak><prosody pitch='+8st'>Hello</prosody></speak>", pitch=6)


def test_mel_pitch_shift_moves_energy_up_an_octave() -> None:
    audio = AudioConfig(
        sample_rate=16000, n_fft=1024, hop_length=256, win_length=1024, n_mels=80, fmin=0, fmax=8000
    )
    import librosa
    import torch

    centres = librosa.mel_frequencies(audio.n_mels + 2, fmin=audio.fmin, fmax=audio.fmax)[1:-1]
    k = int(np.argmin(np.abs(centres - 500)))
    mel = torch.full((1, audio.n_mels, 3), -10.0)
    mel[0, k] = 0.0
    up = prosody.shift_mel_pitch(mel, 12.0, audio)
    peak = int(up[0, :, 0].argmax())
    assert abs(centres[peak] - 2 * centres[k]) < centres[peak] - centres[peak - 1]
    assert torch.equal(prosody.shift_mel_pitch(mel, 0.0, audio), mel)


def test_resample_pitch_keeps_timings_on_the_audio(synth: Synthesizer) -> None:
    synth.pitch_method = prosody.PitchMethod.RESAMPLE
    try:
        base = synth.synthesize("Hello big world")
        up = synth.synthesize("Hello big world", pitch=12)
    finally:
        synth.pitch_method = prosody.PITCH_METHOD
    # The random voice's durations sit at their one-frame floor, so slowing down adds no frames and
    # the octave up halves the audio; the timings follow it exactly.
    assert len(up.audio) == pytest.approx(len(base.audio) / 2, abs=1)
    assert up.words[-1].end_s == pytest.approx(base.words[-1].end_s / 2)
    assert up.words[-1].end_s == pytest.approx(len(up.audio) / synth.sample_rate, abs=1 / synth.sample_rate)


def test_cli_writes_telephony_audio_and_timings(
    tiny_voice_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "x.ulaw"
    doc = "<speak>Hello <mark name='m'/> world <break time='300ms'/> again</speak>"
    assert main(["synthesize", doc, "--voice", str(tiny_voice_dir), "-o", str(out), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["encoding"] == "mulaw" and report["output_sample_rate"] == 8000
    assert [w["word"] for w in report["words"]] == ["Hello", "world", "again"]
    assert [m["name"] for m in report["marks"]] == ["m"]
    seconds = len(decode(out.read_bytes(), "mulaw")) / 8000
    assert seconds == pytest.approx(report["audio_seconds"], abs=1 / 8000)


def test_cli_rejects_bad_ssml_in_one_line(
    tiny_voice_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "synthesize",
            "<speak><audio/></speak>",
            "--voice",
            str(tiny_voice_dir),
            "-o",
            str(tmp_path / "x.wav"),
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and "<audio>" in err and len(err.strip().splitlines()) == 1
