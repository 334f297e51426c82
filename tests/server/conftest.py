"""The server tests' voice: the vocoder kinds the service's proto can name."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.validation import VOCODER_NAMES
from tests.conftest import make_random_voice
from vocoders.base import VocoderKind


@pytest.fixture(scope="session")
def tiny_voice_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random voice holding only the vocoders the proto's ``Vocoder`` enum lists."""
    kinds = tuple(VocoderKind.parse(name) for name in VOCODER_NAMES.values())
    return make_random_voice(tmp_path_factory.mktemp("server_voice") / "tiny", vocoders=kinds)
