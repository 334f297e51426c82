"""The training loop shared by every recipe: checkpoints, exact resume, metrics, DDP, Ctrl-C.

A recipe supplies the models, optimizers, a ``train_step`` and a ``validate``; this module owns
everything around them so the three recipes behave the same way:

- checkpoints (``runs/NAME/checkpoint.pt``, ``torch.load(weights_only=True)``-safe) every N steps
  and on Ctrl-C, holding modules, optimizers, schedulers, step and every RNG state;
- exact resume: batches are a pure function of (seed, step), so a resumed run sees the same data;
- metrics as JSON lines (``metrics.jsonl``), a tqdm progress bar with loss and steps/s; every line
  carries ``cpu_hours``, the processor time the run has spent so far (all threads, across resumes;
  under DDP rank 0's times the world size), so quality can be plotted against compute;
- CPU or CUDA chosen automatically, mixed precision on CUDA, DistributedDataParallel under
  ``torchrun`` (gloo on CPU, nccl on CUDA).
"""

from __future__ import annotations

import json
import logging
import math
import os
import random
import signal
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import torch
import torch.distributed as dist

from tts.errors import UserError

if TYPE_CHECKING:
    from typing_extensions import Self  # typing.Self needs Python 3.11; only type checkers read this

logger = logging.getLogger(__name__)

CHECKPOINT_NAME = "checkpoint.pt"
METRICS_NAME = "metrics.jsonl"
SECONDS_PER_HOUR = 3600.0
# Key of the checkpoint's "extra" entry that carries the CPU time spent before a resume.
CPU_SECONDS_KEY = "cpu_seconds"


@dataclass(frozen=True)
class LoopConfig:
    """How long to train and how often to look; the same knobs for every recipe."""

    max_steps: int = 10_000  # optimizer steps in total (a resumed run counts from its saved step)
    batch_size: int = 16  # items per step across all processes
    seed: int = 1234  # seeds data order, segment picks and initialisation
    checkpoint_every: int = 200  # steps between training-state checkpoints (and voice exports)
    validate_every: int = 200  # steps between validation passes
    log_every: int = 10  # steps between metrics lines
    grad_clip: float = 5.0  # max global grad norm; keeps LSTM and GAN updates bounded


@dataclass
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def init_distributed() -> DistInfo:
    """Join the process group when launched by ``torchrun`` (it sets WORLD_SIZE/RANK)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    if not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        dist.init_process_group(backend=backend)
    info = DistInfo(rank=dist.get_rank(), world_size=dist.get_world_size(), local_rank=int(os.environ.get("LOCAL_RANK", "0")))
    if torch.cuda.is_available():
        torch.cuda.set_device(info.local_rank)
    return info


def pick_device(dist_info: DistInfo, force_cpu: bool = False) -> torch.device:
    if torch.cuda.is_available() and not force_cpu:
        return torch.device("cuda", dist_info.local_rank)
    return torch.device("cpu")


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def rng_state() -> dict[str, Any]:
    py = random.getstate()
    np_state = np.random.get_state()
    state: dict[str, Any] = {
        "python": list(py[1]),
        "python_gauss": py[2],
        "numpy": torch.from_numpy(np_state[1].astype(np.int64)),
        "numpy_rest": [int(np_state[2]), int(np_state[3]), float(np_state[4])],
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    random.setstate((3, tuple(state["python"]), state["python_gauss"]))
    pos, has_gauss, cached = state["numpy_rest"]
    np.random.set_state(("MT19937", state["numpy"].numpy().astype(np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def batch_indices(n_items: int, batch_size: int, step: int, seed: int, dist_info: DistInfo) -> list[int]:
    """Dataset indices of ``step``'s batch for this process: a pure function of (seed, step).

    Each epoch is a fresh permutation seeded by (seed, epoch); resuming at step s therefore sees
    exactly the batches an uninterrupted run would. Under DDP each rank takes every world-th item.
    """
    if n_items <= 0:
        raise ValueError("the training set is empty")
    per_epoch = max(1, n_items // batch_size)
    epoch, pos = divmod(step, per_epoch)
    gen = torch.Generator().manual_seed(seed * 100_003 + epoch)
    perm = torch.randperm(n_items, generator=gen)
    if n_items < batch_size:
        # Tiny datasets (tests): wrap around so every batch is full.
        perm = perm.repeat(math.ceil(batch_size / n_items))
    batch = perm[pos * batch_size : (pos + 1) * batch_size].tolist()
    return batch[dist_info.rank :: dist_info.world_size]


class Recipe(Protocol):
    """What a model's recipe provides to :func:`train`."""

    name: str

    def state_modules(self) -> dict[str, torch.nn.Module]: ...

    def state_optimizers(self) -> dict[str, Any]: ...

    def train_step(self, step: int, batch: Any) -> dict[str, float]: ...

    def validate(self, step: int, run_dir: Path) -> dict[str, float]: ...

    def export(self, step: int, cpu_hours: float | None = None) -> None: ...

    def get_batch(self, indices: Sequence[int]) -> Any: ...

    def __len__(self) -> int: ...


@dataclass
class TrainResult:
    step: int
    last_metrics: dict[str, float] = field(default_factory=dict)
    interrupted: bool = False


def unwrap(module: torch.nn.Module) -> torch.nn.Module:
    """The plain module inside DDP / torch.compile wrappers (checkpoints save it unwrapped)."""
    module = getattr(module, "module", module)
    return getattr(module, "_orig_mod", module)


def save_checkpoint(path: Path, recipe: Recipe, step: int, extra: dict[str, Any] | None = None) -> None:
    state = {
        "step": step,
        "modules": {k: unwrap(m).state_dict() for k, m in recipe.state_modules().items()},
        "optimizers": {k: o.state_dict() for k, o in recipe.state_optimizers().items()},
        "rng": rng_state(),
        "extra": extra or {},
    }
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    tmp.replace(path)  # atomic: a kill mid-save leaves the previous checkpoint intact
    logger.info("checkpoint at step %d -> %s", step, path)


def load_checkpoint(path: Path, recipe: Recipe) -> tuple[int, dict[str, Any]]:
    # weights_only=True: the loader refuses anything but tensors and plain containers.
    state = torch.load(path, map_location="cpu", weights_only=True)
    for k, m in recipe.state_modules().items():
        unwrap(m).load_state_dict(state["modules"][k])
    for k, o in recipe.state_optimizers().items():
        o.load_state_dict(state["optimizers"][k])
    set_rng_state(state["rng"])
    return int(state["step"]), state.get("extra", {})


class _StopFlag:
    """Set by SIGINT/SIGTERM so the loop checkpoints before exiting instead of dying mid-step."""

    def __init__(self) -> None:
        self.stop = False
        self._old: dict[int, Any] = {}

    def __enter__(self) -> Self:
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                self._old[sig] = signal.signal(sig, self._handle)
            except ValueError:  # not the main thread (e.g. tests in a worker thread)
                pass
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        if self.stop:
            raise KeyboardInterrupt
        logger.warning("signal %d: saving a checkpoint and stopping after this step", signum)
        self.stop = True

    def __exit__(self, *exc: object) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)


def _progress(total: int, initial: int, enabled: bool) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, disable=not enabled, dynamic_ncols=True, unit="step")


def train(
    recipe: Recipe,
    run_dir: Path,
    cfg: LoopConfig,
    dist_info: DistInfo,
    resume: bool = False,
    progress: bool = True,
    on_step: Callable[[int, dict[str, float]], None] | None = None,
    cpu_hours_before: float = 0.0,
) -> TrainResult:
    """Run ``recipe`` until ``cfg.max_steps``; returns the final step and metrics.

    ``cpu_hours_before``: CPU hours spent on the initial weights (a fresh run from another model's
    weights); a resumed run takes its count from the checkpoint instead.
    """
    run_dir.mkdir(parents=True, exist_ok=True)
    ckpt = run_dir / CHECKPOINT_NAME
    step = 0
    cpu_before = cpu_hours_before * SECONDS_PER_HOUR  # CPU seconds spent before this process
    if resume:
        if not ckpt.is_file():
            raise FileNotFoundError(f"--resume given but {ckpt} does not exist")
        step, extra = load_checkpoint(ckpt, recipe)
        cpu_before = float(extra.get(CPU_SECONDS_KEY, 0.0))
        logger.info("resumed %s from step %d", recipe.name, step)
    elif ckpt.is_file():
        # A fresh run would overwrite another run's state at its first checkpoint (two voice
        # directories with the same name share the default run folder).
        raise UserError(
            f"{run_dir} already holds a training checkpoint: pass --resume to continue that run, "
            "or --run-dir to start a new one elsewhere"
        )
    metrics_file = run_dir / METRICS_NAME
    last: dict[str, float] = {}
    interrupted = False
    bar = _progress(cfg.max_steps, step, progress and dist_info.is_main)
    t_last, steps_since = time.perf_counter(), 0
    cpu_start = time.process_time()

    def cpu_seconds() -> float:
        return cpu_before + (time.process_time() - cpu_start) * dist_info.world_size

    with _StopFlag() as flag, open(metrics_file, "a") as mf:
        while step < cfg.max_steps:
            indices = batch_indices(len(recipe), cfg.batch_size, step, cfg.seed, dist_info)
            batch = recipe.get_batch(indices)
            last = recipe.train_step(step, batch)
            step += 1
            steps_since += 1
            if on_step is not None:
                on_step(step, last)
            if step % cfg.log_every == 0 or step == cfg.max_steps:
                now = time.perf_counter()
                rate = steps_since / max(now - t_last, 1e-9)
                t_last, steps_since = now, 0
                if dist_info.is_main:
                    cpu_hours = cpu_seconds() / SECONDS_PER_HOUR
                    line = {"step": step, "split": "train", "steps_per_s": rate, "cpu_hours": cpu_hours}
                    mf.write(json.dumps({**line, **last}) + "\n")
                    mf.flush()
                    bar.set_postfix(loss=f"{last.get('loss', float('nan')):.4f}", steps_s=f"{rate:.2f}")
            bar.update(1)
            if step % cfg.validate_every == 0 and dist_info.is_main:
                val = recipe.validate(step, run_dir)
                line = {"step": step, "split": "val", "cpu_hours": cpu_seconds() / SECONDS_PER_HOUR}
                mf.write(json.dumps({**line, **val}) + "\n")
                mf.flush()
            stop_now = flag.stop
            if dist_info.enabled:
                # Every rank must agree to stop, or the others hang in the next all-reduce.
                t = torch.tensor([1.0 if stop_now else 0.0])
                dist.all_reduce(t)
                stop_now = bool(t.item() > 0)
            checkpoint_due = step % cfg.checkpoint_every == 0 or step == cfg.max_steps or stop_now
            if checkpoint_due and dist_info.is_main:
                save_checkpoint(ckpt, recipe, step, extra={CPU_SECONDS_KEY: cpu_seconds()})
                recipe.export(step, cpu_seconds() / SECONDS_PER_HOUR)
            if stop_now:
                interrupted = True
                break
    bar.close()
    return TrainResult(step=step, last_metrics=last, interrupted=interrupted)

