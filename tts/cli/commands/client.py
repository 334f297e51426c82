"""``ganspeech client``: call a running ``ganspeech serve`` and write the audio it returns."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from tts.cli.commands.synthesize import SUFFIX_ENCODINGS
from tts.errors import UserError

logger = logging.getLogger(__name__)

DEFAULT_SERVER = "127.0.0.1:50051"
# Exit status when the server answered with an error status (2 is the CLI's own usage errors).
EXIT_RPC_ERROR = 1
# The vocoder a request asks for unless --vocoder says otherwise: parallel, in every bundled voice.
DEFAULT_VOCODER = "hifigan"


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--server", default=DEFAULT_SERVER, help=f"HOST:PORT of the server (default {DEFAULT_SERVER})"
    )
    p.add_argument("--timeout", type=float, default=None, help="deadline in seconds (default: none)")
    p.add_argument("--json", action="store_true", help="print the result as one JSON object")


def _add_synthesis(p: argparse.ArgumentParser, output: str, vocoder: bool = True) -> None:
    p.add_argument("text", help="text to speak ('-' reads standard input)")
    p.add_argument(
        "--voice", default="", help="voice name from `ganspeech client voices` (default: the server's)"
    )
    # The kinds are checked when the request is built (server.client.vocoder_enum): naming them here
    # would import torch just to print --help.
    if vocoder:
        p.add_argument(
            "--vocoder",
            default=DEFAULT_VOCODER,
            help=f"hifigan, vocos or wavenet, as the voice offers (default {DEFAULT_VOCODER})",
        )
    else:
        p.add_argument(
            "--gan-vocoder",
            default=None,
            help="the parallel vocoder set against WaveNet: hifigan or vocos (default: the voice's "
            "preferred, vocos where it has one)",
        )
    p.add_argument(
        "--sample-rate", type=int, default=0, help="output rate in Hz (default 0: the voice's own)"
    )
    p.add_argument("--speaking-rate", type=float, default=1.0, help="1.0 normal, 2.0 twice as fast")
    p.add_argument("--pitch", type=float, default=0.0, help="pitch shift in semitones, -12 to +12")
    p.add_argument("--volume-db", type=float, default=0.0, help="volume gain in dB, -96 to +16")
    p.add_argument(
        "--ssml",
        action="store_true",
        help="send the text as SSML (the server reads text starting with <speak> as SSML anyway)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of WaveNet's sampling")
    p.add_argument(
        "-o",
        "--output",
        default=output,
        help=f"output file; its suffix picks the encoding ({', '.join(SUFFIX_ENCODINGS)}; default {output})",
    )


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "client",
        help="call a running ganspeech server",
        description="Call a running `ganspeech serve` and write the audio it returns.",
    )
    calls = p.add_subparsers(dest="client_command", metavar="CALL")
    calls.required = True
    s = calls.add_parser("synthesize", help="whole utterance in one response (Synthesize)")
    _add_synthesis(s, "out.wav")
    _add_common(s)
    s = calls.add_parser("stream", help="audio in chunks as it is generated (SynthesizeStream)")
    _add_synthesis(s, "out.wav")
    _add_common(s)
    s = calls.add_parser(
        "compare", help="a GAN vocoder and WaveNet on one text, with their latencies (Compare)"
    )
    _add_synthesis(s, "compare.wav", vocoder=False)
    _add_common(s)
    s = calls.add_parser("voices", help="voices and limits of the server (ListVoices)")
    s.add_argument("--language", default="", help="only voices whose language starts with this, e.g. en")
    _add_common(s)
    s = calls.add_parser("health", help="the server's health status (grpc.health.v1)")
    _add_common(s)
    p.set_defaults(func=run)


def _text(args: argparse.Namespace) -> str:
    return sys.stdin.read() if args.text == "-" else args.text


def _encoding_for(path: Path) -> str:
    try:
        return SUFFIX_ENCODINGS[path.suffix.lower()]
    except KeyError:
        raise UserError(f"output {path} must end in {', '.join(SUFFIX_ENCODINGS)}") from None


def _prosody(args: argparse.Namespace) -> dict:
    """The SSML and prosody arguments every synthesis call passes on."""
    return {"ssml": args.ssml, "pitch": args.pitch, "volume_gain_db": args.volume_db}


def _timing_dicts(message) -> dict[str, list[dict]]:  # a pb.SynthesizeResponse or pb.StreamSummary
    return {
        "words": [{"word": w.word, "start_s": w.start_s, "end_s": w.end_s} for w in message.words],
        "marks": [{"name": m.name, "time_s": m.time_s} for m in message.marks],
    }


def _latency_dict(latency) -> dict[str, float]:  # a pb.Latency
    return {f.name: getattr(latency, f.name) for f in latency.DESCRIPTOR.fields}


def _latency_line(latency) -> str:
    return (
        f"frontend {latency.frontend_ms:.0f} ms, text2mel {latency.text2mel_ms:.0f} ms, "
        f"vocoder {latency.vocoder_ms:.0f} ms, total {latency.total_ms:.0f} ms, server {latency.server_ms:.0f} ms; "
        f"RTF {latency.rtf:.3f}"
    )


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def _synthesize(client, args: argparse.Namespace) -> dict:
    out = Path(args.output)
    response = client.synthesize(
        _text(args),
        vocoder=args.vocoder,
        voice=args.voice,
        encoding=_encoding_for(out),
        sample_rate_hz=args.sample_rate,
        speaking_rate=args.speaking_rate,
        seed=args.seed,
        **_prosody(args),
    )
    _write(out, response.audio)
    if not args.json:
        print(
            f"wrote {out}: {response.audio_seconds:.2f} s at {response.sample_rate_hz} Hz with {args.vocoder} "
            f"[{response.generator}] ({_latency_line(response.latency)})"
        )
    return {
        "output": str(out),
        "voice": response.voice,
        "vocoder": args.vocoder,
        "generator": response.generator,
        "sample_rate_hz": response.sample_rate_hz,
        "audio_seconds": response.audio_seconds,
        "normalized_text": response.normalized_text,
        "latency": _latency_dict(response.latency),
        **_timing_dicts(response),
    }


def _stream(client, args: argparse.Namespace) -> dict:
    from tts.encoding import (
        LINEAR16,
        OGG_OPUS,
        OPUS_SAMPLE_RATES,
        RAW_ENCODINGS,
        default_sample_rate,
        encode,
        supported_encodings,
    )
    from tts.resample import resample

    out = Path(args.output)
    encoding = _encoding_for(out)
    # Raw encodings are streamed as they are; a file format is written here from LINEAR16 chunks.
    streamed = encoding if encoding in RAW_ENCODINGS else LINEAR16
    if encoding not in supported_encodings():
        raise UserError(f"this libsndfile cannot write {out}; available: {', '.join(supported_encodings())}")
    if encoding == OGG_OPUS and args.sample_rate not in (0, *OPUS_SAMPLE_RATES):
        raise UserError(f"Ogg-Opus codes only {', '.join(map(str, OPUS_SAMPLE_RATES))} Hz (or 0)")
    result = client.stream_audio(
        _text(args),
        vocoder=args.vocoder,
        voice=args.voice,
        sample_rate_hz=args.sample_rate,
        speaking_rate=args.speaking_rate,
        seed=args.seed,
        encoding=streamed,
        **_prosody(args),
    )
    rate = result.format.sample_rate_hz
    audio = result.audio
    if not args.sample_rate and default_sample_rate(encoding, rate) != rate:
        audio = resample(audio, rate, default_sample_rate(encoding, rate))
        rate = default_sample_rate(encoding, rate)
    _write(out, encode(audio, rate, encoding))
    summary = result.summary
    if not args.json:
        print(
            f"wrote {out}: {summary.audio_seconds:.2f} s in {result.chunks} chunks with {args.vocoder} "
            f"[{result.format.generator}]; "
            f"first chunk after {summary.latency.first_chunk_ms:.0f} ms on the server, "
            f"{result.client_first_chunk_ms:.0f} ms here ({_latency_line(summary.latency)})"
        )
    return {
        "output": str(out),
        "vocoder": args.vocoder,
        "generator": result.format.generator,
        "sample_rate_hz": rate,
        "audio_seconds": summary.audio_seconds,
        "chunks": result.chunks,
        "client_first_chunk_ms": result.client_first_chunk_ms,
        "normalized_text": summary.normalized_text,
        "latency": _latency_dict(summary.latency),
        **_timing_dicts(summary),
    }


def _compare(client, args: argparse.Namespace) -> dict:
    from server.client import vocoder_name

    out = Path(args.output)
    response = client.compare(
        _text(args),
        voice=args.voice,
        encoding=_encoding_for(out),
        sample_rate_hz=args.sample_rate,
        speaking_rate=args.speaking_rate,
        seed=args.seed,
        gan_vocoder=args.gan_vocoder,
        **_prosody(args),
    )
    report: dict = {
        "vocoder_speed_ratio": response.vocoder_speed_ratio,
        "total_speed_ratio": response.total_speed_ratio,
    }
    names = []
    for part in (response.gan, response.wavenet):
        name = vocoder_name(part.vocoder)
        names.append(name)
        path = out.with_name(f"{out.stem}_{name}{out.suffix}")
        _write(path, part.audio)
        report[name] = {
            "output": str(path),
            "generator": part.generator,
            "audio_seconds": part.audio_seconds,
            "latency": _latency_dict(part.latency),
            **_timing_dicts(part),
        }
        if not args.json:
            print(
                f"{name:8s} -> {path}: {part.audio_seconds:.2f} s [{part.generator}] "
                f"({_latency_line(part.latency)})"
            )
    if not args.json:
        print(
            f"{names[0]}'s vocoder was {response.vocoder_speed_ratio:.1f}x faster than {names[1]}'s "
            f"({response.total_speed_ratio:.1f}x end to end)"
        )
    return report


def _voices(client, args: argparse.Namespace) -> dict:
    from server.client import vocoder_name
    from server.generated.ganspeech.v1 import synthesis_pb2 as pb

    response = client.list_voices(args.language)
    voices = [
        {
            "name": v.name,
            "language_code": v.language_code,
            "native_sample_rate_hz": v.native_sample_rate_hz,
            "vocoders": [vocoder_name(x) for x in v.vocoders],
            "generators": {vocoder_name(x.vocoder): x.generator for x in v.vocoder_info},
            "is_default": v.is_default,
            "trained": v.trained,
            "description": v.description,
        }
        for v in response.voices
    ]
    lim = response.limits
    limits = {
        "max_text_chars": lim.max_text_chars,
        "max_concurrent_jobs": lim.max_concurrent_jobs,
        "vocoders": {
            vocoder_name(v.vocoder): {
                "max_concurrent_jobs": v.max_concurrent_jobs,
                "max_queued_jobs": v.max_queued_jobs,
            }
            for v in lim.vocoder_limits
        },
        "supported_sample_rates_hz": list(lim.supported_sample_rates_hz),
        "encodings": [pb.AudioEncoding.Name(e) for e in lim.encodings],
        "max_unary_audio_bytes": lim.max_unary_audio_bytes,
        "max_audio_seconds": lim.max_audio_seconds,
    }
    if not args.json:
        for v in voices:
            flags = " (default)" if v["is_default"] else ""
            flags += "" if v["trained"] else " (untrained test voice)"
            print(
                f"{v['name']}{flags}: {v['language_code']}, {v['native_sample_rate_hz']} Hz, "
                f"vocoders {', '.join(v['vocoders'])}"
            )
            for kind, generator in v["generators"].items():
                print(f"  {kind}: {generator}")
        jobs = ", ".join(f"{k} {x['max_concurrent_jobs']}" for k, x in limits["vocoders"].items())
        print(
            f"limits: {limits['max_text_chars']} characters and {lim.max_audio_seconds:g} s of audio per request; "
            f"{limits['max_concurrent_jobs']} jobs at once "
            f"({jobs}); queue {lim.vocoder_limits[0].max_queued_jobs if lim.vocoder_limits else 0}"
        )
    return {"voices": voices, "limits": limits}


def _health(client, args: argparse.Namespace) -> dict:
    status = client.health()
    if not args.json:
        print(status)
    return {"status": status}


_CALLS = {
    "synthesize": _synthesize,
    "stream": _stream,
    "compare": _compare,
    "voices": _voices,
    "health": _health,
}


def run(args: argparse.Namespace) -> int:
    import grpc

    from server.client import SynthesisClient

    try:
        with SynthesisClient(args.server, timeout=args.timeout) as client:
            report = _CALLS[args.client_command](client, args)
    except grpc.RpcError as exc:
        code = exc.code().name if hasattr(exc, "code") else "UNKNOWN"
        details = exc.details() if hasattr(exc, "details") else str(exc)
        print(f"ganspeech client {args.client_command}: {code}: {details}", file=sys.stderr)
        return EXIT_RPC_ERROR
    if args.json:
        print(json.dumps(report))
    return 0
