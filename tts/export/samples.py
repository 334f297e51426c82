"""Audio samples to listen to: every sentence through every vocoder, on one page.

:func:`export_samples` splits the texts into sentences, runs the text-to-mel once per sentence and
gives the *same* mel to each vocoder, so what differs between the players is the vocoder alone. It
writes, in the output directory (names are predictable: ``NNN`` is the 1-based sentence number):

* ``NNN_<vocoder>.wav`` (or ``.flac``) — the audio;
* ``NNN_<vocoder>.png`` — the log-mel of that audio, and ``NNN_text2mel.png`` — the mel the
  vocoders were given, all on one colour scale per sentence;
* ``index.html`` — per sentence the text, a player, mel, generator and latency per vocoder; it uses relative
  links only (no server, no network) and checks on load that every image and audio file is there;
  while a clip plays, the word being spoken is highlighted (word timings from the text-to-mel's
  durations, embedded in the page as JSON);
* ``samples.json`` — the same listing, machine-readable.
"""

from __future__ import annotations

import html
import json
import logging
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from tts.errors import UserError
from tts.machine import machine_info
from tts.synthesizer import Synthesizer
from tts.timing import WordTiming
from tts.units import MS_PER_S
from vocoders.audio import MEL_PAD_VALUE, mel_spectrogram, save_audio
from vocoders.kinds import VocoderKind

logger = logging.getLogger(__name__)

AUDIO_FORMATS = ("wav", "flac")
# Short, varied sentences: enough to hear every vocoder without waiting minutes for WaveNet.
DEFAULT_TEXTS = (
    "The quick brown fox jumps over the lazy dog.",
    "She sells sea shells by the sea shore.",
    "How much faster is a parallel vocoder than an autoregressive one?",
)
INPUT_MEL = "text2mel"
INDEX_NAME = "index.html"
LISTING_NAME = "samples.json"
# id of the page's JSON element holding every sentence's word timings (read by its script and tests).
WORD_TIMINGS_ID = "word-timings"
# Warm-up mel length (frames): enough for torch to allocate and pick kernels, short enough for WaveNet.
WARMUP_FRAMES = 8
MEL_PNG_DPI = 80
MEL_FIGSIZE = (4.0, 2.2)  # inches; three of them fit side by side on a laptop screen


@dataclass
class Clip:
    """One vocoder's rendering of one sentence."""

    vocoder: str  # the vocoder kind
    generator: str  # what ran: architecture, size and inference path (Vocoder.generator_name)
    audio: str  # file name, relative to the output directory
    mel_png: str
    vocoder_ms: float
    audio_seconds: float

    @property
    def x_real_time(self) -> float:
        return self.audio_seconds / (self.vocoder_ms / MS_PER_S) if self.vocoder_ms > 0 else float("inf")


@dataclass
class Sentence:
    """One sentence of the input, its shared mel and its clips."""

    index: int  # 1-based, global over all texts
    text: str  # normalised text the frontend spoke
    phonemes: str
    text2mel_ms: float
    mel_png: str  # the text-to-mel output every vocoder was given
    clips: list[Clip] = field(default_factory=list)
    # When each written word is spoken, in seconds from the start of any of the sentence's clips
    # (every vocoder renders the same mel, so the same times hold for each).
    words: list[WordTiming] = field(default_factory=list)


@dataclass
class ExportResult:
    out_dir: Path
    index_html: Path
    sentences: list[Sentence]
    audio_format: str
    voice_name: str

    def files(self) -> list[Path]:
        """Every file written, ``index.html`` and ``samples.json`` included."""
        names = [INDEX_NAME, LISTING_NAME]
        for s in self.sentences:
            names.append(s.mel_png)
            for c in s.clips:
                names += [c.audio, c.mel_png]
        return [self.out_dir / n for n in names]


def sentence_stem(index: int) -> str:
    return f"{index:03d}"


def read_text_file(path: str | Path) -> list[str]:
    """Texts of a file: one per non-empty line (each may hold several sentences)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"text file {path} does not exist")
    texts = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if not texts:
        raise UserError(f"text file {path} has no non-empty line")
    return texts


def _save_mel_png(mel: np.ndarray, path: Path, title: str, frame_s: float, vmin: float, vmax: float) -> None:
    """Plot a log-mel ``(n_mels, T)`` with a time axis in seconds."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=MEL_FIGSIZE)
    extent = (0.0, mel.shape[1] * frame_s, 0, mel.shape[0])
    ax.imshow(mel, origin="lower", aspect="auto", extent=extent, vmin=vmin, vmax=vmax, cmap="magma")
    ax.set_title(title, fontsize=9)
    ax.set_xlabel("s", fontsize=8)
    ax.set_ylabel("mel band", fontsize=8)
    ax.tick_params(labelsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=MEL_PNG_DPI)
    plt.close(fig)


def _warm_up(synth: Synthesizer, vocoders: Sequence[VocoderKind], seed: int) -> None:
    """One tiny vocoder call each, so the first sentence's latency is not torch's start-up."""
    mel = torch.full((1, synth.audio_config.n_mels, WARMUP_FRAMES), MEL_PAD_VALUE)  # (1, n_mels, T) silence
    for voc in vocoders:
        synth.vocode([mel], voc, seed=seed)


def export_samples(
    synth: Synthesizer,
    texts: Sequence[str],
    out_dir: str | Path,
    vocoders: Sequence[str | VocoderKind] | None = None,
    audio_format: str = "wav",
    seed: int = 0,
    progress: bool | None = None,
) -> ExportResult:
    """Write one audio file and one mel PNG per sentence and vocoder, and ``index.html``.

    ``vocoders``: kinds of ``synth``'s voice; ``None`` or empty means every one it holds.
    """
    from tqdm import tqdm

    if audio_format not in AUDIO_FORMATS:
        raise UserError(f"--format must be one of {', '.join(AUDIO_FORMATS)}")
    kinds = [synth.check_vocoder(voc).kind for voc in vocoders] if vocoders else synth.vocoders
    generators = {kind: synth.check_vocoder(kind).generator_name for kind in kinds}
    if not texts:
        raise UserError("give at least one text")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    utterances = [u for text in texts for u in synth.analyze(text)]
    _warm_up(synth, kinds, seed)
    frame_s = synth.audio_config.frame_seconds
    sentences: list[Sentence] = []
    steps = len(utterances) * len(kinds)
    with tqdm(
        total=steps, desc="export", unit="clip", disable=None if progress is None else not progress
    ) as bar:
        for index, utt in enumerate(utterances, 1):
            stem = sentence_stem(index)
            t0 = time.perf_counter()
            mel, words = synth.text_to_mel_with_words(utt)  # mel (1, n_mels, T)
            text2mel_ms = (time.perf_counter() - t0) * MS_PER_S
            mel_np = mel[0].numpy()  # (n_mels, T)
            sentence = Sentence(
                index, utt.text, utt.phonemes, text2mel_ms, f"{stem}_{INPUT_MEL}.png", words=words
            )
            panels = [(mel_np, sentence.mel_png, "text-to-mel output")]
            for kind in kinds:
                t1 = time.perf_counter()
                audio = synth.vocode([mel], kind, seed=seed)[0]  # (T * hop,)
                vocoder_ms = (time.perf_counter() - t1) * MS_PER_S
                seconds = len(audio) / synth.sample_rate
                name = f"{stem}_{kind.value}"
                clip = Clip(
                    kind.value, generators[kind], f"{name}.{audio_format}", f"{name}.png", vocoder_ms, seconds
                )
                save_audio(out / clip.audio, audio, synth.sample_rate)
                with torch.inference_mode():
                    wav = torch.from_numpy(np.ascontiguousarray(audio))[None]  # (1, T * hop)
                    heard = mel_spectrogram(wav, synth.audio_config)[0].numpy()  # (n_mels, T)
                panels.append((heard, clip.mel_png, f"{kind.value} output"))
                sentence.clips.append(clip)
                bar.update(1)
            # One colour scale for every panel of a sentence, so they compare fairly.
            vmin = min(float(p.min()) for p, _, _ in panels)
            vmax = max(float(p.max()) for p, _, _ in panels)
            for panel, name, title in panels:
                _save_mel_png(panel, out / name, title, frame_s, vmin, vmax)
            sentences.append(sentence)
    result = ExportResult(out, out / INDEX_NAME, sentences, audio_format, synth.manifest.name)
    context = {
        "voice": synth.manifest.name,
        "trained": synth.manifest.trained,
        "sample_rate": synth.sample_rate,
        "generators": {kind.value: name for kind, name in generators.items()},
        "machine": machine_info().to_dict(),
    }
    result.index_html.write_text(render_index(result, context), encoding="utf-8")
    listing = {**context, "audio_format": audio_format, "sentences": [_sentence_dict(s) for s in sentences]}
    (out / LISTING_NAME).write_text(
        json.dumps(listing, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    return result


def _sentence_dict(s: Sentence) -> dict[str, Any]:
    d = asdict(s)
    for clip, c in zip(s.clips, d["clips"]):
        c["x_real_time"] = clip.x_real_time if np.isfinite(clip.x_real_time) else None
    return d


_CSS = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 80rem; padding: 0 1rem;
       color: #222; }
header p { color: #555; margin: .2rem 0; }
.warning { color: #a33; font-weight: 600; }
section { border-top: 1px solid #ddd; padding: 1rem 0; }
h2 { font-size: 1.1rem; margin: 0 0 .3rem; }
.phonemes { font-family: monospace; color: #666; margin: 0 0 .6rem; }
.row { display: flex; flex-wrap: wrap; gap: 1rem; }
figure { margin: 0; flex: 1 1 18rem; max-width: 26rem; }
figure img { width: 100%; height: auto; display: block; }
figcaption { font-size: .9rem; margin-bottom: .3rem; }
.generator { display: block; font-size: .8rem; color: #555; }
audio { width: 100%; margin: .3rem 0; }
.latency { font-size: .85rem; color: #444; }
#resource-status { font-size: .85rem; color: #555; }
.words { margin: 0 0 .6rem; line-height: 1.8; }
.words .word { padding: .1rem .15rem; border-radius: 3px; }
.words .spoken { background: #ffd54f; }
"""

# Runs once the page has loaded: every <img> must have decoded and every <audio> must have read its
# metadata. The verdict goes into <body data-resource-check="ok|missing"> (read by the headless-browser
# test) and into a line the reader sees.
_CHECK_SCRIPT = """
(function () {
  var imgs = Array.prototype.slice.call(document.images);
  var audios = Array.prototype.slice.call(document.querySelectorAll("audio"));
  var pending = imgs.length + audios.length;
  var missing = [];
  function finish() {
    document.body.setAttribute("data-resource-check", missing.length ? "missing" : "ok");
    document.body.setAttribute("data-missing", missing.join(" "));
    document.getElementById("resource-status").textContent = missing.length
      ? "Missing files: " + missing.join(", ")
      : "All files loaded: " + audios.length + " audio, " + imgs.length + " images.";
  }
  function settle(el, ok) {
    if (el.getAttribute("data-loaded")) { return; }
    el.setAttribute("data-loaded", ok ? "ok" : "missing");
    if (!ok) { missing.push(el.getAttribute("src")); }
    pending -= 1;
    if (pending === 0) { finish(); }
  }
  imgs.forEach(function (img) {
    if (img.complete) { settle(img, img.naturalWidth > 0); return; }
    img.addEventListener("load", function () { settle(img, img.naturalWidth > 0); });
    img.addEventListener("error", function () { settle(img, false); });
  });
  audios.forEach(function (a) {
    if (a.error) { settle(a, false); return; }
    if (a.readyState >= 1) { settle(a, a.duration > 0); return; }
    a.addEventListener("loadedmetadata", function () { settle(a, a.duration > 0); });
    a.addEventListener("error", function () { settle(a, false); });
  });
  if (pending === 0) { finish(); }
})();
"""


# Highlights the word being spoken while a clip plays or is seeked. Times come from the JSON in the
# <script> element whose id is filled in (WORD_TIMINGS_ID); the spans of <p class="words"
# data-sentence="NNN"> are in the same order. timeupdate alone fires only about four times a second,
# too coarse for short words, so a playing clip is also followed frame by frame.
_HIGHLIGHT_SCRIPT = """
(function () {
  var timings = JSON.parse(document.getElementById(%s).textContent);
  function spokenAt(words, t) {
    for (var i = 0; i < words.length; i++) {
      if (t >= words[i].start_s && t < words[i].end_s) { return i; }
    }
    return -1;
  }
  function mark(audio) {
    var id = audio.getAttribute("data-sentence");
    var current = audio.ended ? -1 : spokenAt(timings[id] || [], audio.currentTime);
    var spans = document.querySelectorAll('.words[data-sentence="' + id + '"] .word');
    Array.prototype.forEach.call(spans, function (span, i) {
      span.classList.toggle("spoken", i === current);
    });
  }
  Array.prototype.forEach.call(document.querySelectorAll("audio[data-sentence]"), function (a) {
    function follow() {
      mark(a);
      if (!a.paused && !a.ended) { window.requestAnimationFrame(follow); }
    }
    a.addEventListener("timeupdate", function () { mark(a); });
    a.addEventListener("seeked", function () { mark(a); });
    a.addEventListener("ended", function () { mark(a); });
    a.addEventListener("play", follow);
  });
})();
"""


def script_json(value: Any) -> str:
    """``value`` as JSON that is safe inside a ``<script>`` element: no ``</script>`` or ``<!--`` can
    appear in it, because every ``<``, ``>`` and ``&`` is written as a ``\\u`` escape."""
    text = json.dumps(value, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def word_timings(sentences: Sequence[Sentence]) -> dict[str, list[dict[str, Any]]]:
    """The words of each sentence with their times, keyed by the sentence's ``NNN`` stem."""
    return {sentence_stem(s.index): [w.to_dict() for w in s.words] for s in sentences}


def render_index(result: ExportResult, context: dict[str, Any]) -> str:
    """The ``index.html`` of an export: relative links only, no external resource."""
    e = html.escape
    m = context["machine"]
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>ganspeech samples — {e(result.voice_name)}</title>",
        f"<style>{_CSS}</style>",
        "</head>",
        "<body>",
        "<header>",
        f"<h1>ganspeech samples — voice {e(result.voice_name)}</h1>",
        (
            f"<p>{len(result.sentences)} sentences; every vocoder is given the same text-to-mel output, "
            "so the "
            "players differ only by vocoder. Latency is the vocoder stage alone, one run after a warm-up, on "
            f"{e(str(m['cpu_model']))} with {m['torch_threads']} torch threads.</p>"
        ),
    ]
    if not context.get("trained", True):
        parts.append(
            '<p class="warning">This voice is randomly initialised (a test fixture): it does not speak.</p>'
        )
    parts += ['<p id="resource-status">Checking files…</p>', "</header>", "<main>"]
    for s in result.sentences:
        parts += [
            f'<section id="s{sentence_stem(s.index)}">',
            f"<h2>{s.index}. {e(s.text)}</h2>",
            f'<p class="words" data-sentence="{sentence_stem(s.index)}">'
            + " ".join(f'<span class="word">{e(w.word)}</span>' for w in s.words)
            + "</p>",
            f'<p class="phonemes">{e(s.phonemes)}</p>',
            '<div class="row">',
            "<figure>",
            f"<figcaption><strong>text-to-mel</strong> (vocoder input), {s.text2mel_ms:.0f} ms</figcaption>",
            f'<img src="{e(s.mel_png)}" alt="mel spectrogram the vocoders were given">',
            "</figure>",
        ]
        for c in s.clips:
            parts += [
                "<figure>",
                (
                    f'<figcaption><strong>{e(c.vocoder)}</strong> '
                    f'<span class="generator">{e(c.generator)}</span></figcaption>'
                ),
                (
                    f'<audio controls preload="metadata" src="{e(c.audio)}" '
                    f'data-sentence="{sentence_stem(s.index)}"></audio>'
                ),
                f'<img src="{e(c.mel_png)}" alt="mel spectrogram of the {e(c.vocoder)} audio">',
                (
                    f'<p class="latency">vocoder {c.vocoder_ms:,.0f} ms for {c.audio_seconds:.2f} s of audio '
                    f"({c.x_real_time:,.1f}× real time) · "
                    f'<a href="{e(c.audio)}" download>{e(c.audio)}</a></p>'
                ),
                "</figure>",
            ]
        parts += ["</div>", "</section>"]
    timings = script_json(word_timings(result.sentences))
    parts += [
        "</main>",
        f'<script type="application/json" id="{WORD_TIMINGS_ID}">{timings}</script>',
        f"<script>{_CHECK_SCRIPT}</script>",
        f"<script>{_HIGHLIGHT_SCRIPT % json.dumps(WORD_TIMINGS_ID)}</script>",
        "</body>",
        "</html>",
        "",
    ]
    return "\n".join(parts)
