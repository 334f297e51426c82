from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Vocoder(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    VOCODER_UNSPECIFIED: _ClassVar[Vocoder]
    VOCODER_HIFIGAN: _ClassVar[Vocoder]
    VOCODER_WAVENET: _ClassVar[Vocoder]
    VOCODER_VOCOS: _ClassVar[Vocoder]

class AudioEncoding(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    AUDIO_ENCODING_UNSPECIFIED: _ClassVar[AudioEncoding]
    AUDIO_ENCODING_LINEAR16: _ClassVar[AudioEncoding]
    AUDIO_ENCODING_WAV: _ClassVar[AudioEncoding]
    AUDIO_ENCODING_FLAC: _ClassVar[AudioEncoding]
    AUDIO_ENCODING_MULAW: _ClassVar[AudioEncoding]
    AUDIO_ENCODING_ALAW: _ClassVar[AudioEncoding]
    AUDIO_ENCODING_OGG_OPUS: _ClassVar[AudioEncoding]
    AUDIO_ENCODING_MP3: _ClassVar[AudioEncoding]
VOCODER_UNSPECIFIED: Vocoder
VOCODER_HIFIGAN: Vocoder
VOCODER_WAVENET: Vocoder
VOCODER_VOCOS: Vocoder
AUDIO_ENCODING_UNSPECIFIED: AudioEncoding
AUDIO_ENCODING_LINEAR16: AudioEncoding
AUDIO_ENCODING_WAV: AudioEncoding
AUDIO_ENCODING_FLAC: AudioEncoding
AUDIO_ENCODING_MULAW: AudioEncoding
AUDIO_ENCODING_ALAW: AudioEncoding
AUDIO_ENCODING_OGG_OPUS: AudioEncoding
AUDIO_ENCODING_MP3: AudioEncoding

class SynthesizeRequest(_message.Message):
    __slots__ = ("text", "voice", "vocoder", "encoding", "sample_rate_hz", "speaking_rate", "seed", "no_batching", "ssml", "pitch", "volume_gain_db")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    VOICE_FIELD_NUMBER: _ClassVar[int]
    VOCODER_FIELD_NUMBER: _ClassVar[int]
    ENCODING_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_RATE_HZ_FIELD_NUMBER: _ClassVar[int]
    SPEAKING_RATE_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    NO_BATCHING_FIELD_NUMBER: _ClassVar[int]
    SSML_FIELD_NUMBER: _ClassVar[int]
    PITCH_FIELD_NUMBER: _ClassVar[int]
    VOLUME_GAIN_DB_FIELD_NUMBER: _ClassVar[int]
    text: str
    voice: str
    vocoder: Vocoder
    encoding: AudioEncoding
    sample_rate_hz: int
    speaking_rate: float
    seed: int
    no_batching: bool
    ssml: bool
    pitch: float
    volume_gain_db: float
    def __init__(self, text: _Optional[str] = ..., voice: _Optional[str] = ..., vocoder: _Optional[_Union[Vocoder, str]] = ..., encoding: _Optional[_Union[AudioEncoding, str]] = ..., sample_rate_hz: _Optional[int] = ..., speaking_rate: _Optional[float] = ..., seed: _Optional[int] = ..., no_batching: _Optional[bool] = ..., ssml: _Optional[bool] = ..., pitch: _Optional[float] = ..., volume_gain_db: _Optional[float] = ...) -> None: ...

class WordTiming(_message.Message):
    __slots__ = ("word", "start_s", "end_s")
    WORD_FIELD_NUMBER: _ClassVar[int]
    START_S_FIELD_NUMBER: _ClassVar[int]
    END_S_FIELD_NUMBER: _ClassVar[int]
    word: str
    start_s: float
    end_s: float
    def __init__(self, word: _Optional[str] = ..., start_s: _Optional[float] = ..., end_s: _Optional[float] = ...) -> None: ...

class MarkTiming(_message.Message):
    __slots__ = ("name", "time_s")
    NAME_FIELD_NUMBER: _ClassVar[int]
    TIME_S_FIELD_NUMBER: _ClassVar[int]
    name: str
    time_s: float
    def __init__(self, name: _Optional[str] = ..., time_s: _Optional[float] = ...) -> None: ...

class Latency(_message.Message):
    __slots__ = ("frontend_ms", "text2mel_ms", "vocoder_ms", "total_ms", "rtf", "first_chunk_ms", "server_ms", "queue_ms", "batch_wait_ms", "batch_size")
    FRONTEND_MS_FIELD_NUMBER: _ClassVar[int]
    TEXT2MEL_MS_FIELD_NUMBER: _ClassVar[int]
    VOCODER_MS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_MS_FIELD_NUMBER: _ClassVar[int]
    RTF_FIELD_NUMBER: _ClassVar[int]
    FIRST_CHUNK_MS_FIELD_NUMBER: _ClassVar[int]
    SERVER_MS_FIELD_NUMBER: _ClassVar[int]
    QUEUE_MS_FIELD_NUMBER: _ClassVar[int]
    BATCH_WAIT_MS_FIELD_NUMBER: _ClassVar[int]
    BATCH_SIZE_FIELD_NUMBER: _ClassVar[int]
    frontend_ms: float
    text2mel_ms: float
    vocoder_ms: float
    total_ms: float
    rtf: float
    first_chunk_ms: float
    server_ms: float
    queue_ms: float
    batch_wait_ms: float
    batch_size: int
    def __init__(self, frontend_ms: _Optional[float] = ..., text2mel_ms: _Optional[float] = ..., vocoder_ms: _Optional[float] = ..., total_ms: _Optional[float] = ..., rtf: _Optional[float] = ..., first_chunk_ms: _Optional[float] = ..., server_ms: _Optional[float] = ..., queue_ms: _Optional[float] = ..., batch_wait_ms: _Optional[float] = ..., batch_size: _Optional[int] = ...) -> None: ...

class SynthesizeResponse(_message.Message):
    __slots__ = ("audio", "encoding", "sample_rate_hz", "audio_seconds", "latency", "vocoder", "normalized_text", "voice", "generator", "words", "marks")
    AUDIO_FIELD_NUMBER: _ClassVar[int]
    ENCODING_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_RATE_HZ_FIELD_NUMBER: _ClassVar[int]
    AUDIO_SECONDS_FIELD_NUMBER: _ClassVar[int]
    LATENCY_FIELD_NUMBER: _ClassVar[int]
    VOCODER_FIELD_NUMBER: _ClassVar[int]
    NORMALIZED_TEXT_FIELD_NUMBER: _ClassVar[int]
    VOICE_FIELD_NUMBER: _ClassVar[int]
    GENERATOR_FIELD_NUMBER: _ClassVar[int]
    WORDS_FIELD_NUMBER: _ClassVar[int]
    MARKS_FIELD_NUMBER: _ClassVar[int]
    audio: bytes
    encoding: AudioEncoding
    sample_rate_hz: int
    audio_seconds: float
    latency: Latency
    vocoder: Vocoder
    normalized_text: str
    voice: str
    generator: str
    words: _containers.RepeatedCompositeFieldContainer[WordTiming]
    marks: _containers.RepeatedCompositeFieldContainer[MarkTiming]
    def __init__(self, audio: _Optional[bytes] = ..., encoding: _Optional[_Union[AudioEncoding, str]] = ..., sample_rate_hz: _Optional[int] = ..., audio_seconds: _Optional[float] = ..., latency: _Optional[_Union[Latency, _Mapping]] = ..., vocoder: _Optional[_Union[Vocoder, str]] = ..., normalized_text: _Optional[str] = ..., voice: _Optional[str] = ..., generator: _Optional[str] = ..., words: _Optional[_Iterable[_Union[WordTiming, _Mapping]]] = ..., marks: _Optional[_Iterable[_Union[MarkTiming, _Mapping]]] = ...) -> None: ...

class StreamFormat(_message.Message):
    __slots__ = ("encoding", "sample_rate_hz", "channels", "vocoder", "voice", "generator")
    ENCODING_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_RATE_HZ_FIELD_NUMBER: _ClassVar[int]
    CHANNELS_FIELD_NUMBER: _ClassVar[int]
    VOCODER_FIELD_NUMBER: _ClassVar[int]
    VOICE_FIELD_NUMBER: _ClassVar[int]
    GENERATOR_FIELD_NUMBER: _ClassVar[int]
    encoding: AudioEncoding
    sample_rate_hz: int
    channels: int
    vocoder: Vocoder
    voice: str
    generator: str
    def __init__(self, encoding: _Optional[_Union[AudioEncoding, str]] = ..., sample_rate_hz: _Optional[int] = ..., channels: _Optional[int] = ..., vocoder: _Optional[_Union[Vocoder, str]] = ..., voice: _Optional[str] = ..., generator: _Optional[str] = ...) -> None: ...

class AudioChunk(_message.Message):
    __slots__ = ("audio", "sentence_index", "elapsed_ms", "words", "marks")
    AUDIO_FIELD_NUMBER: _ClassVar[int]
    SENTENCE_INDEX_FIELD_NUMBER: _ClassVar[int]
    ELAPSED_MS_FIELD_NUMBER: _ClassVar[int]
    WORDS_FIELD_NUMBER: _ClassVar[int]
    MARKS_FIELD_NUMBER: _ClassVar[int]
    audio: bytes
    sentence_index: int
    elapsed_ms: float
    words: _containers.RepeatedCompositeFieldContainer[WordTiming]
    marks: _containers.RepeatedCompositeFieldContainer[MarkTiming]
    def __init__(self, audio: _Optional[bytes] = ..., sentence_index: _Optional[int] = ..., elapsed_ms: _Optional[float] = ..., words: _Optional[_Iterable[_Union[WordTiming, _Mapping]]] = ..., marks: _Optional[_Iterable[_Union[MarkTiming, _Mapping]]] = ...) -> None: ...

class StreamSummary(_message.Message):
    __slots__ = ("latency", "audio_seconds", "normalized_text", "chunks", "words", "marks")
    LATENCY_FIELD_NUMBER: _ClassVar[int]
    AUDIO_SECONDS_FIELD_NUMBER: _ClassVar[int]
    NORMALIZED_TEXT_FIELD_NUMBER: _ClassVar[int]
    CHUNKS_FIELD_NUMBER: _ClassVar[int]
    WORDS_FIELD_NUMBER: _ClassVar[int]
    MARKS_FIELD_NUMBER: _ClassVar[int]
    latency: Latency
    audio_seconds: float
    normalized_text: str
    chunks: int
    words: _containers.RepeatedCompositeFieldContainer[WordTiming]
    marks: _containers.RepeatedCompositeFieldContainer[MarkTiming]
    def __init__(self, latency: _Optional[_Union[Latency, _Mapping]] = ..., audio_seconds: _Optional[float] = ..., normalized_text: _Optional[str] = ..., chunks: _Optional[int] = ..., words: _Optional[_Iterable[_Union[WordTiming, _Mapping]]] = ..., marks: _Optional[_Iterable[_Union[MarkTiming, _Mapping]]] = ...) -> None: ...

class SynthesizeStreamResponse(_message.Message):
    __slots__ = ("format", "chunk", "summary")
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    format: StreamFormat
    chunk: AudioChunk
    summary: StreamSummary
    def __init__(self, format: _Optional[_Union[StreamFormat, _Mapping]] = ..., chunk: _Optional[_Union[AudioChunk, _Mapping]] = ..., summary: _Optional[_Union[StreamSummary, _Mapping]] = ...) -> None: ...

class CompareRequest(_message.Message):
    __slots__ = ("text", "voice", "encoding", "sample_rate_hz", "speaking_rate", "seed", "gan_vocoder", "ssml", "pitch", "volume_gain_db")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    VOICE_FIELD_NUMBER: _ClassVar[int]
    ENCODING_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_RATE_HZ_FIELD_NUMBER: _ClassVar[int]
    SPEAKING_RATE_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    GAN_VOCODER_FIELD_NUMBER: _ClassVar[int]
    SSML_FIELD_NUMBER: _ClassVar[int]
    PITCH_FIELD_NUMBER: _ClassVar[int]
    VOLUME_GAIN_DB_FIELD_NUMBER: _ClassVar[int]
    text: str
    voice: str
    encoding: AudioEncoding
    sample_rate_hz: int
    speaking_rate: float
    seed: int
    gan_vocoder: Vocoder
    ssml: bool
    pitch: float
    volume_gain_db: float
    def __init__(self, text: _Optional[str] = ..., voice: _Optional[str] = ..., encoding: _Optional[_Union[AudioEncoding, str]] = ..., sample_rate_hz: _Optional[int] = ..., speaking_rate: _Optional[float] = ..., seed: _Optional[int] = ..., gan_vocoder: _Optional[_Union[Vocoder, str]] = ..., ssml: _Optional[bool] = ..., pitch: _Optional[float] = ..., volume_gain_db: _Optional[float] = ...) -> None: ...

class CompareResponse(_message.Message):
    __slots__ = ("gan", "wavenet", "vocoder_speed_ratio", "total_speed_ratio")
    GAN_FIELD_NUMBER: _ClassVar[int]
    WAVENET_FIELD_NUMBER: _ClassVar[int]
    VOCODER_SPEED_RATIO_FIELD_NUMBER: _ClassVar[int]
    TOTAL_SPEED_RATIO_FIELD_NUMBER: _ClassVar[int]
    gan: SynthesizeResponse
    wavenet: SynthesizeResponse
    vocoder_speed_ratio: float
    total_speed_ratio: float
    def __init__(self, gan: _Optional[_Union[SynthesizeResponse, _Mapping]] = ..., wavenet: _Optional[_Union[SynthesizeResponse, _Mapping]] = ..., vocoder_speed_ratio: _Optional[float] = ..., total_speed_ratio: _Optional[float] = ...) -> None: ...

class ListVoicesRequest(_message.Message):
    __slots__ = ("language_code",)
    LANGUAGE_CODE_FIELD_NUMBER: _ClassVar[int]
    language_code: str
    def __init__(self, language_code: _Optional[str] = ...) -> None: ...

class Voice(_message.Message):
    __slots__ = ("name", "language_code", "native_sample_rate_hz", "vocoders", "is_default", "trained", "description", "vocoder_info")
    NAME_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_CODE_FIELD_NUMBER: _ClassVar[int]
    NATIVE_SAMPLE_RATE_HZ_FIELD_NUMBER: _ClassVar[int]
    VOCODERS_FIELD_NUMBER: _ClassVar[int]
    IS_DEFAULT_FIELD_NUMBER: _ClassVar[int]
    TRAINED_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    VOCODER_INFO_FIELD_NUMBER: _ClassVar[int]
    name: str
    language_code: str
    native_sample_rate_hz: int
    vocoders: _containers.RepeatedScalarFieldContainer[Vocoder]
    is_default: bool
    trained: bool
    description: str
    vocoder_info: _containers.RepeatedCompositeFieldContainer[VocoderInfo]
    def __init__(self, name: _Optional[str] = ..., language_code: _Optional[str] = ..., native_sample_rate_hz: _Optional[int] = ..., vocoders: _Optional[_Iterable[_Union[Vocoder, str]]] = ..., is_default: _Optional[bool] = ..., trained: _Optional[bool] = ..., description: _Optional[str] = ..., vocoder_info: _Optional[_Iterable[_Union[VocoderInfo, _Mapping]]] = ...) -> None: ...

class VocoderInfo(_message.Message):
    __slots__ = ("vocoder", "generator", "parallel")
    VOCODER_FIELD_NUMBER: _ClassVar[int]
    GENERATOR_FIELD_NUMBER: _ClassVar[int]
    PARALLEL_FIELD_NUMBER: _ClassVar[int]
    vocoder: Vocoder
    generator: str
    parallel: bool
    def __init__(self, vocoder: _Optional[_Union[Vocoder, str]] = ..., generator: _Optional[str] = ..., parallel: _Optional[bool] = ...) -> None: ...

class VocoderLimit(_message.Message):
    __slots__ = ("vocoder", "max_concurrent_jobs", "max_queued_jobs")
    VOCODER_FIELD_NUMBER: _ClassVar[int]
    MAX_CONCURRENT_JOBS_FIELD_NUMBER: _ClassVar[int]
    MAX_QUEUED_JOBS_FIELD_NUMBER: _ClassVar[int]
    vocoder: Vocoder
    max_concurrent_jobs: int
    max_queued_jobs: int
    def __init__(self, vocoder: _Optional[_Union[Vocoder, str]] = ..., max_concurrent_jobs: _Optional[int] = ..., max_queued_jobs: _Optional[int] = ...) -> None: ...

class ServerLimits(_message.Message):
    __slots__ = ("max_text_chars", "max_concurrent_jobs", "vocoder_limits", "supported_sample_rates_hz", "encodings", "max_unary_audio_bytes", "max_audio_seconds")
    MAX_TEXT_CHARS_FIELD_NUMBER: _ClassVar[int]
    MAX_CONCURRENT_JOBS_FIELD_NUMBER: _ClassVar[int]
    VOCODER_LIMITS_FIELD_NUMBER: _ClassVar[int]
    SUPPORTED_SAMPLE_RATES_HZ_FIELD_NUMBER: _ClassVar[int]
    ENCODINGS_FIELD_NUMBER: _ClassVar[int]
    MAX_UNARY_AUDIO_BYTES_FIELD_NUMBER: _ClassVar[int]
    MAX_AUDIO_SECONDS_FIELD_NUMBER: _ClassVar[int]
    max_text_chars: int
    max_concurrent_jobs: int
    vocoder_limits: _containers.RepeatedCompositeFieldContainer[VocoderLimit]
    supported_sample_rates_hz: _containers.RepeatedScalarFieldContainer[int]
    encodings: _containers.RepeatedScalarFieldContainer[AudioEncoding]
    max_unary_audio_bytes: int
    max_audio_seconds: float
    def __init__(self, max_text_chars: _Optional[int] = ..., max_concurrent_jobs: _Optional[int] = ..., vocoder_limits: _Optional[_Iterable[_Union[VocoderLimit, _Mapping]]] = ..., supported_sample_rates_hz: _Optional[_Iterable[int]] = ..., encodings: _Optional[_Iterable[_Union[AudioEncoding, str]]] = ..., max_unary_audio_bytes: _Optional[int] = ..., max_audio_seconds: _Optional[float] = ...) -> None: ...

class ListVoicesResponse(_message.Message):
    __slots__ = ("voices", "limits")
    VOICES_FIELD_NUMBER: _ClassVar[int]
    LIMITS_FIELD_NUMBER: _ClassVar[int]
    voices: _containers.RepeatedCompositeFieldContainer[Voice]
    limits: ServerLimits
    def __init__(self, voices: _Optional[_Iterable[_Union[Voice, _Mapping]]] = ..., limits: _Optional[_Union[ServerLimits, _Mapping]] = ...) -> None: ...
