"""``ganspeech eval`` on a 3-sentence Flite corpus with the tiny random voice."""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
from pathlib import Path

import pytest
import torch

from tts.cli.commands import eval as eval_command
from tts.errors import UserError
from tts.evaluation.copysynth import GRIFFIN_LIM, GRIFFIN_LIM_GENERATOR
from tts.synthesizer import Synthesizer
from vocoders.kinds import VocoderKind

FLITE = shutil.which("flite")
# Short sentences (about 1.5 s each) keep eight systems x three sentences of recognition quick.
SENTENCES = {
    "s001": "Open the door.",
    "s002": "We like green tea.",
    "s003": "Turn off the light.",
}
# The tiny voice holds every kind: by default each is scored, by copy synthesis and after text-to-mel.
KINDS = [VocoderKind.HIFIGAN.value, VocoderKind.VOCOS.value, VocoderKind.WAVENET.value]
ALL_ROWS = [
    "teacher",
    f"{GRIFFIN_LIM} copy",
    *(f"{kind} copy" for kind in KINDS),
    *(f"text2mel+{kind}" for kind in KINDS),
]

pytestmark = pytest.mark.skipif(FLITE is None, reason="flite is not installed")


@pytest.fixture(scope="module")
def flite_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An LJSpeech-format corpus (metadata.csv, wavs/, test.txt) spoken by Flite."""
    root = tmp_path_factory.mktemp("corpus")
    (root / "wavs").mkdir()
    lines = []
    for utt_id, text in SENTENCES.items():
        wav = root / "wavs" / f"{utt_id}.wav"
        subprocess.run([FLITE, "-voice", "rms", "-t", text, "-o", str(wav)], check=True, capture_output=True)
        lines.append(f"{utt_id}|{text}|{text}")
    (root / "metadata.csv").write_text("\n".join(lines) + "\n")
    (root / "test.txt").write_text("\n".join(SENTENCES) + "\n")
    return root


def run_cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="ganspeech")
    sub = parser.add_subparsers(dest="command")
    eval_command.register(sub)
    args = parser.parse_args(["eval", *argv])
    threads = torch.get_num_threads()
    try:
        return args.func(args)
    finally:
        torch.set_num_threads(threads)  # --threads is process-wide; later tests get their default back


def test_eval_writes_every_row(
    flite_corpus: Path, tiny_voice_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "eval.json"
    argv = ["--data", str(flite_corpus), "--voice", str(tiny_voice_dir), "--out", str(out), "--no-progress"]
    assert run_cli([*argv, "--threads", "1"]) == 0
    report = json.loads(out.read_text())
    rows = {r["name"]: r for r in report["rows"]}
    assert list(rows) == ALL_ROWS
    assert report["n_sentences"] == 3 and len(report["sentences"]) == 3
    assert all(r["n_sentences"] == 3 for r in rows.values())
    # Flite's own speech is intelligible to the recogniser; the random voice's is not.
    assert rows["teacher"]["wer"] < 0.5
    assert rows["text2mel+hifigan"]["wer"] > rows["teacher"]["wer"]
    # Each metric appears exactly on the rows it applies to.
    for name, row in rows.items():
        is_copy = name.endswith(" copy")
        assert (row["stoi"] is not None) == is_copy, name
        assert (row["mcd_db"] is not None) == name.startswith("text2mel+"), name
        assert (row["vocoder_rtf"] is not None) == (name != "teacher"), name
    # Griffin-Lim inverts the true mel; an untrained HiFi-GAN cannot: STOI must tell them apart.
    assert rows["griffinlim copy"]["stoi"] > rows["hifigan copy"]["stoi"]
    assert rows["griffinlim copy"]["pesq_wb"] is not None and rows["griffinlim copy"]["pesq_wb"] > 1.0
    first = report["sentences"][0]
    assert first["id"] == "s001" and set(first["systems"]) == set(ALL_ROWS)
    # Every row names the generator that ran; the table lists each once.
    synth = Synthesizer.load(tiny_voice_dir)
    generators = {kind: synth.check_vocoder(kind).generator_name for kind in KINDS}
    assert report["vocoders"] == KINDS and report["generators"] == generators
    assert rows["teacher"]["generator"] is None
    assert rows[f"{GRIFFIN_LIM} copy"]["generator"] == GRIFFIN_LIM_GENERATOR
    for kind in KINDS:
        assert rows[f"{kind} copy"]["generator"] == rows[f"text2mel+{kind}"]["generator"] == generators[kind]
    table = capsys.readouterr().out
    for name in ALL_ROWS:
        assert name in table
    for kind, generator in generators.items():
        assert f"{kind}: {generator}" in table


def test_eval_limit_vocoders_and_no_copysynth(
    flite_corpus: Path, tiny_voice_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "small.json"
    argv = ["--data", str(flite_corpus), "--voice", str(tiny_voice_dir), "--out", str(out), "--no-progress"]
    vocos = VocoderKind.VOCOS.value
    options = ["--limit", "1", "--vocoders", vocos, "--no-copysynth", "--wavenet-temperature", "0.8"]
    assert run_cli([*argv, *options]) == 0
    report = json.loads(out.read_text())
    assert report["wavenet_temperature"] == 0.8 and report["voice"] == str(tiny_voice_dir.resolve())
    assert [r["name"] for r in report["rows"]] == ["teacher", f"text2mel+{vocos}"]
    assert list(report["generators"]) == [vocos]
    assert [s["id"] for s in report["sentences"]] == ["s001"]


def test_eval_refuses_an_unknown_vocoder(flite_corpus: Path, tiny_voice_dir: Path, tmp_path: Path) -> None:
    argv = ["--data", str(flite_corpus), "--voice", str(tiny_voice_dir), "--out", str(tmp_path / "x.json")]
    with pytest.raises(UserError, match="melgan"):
        run_cli([*argv, "--vocoders", "hifigan,melgan"])
    with pytest.raises(UserError, match="--wavenet-temperature must be in"):
        run_cli([*argv, "--wavenet-temperature", "0"])
