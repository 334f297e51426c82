"""A voice as ONNX graphs with Piper-style JSON configs, for ONNX Runtime and runtimes built on it.

``export_voice(voice_dir, out_dir)`` writes, for a voice with a text-to-mel model and parallel GAN
vocoders::

    text2mel.onnx   text2mel.onnx.json    tokens (1, L) int64, lengths (1,), speaking_rate (1,) -> mel
    hifigan.onnx    hifigan.onnx.json     mel (1, n_mels, T) -> audio (1, 1, T * hop)
    vocos.onnx      vocos.onnx.json       (where the voice has one)

Each JSON mirrors Piper's ``<name>.onnx.json``: the audio config, the espeak-ng voice, the phoneme
id map and the inference settings, plus the model kind, its inputs and outputs with their shapes
(a string names a dynamic axis) and, in the text-to-mel config, the vocoder graphs that turn its
mel into audio. A runtime phonemizes with espeak-ng, maps each phoneme character through
``phoneme_id_map``, runs the text-to-mel graph and then one vocoder graph. WaveNet vocoders
sample one step at a time in a Python loop and are not exported.

The text-to-mel graph is the whole inference path of :meth:`Text2Mel.infer` in one graph: the
duration expansion is written with operators ONNX has (:class:`ExportableText2Mel`), so no split
into encoder and decoder graphs is needed. After writing, each graph is run once in ONNX Runtime
and compared with PyTorch; :class:`ExportedModel` records the error.
"""

from __future__ import annotations

import io
import json
import logging
import math
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from tts.errors import UserError, VoiceError
from tts.frontend.symbols import PAD_ID
from tts.synthesizer import TEXT2MEL_KIND, load_text2mel_model
from tts.text2mel.model import MAX_TOKEN_FRAMES, Text2Mel, lengths_to_mask
from tts.voice import VoiceManifest, read_manifest, resolve_voice_dir
from vocoders.audio import LOG_CLAMP
from vocoders.base import BackendUnavailable
from vocoders.kinds import VocoderKind
from vocoders.onnx_backend import (
    AUDIO_OUTPUT,
    FRAMES_AXIS,
    MEL_INPUT,
    OPSET,
    SAMPLES_AXIS,
    export_vocoder,
    max_relative_error,
    require,
    session_options,
)
from vocoders.registry import load_vocoder

logger = logging.getLogger(__name__)

# Bumped when the layout or the JSON keys change incompatibly.
ONNX_FORMAT_VERSION = 1
CONFIG_SUFFIX = ".onnx.json"
TOKENS_INPUT = "tokens"
LENGTHS_INPUT = "lengths"
RATE_INPUT = "speaking_rate"
MEL_OUTPUT = "mel"
MEL_LENGTHS_OUTPUT = "mel_lengths"
TOKENS_AXIS = "tokens"
# The vocoder kinds with a parallel generator that exports as one graph.
EXPORTABLE_VOCODERS = (VocoderKind.HIFIGAN, VocoderKind.VOCOS)
# The example sentence the graphs are traced and checked with: token ids cycled through the real
# symbols (id 0 is padding). Nothing in the graphs depends on its length.
CHECK_TOKENS = 40
# Default speaking rate written into the config (Piper's inference settings); 2.0 is twice as fast.
DEFAULT_SPEAKING_RATE = 1.0


def _length_regulate(enc: torch.Tensor, durations: torch.Tensor) -> torch.Tensor:
    """:func:`tts.text2mel.model.length_regulate` over ``sum(durations)`` frames, in ONNX operators.

    ``enc`` ``(1, L, H)``, ``durations`` ``(1, L)`` long -> ``(1, T, H + N_POSITION_FEATURES)``.
    ONNX has no ``searchsorted``: the token of a frame is counted as the number of token ends at or
    before it, which is what ``searchsorted(ends, frame, right=True)`` returns.
    """
    n_tokens, width = enc.shape[1], enc.shape[2]
    ends = torch.cumsum(durations, dim=1)  # (1, L)
    frames = torch.arange(ends[0, -1]).unsqueeze(0)  # (1, T): the number of frames is data
    idx = (ends.unsqueeze(1) <= frames.unsqueeze(2)).long().sum(dim=2).clamp(max=n_tokens - 1)  # (1, T)
    states = torch.gather(enc, 1, idx.unsqueeze(-1).expand(-1, -1, width))
    dur = torch.gather(durations, 1, idx).float().clamp(min=1.0)
    start = torch.gather(ends, 1, idx).float() - dur
    position = (frames.float() - start + 0.5) / dur
    extra = torch.stack([position, torch.log(dur)], dim=-1).to(enc.dtype)
    return torch.cat([states, extra], dim=-1)  # no padding: every frame of a batch of one is real


class ExportableText2Mel(nn.Module):
    """:meth:`Text2Mel.infer` for one sentence in operators ONNX has, sharing the model's layers.

    ``tokens`` ``(1, L)`` int64, ``lengths`` ``(1,)`` int64 (= L), ``speaking_rate`` ``(1,)`` float
    -> log-mel ``(1, n_mels, T)`` and ``mel_lengths`` ``(1,)`` (= T).
    """

    def __init__(self, model: Text2Mel) -> None:
        super().__init__()
        self.model = model
        self.max_log_duration = math.log(MAX_TOKEN_FRAMES + 1)

    def forward(
        self, tokens: torch.Tensor, lengths: torch.Tensor, speaking_rate: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        m = self.model
        token_mask = lengths_to_mask(lengths, tokens.shape[1])
        _, enc = m._encode(tokens, lengths)
        log_dur = m._log_durations(enc, token_mask).clamp(max=self.max_log_duration)
        # exp - 1, not expm1 (no ONNX operator); equal after rounding to whole frames.
        frames = torch.round((torch.exp(log_dur) - 1.0) / speaking_rate)
        durations = frames.clamp(min=1).long() * token_mask
        expanded = _length_regulate(enc, durations)
        mel_lens = durations.sum(dim=1)
        _, mel = m._decode(expanded, mel_lens)
        return mel * m.mel_std + m.mel_mean, mel_lens


@dataclass(frozen=True)
class ExportedModel:
    """One written graph: its files and its largest deviation from PyTorch on the check input."""

    kind: str
    onnx_path: Path
    config_path: Path
    max_relative_error: float


def _check_tokens(n_symbols: int) -> torch.Tensor:
    """An example sentence ``(1, CHECK_TOKENS)``: the real symbol ids in turn."""
    return (torch.arange(CHECK_TOKENS) % (n_symbols - 1) + 1).unsqueeze(0)


def _export(
    module: nn.Module, args: tuple[torch.Tensor, ...], target: Path | io.BytesIO, **names: Any
) -> None:
    with warnings.catch_warnings(), torch.no_grad():
        # The tracer warns about Python-level checks on the example input; they hold for every input.
        warnings.simplefilter("ignore")
        torch.onnx.export(module, args, target, opset_version=OPSET, dynamo=False, **names)


TEXT2MEL_IO = {
    "input_names": [TOKENS_INPUT, LENGTHS_INPUT, RATE_INPUT],
    "output_names": [MEL_OUTPUT, MEL_LENGTHS_OUTPUT],
    "dynamic_axes": {TOKENS_INPUT: {1: TOKENS_AXIS}, MEL_OUTPUT: {2: FRAMES_AXIS}},
}


def export_text2mel(model: Text2Mel, target: Path | io.BytesIO) -> None:
    """Write ``model``'s inference path (eval mode) as ONNX to ``target``; see :class:`ExportableText2Mel`."""
    require("onnx")
    tokens = _check_tokens(model.cfg.n_symbols)
    args = (tokens, torch.tensor([tokens.shape[1]]), torch.tensor([DEFAULT_SPEAKING_RATE]))
    _export(ExportableText2Mel(model).eval(), args, target, **TEXT2MEL_IO)


def run_text2mel_onnx(session: Any, tokens: torch.Tensor, speaking_rate: float = 1.0) -> np.ndarray:
    """Log-mel ``(1, n_mels, T)`` of ``tokens`` ``(1, L)`` from a text-to-mel ONNX Runtime session."""
    feed = {
        TOKENS_INPUT: tokens.numpy().astype(np.int64),
        LENGTHS_INPUT: np.array([tokens.shape[1]], dtype=np.int64),
        RATE_INPUT: np.array([speaking_rate], dtype=np.float32),
    }
    return session.run([MEL_OUTPUT], feed)[0]


def _io_spec(name: str, dtype: str, shape: list[int | str], description: str) -> dict[str, Any]:
    return {"name": name, "dtype": dtype, "shape": shape, "description": description}


def _base_config(manifest: VoiceManifest, kind: str) -> dict[str, Any]:
    """The keys every config shares: Piper's audio, espeak and phoneme map, and the model kind."""
    return {
        "format": "ganspeech-onnx",
        "format_version": ONNX_FORMAT_VERSION,
        "model_kind": kind,
        "opset": OPSET,
        "voice": manifest.name,
        "language": {"code": manifest.language},
        "espeak": {"voice": manifest.language},
        "phoneme_type": "espeak",
        # Piper's map: each phoneme character to its id list; ids are positions in `symbols`.
        "phoneme_id_map": {symbol: [i] for i, symbol in enumerate(manifest.symbols)},
        "symbols": list(manifest.symbols),
        "num_symbols": len(manifest.symbols),
        "pad_id": PAD_ID,
        "num_speakers": 1,
        "audio": {
            **manifest.audio.to_dict(),
            "mel_scale": f"natural log of the Slaney-mel magnitude, floor {LOG_CLAMP:g}",
        },
    }


def text2mel_config(manifest: VoiceManifest, vocoders: dict[str, str]) -> dict[str, Any]:
    """The ``text2mel.onnx.json`` of ``manifest``'s voice; ``vocoders``: kind -> its ONNX file name."""
    n_mels = manifest.audio.n_mels
    return {
        **_base_config(manifest, TEXT2MEL_KIND),
        "inference": {"speaking_rate": DEFAULT_SPEAKING_RATE, "length_scale": 1.0 / DEFAULT_SPEAKING_RATE},
        "inputs": [
            _io_spec(TOKENS_INPUT, "int64", [1, TOKENS_AXIS], "phoneme ids of one sentence, no padding"),
            _io_spec(LENGTHS_INPUT, "int64", [1], "the number of tokens"),
            _io_spec(RATE_INPUT, "float32", [1], "1.0 normal, 2.0 twice as fast"),
        ],
        "outputs": [
            _io_spec(MEL_OUTPUT, "float32", [1, n_mels, FRAMES_AXIS], "log-mel, the vocoders' input"),
            _io_spec(MEL_LENGTHS_OUTPUT, "int64", [1], "the number of mel frames"),
        ],
        "dynamic_axes": {TOKENS_INPUT: {"1": TOKENS_AXIS}, MEL_OUTPUT: {"2": FRAMES_AXIS}},
        "vocoders": vocoders,
    }


def vocoder_config(manifest: VoiceManifest, kind: VocoderKind, generator_name: str) -> dict[str, Any]:
    """The ``<kind>.onnx.json`` of one vocoder graph of ``manifest``'s voice."""
    n_mels, hop = manifest.audio.n_mels, manifest.audio.hop_length
    return {
        **_base_config(manifest, kind.value),
        "generator": generator_name,
        "samples_per_frame": hop,
        "inputs": [
            _io_spec(MEL_INPUT, "float32", [1, n_mels, FRAMES_AXIS], "log-mel from the text-to-mel graph")
        ],
        "outputs": [
            _io_spec(
                AUDIO_OUTPUT, "float32", [1, 1, SAMPLES_AXIS], f"audio in [-1, 1], {hop} samples per frame"
            )
        ],
        "dynamic_axes": {MEL_INPUT: {"2": FRAMES_AXIS}, AUDIO_OUTPUT: {"2": SAMPLES_AXIS}},
    }


def _write_config(path: Path, config: dict[str, Any]) -> None:
    path.write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def export_voice(voice: str | Path | None, out_dir: str | Path) -> list[ExportedModel]:
    """Write the voice's text-to-mel model and parallel GAN vocoders as ONNX + JSON into ``out_dir``.

    Each graph is run once in ONNX Runtime and compared with PyTorch on an example sentence.
    Raises :class:`UserError` when the onnx extra is missing or the voice has nothing to export.
    """
    voice_dir = resolve_voice_dir(voice)
    manifest = read_manifest(voice_dir)
    if TEXT2MEL_KIND not in manifest.models:
        raise VoiceError(f"voice {voice_dir} has no text2mel model")
    kinds = [k for k in EXPORTABLE_VOCODERS if k.value in manifest.models]
    if not kinds:
        names = ", ".join(k.value for k in EXPORTABLE_VOCODERS)
        raise VoiceError(f"voice {voice_dir} has no parallel GAN vocoder to export ({names})")
    try:
        require("onnx")
        ort = require("onnxruntime")
    except BackendUnavailable as exc:
        raise UserError(str(exc)) from None
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    options = session_options()
    text2mel, _ = load_text2mel_model(voice_dir, manifest.models[TEXT2MEL_KIND], manifest.audio)
    tokens = _check_tokens(text2mel.cfg.n_symbols)
    with torch.no_grad():
        mel, _ = text2mel.infer(tokens, torch.tensor([tokens.shape[1]]))  # (1, n_mels, T)

    exported = []
    onnx_path = out / f"{TEXT2MEL_KIND}.onnx"
    export_text2mel(text2mel, onnx_path)
    session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
    error = _compare(mel.numpy(), run_text2mel_onnx(session, tokens), TEXT2MEL_KIND)
    config_path = out / f"{TEXT2MEL_KIND}{CONFIG_SUFFIX}"
    _write_config(config_path, text2mel_config(manifest, {k.value: f"{k.value}.onnx" for k in kinds}))
    exported.append(ExportedModel(TEXT2MEL_KIND, onnx_path, config_path, error))

    for kind in kinds:
        vocoder = load_vocoder(voice_dir / manifest.models[kind.value], manifest.audio, "eager")
        onnx_path = out / f"{kind.value}.onnx"
        export_vocoder(vocoder.model, manifest.audio.n_mels, onnx_path)
        session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
        with torch.no_grad():
            reference = vocoder.model(mel).numpy()
        error = _compare(reference, session.run([AUDIO_OUTPUT], {MEL_INPUT: mel.numpy()})[0], kind.value)
        config_path = out / f"{kind.value}{CONFIG_SUFFIX}"
        _write_config(config_path, vocoder_config(manifest, kind, vocoder.generator_name))
        exported.append(ExportedModel(kind.value, onnx_path, config_path, error))
    return exported


def _compare(reference: np.ndarray, other: np.ndarray, what: str) -> float:
    """The relative error of ``other``; :class:`RuntimeError` when the shapes differ (a broken export)."""
    if reference.shape != other.shape:
        raise RuntimeError(f"the {what} ONNX graph gave shape {other.shape}, PyTorch {reference.shape}")
    return max_relative_error(reference, other)
