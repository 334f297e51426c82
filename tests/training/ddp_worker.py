"""One rank of the DDP test: runs ``ganspeech train`` and saves this rank's trained weights.

Launched by ``torch.distributed.run``: ``ddp_worker.py OUT_DIR TRAIN_ARGS...``. The recipe each rank
trains is captured on its way into the training loop, and after the run its state modules are
written to ``OUT_DIR/rank<R>.safetensors`` (keys ``<module>.<parameter>``), so the test can compare
what every rank holds, not only what rank 0 exported.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from safetensors.torch import save_file

from tts.cli.main import main
from tts.training import run
from tts.training.loop import unwrap


def run_rank(out_dir: Path, train_args: list[str]) -> int:
    captured: dict[str, Any] = {}
    loop_train = run.train

    def capture(recipe: Any, *args: Any, **kwargs: Any) -> Any:
        captured["recipe"], captured["rank"] = recipe, args[2].rank
        return loop_train(recipe, *args, **kwargs)

    run.train = capture
    code = main(["train", *train_args])
    recipe = captured["recipe"]
    state = {
        f"{name}.{key}": value.detach().cpu().contiguous()
        for name, module in recipe.state_modules().items()
        for key, value in unwrap(module).state_dict().items()
    }
    save_file(state, str(out_dir / f"rank{captured['rank']}.safetensors"))
    return code


if __name__ == "__main__":
    sys.exit(run_rank(Path(sys.argv[1]), sys.argv[2:]))
