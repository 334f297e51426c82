"""Quality-per-CPU-hour curves from training metrics."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from tts.cli.main import main
from tts.errors import UserError
from tts.evaluation.quality_curve import CSV_NAME, PLOT_NAME, read_quality


def _run(folder: Path, rows: list[dict]) -> Path:
    folder.mkdir(parents=True)
    (folder / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return folder


def _val(step: int, hours: float, pesq: float | None, stoi: float) -> dict:
    row = {"step": step, "split": "val", "cpu_hours": hours, "val_stoi": stoi, "val_mel_l1": 0.3}
    return row if pesq is None else {**row, "val_pesq": pesq}


def test_only_validation_passes_are_read_in_step_order_latest_wins(tmp_path: Path) -> None:
    run = _run(tmp_path / "vocos", [
        {"step": 10, "split": "train", "cpu_hours": 0.01, "loss": 3.0},
        _val(200, 0.5, 2.1, 0.93),
        {"step": 100, "split": "val", "val_ce_ema": 2.0},  # an older line without quality figures
        _val(100, 0.2, 1.8, 0.91),
        _val(200, 0.6, 2.2, 0.94),  # re-validated after a resume
        _val(300, 0.9, None, 0.95),
    ])
    points = read_quality(run, "vocos")
    assert [(p.step, p.cpu_hours, p.pesq) for p in points] == [(100, 0.2, 1.8), (200, 0.6, 2.2), (300, 0.9, None)]
    with pytest.raises(UserError, match="no validation lines"):
        read_quality(_run(tmp_path / "empty", [{"step": 1, "split": "train"}]), "x")


def test_the_command_draws_every_run_and_writes_the_points(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    a = _run(tmp_path / "a", [_val(100, 0.2, 1.8, 0.91), _val(200, 0.4, 2.5, 0.95)])
    b = _run(tmp_path / "b", [_val(500, 1.0, 1.5, 0.88)])
    out = tmp_path / "out"
    code = main(["quality-curve", f"GAN={a}", f"WaveNet={b / 'metrics.jsonl'}", "--out", str(out),
                 "--reference", "Griffin-Lim=1.86,0.950"])
    assert code == 0
    assert (out / PLOT_NAME).stat().st_size > 1000
    rows = list(csv.DictReader((out / CSV_NAME).open()))
    assert [(r["run"], r["step"]) for r in rows] == [("GAN", "100"), ("GAN", "200"), ("WaveNet", "500")]
    printed = capsys.readouterr().out
    assert "GAN: 0.40 CPU h, step 200: PESQ 2.50, STOI 0.950" in printed


def test_a_bad_reference_is_one_error_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    a = _run(tmp_path / "a", [_val(100, 0.2, 1.8, 0.91)])
    assert main(["quality-curve", str(a), "--out", str(tmp_path / "o"), "--reference", "GL=high"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "NAME=PESQ,STOI" in err[0]
