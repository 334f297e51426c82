"""Voice directories: a JSON manifest plus one safetensors + JSON pair per model.

Layout of a voice directory::

    voice.json              manifest: name, language, audio config, symbol table, models present
    text2mel.safetensors    text2mel.json
    <kind>.safetensors      <kind>.json     one pair per vocoder kind (vocoders.base.VocoderKind)

Every model's JSON repeats the audio config it was trained with; :func:`register_model` and
:func:`vocoders.registry.load_vocoder` check it against the manifest, so a vocoder trained on other
features is refused.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from safetensors.torch import load_file, save_file

from tts.errors import VoiceError
from vocoders.audio import AudioConfig, check_compatible
from vocoders.kinds import VocoderKind
from vocoders.serialization import read_meta, storable_state

logger = logging.getLogger(__name__)

MANIFEST_NAME = "voice.json"
# Bumped when the layout changes incompatibly; loaders refuse newer formats.
FORMAT_VERSION = 2  # 2 added wavenet_temperature; version 1 manifests still load (temperature 1)
# Above this, sampling is mostly noise: a manifest or flag asking for more is a mistake.
MAX_TEMPERATURE = 2.0
# The text-to-mel model's kind in the manifest and its JSON; every other model is a vocoder.
TEXT2MEL_KIND = "text2mel"
VOCODER_KINDS = tuple(kind.value for kind in VocoderKind)
MODEL_KINDS = (TEXT2MEL_KIND, *VOCODER_KINDS)
# The voice shipped inside the package, so synthesis works offline right after install.
BUNDLED_VOICE_DIR = Path(__file__).parent / "voices" / "default"


@dataclass
class VoiceManifest:
    """What a voice directory holds; serialised as ``voice.json``."""

    name: str  # shown by ListVoices and in logs
    language: str  # espeak-ng language code of the frontend, e.g. "en-us"
    audio: AudioConfig  # the feature config every model of this voice must share
    symbols: list[str]  # phoneme symbol table; ids are list positions
    models: dict[str, str] = field(default_factory=dict)  # kind -> file stem inside the directory
    description: str = ""  # free text: teacher, corpus, training
    # False for randomly initialised voices made by tests: never presented to a user as a voice.
    trained: bool = True
    # Softmax temperature of WaveNet's sampling. Below 1 the sampler favours likely classes, trading
    # sample variety for less hiss (FFTNet's conditional sampling, LPCNet); pick it on a validation
    # split (`ganspeech eval --split val --wavenet-temperature T`), never on the test split.
    wavenet_temperature: float = 1.0
    format_version: int = FORMAT_VERSION

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["audio"] = self.audio.to_dict()
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> VoiceManifest:
        d = dict(d)
        version = d.get("format_version", FORMAT_VERSION)
        if version > FORMAT_VERSION:
            raise VoiceError(f"voice format {version} is newer than this ganspeech supports ({FORMAT_VERSION})")
        d["audio"] = AudioConfig.from_dict(d["audio"])
        manifest = cls(**d)
        check_temperature(manifest.wavenet_temperature)
        return manifest


def check_temperature(temperature: float, what: str = "wavenet_temperature") -> None:
    """Raise :class:`VoiceError`, naming ``what``, unless ``temperature`` is a usable one."""
    if not (isinstance(temperature, (int, float)) and 0 < temperature <= MAX_TEMPERATURE):
        raise VoiceError(f"{what} must be in (0, {MAX_TEMPERATURE}], got {temperature!r}")


def read_manifest(voice_dir: str | Path) -> VoiceManifest:
    voice_dir = Path(voice_dir)
    path = voice_dir / MANIFEST_NAME
    if not voice_dir.is_dir():
        raise VoiceError(f"voice directory {voice_dir} does not exist")
    if not path.is_file():
        raise VoiceError(f"{voice_dir} is not a voice: it has no {MANIFEST_NAME}")
    try:
        return VoiceManifest.from_dict(json.loads(path.read_text()))
    except (ValueError, KeyError, TypeError) as exc:
        raise VoiceError(f"{path} is malformed: {exc}") from exc


def write_manifest(voice_dir: str | Path, manifest: VoiceManifest) -> Path:
    voice_dir = Path(voice_dir)
    voice_dir.mkdir(parents=True, exist_ok=True)
    path = voice_dir / MANIFEST_NAME
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(manifest.to_dict(), indent=2, ensure_ascii=False) + "\n")
    tmp.replace(path)  # atomic: a crash mid-write never leaves a half manifest
    return path


def init_voice(
    voice_dir: str | Path, name: str, language: str, audio: AudioConfig, symbols: list[str], trained: bool = True
) -> VoiceManifest:
    """Create the manifest of a new voice, or check an existing one agrees on audio and symbols."""
    voice_dir = Path(voice_dir)
    if (voice_dir / MANIFEST_NAME).is_file():
        manifest = read_manifest(voice_dir)
        check_compatible(manifest.audio, audio, f"voice {voice_dir} and the new model")
        if list(manifest.symbols) != list(symbols):
            raise VoiceError(f"voice {voice_dir} uses another symbol table than the new model")
        if manifest.language != language:
            raise VoiceError(f"voice {voice_dir} is {manifest.language!r}, the new model {language!r}")
        return manifest
    manifest = VoiceManifest(name=name, language=language, audio=audio, symbols=list(symbols), trained=trained)
    write_manifest(voice_dir, manifest)
    return manifest


def register_model(voice_dir: str | Path, kind: str, stem: str | None = None) -> VoiceManifest:
    """Record in the manifest that model ``kind`` is present (its files were written already)."""
    if kind not in MODEL_KINDS:
        raise ValueError(f"unknown model kind {kind!r}; expected one of {MODEL_KINDS}")
    manifest = read_manifest(voice_dir)
    stem = stem or kind
    meta = read_meta(Path(voice_dir) / stem)
    check_compatible(manifest.audio, AudioConfig.from_dict(meta["audio"]), f"voice and its {kind} model")
    manifest.models[kind] = stem
    write_manifest(voice_dir, manifest)
    return manifest


def resolve_voice_dir(voice: str | Path | None) -> Path:
    """The directory of ``voice``; ``None`` or ``"default"`` means the bundled voice."""
    if voice is None or str(voice) in ("", "default"):
        if not (BUNDLED_VOICE_DIR / MANIFEST_NAME).is_file():
            raise VoiceError("no bundled voice is installed; pass --voice DIR with a trained voice")
        return BUNDLED_VOICE_DIR
    return Path(voice)


def voice_label(voice_dir: Path) -> str:
    """How reports name a voice: ``default`` for the bundled one, else its path relative to the working
    directory when it lies below it (absolute paths tie a committed report to one machine)."""
    resolved = voice_dir.resolve()
    if resolved == BUNDLED_VOICE_DIR.resolve():
        return "default"
    try:
        return str(resolved.relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(resolved)


# Files beside the models that travel with a voice when it is packed (documentation only).
VOICE_DOC_FILES = ("MODEL_CARD.md",)


def pack_voice(
    src: str | Path,
    dst: str | Path,
    half: bool = True,
    name: str | None = None,
    description: str | None = None,
    wavenet_temperature: float | None = None,
) -> VoiceManifest:
    """Copy the voice ``src`` into ``dst`` for distribution, floating weights as float16 if ``half``.

    Only what inference needs travels: the manifest, each registered model's safetensors + JSON
    and the model card; training state never lives in a voice directory. Loading casts float16
    weights back to float32 (:func:`vocoders.serialization.load_state`), so halving costs only the
    rounding of each weight.
    """
    src, dst = Path(src), Path(dst)
    if wavenet_temperature is not None:
        check_temperature(wavenet_temperature)
    manifest = read_manifest(src)
    if not manifest.models:
        raise VoiceError(f"voice {src} has no models to pack")
    if src.resolve() == dst.resolve():
        raise VoiceError("pack a voice into another directory than its own")
    dst.mkdir(parents=True, exist_ok=True)
    for kind, stem in manifest.models.items():
        state = storable_state(load_file(str((src / stem).with_suffix(".safetensors"))), half)
        save_file(state, str((dst / stem).with_suffix(".safetensors")))
        shutil.copyfile((src / stem).with_suffix(".json"), (dst / stem).with_suffix(".json"))
        logger.info("packed %s (%s)", kind, "float16" if half else "as stored")
    for doc in VOICE_DOC_FILES:
        if (src / doc).is_file():
            shutil.copyfile(src / doc, dst / doc)
    packed = dataclasses.replace(
        manifest,
        name=name or manifest.name,
        description=manifest.description if description is None else description,
        wavenet_temperature=(
            manifest.wavenet_temperature if wavenet_temperature is None else wavenet_temperature
        ),
        format_version=FORMAT_VERSION,
    )
    write_manifest(dst, packed)
    return packed
