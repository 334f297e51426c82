"""Training recipes on a generated corpus: loss goes down, resume is exact, export, --init-from, DDP."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from safetensors.torch import load_file

from tts.errors import UserError
from tts.training.loop import DistInfo, seed_everything, train
from tts.training.run import TrainRequest, build_context, build_recipe
from vocoders.serialization import load_state

SR = 16000
# The module each recipe exports (and --init-from loads into), by its state_modules() name.
EXPORTED_MODULE = {"text2mel": "model", "hifigan": "generator", "vocos": "generator", "wavenet": "model"}
TEST_LR = {"text2mel": 3e-3, "hifigan": 2e-3, "vocos": 2e-3, "wavenet": 1e-2}
TEXTS = [
    "The cat sat on the mat.",
    "A bird flew over the house.",
    "Bring me the red ball now.",
    "Water runs down the hill.",
    "We walked home in the rain.",
]


def _voiced(seconds: float, f0: float, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    wav = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 6))
    wav = wav * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * t)) + 0.01 * rng.standard_normal(len(t))
    return (0.3 * wav / np.abs(wav).max()).astype(np.float32)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("corpus")
    (root / "wavs").mkdir()
    rng = np.random.default_rng(0)
    rows = []
    for i, text in enumerate(TEXTS):
        sf.write(root / "wavs" / f"u{i}.wav", _voiced(1.0 + 0.1 * i, 110 + 20 * i, rng), SR)
        rows.append(f"u{i}|{text}|{text}")
    (root / "metadata.csv").write_text("\n".join(rows) + "\n")
    (root / "train.txt").write_text("u0\nu1\nu2\nu3\n")
    (root / "val.txt").write_text("u4\n")
    (root / "test.txt").write_text("")
    return root


def _request(model: str, corpus: Path, tmp: Path, **kw) -> TrainRequest:
    fields = {"config": "tiny", "run_dir": str(tmp / "run" / model), "batch_size": 2, "no_progress": True, **kw}
    return TrainRequest(model=model, data=str(corpus), out=str(tmp / "voice"), **fields)


@pytest.mark.parametrize("model", ["text2mel", "hifigan", "vocos", "wavenet"])
def test_loss_goes_down_on_a_repeated_batch(model: str, corpus: Path, tmp_path: Path) -> None:
    torch.manual_seed(0)
    req = _request(model, corpus, tmp_path)
    recipe = build_recipe(req, build_context(req))
    if model == "text2mel":
        # Skip the learning-rate warm-up so a few steps move the weights.
        recipe.sched = torch.optim.lr_scheduler.LambdaLR(recipe.opt, lambda s: 1.0)
    if model == "hifigan":
        recipe.cfg = type(recipe.cfg)(**{**recipe.cfg.__dict__, "warmup_steps": 10_000})
    # A higher rate than the recipes' defaults, so 25 steps on one batch show clear progress.
    for opt in recipe.state_optimizers().values():
        for group in getattr(opt, "param_groups", []):
            group["lr"] = TEST_LR[model]
    batch = recipe.get_batch([0, 1])
    losses = [recipe.train_step(step, batch)["loss"] for step in range(25)]
    assert np.mean(losses[-3:]) < 0.96 * np.mean(losses[:3]), losses


# vocos with warmup_steps=1: the resumed steps are adversarial, so the discriminators' state resumes too.
@pytest.mark.parametrize(("model", "warmup"), [("text2mel", None), ("wavenet", None), ("vocos", 1)])
def test_resume_gives_identical_next_steps(model: str, warmup: int | None, corpus: Path, tmp_path: Path) -> None:
    def run(run_name: str, max_steps: int, resume: bool) -> dict[int, float]:
        req = _request(model, corpus, tmp_path, run_dir=str(tmp_path / run_name), max_steps=max_steps,
                       resume=resume, checkpoint_every=2, validate_every=1000, warmup_steps=warmup)
        ctx = build_context(req)
        torch.manual_seed(ctx.loop.seed)
        recipe = build_recipe(req, ctx)
        seen: dict[int, float] = {}
        train(recipe, ctx.run_dir, ctx.loop, DistInfo(), resume=resume, progress=False,
              on_step=lambda s, m: seen.__setitem__(s, m["loss"]))
        return seen

    straight = run("straight", 4, False)
    run("resumed", 2, False)
    resumed = run("resumed", 4, True)
    assert sorted(resumed) == [3, 4]
    assert resumed[3] == straight[3] and resumed[4] == straight[4]


def test_a_fresh_run_refuses_a_run_folder_that_holds_a_checkpoint(corpus: Path, tmp_path: Path) -> None:
    req = _request("wavenet", corpus, tmp_path, max_steps=2, checkpoint_every=2, validate_every=1000)
    ctx = build_context(req)
    train(build_recipe(req, ctx), ctx.run_dir, ctx.loop, DistInfo(), progress=False)
    ckpt = ctx.run_dir / "checkpoint.pt"
    saved = ckpt.read_bytes()
    with pytest.raises(UserError, match="--resume"):
        train(build_recipe(req, ctx), ctx.run_dir, ctx.loop, DistInfo(), progress=False)
    assert ckpt.read_bytes() == saved


def test_metrics_carry_cpu_hours_that_continue_across_a_resume(corpus: Path, tmp_path: Path) -> None:
    def run(max_steps: int, resume: bool) -> None:
        req = _request("vocos", corpus, tmp_path, max_steps=max_steps, resume=resume, checkpoint_every=2,
                       validate_every=2)
        ctx = build_context(req)
        train(build_recipe(req, ctx), ctx.run_dir, ctx.loop, DistInfo(), resume=resume, progress=False)

    run(2, False)
    ckpt = tmp_path / "run" / "vocos" / "checkpoint.pt"
    state = torch.load(ckpt, weights_only=True)
    assert state["extra"]["cpu_seconds"] > 0
    # Pretend the first run took 5 CPU hours: the resumed run must count on from there.
    state["extra"]["cpu_seconds"] = 5 * 3600.0
    torch.save(state, ckpt)
    run(4, True)
    lines = [json.loads(x) for x in (tmp_path / "run" / "vocos" / "metrics.jsonl").read_text().splitlines()]
    val = [x for x in lines if x["split"] == "val"]
    assert [x["step"] for x in val] == [2, 4]
    # Validation scores copy synthesis with the same three figures for every vocoder recipe.
    assert all({"val_mel_l1", "val_pesq", "val_stoi"} <= set(x) for x in val)
    assert 0 < val[0]["cpu_hours"] < 1 and 5 < val[1]["cpu_hours"] < 6


def test_a_run_from_exported_weights_counts_on_from_their_cpu_hours(corpus: Path, tmp_path: Path) -> None:
    def run(name: str, **kw: object) -> list[dict]:
        req = _request("vocos", corpus, tmp_path / name, max_steps=2, checkpoint_every=2, validate_every=2,
                       **kw)
        ctx = build_context(req)
        train(build_recipe(req, ctx), ctx.run_dir, ctx.loop, DistInfo(), progress=False,
              cpu_hours_before=ctx.init_cpu_hours)
        lines = (tmp_path / name / "run" / "vocos" / "metrics.jsonl").read_text().splitlines()
        return [json.loads(x) for x in lines if json.loads(x)["split"] == "val"]

    first = run("first")
    recorded = json.loads((tmp_path / "first" / "voice" / "vocos.json").read_text())["cpu_hours"]
    assert recorded == pytest.approx(first[-1]["cpu_hours"], abs=1e-3) and recorded > 0
    # Pretend the exported weights cost 3 CPU hours: a run started from them counts on from there.
    meta_path = tmp_path / "first" / "voice" / "vocos.json"
    meta_path.write_text(json.dumps({**json.loads(meta_path.read_text()), "cpu_hours": 3.0}))
    continued = run("continued", init_from=str(tmp_path / "first" / "voice"))
    assert 3 < continued[-1]["cpu_hours"] < 3.5
    # An explicit --init-cpu-hours wins over the record; weights that record none count from 0.
    source = str(tmp_path / "first" / "voice")
    assert 7 < run("given", init_from=source, init_cpu_hours=7.0)[-1]["cpu_hours"] < 7.5
    unrecorded = {k: v for k, v in json.loads(meta_path.read_text()).items() if k != "cpu_hours"}
    meta_path.write_text(json.dumps(unrecorded))
    assert run("unrecorded", init_from=source)[-1]["cpu_hours"] < 0.5
    with pytest.raises(UserError, match="--init-cpu-hours needs --init-from"):
        build_context(_request("vocos", corpus, tmp_path, init_cpu_hours=1.0))


@pytest.mark.parametrize("model", ["hifigan", "vocos", "wavenet"])
def test_every_vocoder_recipe_scores_copy_synthesis_quality(model: str, corpus: Path, tmp_path: Path) -> None:
    req = _request(model, corpus, tmp_path)
    recipe = build_recipe(req, build_context(req))
    scores = recipe.validate(3, tmp_path / "run")
    assert {"val_mel_l1", "val_pesq", "val_stoi"} <= set(scores)
    assert 0 <= scores["val_stoi"] <= 1 and 1 <= scores["val_pesq"] <= 4.7 and scores["val_mel_l1"] > 0
    assert list((tmp_path / "run" / "samples").glob("step0000003_*.wav"))


def test_the_run_trains_in_the_precision_the_cpu_supports(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tts.training import precision

    def amp(requested: str) -> bool:
        return build_context(_request("vocos", corpus, tmp_path, cpu=True, precision=requested)).amp

    monkeypatch.setattr(precision, "cpu_flags", lambda: frozenset({"avx2", "fma"}))
    assert (amp("auto"), amp("fp32"), amp("bf16")) == (False, False, True)
    monkeypatch.setattr(precision, "cpu_flags", lambda: frozenset({"avx2", "avx512_bf16"}))
    assert (amp("auto"), amp("fp32"), amp("bf16")) == (True, False, True)


def test_export_writes_the_trained_weights_as_a_voice_that_speaks_them(corpus: Path, tmp_path: Path) -> None:
    from tts.synthesizer import Synthesizer

    trained = {}
    for model in ("text2mel", "hifigan"):
        req = _request(model, corpus, tmp_path, max_steps=1, checkpoint_every=1, validate_every=1)
        ctx = build_context(req)
        recipe = build_recipe(req, ctx)
        train(recipe, ctx.run_dir, ctx.loop, DistInfo(), progress=False)
        trained[model] = recipe.state_modules()[EXPORTED_MODULE[model]]
    manifest = json.loads((tmp_path / "voice" / "voice.json").read_text())
    assert set(manifest["models"]) == {"text2mel", "hifigan"}
    assert (tmp_path / "run" / "hifigan" / "samples").is_dir()

    synth = Synthesizer.load(tmp_path / "voice")
    loaded = synth.text2mel.state_dict()
    assert all(torch.equal(loaded[k], v) for k, v in trained["text2mel"].state_dict().items())
    result = synth.synthesize("The cat sat.")
    # The voice speaks with the weights the run trained: the trained generator on the voice's mel.
    (utterance,) = synth.analyze("The cat sat.")
    mel = synth.text_to_mel(utterance)  # (1, n_mels, T)
    generator = trained["hifigan"]
    generator.remove_weight_norm()
    with torch.no_grad():
        expected = generator.eval()(mel)[0, 0].numpy()  # (T * hop,)
    assert result.sample_rate == SR and result.audio.shape == (mel.shape[-1] * synth.audio_config.hop_length,)
    np.testing.assert_allclose(result.audio, expected, atol=1e-5)
    assert np.abs(result.audio).max() > 0


@pytest.mark.parametrize("model", ["text2mel", "hifigan", "vocos", "wavenet"])
def test_init_from_loads_the_exported_weights_and_the_note_names_the_recipe(
    model: str, corpus: Path, tmp_path: Path
) -> None:
    torch.manual_seed(0)
    req = _request(model, corpus, tmp_path)
    recipe = build_recipe(req, build_context(req))
    recipe.export(7)
    meta = json.loads((tmp_path / "voice" / f"{model}.json").read_text())
    assert meta["step"] == 7
    note = meta["training"]
    assert note["recipe"] == model and note["lr"] == recipe.cfg.lr
    assert Path(note["data"]).resolve() == corpus.resolve() and note["device"] == "cpu"
    exported = load_state(tmp_path / "voice" / model)

    def weights(init_from: str | None, run: str) -> dict[str, torch.Tensor]:
        # Another seed than the exported model's, so equal weights can only come from loading them.
        torch.manual_seed(1)
        other = _request(model, corpus, tmp_path, run_dir=str(tmp_path / run), init_from=init_from)
        return build_recipe(other, build_context(other)).state_modules()[EXPORTED_MODULE[model]].state_dict()

    loaded = weights(str(tmp_path / "voice"), "run_init")
    assert loaded.keys() == exported.keys()
    assert all(torch.equal(loaded[k], exported[k]) for k in exported)
    fresh = weights(None, "run_fresh")
    assert not all(torch.equal(fresh[k], exported[k]) for k in exported)


def _exported_voice(model: str, corpus: Path, tmp_path: Path) -> Path:
    """A 16 kHz voice holding one freshly initialised ``model`` (tiny), as --init-from reads it."""
    req = _request(model, corpus, tmp_path / "source")
    build_recipe(req, build_context(req)).export(0)
    return tmp_path / "source" / "voice"


@pytest.mark.parametrize("model", ["text2mel", "wavenet"])
def test_init_from_refuses_a_voice_with_another_audio_config(model: str, corpus: Path, tmp_path: Path) -> None:
    source = _exported_voice(model, corpus, tmp_path)
    req = _request(model, corpus, tmp_path, audio="ljspeech", init_from=str(source))
    # The two presets differ in their sample rate only, and the message names just that field.
    with pytest.raises(UserError, match=r"--init-from .* differ \(sample_rate: 22050 != 16000\)"):
        build_recipe(req, build_context(req))


def test_init_from_refuses_a_text2mel_with_another_symbol_table(corpus: Path, tmp_path: Path) -> None:
    source = _exported_voice("text2mel", corpus, tmp_path)
    manifest = json.loads((source / "voice.json").read_text())
    symbols = manifest["symbols"]
    symbols[5], symbols[6] = symbols[6], symbols[5]  # same size, so the weights alone would load
    (source / "voice.json").write_text(json.dumps(manifest))
    req = _request("text2mel", corpus, tmp_path, init_from=str(source))
    expected = f"another symbol table (id 5 is {symbols[5]!r}, this run's {symbols[6]!r})"
    with pytest.raises(UserError, match=re.escape(expected)):
        build_recipe(req, build_context(req))


def test_init_from_refuses_weights_of_another_model_size(corpus: Path, tmp_path: Path) -> None:
    source = _exported_voice("wavenet", corpus, tmp_path)
    req = _request("wavenet", corpus, tmp_path, config="small", init_from=str(source))
    with pytest.raises(UserError, match="pass the --config they were trained with"):
        build_recipe(req, build_context(req))


def test_two_process_gloo_ddp_ranks_hold_identical_trained_weights(corpus: Path, tmp_path: Path) -> None:
    # Each rank starts from its own seed (seed + rank) and trains on its own half of every batch, so
    # the ranks agree only if DDP broadcasts the initial weights and averages every gradient.
    args = ["wavenet", "--data", str(corpus), "--out", str(tmp_path / "ddp_voice"), "--config", "tiny",
            "--max-steps", "2", "--batch-size", "4", "--run-dir", str(tmp_path / "ddp_run"), "--cpu", "--no-progress"]
    root = str(Path(__file__).resolve().parents[2])
    env = {**os.environ, "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--standalone",
           str(Path(__file__).with_name("ddp_worker.py")), str(tmp_path), *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=240, env=env, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (tmp_path / "ddp_run" / "checkpoint.pt").is_file()
    assert (tmp_path / "ddp_voice" / "wavenet.safetensors").is_file()
    # The trained model, not the EMA: only rank 0's EMA is ever validated, checkpointed or exported.
    rank0, rank1 = ({k: v for k, v in load_file(tmp_path / f"rank{r}.safetensors").items() if k.startswith("model.")}
                    for r in (0, 1))
    assert rank0 and rank0.keys() == rank1.keys()
    assert [k for k in rank0 if not torch.equal(rank0[k], rank1[k])] == []

    # A single process with another seed ends elsewhere: equal ranks are not equal by construction.
    req = _request("wavenet", corpus, tmp_path, run_dir=str(tmp_path / "single_run"), max_steps=2,
                   batch_size=4, seed=99)
    ctx = build_context(req)
    seed_everything(ctx.loop.seed)
    recipe = build_recipe(req, ctx)
    train(recipe, ctx.run_dir, ctx.loop, ctx.dist, progress=False)
    single = recipe.state_modules()["model"].state_dict()
    assert not all(torch.equal(single[k], rank0[f"model.{k}"]) for k in single)


def test_an_lpc_wavenet_trains_validates_and_exports(corpus: Path, tmp_path: Path) -> None:
    from vocoders.registry import load_vocoder

    torch.manual_seed(0)
    req = _request("wavenet", corpus, tmp_path, config="tiny-lpc")
    recipe = build_recipe(req, build_context(req))
    assert recipe.model.cfg.lpc_order > 0
    for group in recipe.opt.param_groups:
        group["lr"] = TEST_LR["wavenet"]
    batch = recipe.get_batch([0, 1])
    losses = [recipe.train_step(step, batch)["loss"] for step in range(25)]
    assert np.mean(losses[-3:]) < 0.96 * np.mean(losses[:3]), losses
    scores = recipe.validate(25, tmp_path / "run")
    assert scores["val_ce_ema"] > 0 and 1 <= scores["val_pesq"] <= 4.7
    recipe.export(25)
    vocoder = load_vocoder(tmp_path / "voice" / "wavenet", recipe.ctx.audio)
    assert vocoder.config.lpc_order == recipe.model.cfg.lpc_order
    _, _, mel = next(recipe.data.validation_utterances(1))
    with torch.inference_mode():
        audio = vocoder.vocode([mel[None, :, :5]], seed=1)[0]
    assert audio.shape == (5 * recipe.ctx.audio.hop_length,) and np.abs(audio).max() > 0
