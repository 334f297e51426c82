"""``ganspeech bench`` through the gRPC service: timings from a client, load tests, an unreachable server."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import jsonschema
import pytest
import torch

from server.app import build_server
from server.config import ServerConfig, VoiceSpec
from server.loadtest import run_server_bench
from server.voices import VoiceRegistry
from tts.bench.render import format_table, write_outputs
from tts.bench.report import BenchConfig, load_schema
from tts.errors import UserError
from tts.synthesizer import Synthesizer

THREADS_BEFORE = torch.get_num_threads()
TEXTS = [("short", "Hello there.")]


@pytest.fixture(scope="module")
def synth(tiny_voice_dir: Path) -> Synthesizer:
    return Synthesizer.load(tiny_voice_dir)


def test_server_mode_unary_streaming_and_load_test(synth: Synthesizer, tmp_path: Path) -> None:
    config = ServerConfig(port=0, voices=(VoiceSpec("tiny", "unused"),), workers=2, max_wavenet_jobs=1)
    srv = build_server(config, loader=lambda _cfg: VoiceRegistry({"tiny": synth}))
    srv.start()
    srv.load_voices()
    try:
        rep = run_server_bench(
            srv.address,
            TEXTS[:1],
            config=BenchConfig(repeats=2, warmup=1),
            concurrency=2,
            requests=4,
            progress=False,
            background_wavenet_clients=1,
        )
    finally:
        srv.stop()
        torch.set_num_threads(THREADS_BEFORE)  # the server sets threads per worker
    doc = json.loads(write_outputs(rep, tmp_path)["json"].read_text())
    jsonschema.Draft202012Validator(load_schema()).validate(doc)
    assert doc["mode"] == "server" and doc["server"]["voice"] == "tiny"
    assert doc["settings"]["repeats"] == 2 and doc["settings"]["concurrency"] == 2
    assert [r["label"] for r in doc["results"]] == ["hifigan", "wavenet"]
    for r in doc["results"]:
        assert r["status"] == "ok" and r["repeats"] == 2
        for run in r["runs"]:
            # The client's round trip contains the server's own stage times.
            assert run["total_ms"] >= run["frontend_ms"] + run["text2mel_ms"] + run["vocoder_ms"]
            assert 0 < run["ttfa_ms"] <= run["stream_total_ms"]
    assert doc["texts"][0]["audio_seconds"] == pytest.approx(doc["results"][0]["audio_seconds"])
    (ratio,) = doc["ratios"]
    assert ratio["total_speedup"] > 0
    load = doc["server"]["load"]
    # The GAN vocoder unbatched (the baseline) and batched, each beside one WaveNet client; WaveNet alone.
    assert [(t["vocoder"], t["batching"], t["requests"]) for t in load] == [
        ("hifigan", False, 4),
        ("hifigan", True, 4),
        ("wavenet", False, 4),
    ]
    *gans, ar = load
    for gan in gans:
        # GAN requests queue for a worker; WaveNet ones beyond its one slot are refused at once, by design.
        assert gan["errors"] == 0 and gan["throughput_rps"] == pytest.approx(4 / gan["duration_s"])
        background = gan["background_wavenet"]
        assert (
            background["clients"] == 1
            and background["completed"] + sum(background["error_codes"].values()) >= 1
        )
        assert set(background["error_codes"]) <= {"RESOURCE_EXHAUSTED"}
    assert ar["background_wavenet"] is None
    assert [t["mean_batch_size"] for t in load] == [1.0, 1.0, 1.0]
    assert set(ar["error_codes"]) <= {"RESOURCE_EXHAUSTED"} and ar["errors"] == sum(
        ar["error_codes"].values()
    )
    assert ar["errors"] < 4 and ar["throughput_rps"] == pytest.approx((4 - ar["errors"]) / ar["duration_s"])
    for t in load:
        assert (
            t["latency_ms"]["min"]
            <= t["latency_ms"]["p50"]
            <= t["latency_ms"]["p99"]
            <= t["latency_ms"]["max"]
        )
    table = format_table(rep)
    assert "load hifigan + 1 WaveNet clients" in table
    # This server does not batch (--max-batch 1): the batched run says so.
    assert "load hifigan batched (mean batch 1.0) + 1 WaveNet clients" in table
    assert "load wavenet / short: 2 concurrent clients" in table


def test_server_mode_reports_an_unreachable_server() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again when the block ends: nothing listens there
    with pytest.raises(UserError, match="cannot use the server"):
        run_server_bench(f"127.0.0.1:{port}", TEXTS[:1], progress=False)
