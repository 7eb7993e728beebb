"""Voice packs: `motcua voicepack check` on complete and incomplete packs, espeak-ng generation, human recordings."""

from __future__ import annotations

import math
import functools
import shutil
import subprocess
import sys
from array import array

import pytest

from announcer import audio
from announcer import voicepack as vp
from announcer.phrases import Wording

def needs_espeak(test):
    """make install provides espeak-ng: without it the default voice cannot be built, and that is a failure."""

    def checked(*args, **kwargs):
        assert shutil.which("espeak-ng"), "espeak-ng is not installed: run make install"
        return test(*args, **kwargs)

    return functools.wraps(test)(checked)


def motcua(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "motcua.cli", *args], capture_output=True, text=True, timeout=60)


@pytest.fixture
def complete_pack(tmp_path):
    folder = tmp_path / "pack"
    vp.synthetic(folder, vp.required_words())
    return folder


def test_check_complete_pack(complete_pack):
    r = motcua("voicepack", "check", str(complete_pack))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "complete" in r.stdout and "missing" not in r.stdout


def test_check_reports_a_missing_word(complete_pack):
    m = vp.Manifest.read(complete_pack)
    del m.clips["mươi"]
    del m.clips["quầy"]
    m.write(complete_pack)
    r = motcua("voicepack", "check", str(complete_pack))
    assert r.returncode == 1
    assert r.stdout.splitlines()[:2] == ["missing: mươi", "missing: quầy"]
    assert "incomplete: 2 missing" in r.stderr


def test_check_reports_a_broken_clip(complete_pack):
    m = vp.Manifest.read(complete_pack)
    m.clips["ba"] = "clips/nowhere.wav"
    m.write(complete_pack)
    r = motcua("voicepack", "check", str(complete_pack))
    assert r.returncode == 1 and "broken: ba:" in r.stdout


def test_check_only_the_usage_and_letters_asked_for(complete_pack):
    m = vp.Manifest.read(complete_pack)
    for k in ("lẻ", "ngàn", "quy", "dét"):
        del m.clips[k]
    m.write(complete_pack)
    assert motcua("voicepack", "check", str(complete_pack)).returncode == 1
    r = motcua("voicepack", "check", str(complete_pack), "--dialect", "northern", "--letters", "ABCDEFGH")
    assert r.returncode == 0, r.stdout


def test_check_uses_the_settings_template(complete_pack, tmp_path):
    cfg = tmp_path / "announcer.toml"
    cfg.write_text('[wording]\ntemplate = "Kính mời số {ticket} đến quầy {counter}"\n', encoding="utf-8")
    r = motcua("voicepack", "check", str(complete_pack), "--config", str(cfg))
    assert r.returncode == 1 and r.stdout.splitlines() == ["missing: kính"]


def test_check_not_a_pack(tmp_path):
    r = motcua("voicepack", "check", str(tmp_path))
    assert r.returncode == 1 and "manifest.toml" in r.stderr


def test_a_phrase_clip_is_preferred_to_its_words(complete_pack):
    m = vp.Manifest.read(complete_pack)
    m.clips["mời công dân có số"] = {"tone": [500.0], "ms": 300}
    m.write(complete_pack)
    keys = [k for k, _ in vp.VoicePack(complete_pack).lookup(Wording().words("A5", 2))]
    assert keys == ["mời công dân có số", "a", "năm", "đến", "quầy", "số", "hai"]


def test_missing_word_at_lookup(complete_pack):
    pack = vp.VoicePack(complete_pack)
    with pytest.raises(vp.MissingWords) as e:
        pack.lookup(["mời", "xin", "chào"])
    assert e.value.words == ["chào", "xin"]


def test_human_recording_drops_in(complete_pack, tmp_path):
    """A 44.1 kHz stereo recording replaces a clip: the manifest points at it, it is resampled on load."""
    rate = 44100
    mono = array("h", (int(8000 * math.sin(2 * math.pi * 220 * i / rate)) for i in range(rate // 2)))
    stereo = array("h", bytes(4 * len(mono)))
    stereo[0::2] = mono
    stereo[1::2] = mono
    (complete_pack / "recordings").mkdir()
    audio.write_wav(complete_pack / "recordings" / "moi.wav", stereo, rate, channels=2)
    m = vp.Manifest.read(complete_pack)
    m.clips["mời"] = "recordings/moi.wav"
    m.write(complete_pack)
    pack = vp.VoicePack(complete_pack)
    assert not pack.errors
    assert abs(len(pack.clips["mời"]) - pack.rate // 2) <= 1
    assert motcua("voicepack", "check", str(complete_pack)).returncode == 0


@needs_espeak
def test_build_from_espeak_trims_and_evens_loudness(tmp_path):
    folder = tmp_path / "built"
    words = ["mời", "một", "nghìn", "mười", "lăm"]
    r = motcua("voicepack", "build", str(folder), "--words", *words)
    assert r.returncode == 0, r.stderr
    pack = vp.VoicePack(folder)
    assert set(pack.clips) == set(words) | {"chime"}
    levels = []
    for w in words:
        clip = pack.clips[w]
        assert 0.1 < len(clip) / pack.rate < 1.0, w  # a spoken word, its silence trimmed
        limit = int(0.02 * audio.FULL_SCALE)
        head = next(i for i, s in enumerate(clip) if abs(s) > limit)
        assert head / pack.rate < 0.02, w  # no leading silence left
        levels.append(audio.dbfs(audio.rms(clip)))
    assert max(levels) - min(levels) < 1.5, levels  # loudness evened out
    # a site's own recording survives a rebuild
    m = vp.Manifest.read(folder)
    m.clips["mời"] = "recordings/moi.wav"
    m.write(folder)
    vp.build(folder, ["một"])
    assert vp.Manifest.read(folder).clips["mời"] == "recordings/moi.wav"


def test_processing_helpers():
    rate = 8000
    body = array("h", (int(3000 * math.sin(2 * math.pi * 300 * i / rate)) for i in range(800)))
    padded = audio.silence(4000) + body + audio.silence(4000)
    trimmed = audio.trim_silence(padded, rate)
    assert len(body) <= len(trimmed) <= len(body) + 2 * int(0.008 * rate) + 2
    loud = audio.normalise_loudness(trimmed, -20)
    assert abs(audio.dbfs(audio.rms(loud)) + 20) < 0.5
    assert len(audio.resample(body, 8000, 16000)) == 1600
