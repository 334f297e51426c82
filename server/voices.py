"""The voices one server offers: loaded synthesizers by the name requests use."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from server.config import VoiceSpec
from server.printable import printable
from tts.errors import VoiceError
from tts.synthesizer import Synthesizer

logger = logging.getLogger(__name__)


class VoiceRegistry:
    """Name -> loaded :class:`Synthesizer`; the first voice is the default."""

    def __init__(self, synthesizers: dict[str, Synthesizer]) -> None:
        if not synthesizers:
            raise VoiceError("a server needs at least one voice")
        self._synths = dict(synthesizers)
        self.default = next(iter(self._synths))

    @classmethod
    def load(
        cls, specs: Sequence[VoiceSpec], wavenet_impl: str = "fast", gan_backend: str = "auto"
    ) -> VoiceRegistry:
        """Load every voice in ``specs`` (none: the bundled voice)."""
        synths: dict[str, Synthesizer] = {}
        for spec in specs or (VoiceSpec(name=None, path=None),):
            synth = Synthesizer.load(spec.path, wavenet_impl=wavenet_impl, gan_backend=gan_backend)
            name = spec.name or synth.manifest.name
            if name in synths:
                raise VoiceError(
                    f"two voices are named {name!r}; give one another name with --voice NAME=DIR"
                )
            synths[name] = synth
            logger.info(
                "loaded voice %r from %s (%s, %d Hz, vocoders: %s)",
                name,
                synth.voice_dir,
                synth.manifest.language,
                synth.sample_rate,
                ", ".join(synth.vocoders),
            )
        return cls(synths)

    @property
    def names(self) -> list[str]:
        return list(self._synths)

    def get(self, name: str) -> tuple[str, Synthesizer]:
        """The voice called ``name`` (empty: the default) and its name; VoiceError if unknown."""
        name = name or self.default
        try:
            return name, self._synths[name]
        except KeyError:
            raise VoiceError(
                f"unknown voice '{printable(name)}'; this server offers: {', '.join(self.names)} (see ListVoices)"
            ) from None

    def items(self) -> list[tuple[str, Synthesizer]]:
        return list(self._synths.items())
