"""Vocoder kinds over gRPC: Vocos requests, generators named in every response, kinds a voice lacks."""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import numpy as np
import pytest
import torch

from server.app import GanspeechServer, build_server
from server.client import SynthesisClient, response_audio
from server.config import ServerConfig, VoiceSpec
from server.generated.ganspeech.v1 import synthesis_pb2 as pb
from server.validation import VOCODER_ENUMS, validate
from server.voices import VoiceRegistry
from tests.conftest import make_random_voice
from tts.synthesizer import Synthesizer
from vocoders.kinds import VocoderKind
from vocoders.vocos import VocosGenerator, vocos_config
from vocoders.vocos_vocoder import VocosVocoder

# "tiny" has HiFi-GAN and WaveNet; "tiny-vocos" the same models plus a Vocos vocoder.
PLAIN, WITH_VOCOS = "tiny", "tiny-vocos"
TEXT = "Hello there. Bye."
PCM_LSB = 1.0 / 32767


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> Synthesizer:
    kinds = (VocoderKind.HIFIGAN, VocoderKind.WAVENET)
    return Synthesizer.load(make_random_voice(tmp_path_factory.mktemp("plain") / "tiny", vocoders=kinds))


@pytest.fixture(scope="module")
def with_vocos(plain: Synthesizer) -> Synthesizer:
    audio = plain.audio_config
    torch.manual_seed(0)
    vocos = VocosVocoder.from_model(VocosGenerator(vocos_config("tiny", audio), audio).eval(), audio)
    vocoders = {**plain.vocoder_map, VocoderKind.VOCOS: vocos}
    return Synthesizer(plain.manifest, plain.text2mel, vocoders, plain.voice_dir)


@pytest.fixture(scope="module")
def server(plain: Synthesizer, with_vocos: Synthesizer) -> Iterator[GanspeechServer]:
    registry = VoiceRegistry({PLAIN: plain, WITH_VOCOS: with_vocos})
    config = ServerConfig(port=0, voices=(VoiceSpec(PLAIN, "unused"),), workers=2, max_wavenet_jobs=1)
    srv = build_server(config, loader=lambda _cfg: registry)
    srv.start()
    srv.load_voices()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def client(server: GanspeechServer) -> Iterator[SynthesisClient]:
    with SynthesisClient(server.address, timeout=60) as c:
        yield c


def _error(fn, *args, **kwargs) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.RpcError) as info:
        fn(*args, **kwargs)
    return info.value.code(), info.value.details()


def test_vocos_request_gives_the_library_audio_and_names_its_generator(
    client: SynthesisClient, with_vocos: Synthesizer
) -> None:
    vocos = with_vocos.vocoder_map[VocoderKind.VOCOS]
    reply = client.synthesize(TEXT, vocoder=VocoderKind.VOCOS, voice=WITH_VOCOS, encoding="linear16")
    expected = with_vocos.synthesize(TEXT, vocoder=VocoderKind.VOCOS).audio
    assert reply.vocoder == pb.VOCODER_VOCOS
    assert reply.generator == vocos.generator_name and "Vocos" in reply.generator
    np.testing.assert_allclose(response_audio(reply), expected, atol=PCM_LSB)
    streamed = client.stream_audio(TEXT, vocoder="vocos", voice=WITH_VOCOS)
    assert streamed.format.vocoder == pb.VOCODER_VOCOS and streamed.format.generator == vocos.generator_name
    np.testing.assert_allclose(streamed.audio, expected, atol=2 * PCM_LSB)


@pytest.mark.parametrize("kind", [VocoderKind.HIFIGAN, VocoderKind.WAVENET])
def test_every_response_names_the_generator_that_ran(
    client: SynthesisClient, plain: Synthesizer, kind: VocoderKind
) -> None:
    reply = client.synthesize(TEXT, vocoder=kind, voice=PLAIN, encoding="wav")
    assert reply.vocoder == VOCODER_ENUMS[kind]
    assert reply.generator == plain.vocoder_map[kind].generator_name != ""


def test_list_voices_names_each_vocoders_generator(
    client: SynthesisClient, plain: Synthesizer, with_vocos: Synthesizer
) -> None:
    voices = {v.name: v for v in client.list_voices().voices}
    for name, synth in ((PLAIN, plain), (WITH_VOCOS, with_vocos)):
        voice = voices[name]
        kinds = list(synth.vocoder_map)
        assert list(voice.vocoders) == [VOCODER_ENUMS[k] for k in kinds]  # the old field stays
        assert [(i.vocoder, i.generator, i.parallel) for i in voice.vocoder_info] == [
            (VOCODER_ENUMS[k], v.generator_name, v.parallel) for k, v in synth.vocoder_map.items()
        ]
    info = {i.vocoder: i for i in voices[WITH_VOCOS].vocoder_info}
    assert info[pb.VOCODER_VOCOS].parallel and not info[pb.VOCODER_WAVENET].parallel
    limits = {lim.vocoder: lim.max_concurrent_jobs for lim in client.list_voices().limits.vocoder_limits}
    # Vocos is parallel: the worker limit; WaveNet has the sequential vocoders' own.
    assert limits == {pb.VOCODER_HIFIGAN: 2, pb.VOCODER_VOCOS: 2, pb.VOCODER_WAVENET: 1}


def test_a_kind_the_voice_lacks_is_refused_naming_what_it_offers(client: SynthesisClient) -> None:
    code, details = _error(client.synthesize, TEXT, vocoder="vocos", voice=PLAIN)
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert "has no VOCODER_VOCOS" in details and "offers VOCODER_HIFIGAN, VOCODER_WAVENET" in details
    code, details = _error(lambda: list(client.stream(TEXT, vocoder="vocos", voice=PLAIN)))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "has no VOCODER_VOCOS" in details
    code, details = _error(client.compare, TEXT, voice=PLAIN, gan_vocoder="vocos")
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "has no VOCODER_VOCOS" in details


def test_compare_takes_the_gan_vocoder_from_the_request_or_the_voices_preference(
    client: SynthesisClient, with_vocos: Synthesizer
) -> None:
    cases = [(WITH_VOCOS, None, VocoderKind.VOCOS), (PLAIN, None, VocoderKind.HIFIGAN)]
    cases.append((WITH_VOCOS, VocoderKind.HIFIGAN, VocoderKind.HIFIGAN))
    for voice, asked, ran in cases:
        reply = client.compare(TEXT, voice=voice, encoding="wav", gan_vocoder=asked)
        assert reply.gan.vocoder == VOCODER_ENUMS[ran] and reply.wavenet.vocoder == pb.VOCODER_WAVENET
        assert reply.gan.generator == with_vocos.vocoder_map[ran].generator_name
        assert reply.wavenet.generator == with_vocos.vocoder_map[VocoderKind.WAVENET].generator_name
        assert len(response_audio(reply.gan)) == len(response_audio(reply.wavenet)) > 0
    code, details = _error(client.compare, TEXT, voice=WITH_VOCOS, gan_vocoder="wavenet")
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "must be a parallel vocoder" in details


def test_only_sequential_vocoders_take_the_sequential_gate(with_vocos: Synthesizer) -> None:
    registry = VoiceRegistry({WITH_VOCOS: with_vocos})
    for kind in VocoderKind:
        job = validate(
            text=TEXT,
            voice="",
            vocoders=(VOCODER_ENUMS[kind],),
            encoding=pb.AUDIO_ENCODING_WAV,
            sample_rate_hz=0,
            speaking_rate=1.0,
            seed=0,
            registry=registry,
            config=ServerConfig(),
        )
        assert job.parallel == with_vocos.vocoder_map[kind].parallel
        assert job.parallel == (kind != VocoderKind.WAVENET)
