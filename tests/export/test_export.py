"""``ganspeech export`` on the tiny random voice: playable files, a page whose links all resolve."""

from __future__ import annotations

import argparse
import html
import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from tts.cli.commands import export as export_command
from tts.errors import UserError
from tts.export import samples as export
from tts.synthesizer import Synthesizer
from tts.timing import WordTiming
from vocoders.kinds import VocoderKind

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
TEXTS = ["Hello there. How are you today?", "The quick brown fox."]
# The tiny voice holds every kind; by default each gets a clip.
KINDS = [VocoderKind.HIFIGAN.value, VocoderKind.VOCOS.value, VocoderKind.WAVENET.value]
HIFIGAN = VocoderKind.HIFIGAN.value
CHROMIUM_TIMEOUT_S = 120
# Virtual time the page gets to load its files before the DOM is dumped (ms).
VIRTUAL_TIME_BUDGET_MS = 5000


class _Links(HTMLParser):
    """Every src and href of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.links += [v for k, v in attrs if k in ("src", "href") and v]


def _links(page: Path) -> list[str]:
    parser = _Links()
    parser.feed(page.read_text(encoding="utf-8"))
    return parser.links


@pytest.fixture(scope="module")
def synth(tiny_voice_dir: Path) -> Synthesizer:
    return Synthesizer.load(tiny_voice_dir)


@pytest.fixture(scope="module")
def exported(synth: Synthesizer, tmp_path_factory: pytest.TempPathFactory) -> export.ExportResult:
    return export.export_samples(synth, TEXTS, tmp_path_factory.mktemp("samples"), progress=False)


def test_one_playable_file_per_sentence_and_vocoder(
    synth: Synthesizer, exported: export.ExportResult
) -> None:
    expected_sentences = [u.text for t in TEXTS for u in synth.analyze(t)]
    assert [s.text for s in exported.sentences] == expected_sentences
    assert len(expected_sentences) >= 3  # the first text is two sentences
    hop = synth.audio_config.hop_length
    for s in exported.sentences:
        assert [c.vocoder for c in s.clips] == KINDS
        for c in s.clips:
            assert c.generator == synth.check_vocoder(c.vocoder).generator_name
            assert (
                c.audio == f"{s.index:03d}_{c.vocoder}.wav" and c.mel_png == f"{s.index:03d}_{c.vocoder}.png"
            )
            path = exported.out_dir / c.audio
            info = sf.info(str(path))
            assert info.samplerate == synth.sample_rate and info.channels == 1 and info.format == "WAV"
            audio, _ = sf.read(str(path), dtype="float32")
            assert len(audio) > 0 and len(audio) % hop == 0 and np.isfinite(audio).all()
            assert c.audio_seconds == pytest.approx(len(audio) / synth.sample_rate)
            assert c.vocoder_ms > 0
        # Every vocoder was given the same mel, so their clips are equally long.
        assert len({c.audio_seconds for c in s.clips}) == 1
    assert {p.name for p in exported.out_dir.iterdir()} == {p.name for p in exported.files()}


def test_every_reference_of_the_page_exists(exported: export.ExportResult) -> None:
    page = exported.index_html
    links = _links(page)
    local = [link for link in links if not link.startswith("#")]
    assert local, "the page references no file"
    for link in local:
        assert not re.match(r"^[a-z]+:", link), f"{link} is not a relative link"
        assert (page.parent / link).is_file(), f"{link} is missing"
    for s in exported.sentences:
        assert s.mel_png in links
        for c in s.clips:
            assert c.audio in links and c.mel_png in links
    for png in exported.out_dir.glob("*.png"):
        assert png.read_bytes().startswith(PNG_MAGIC)
    text = page.read_text(encoding="utf-8")
    assert "Hello there." in text and "randomly initialised" in text
    assert "ms for" in text  # each clip shows its latency
    for c in exported.sentences[0].clips:  # and the generator that made it
        assert f'<span class="generator">{c.generator}</span>' in text


def test_listing_matches_the_files(exported: export.ExportResult) -> None:
    listing = json.loads((exported.out_dir / export.LISTING_NAME).read_text())
    assert [s["index"] for s in listing["sentences"]] == list(range(1, len(exported.sentences) + 1))
    assert listing["generators"] == {c.vocoder: c.generator for c in exported.sentences[0].clips}
    for s in listing["sentences"]:
        for c in s["clips"]:
            assert c["generator"] == listing["generators"][c["vocoder"]]
            assert (exported.out_dir / c["audio"]).is_file()
            assert c["x_real_time"] == pytest.approx(c["audio_seconds"] * 1000 / c["vocoder_ms"])


def test_flac_and_one_vocoder(synth: Synthesizer, tmp_path: Path) -> None:
    res = export.export_samples(
        synth, ["Hi."], tmp_path, vocoders=[HIFIGAN], audio_format="flac", progress=False
    )
    (s,) = res.sentences
    (c,) = s.clips
    assert c.audio == f"001_{HIFIGAN}.flac" and sf.info(str(tmp_path / c.audio)).format == "FLAC"
    assert sorted(p.name for p in tmp_path.glob("*.flac")) == [c.audio]


def test_bad_requests_are_user_errors(synth: Synthesizer, tmp_path: Path) -> None:
    with pytest.raises(UserError):
        export.export_samples(synth, ["Hi."], tmp_path, vocoders=["melgan"], progress=False)
    with pytest.raises(UserError):
        export.export_samples(synth, ["Hi."], tmp_path, audio_format="mp3", progress=False)
    with pytest.raises(UserError):
        export.read_text_file(tmp_path / "absent.txt")


def test_command_reads_a_file_and_texts(
    tiny_voice_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    text_file = tmp_path / "in.txt"
    text_file.write_text("First line.\n\nSecond line.\n")
    parser = argparse.ArgumentParser()
    export_command.register(parser.add_subparsers())
    out = tmp_path / "out"
    threads = torch.get_num_threads()
    args = parser.parse_args(
        [
            "export",
            str(text_file),
            "--text",
            "Third one.",
            "--voice",
            str(tiny_voice_dir),
            "--vocoders",
            HIFIGAN,
            "--no-progress",
            "--out",
            str(out),
        ]
    )
    try:
        assert args.func(args) == 0
    finally:
        torch.set_num_threads(threads)
    assert sorted(p.name for p in out.glob("*.wav")) == [f"00{i}_{HIFIGAN}.wav" for i in (1, 2, 3)]
    assert "index.html" in capsys.readouterr().out


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _browser_verdict(page: Path, profile: Path) -> tuple[str | None, str]:
    """Load ``page`` headless; return the page's own resource check and the missing files it lists."""
    cmd = [
        _chromium(),
        "--headless",
        "--no-sandbox",  # CI runs as root, where Chromium refuses its sandbox
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={profile}",
        f"--virtual-time-budget={VIRTUAL_TIME_BUDGET_MS}",
        "--dump-dom",
        page.resolve().as_uri(),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=CHROMIUM_TIMEOUT_S, check=False)
    body = re.search(r"<body[^>]*>", proc.stdout)
    assert body, f"chromium printed no page (rc {proc.returncode}): {proc.stderr[-2000:]}"
    verdict = re.search(r'data-resource-check="(\w+)"', body.group(0))
    missing = re.search(r'data-missing="([^"]*)"', body.group(0))
    return (verdict.group(1) if verdict else None), (missing.group(1) if missing else "")


@pytest.mark.skipif(_chromium() is None, reason="Chromium is not installed (.ci/run installs it)")
def test_headless_browser_loads_every_resource(exported: export.ExportResult, tmp_path: Path) -> None:
    verdict, missing = _browser_verdict(exported.index_html, tmp_path / "profile")
    assert verdict == "ok", f"missing in the browser: {missing}"
    # The check must be able to fail: the same page with one image and one clip removed.
    broken = tmp_path / "broken"
    shutil.copytree(exported.out_dir, broken)
    s = exported.sentences[0]
    (broken / s.clips[0].mel_png).unlink()
    (broken / s.clips[1].audio).unlink()
    verdict, missing = _browser_verdict(broken / export.INDEX_NAME, tmp_path / "profile")
    assert verdict == "missing"
    assert set(missing.split()) == {s.clips[0].mel_png, s.clips[1].audio}


# Word highlighting: timings embedded as JSON, a script that marks the word at the clip's time.

_TIMINGS = re.compile(rf'<script type="application/json" id="{export.WORD_TIMINGS_ID}">(.*?)</script>', re.S)


def _page_timings(page: str) -> dict[str, list[dict]]:
    found = _TIMINGS.search(page)
    assert found, "the page has no word timings"
    return json.loads(found.group(1))


def _word_line(page: str, stem: str) -> list[tuple[str, bool]]:
    """The words shown for sentence ``stem`` and whether each is highlighted."""
    line = re.search(rf'<p class="words" data-sentence="{stem}">(.*?)</p>', page, re.S)
    assert line, f"sentence {stem} has no word line"
    spans = re.findall(r'<span class="([^"]*)">([^<]*)</span>', line.group(1))
    return [(html.unescape(text), "spoken" in cls.split()) for cls, text in spans]


def test_page_embeds_the_synthesizers_word_timings(synth: Synthesizer, exported: export.ExportResult) -> None:
    page = exported.index_html.read_text(encoding="utf-8")
    timings = _page_timings(page)
    assert list(timings) == [export.sentence_stem(s.index) for s in exported.sentences]
    for s in exported.sentences:
        stem = export.sentence_stem(s.index)
        expected = synth.synthesize(s.text, vocoder=HIFIGAN).words  # this sentence alone, from 0 s
        assert [w["word"] for w in timings[stem]] == [w.word for w in expected] != []
        starts_ends = [(w["start_s"], w["end_s"]) for w in timings[stem]]
        assert starts_ends == pytest.approx([(w.start_s, w.end_s) for w in expected])
        assert all(end <= c.audio_seconds + 1e-6 for _, end in starts_ends for c in s.clips)
        assert [word for word, _ in _word_line(page, stem)] == [w.word for w in expected]
        assert page.count(f'data-sentence="{stem}"></audio>') == len(s.clips)
    assert 'addEventListener("timeupdate"' in page
    listing = json.loads((exported.out_dir / export.LISTING_NAME).read_text())
    assert [s["words"] for s in listing["sentences"]] == list(timings.values())


def test_word_timings_cannot_break_out_of_their_script(exported: export.ExportResult) -> None:
    nasty = ["</script><script>alert(1)</script>", "<!--", "a&b", "\u2028"]
    s = exported.sentences[0]
    words = [WordTiming(w, 0.1 * i, 0.1 * i + 0.1) for i, w in enumerate(nasty)]
    sentence = export.Sentence(1, s.text, s.phonemes, 1.0, s.mel_png, s.clips, words)
    result = export.ExportResult(exported.out_dir, exported.index_html, [sentence], "wav", "tiny")
    context = {"trained": False, "machine": {"cpu_model": "cpu", "torch_threads": 1}}
    page = export.render_index(result, context)
    assert page.count("</script>") == 3  # the timings, the resource check and the highlighter
    assert "<!--" not in page
    assert [w["word"] for w in _page_timings(page)["001"]] == nasty
    assert [word for word, _ in _word_line(page, "001")] == nasty


_SEEK_HARNESS = """
<script>
(function () {
  var audio = document.querySelectorAll('audio[data-sentence="%s"]')[%d];
  audio.addEventListener("seeked", function () { document.body.setAttribute("data-seeked", "yes"); });
  function seek() { audio.currentTime = %r; }
  if (audio.readyState >= 1) { seek(); } else { audio.addEventListener("loadedmetadata", seek); }
})();
</script>
"""


def _dump_dom(page: Path, profile: Path) -> str:
    cmd = [
        _chromium(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        # The out-of-process audio service of a machine without a sound device can leave a seek
        # pending for good; in process, seeks complete.
        "--disable-features=AudioServiceOutOfProcess",
        f"--user-data-dir={profile}",
        f"--virtual-time-budget={VIRTUAL_TIME_BUDGET_MS}",
        "--dump-dom",
        page.resolve().as_uri(),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=CHROMIUM_TIMEOUT_S, check=False)
    assert "<body" in proc.stdout, f"chromium printed no page (rc {proc.returncode}): {proc.stderr[-2000:]}"
    return proc.stdout


@pytest.mark.skipif(_chromium() is None, reason="Chromium is not installed (.ci/run installs it)")
def test_headless_browser_highlights_the_word_at_the_clips_time(
    exported: export.ExportResult, tmp_path: Path
) -> None:
    s = exported.sentences[0]
    stem = export.sentence_stem(s.index)
    words = s.words
    assert len(words) >= 2
    # Not the first word: a highlighter stuck on word 0 (or on nothing) must fail.
    target = max(range(1, len(words)), key=lambda i: words[i].end_s - words[i].start_s)
    middle = (words[target].start_s + words[target].end_s) / 2
    copy = tmp_path / "page"
    shutil.copytree(exported.out_dir, copy)
    page = copy / export.INDEX_NAME
    clip = len(s.clips) - 1  # any clip of the sentence drives its word line
    page.write_text(
        page.read_text(encoding="utf-8").replace("</body>", _SEEK_HARNESS % (stem, clip, middle) + "</body>"),
        encoding="utf-8",
    )
    dom = _dump_dom(page, tmp_path / "profile")
    assert 'data-seeked="yes"' in dom, "the clip was never seeked"
    line = _word_line(dom, stem)
    assert [word for word, _ in line] == [w.word for w in words]
    assert [i for i, (_, spoken) in enumerate(line) if spoken] == [target]
    # The other sentences' lines stay unmarked.
    for other in exported.sentences[1:]:
        assert not any(spoken for _, spoken in _word_line(dom, export.sentence_stem(other.index)))
