"""``ganspeech onnx``: the text-to-mel graph equals PyTorch, the configs are complete, errors are one line."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.conftest import make_random_voice
from tts.cli.main import main
from tts.export.onnx import (
    CONFIG_SUFFIX,
    ExportableText2Mel,
    export_text2mel,
    export_voice,
    run_text2mel_onnx,
)
from tts.text2mel.model import Text2Mel, text2mel_config
from tts.voice import read_manifest, register_model
from vocoders.onnx_backend import max_relative_error
from vocoders.serialization import save_model
from vocoders.vocos import VocosGenerator, vocos_config

REL_TOLERANCE = 1e-4  # max|onnx - torch| / max|torch|; float rounding alone gives ~1e-6
N_SYMBOLS = 30
N_MELS = 20
# (tokens, speaking rate): lengths either side of the traced example's 40, slow and fast speech.
CASES = ((1, 1.0), (7, 1.0), (41, 0.7), (90, 2.0))
# Keys a runtime needs in every config (Piper's, plus the graph's interface).
CONFIG_KEYS = {
    "model_kind",
    "audio",
    "espeak",
    "language",
    "phoneme_id_map",
    "symbols",
    "num_symbols",
    "pad_id",
    "inputs",
    "outputs",
    "dynamic_axes",
    "opset",
    "format_version",
}


def _text2mel_with_varied_durations() -> Text2Mel:
    """A tiny random model whose predicted durations vary from token to token (about 2 to 10 frames)."""
    torch.manual_seed(0)
    model = Text2Mel(text2mel_config("tiny", N_SYMBOLS, N_MELS))
    with torch.no_grad():
        for block in model.duration_convs:
            block.conv.weight.mul_(5.0)
        model.duration_proj.weight.normal_(0.0, 1.0)
        model.duration_proj.bias.fill_(1.5)
        model.mel_mean.fill_(-4.0)
        model.mel_std.fill_(2.0)
    return model.eval()


def test_text2mel_onnx_equals_pytorch_for_any_length_and_rate() -> None:
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    model = _text2mel_with_varied_durations()
    buffer = io.BytesIO()
    export_text2mel(model, buffer)
    session = ort.InferenceSession(buffer.getvalue(), providers=["CPUExecutionProvider"])
    torch.manual_seed(1)
    for n_tokens, rate in CASES:
        tokens = torch.randint(1, N_SYMBOLS, (1, n_tokens))
        with torch.no_grad():
            reference, lengths = model.infer(tokens, torch.tensor([n_tokens]), speaking_rate=rate)
            durations = model._predict_durations(tokens, torch.tensor([n_tokens]), rate)[1]
        assert n_tokens < 2 or len(set(durations[0].tolist())) > 1  # the expansion is really exercised
        mel = run_text2mel_onnx(session, tokens, rate)
        assert mel.shape == reference.shape and reference.shape[-1] == int(lengths[0])
        assert max_relative_error(reference.numpy(), mel) < REL_TOLERANCE


def test_exportable_text2mel_equals_infer_without_onnx() -> None:
    model = _text2mel_with_varied_durations()
    tokens = torch.randint(1, N_SYMBOLS, (1, 23))
    with torch.no_grad():
        reference, lengths = model.infer(tokens, torch.tensor([23]), speaking_rate=1.3)
        mel, mel_lengths = ExportableText2Mel(model)(tokens, torch.tensor([23]), torch.tensor([1.3]))
    assert torch.equal(mel_lengths, lengths)
    assert torch.allclose(mel, reference)


@pytest.fixture(scope="module")
def voice_with_vocos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    voice_dir = make_random_voice(tmp_path_factory.mktemp("onnx_voice") / "voice")
    audio = read_manifest(voice_dir).audio
    cfg = vocos_config("tiny", audio)
    save_model(voice_dir / "vocos", VocosGenerator(cfg, audio), "vocos", cfg, audio)
    register_model(voice_dir, "vocos")
    return voice_dir


def test_export_voice_writes_every_gan_graph_with_a_complete_config(
    voice_with_vocos: Path, tmp_path: Path
) -> None:
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    manifest = read_manifest(voice_with_vocos)
    exported = export_voice(voice_with_vocos, tmp_path / "out")
    assert [m.kind for m in exported] == ["text2mel", "hifigan", "vocos"]  # WaveNet is not exported
    for model in exported:
        assert model.max_relative_error < REL_TOLERANCE
        assert model.config_path == model.onnx_path.with_name(
            model.onnx_path.name[: -len(".onnx")] + CONFIG_SUFFIX
        )
        config = json.loads(model.config_path.read_text(encoding="utf-8"))
        assert CONFIG_KEYS <= set(config) and config["model_kind"] == model.kind
        assert config["audio"]["sample_rate"] == manifest.audio.sample_rate
        assert config["audio"]["hop_length"] == manifest.audio.hop_length
        assert config["espeak"]["voice"] == manifest.language
        assert config["phoneme_id_map"] == {s: [i] for i, s in enumerate(manifest.symbols)}
        # The declared interface is the graph's: names, ranks, and a string for each dynamic axis.
        session = ort.InferenceSession(str(model.onnx_path), providers=["CPUExecutionProvider"])
        for declared, actual in (
            (config["inputs"], session.get_inputs()),
            (config["outputs"], session.get_outputs()),
        ):
            assert [d["name"] for d in declared] == [a.name for a in actual]
            for d, a in zip(declared, actual):
                assert len(d["shape"]) == len(a.shape)
                assert [isinstance(x, str) for x in d["shape"]] == [isinstance(x, str) for x in a.shape]
    text2mel_config = json.loads(exported[0].config_path.read_text(encoding="utf-8"))
    assert text2mel_config["vocoders"] == {"hifigan": "hifigan.onnx", "vocos": "vocos.onnx"}
    assert text2mel_config["inference"]["speaking_rate"] == 1.0


def _run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(argv)
    return code, capsys.readouterr().err


def _assert_one_line_error(code: int, err: str, command: str, message: str) -> None:
    assert code == 2
    assert err.count("\n") == 1 and err.startswith(f"ganspeech {command}: error:") and message in err


def test_cli_missing_voice_is_one_line_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, err = _run_cli(["onnx", str(tmp_path / "nope"), "--out", str(tmp_path / "out")], capsys)
    _assert_one_line_error(code, err, "onnx", "does not exist")


def test_cli_voice_without_gan_vocoder_is_one_line_exit_2(
    voice_with_vocos: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    voice = shutil.copytree(voice_with_vocos, tmp_path / "wavenet_only")
    manifest = json.loads((voice / "voice.json").read_text(encoding="utf-8"))
    manifest["models"] = {k: v for k, v in manifest["models"].items() if k in ("text2mel", "wavenet")}
    (voice / "voice.json").write_text(json.dumps(manifest), encoding="utf-8")
    code, err = _run_cli(["onnx", str(voice), "--out", str(tmp_path / "out")], capsys)
    _assert_one_line_error(code, err, "onnx", "no parallel GAN vocoder")


@pytest.mark.parametrize("module", ["onnx", "onnxruntime"])
def test_cli_missing_extra_is_one_line_exit_2(
    module: str,
    voice_with_vocos: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # makes `import <module>` fail
    code, err = _run_cli(["onnx", str(voice_with_vocos), "--out", str(tmp_path / "out")], capsys)
    _assert_one_line_error(code, err, "onnx", "pip install 'ganspeech[onnx]'")
    code, err = _run_cli(
        [
            "synthesize",
            "Hi.",
            "--voice",
            str(voice_with_vocos),
            "--gan-backend",
            "onnx",
            "-o",
            str(tmp_path / "a.wav"),
        ],
        capsys,
    )
    _assert_one_line_error(code, err, "synthesize", "pip install 'ganspeech[onnx]'")


def test_synthesize_with_the_onnx_backend_matches_eager(voice_with_vocos: Path) -> None:
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    from tts.synthesizer import Synthesizer

    synth = Synthesizer.load(voice_with_vocos, gan_backend="onnx")
    assert synth.backends_in_use["hifigan"] == "onnx"
    eager = synth.with_backend("hifigan", "eager")
    onnx_audio = synth.synthesize("Hello there.", vocoder="hifigan").audio
    eager_audio = eager.synthesize("Hello there.", vocoder="hifigan").audio
    assert max_relative_error(eager_audio, onnx_audio) < REL_TOLERANCE
    np.testing.assert_array_equal(onnx_audio.shape, eager_audio.shape)


def test_default_paths_never_import_the_onnx_extra() -> None:
    # The extra is optional: loading a voice, the CLI and the server must not touch it.
    code = (
        "import importlib, sys\n"
        "from tts.synthesizer import Synthesizer\n"
        "importlib.import_module('server.app')\n"
        "importlib.import_module('tts.cli.main').build_parser()\n"
        "Synthesizer.load(None)\n"
        "loaded = [m for m in ('onnx', 'onnxruntime') if m in sys.modules]\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[2])
