"""The command line answers --help and argument errors without loading torch or other heavy libraries,
and speaks a sentence with torch but none of the libraries only other commands need."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Libraries that take from tens of milliseconds (grpc) to most of a second (torch) to import.
HEAVY_MODULES = ("torch", "numpy", "librosa", "scipy", "numba", "soundfile", "grpc", "matplotlib")
# What a one-shot synthesis needs (the models, their arrays and the audio file writer)...
SYNTHESIS_MODULES = ("torch", "numpy", "soundfile")
# ... and what it must not pay for: training, evaluation, plotting, serving, ONNX and resampling
# libraries, up to a CPU second each.
NOT_FOR_SYNTHESIS = (
    *(m for m in HEAVY_MODULES if m not in SYNTHESIS_MODULES),
    "sklearn",
    "onnx",
    "onnxruntime",
    "jsonschema",
)

# Runs in a fresh interpreter: this test process has torch loaded already.
PROBE = """
import json, sys
from tts.cli.main import build_parser, main
build_parser()
try:
    code = main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
print(json.dumps({"code": code, "heavy": [m for m in %r if m in sys.modules]}))
"""


def _probe(*argv: str, modules: tuple[str, ...] = HEAVY_MODULES) -> dict:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.run(
        [sys.executable, "-c", PROBE % (modules,), *argv],
        check=False,
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(
    "argv, code",
    [
        (("--help",), 0),
        (("synthesize", "--help"), 0),
        (("bench", "--help"), 0),
        (("synthesize",), 2),  # missing TEXT
        (("synthesize", "hello", "--gan-backend", "nope"), 2),
        (("vocode", "a.wav", "--vocoder", "nope"), 2),
        (("frobnicate",), 2),
    ],
)
def test_help_and_argument_errors_import_no_heavy_library(argv: tuple[str, ...], code: int) -> None:
    result = _probe(*argv)
    assert result["code"] == code
    assert result["heavy"] == []


@pytest.mark.parametrize("vocoder", [None, "hifigan"])  # None: the default, the Vocos-style one
def test_synthesize_imports_only_what_synthesis_needs(
    vocoder: str | None, tiny_voice_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out.wav"
    argv = ["synthesize", "Hello there.", "--voice", str(tiny_voice_dir), "-o", str(out)]
    result = _probe(*argv, *(["--vocoder", vocoder] if vocoder else []), modules=NOT_FOR_SYNTHESIS)
    assert result["code"] == 0 and out.stat().st_size > 0
    assert result["heavy"] == []


def test_cli_reports_audio_config_mismatch_as_one_line(monkeypatch, capsys) -> None:
    # The handler catches the torch-free class; the one raised by the audio code must be the same one.
    import importlib

    from tts.cli.commands import synthesize
    from vocoders.audio import AudioConfig, check_compatible

    def run(args):
        check_compatible(AudioConfig(), AudioConfig(hop_length=128), "the voice and its vocoder")

    cli_main = importlib.import_module("tts.cli.main")  # the module; `tts.cli.main` is the function
    monkeypatch.setattr(synthesize, "run", run)
    assert cli_main.main(["synthesize", "hello", "-o", "x.wav"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ganspeech synthesize: error: audio configs of the voice and its vocoder differ")
    assert err.count("\n") == 1
