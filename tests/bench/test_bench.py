"""``ganspeech bench`` on the tiny random voice: schema-valid JSON, every vocoder and its generator,
ratios, budgets."""

from __future__ import annotations

import argparse
import csv
import json
import time
from pathlib import Path

import jsonschema
import numpy as np
import pytest
import torch

from tts.bench.cost import CostModel
from tts.bench.plots import LATENCY_PLOT, STAGES_PLOT
from tts.bench.render import format_table, write_outputs
from tts.bench.report import (
    BenchConfig,
    BenchReport,
    BenchText,
    CaseResult,
    RunSample,
    compute_ratios,
    load_schema,
    summarize,
)
from tts.bench.runner import build_targets, run_bench
from tts.bench.texts import DEFAULT_LENGTHS, LENGTH_TEXTS, builtin_texts, prepare_texts, read_texts_file
from tts.cli.commands import bench as bench_command
from tts.errors import UserError
from tts.machine import machine_info, peak_rss_mb, reset_peak_rss
from tts.synthesizer import Synthesizer
from vocoders.kinds import VocoderKind
from vocoders.wavenet_vocoder import WaveNetVocoder

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
ALLOC_MIB = 64
THREADS_BEFORE = torch.get_num_threads()
TEXTS = [("short", "Hello there."), ("medium", "The quick brown fox jumps over the lazy dog, twice.")]
# The tiny voice holds every kind; the bench must measure each without being asked.
PARALLEL = (VocoderKind.HIFIGAN.value, VocoderKind.VOCOS.value)
WAVENET_FAST = f"{VocoderKind.WAVENET.value}-fast"


@pytest.fixture(scope="module")
def synth(tiny_voice_dir: Path) -> Synthesizer:
    return Synthesizer.load(tiny_voice_dir)


@pytest.fixture(scope="module")
def report(synth: Synthesizer) -> BenchReport:
    return run_bench(
        synth, TEXTS, config=BenchConfig(repeats=2, warmup=1, chunk_frames=4), progress=False
    )


def _validate(doc: dict) -> None:
    jsonschema.Draft202012Validator(load_schema()).validate(doc)


def test_schema_is_itself_valid() -> None:
    jsonschema.Draft202012Validator.check_schema(load_schema())


def test_summarize_median_p90_min() -> None:
    s = summarize([5.0, 1.0, 3.0, 2.0, 4.0])
    assert s == {"median": 3.0, "p90": pytest.approx(4.6), "min": 1.0}
    assert summarize([]) is None


def test_outputs_validate_and_hold_every_vocoder_its_generator_and_ratios(
    report: BenchReport, synth: Synthesizer, tmp_path: Path
) -> None:
    paths = write_outputs(report, tmp_path / "out")
    doc = json.loads(paths["json"].read_text())
    _validate(doc)
    settings = doc["settings"]
    assert (settings["repeats"], settings["warmup"], settings["chunk_frames"]) == (2, 1, 4)
    assert settings["backends"] == synth.backends_in_use
    assert set(settings["backends"]) == {*PARALLEL, VocoderKind.WAVENET.value}
    assert settings["vocoders"] == [*PARALLEL, VocoderKind.WAVENET.value]
    assert {(r["label"], r["text"]) for r in doc["results"]} == {
        (label, name) for label in (*PARALLEL, WAVENET_FAST) for name, _ in TEXTS
    }
    # Each row names what ran: the voice's own model through the path it was loaded with.
    wavenet_fast = synth.with_backend(VocoderKind.WAVENET, "fast").check_vocoder(VocoderKind.WAVENET)
    expected = {kind: synth.check_vocoder(kind).generator_name for kind in PARALLEL}
    expected[WAVENET_FAST] = wavenet_fast.generator_name
    assert {r["label"]: r["generator"] for r in doc["results"]} == expected
    assert len(set(expected.values())) == len(expected)
    for r in doc["results"]:
        assert r["status"] == "ok" and r["repeats"] == 2 and len(r["runs"]) == 2
        stats = r["stats"]
        for run in r["runs"]:
            assert run["total_ms"] >= run["vocoder_ms"] > 0
            assert stats["total_ms"]["min"] <= run["total_ms"]
            assert run["ttfa_ms"] is not None and 0 < run["ttfa_ms"] <= run["stream_total_ms"]
        assert stats["total_ms"]["min"] <= stats["total_ms"]["median"] <= stats["total_ms"]["p90"]
        assert r["x_real_time"] == pytest.approx(r["audio_seconds"] * 1000 / stats["total_ms"]["median"])
        assert r["peak_rss_mb"] > 0
    # Every vocoder gets the same mel, so they speak the same length.
    by = {(r["label"], r["text"]): r for r in doc["results"]}
    for name, _ in TEXTS:
        for label in PARALLEL:
            wavenet_seconds = by[(WAVENET_FAST, name)]["audio_seconds"]
            assert by[(label, name)]["audio_seconds"] == pytest.approx(wavenet_seconds)
    # One ratio per text and parallel vocoder, each against the WaveNet.
    assert [(r["text"], r["gan"], r["autoregressive"]) for r in doc["ratios"]] == [
        (name, label, WAVENET_FAST) for name, _ in TEXTS for label in PARALLEL
    ]
    for ratio in doc["ratios"]:
        gan, wn = by[(ratio["gan"], ratio["text"])], by[(WAVENET_FAST, ratio["text"])]
        expected_speedup = wn["stats"]["total_ms"]["median"] / gan["stats"]["total_ms"]["median"]
        assert ratio["total_speedup"] == pytest.approx(expected_speedup)
        assert ratio["vocoder_speedup"] > 0
    m = doc["machine"]
    assert m["torch_threads"] == torch.get_num_threads() and m["device"] == "cpu" and m["cpu_model"]


def test_schema_lists_every_vocoder_kind() -> None:
    results = load_schema()["properties"]["results"]["items"]["properties"]
    assert results["vocoder"]["enum"] == [kind.value for kind in VocoderKind]
    assert "generator" in load_schema()["properties"]["results"]["items"]["required"]


def test_csv_markdown_and_plots(report: BenchReport, tmp_path: Path) -> None:
    paths = write_outputs(report, tmp_path)
    with paths["csv"].open() as f:
        rows = list(csv.DictReader(f))
    assert [(r["label"], r["text"]) for r in rows] == [(c.label, c.text) for c in report.cases]
    assert [r["generator"] for r in rows] == [c.generator for c in report.cases]
    assert float(rows[0]["total_ms_median"]) == pytest.approx(report.cases[0].median("total_ms"))
    md = paths["markdown"].read_text()
    generators = {c.label: c.generator for c in report.cases}
    assert set(generators) == {*PARALLEL, WAVENET_FAST}
    for label, generator in generators.items():
        assert f"| {label} | {generator} |" in md
    for name in (LATENCY_PLOT, STAGES_PLOT):
        assert f"]({name})" in md
        data = (tmp_path / name).read_bytes()
        assert data.startswith(PNG_MAGIC)
        import matplotlib.image

        img = matplotlib.image.imread(tmp_path / name)
        assert img.shape[0] > 100 and img.shape[1] > 100 and np.ptp(img) > 0  # not a blank canvas
    table = format_table(report)
    for label, generator in generators.items():
        assert f"{label}: {generator}" in table
    for label in PARALLEL:
        assert f"{label} is" in table and "faster than wavenet-fast" in table


def test_budget_skips_and_shortens_with_a_note(synth: Synthesizer, tmp_path: Path) -> None:
    # A budget nothing fits: the shortest text still gets one timed run, longer WaveNet ones are
    # skipped; the parallel vocoders, the reference of every ratio, are shortened but never skipped.
    config = BenchConfig(repeats=3, warmup=1, case_budget_s=1e-6, stream=False)
    rep = run_bench(synth, TEXTS, config=config, progress=False)
    lengths = {t.name: t.audio_seconds for t in rep.texts}
    shortest, longer = sorted(lengths, key=lengths.get)
    by = {(c.label, c.text): c for c in rep.cases}
    for name in (shortest, longer):
        for label in PARALLEL:
            gan = by[(label, name)]
            assert gan.status == "partial" and len(gan.runs) == 1 and "case budget" in gan.note
    first, second = by[("wavenet-fast", shortest)], by[("wavenet-fast", longer)]
    assert first.status == "partial" and len(first.runs) == 1 and "case budget" in first.note
    assert second.status == "skipped" and not second.runs and "skipped" in second.note
    assert any("skipped" in n for n in rep.notes) and any("1 of 3" in n for n in rep.notes)
    ratios = {(r.text, r.gan): r for r in rep.ratios}
    for label in PARALLEL:
        assert ratios[(shortest, label)].total_speedup is not None
        assert ratios[(longer, label)].total_speedup is None and WAVENET_FAST in ratios[(longer, label)].note
    table = format_table(rep)
    assert "skipped" in table and "1/3 partial" in table
    doc = json.loads(write_outputs(rep, tmp_path)["json"].read_text())
    _validate(doc)
    assert doc["settings"]["stream"] is False
    assert all(run["ttfa_ms"] is None for r in doc["results"] for run in r["runs"])


def test_ratio_is_null_with_a_note_when_a_case_was_skipped(synth: Synthesizer) -> None:
    case_ok = CaseResult(PARALLEL[0], PARALLEL[0], None, "short", 1, runs=[RunSample(1, 1, 2, 4, 1.0)])
    wavenet = VocoderKind.WAVENET.value
    case_skip = CaseResult(WAVENET_FAST, wavenet, "fast", "short", 1, status="skipped", note="x")
    texts = [BenchText("short", "Hi.")]
    (ratio,) = compute_ratios([case_ok, case_skip], texts)
    assert ratio.total_speedup is None and WAVENET_FAST in ratio.note


def test_ratios_pair_each_parallel_kind_with_the_autoregressive_one_by_kind_not_name() -> None:
    # As in server mode: rows labelled by kind name only, without a synthesizer or generator.
    runs = {VocoderKind.HIFIGAN: 4.0, VocoderKind.VOCOS: 2.0, VocoderKind.WAVENET: 40.0}
    cases = [
        CaseResult(kind.value, kind.value, None, "short", 1, runs=[RunSample(1, 1, total - 2, total, 1.0)])
        for kind, total in runs.items()
    ]
    ratios = compute_ratios(cases, [BenchText("short", "Hi.")])
    assert [(r.gan, r.autoregressive, r.total_speedup) for r in ratios] == [
        (VocoderKind.HIFIGAN.value, VocoderKind.WAVENET.value, pytest.approx(10.0)),
        (VocoderKind.VOCOS.value, VocoderKind.WAVENET.value, pytest.approx(20.0)),
    ]


def test_wavenet_impl_both_gives_two_rows_and_a_speedup(synth: Synthesizer, tmp_path: Path) -> None:
    config = BenchConfig(repeats=1, warmup=0, stream=False)
    vocos, wavenet = VocoderKind.VOCOS, VocoderKind.WAVENET
    rep = run_bench(
        synth, [("tiny", "Hi.")], [vocos, wavenet], wavenet_impl="both", config=config, progress=False
    )
    assert [c.label for c in rep.cases] == [vocos.value, f"{wavenet.value}-reference", WAVENET_FAST]
    assert {r.autoregressive for r in rep.ratios} == {f"{wavenet.value}-reference", WAVENET_FAST}
    reference, fast = (synth.with_backend(wavenet, i).check_vocoder(wavenet) for i in ("reference", "fast"))
    assert [c.generator for c in rep.cases[1:]] == [reference.generator_name, fast.generator_name]
    (speedup,) = rep.impl_speedups
    assert speedup["vocoder"] == wavenet.value
    ref, fast = rep.cases[1], rep.cases[2]
    assert speedup["vocoder_speedup"] == pytest.approx(ref.median("vocoder_ms") / fast.median("vocoder_ms"))
    _validate(json.loads(write_outputs(rep, tmp_path)["json"].read_text()))


def test_bad_inputs_are_user_errors(synth: Synthesizer, tmp_path: Path) -> None:
    with pytest.raises(UserError):
        builtin_texts(["huge"])
    with pytest.raises(UserError):
        build_targets(synth, ["melgan"], "fast")
    with pytest.raises(UserError):
        BenchConfig(repeats=0)
    empty = tmp_path / "empty.txt"
    empty.write_text("\n  \n")
    with pytest.raises(UserError):
        read_texts_file(empty)


def test_builtin_texts_are_single_sentences_of_growing_length(synth: Synthesizer) -> None:
    prepared = prepare_texts(synth, builtin_texts(list(LENGTH_TEXTS)))
    assert [t.sentences for t in prepared] == [1, 1, 1]
    assert [t.words for t in prepared] == sorted(t.words for t in prepared)


def test_texts_file_names_lines_in_order(tmp_path: Path) -> None:
    f = tmp_path / "t.txt"
    f.write_text("First line.\n\nSecond line here.\n")
    assert read_texts_file(f) == [("t1", "First line."), ("t2", "Second line here.")]


def test_command_prints_table_and_writes_files(
    tiny_voice_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    parser = argparse.ArgumentParser()
    bench_command.register(parser.add_subparsers())
    out = tmp_path / "res"
    args = parser.parse_args(
        [
            "bench",
            "--voice",
            str(tiny_voice_dir),
            "--lengths",
            "short",
            "--repeats",
            "1",
            "--warmup",
            "0",
            "--no-progress",
            "--threads",
            "1",
            "--out",
            str(out),
        ]
    )
    try:
        assert args.func(args) == 0
    finally:
        torch.set_num_threads(THREADS_BEFORE)
    printed = capsys.readouterr().out
    assert all(f"{label}: " in printed for label in (*PARALLEL, WAVENET_FAST)) and "x real time" in printed
    doc = json.loads((out / "bench.json").read_text())
    _validate(doc)
    assert doc["machine"]["torch_threads"] == 1
    assert [t["name"] for t in doc["texts"]] == ["short"]
    assert doc["texts"][0]["text"] == LENGTH_TEXTS["short"]


def test_concurrency_without_server_is_refused(tiny_voice_dir: Path) -> None:
    parser = argparse.ArgumentParser()
    bench_command.register(parser.add_subparsers())
    args = parser.parse_args(["bench", "--voice", str(tiny_voice_dir), "--concurrency", "4"])
    with pytest.raises(UserError):
        args.func(args)


def test_machine_info_and_peak_memory() -> None:
    info = machine_info()
    assert info.cpu_model and info.logical_cores >= info.available_cores >= 1
    assert info.torch_threads == torch.get_num_threads() and info.torch_version == torch.__version__
    can_reset = reset_peak_rss()
    base = peak_rss_mb()
    big = np.ones(ALLOC_MIB * 1024 * 1024 // 8)  # float64, written, so resident
    grown = peak_rss_mb() - base
    del big
    if not can_reset:
        pytest.skip("this kernel cannot reset the peak RSS, so a new allocation may not raise it")
    assert grown >= ALLOC_MIB * 0.9
    reset_peak_rss()
    assert peak_rss_mb() < base + ALLOC_MIB * 0.5


def test_default_run_measures_wavenet_at_two_lengths_or_more() -> None:
    # Linear growth needs two points. The bundled voice's built-in texts, under the default budget,
    # with WaveNet at real time (vocoder RTF 1, about twice what its fast loop takes on 2 cores):
    # a plain `ganspeech bench` must start the WaveNet case of at least two lengths.
    parser = argparse.ArgumentParser()
    bench_command.register(parser.add_subparsers())
    lengths = parser.parse_args(["bench"]).lengths.split(",")
    assert lengths == list(DEFAULT_LENGTHS)
    voice = Synthesizer.load(vocoders=[VocoderKind.VOCOS])  # the text-to-mel model is what predicts lengths
    texts = prepare_texts(voice, builtin_texts(lengths))
    real_time = CostModel(overhead_s=0.1, vocoder_rtf=1.0)
    assert sum(real_time.fits(t.audio_seconds, BenchConfig()) for t in texts) >= 2


def test_wavenet_first_audio_is_its_first_streamed_block(
    synth: Synthesizer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The fast loop streams by blocks: the bench's first audio is the first block's, not the whole
    # sentence's. A pause before the second block puts at least its length between the first audio
    # and the last; a sentence sent as one block would have no second block to wait for.
    pause_s = 0.3
    blocks = WaveNetVocoder.stream

    def pause_before_the_second_block(self, *args, **kwargs):
        for i, block in enumerate(blocks(self, *args, **kwargs)):
            if i == 1:
                time.sleep(pause_s)
            yield block

    monkeypatch.setattr(WaveNetVocoder, "stream", pause_before_the_second_block)
    text = [("medium", LENGTH_TEXTS["medium"])]  # long enough for several blocks
    rep = run_bench(synth, text, vocoders=[VocoderKind.WAVENET], config=BenchConfig(repeats=1, warmup=0))
    (case,) = rep.cases
    ttfa, end = case.median("ttfa_ms"), case.median("stream_total_ms")
    assert ttfa is not None and end is not None
    assert end - ttfa >= pause_s * 1000
