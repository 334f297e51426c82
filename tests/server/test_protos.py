"""The committed gRPC stubs are exactly what scripts/gen_protos.py makes from the .proto."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
COMMITTED = REPO / "server" / "generated"


def _gen_protos_module():
    spec = importlib.util.spec_from_file_location("gen_protos", REPO / "scripts" / "gen_protos.py")
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


def test_committed_stubs_are_up_to_date(tmp_path: Path) -> None:
    gen = _gen_protos_module()
    written = gen.generate(tmp_path)
    assert written, "the generator wrote nothing"
    stale = []
    for path in written:
        rel = path.relative_to(tmp_path)
        committed = COMMITTED / rel
        if not committed.is_file() or committed.read_bytes() != path.read_bytes():
            stale.append(str(rel))
    assert not stale, f"stale stubs {stale}: run `python scripts/gen_protos.py` and commit the result"
    # Every stub the generator produces is tracked here, and nothing stray sits next to them.
    committed_stubs = {
        p.relative_to(COMMITTED) for p in COMMITTED.rglob("*.py*") if "__pycache__" not in p.parts
    }
    assert committed_stubs == {p.relative_to(tmp_path) for p in written}


def test_stubs_use_package_relative_imports() -> None:
    grpc_stub = (COMMITTED / "ganspeech" / "v1" / "synthesis_pb2_grpc.py").read_text()
    assert "from . import synthesis_pb2" in grpc_stub
    assert "from ganspeech" not in grpc_stub and "import ganspeech" not in grpc_stub


def test_stubs_import_without_the_proto_root_on_sys_path() -> None:
    # A fresh interpreter in another directory: only the installed/checked-out package is visible.
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]);"
        "from server.generated.ganspeech.v1 import synthesis_pb2 as pb, synthesis_pb2_grpc as g;"
        "assert 'ganspeech' not in sys.modules;"
        "print(pb.DESCRIPTOR.services_by_name['Synthesizer'].full_name, hasattr(g, 'SynthesizerStub'))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(REPO)], cwd="/", capture_output=True, text=True, check=True
    ).stdout
    assert out.split() == ["ganspeech.v1.Synthesizer", "True"]


def test_service_surface_matches_the_issue() -> None:
    from server.generated.ganspeech.v1 import synthesis_pb2 as pb

    service = pb.DESCRIPTOR.services_by_name["Synthesizer"]
    methods = {m.name: m for m in service.methods}
    assert set(methods) == {"Synthesize", "SynthesizeStream", "Compare", "ListVoices"}
    assert methods["SynthesizeStream"].server_streaming and not methods["SynthesizeStream"].client_streaming
    assert not methods["Synthesize"].server_streaming
    assert {"VOCODER_HIFIGAN", "VOCODER_WAVENET"} <= set(pb.Vocoder.keys())
    assert {"AUDIO_ENCODING_LINEAR16", "AUDIO_ENCODING_WAV", "AUDIO_ENCODING_FLAC"} <= set(
        pb.AudioEncoding.keys()
    )
    latency = {f.name for f in pb.Latency.DESCRIPTOR.fields}
    assert {"frontend_ms", "text2mel_ms", "vocoder_ms", "total_ms", "rtf", "first_chunk_ms"} <= latency
