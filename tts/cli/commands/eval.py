"""``ganspeech eval``: WER, MCD, PESQ and STOI of a voice against its teacher's recordings."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from tts.errors import UserError

if TYPE_CHECKING:  # torch loads only when a command runs, so `ganspeech --help` stays fast
    from vocoders.kinds import VocoderKind

logger = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "eval",
        help="score the voice against the teacher corpus (WER, MCD, PESQ, STOI)",
        description="For each sentence of a split of an LJSpeech-format corpus: recogniser WER on the teacher's "
        "recording, on copy synthesis (Griffin-Lim and each vocoder, from the recording's own mel) and on "
        "text-to-mel + each vocoder; PESQ-wb and STOI of copy synthesis and MCD of text-to-mel against the "
        "recording. Prints a table and writes every number, per sentence too, to a JSON file.",
    )
    p.add_argument("--data", required=True, help="corpus directory (metadata.csv, wavs/, <split>.txt)")
    p.add_argument("--split", default="test", help="split to score (default: test)")
    p.add_argument("--voice", default=None, help="voice directory (default: the bundled voice)")
    p.add_argument(
        "--vocoders",
        default=None,
        help="comma-separated neural vocoders (default: every vocoder of the voice)",
    )
    p.add_argument("--limit", type=int, default=None, help="score only the first N sentences of the split")
    p.add_argument("--out", default="eval.json", help="JSON report (default: eval.json)")
    p.add_argument("--no-copysynth", action="store_true", help="skip copy synthesis (its rows and PESQ/STOI)")
    p.add_argument("--seed", type=int, default=0, help="seed of WaveNet's sampling and Griffin-Lim's phase")
    p.add_argument(
        "--wavenet-temperature",
        type=float,
        default=None,
        help="WaveNet sampling temperature (default: the voice's); tune it on --split val, not test",
    )
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: all cores)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def parse_vocoders(value: str | None, available: Sequence[VocoderKind]) -> tuple[VocoderKind, ...] | None:
    """``--vocoders`` as a tuple of kinds; ``None`` (every vocoder the voice offers) when not given."""
    if value is None:
        return None
    offered = ", ".join(kind.value for kind in available)
    names = tuple(v.strip() for v in value.split(",") if v.strip())
    if not names:
        raise UserError(f"--vocoders is empty; name at least one of: {offered}")
    by_name = {kind.value: kind for kind in available}
    unknown = [v for v in names if v not in by_name]
    if unknown:
        raise UserError(f"unknown vocoder(s) {', '.join(unknown)}; this voice offers: {offered}")
    return tuple(by_name[v] for v in names)


def run(args: argparse.Namespace) -> int:
    import torch

    from tts.evaluation.evaluate import EvalOptions, evaluate, write_report
    from tts.synthesizer import Synthesizer
    from tts.voice import check_temperature

    if args.threads is not None:
        if args.threads < 1:
            raise UserError("--threads must be at least 1")
        torch.set_num_threads(args.threads)
    if args.wavenet_temperature is not None:
        check_temperature(args.wavenet_temperature, "--wavenet-temperature")
    synth = Synthesizer.load(args.voice)
    if args.wavenet_temperature is not None:
        synth.wavenet_temperature = args.wavenet_temperature
    options = EvalOptions(
        vocoders=parse_vocoders(args.vocoders, synth.vocoders),
        limit=args.limit,
        copysynth=not args.no_copysynth,
        seed=args.seed,
    )
    report = evaluate(args.data, args.split, synth, options, progress=not args.no_progress)
    path = write_report(report, args.out)
    print(report.format_table())
    print(
        f"\n{report.meta['n_sentences']} sentences of {args.split}; recogniser: {report.meta['recognizer']}; "
        f"WaveNet sampling temperature {synth.wavenet_temperature:g}"
    )
    print(f"wrote {path}")
    return 0
