"""Voice packs: a folder of WAV clips and a ``manifest.toml`` saying which clip speaks which word.

Manifest (format 1)::

    format = 1
    name = "vi-default"
    language = "vi"
    sample_rate = 22050                 # clips at other rates are resampled on load

    [clips]
    "mời" = "clips/moi-1a2b.wav"         # a word: its clip, relative to the folder
    "công" = "clips/cong-3c4d.wav"
    "mời công dân" = "phrases/moi-cong-dan.wav"   # a phrase: used instead of its words
    "chime" = "clips/chime.wav"          # the chime played before each announcement
    "hai" = { tone = [440.0], ms = 120 } # or a generated tone (for tests and placeholders)

Keys are matched in NFC lower case. When speaking, the longest phrase the pack
holds is used first, then single words. ``check`` lists every word that the
templates, the ticket prefixes and the numbers 0-9999 need and the pack lacks.
The default pack is built from espeak-ng's Vietnamese voices (``build``), with
silence trimmed and loudness evened out; a site replaces any clip with a human
recording by pointing its key at a new file (see docs/announcer.md).
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import subprocess
import tempfile
import tomllib
import unicodedata
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from . import audio
from .numbers import DIALECTS, LETTER_NAMES, Dialect, all_number_words, letter_words
from .phrases import CHIME, DEFAULT_TEMPLATE, normalise, template_words

log = logging.getLogger("announcer.voicepack")

MANIFEST = "manifest.toml"
FORMAT = 1
DEFAULT_RATE = 22050
MAX_PHRASE_WORDS = 8
ESPEAK_VOICES = {"northern": "vi", "southern": "vi-vn-x-south"}


class PackError(Exception):
    """The pack cannot be used (no manifest, bad manifest)."""


class MissingWords(PackError):
    def __init__(self, words: Sequence[str]):
        self.words = list(words)
        super().__init__("the voice pack has no clip for: " + ", ".join(self.words))


@dataclass
class Manifest:
    name: str = "unnamed"
    language: str = "vi"
    sample_rate: int = DEFAULT_RATE
    clips: dict[str, str | dict] = field(default_factory=dict)

    @classmethod
    def read(cls, folder: Path) -> Manifest:
        path = Path(folder) / MANIFEST
        if not path.is_file():
            raise PackError(f"{folder}: no {MANIFEST} (is this a voice pack?)")
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise PackError(f"{path}: not valid TOML: {exc}") from None
        unknown = set(raw) - {"format", "name", "language", "sample_rate", "description", "clips"}
        if unknown:
            raise PackError(f"{path}: unknown key(s) {', '.join(sorted(unknown))}")
        if raw.get("format", FORMAT) != FORMAT:
            raise PackError(f"{path}: format {raw.get('format')} is not supported (this version reads {FORMAT})")
        clips = {}
        for key, value in (raw.get("clips") or {}).items():
            if not isinstance(value, (str, dict)):
                raise PackError(f"{path}: clip {key!r} must be a file name or a table")
            if isinstance(value, dict) and not ({"file"} <= set(value) or {"tone", "ms"} <= set(value)):
                raise PackError(f"{path}: clip {key!r} needs file = ... or tone = [...] and ms = ...")
            clips[normalise_key(key)] = value
        return cls(name=str(raw.get("name", "unnamed")), language=str(raw.get("language", "vi")),
                   sample_rate=int(raw.get("sample_rate", DEFAULT_RATE)), clips=clips)

    def write(self, folder: Path, description: str = "") -> Path:
        lines = [f"format = {FORMAT}", f"name = {_q(self.name)}", f"language = {_q(self.language)}",
                 f"sample_rate = {self.sample_rate}"]
        if description:
            lines.append(f"description = {_q(description)}")
        lines += ["", "[clips]"]
        for key in sorted(self.clips):
            v = self.clips[key]
            if isinstance(v, str):
                lines.append(f"{_q(key)} = {_q(v)}")
            elif "file" in v:
                lines.append(f"{_q(key)} = {{ file = {_q(v['file'])} }}")
            else:
                lines.append(f"{_q(key)} = {{ tone = [{', '.join(str(float(f)) for f in v['tone'])}], ms = {v['ms']} }}")
        path = Path(folder) / MANIFEST
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return path


def _q(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def normalise_key(key: str) -> str:
    return " ".join(normalise(w) for w in key.split() if normalise(w))


def required_words(template: str = DEFAULT_TEMPLATE, dialects: Iterable[Dialect] = DIALECTS,
                   letters: str = "".join(LETTER_NAMES), chime: bool = True) -> list[str]:
    """Every key a pack needs to speak this template, these prefixes and every number 0-9999."""
    need: set[str] = set(template_words(template))
    for d in dialects:
        need |= all_number_words(d)
    need |= set(letter_words(letters))
    if chime:
        need.add(CHIME)
    return sorted(need)


@dataclass
class CheckReport:
    missing: list[str]
    broken: dict[str, str]  # key -> why its clip cannot be loaded
    extra: list[str]

    @property
    def ok(self) -> bool:
        return not self.missing and not self.broken


def check(folder: Path, needed: Iterable[str]) -> CheckReport:
    manifest = Manifest.read(folder)
    needed = [normalise_key(w) for w in needed]
    missing = [w for w in needed if w not in manifest.clips]
    broken = {}
    for key in manifest.clips:
        try:
            clip = _load_clip(Path(folder), manifest, key)
            if not clip:
                broken[key] = "clip is empty"
        except (OSError, ValueError, EOFError, Exception) as exc:  # noqa: BLE001 - wave raises wave.Error
            broken[key] = str(exc)
    extra = sorted(set(manifest.clips) - set(needed))
    return CheckReport(missing, broken, extra)


def _load_clip(folder: Path, manifest: Manifest, key: str) -> array:
    v = manifest.clips[key]
    if isinstance(v, dict) and "tone" in v:
        return audio.tone([float(f) for f in v["tone"]], float(v["ms"]), manifest.sample_rate)
    name = v if isinstance(v, str) else v["file"]
    path = (folder / name).resolve()
    samples, rate = audio.read_wav(path)
    return audio.resample(samples, rate, manifest.sample_rate)


class VoicePack:
    """A loaded pack: every clip in memory at the pack's rate, ready to join."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.manifest = Manifest.read(self.folder)
        self.rate = self.manifest.sample_rate
        self.clips: dict[str, array] = {}
        self.errors: dict[str, str] = {}
        for key in self.manifest.clips:
            try:
                self.clips[key] = _load_clip(self.folder, self.manifest, key)
            except Exception as exc:  # noqa: BLE001 - one bad file must not silence the hall
                self.errors[key] = str(exc)
                log.error("voice pack %s: clip %r unusable: %s", self.folder, key, exc)
        self._longest = max((len(k.split()) for k in self.clips), default=1)

    def __contains__(self, key: str) -> bool:
        return normalise_key(key) in self.clips

    def lookup(self, words: Sequence[str]) -> list[tuple[str, array]]:
        """The clips speaking ``words``, longest phrase first; raises MissingWords."""
        keys = [normalise(w) for w in words]
        out: list[tuple[str, array]] = []
        missing: list[str] = []
        i = 0
        while i < len(keys):
            for n in range(min(self._longest, MAX_PHRASE_WORDS, len(keys) - i), 0, -1):
                key = " ".join(keys[i:i + n])
                if key in self.clips:
                    out.append((key, self.clips[key]))
                    i += n
                    break
            else:
                missing.append(keys[i])
                i += 1
        if missing:
            raise MissingWords(sorted(set(missing)))
        return out

    def chime(self) -> tuple[str, array] | None:
        clip = self.clips.get(CHIME)
        return (CHIME, clip) if clip is not None else None


# ----------------------------------------------------------------------------- building


def espeak_binary() -> str | None:
    return shutil.which("espeak-ng")


def slug(key: str) -> str:
    """An ASCII file name for a key: 'mười' -> 'muoi-<hash>' (the hash keeps 'ba' and 'bà' apart)."""
    base = unicodedata.normalize("NFKD", key.replace("đ", "d").replace("Đ", "D"))
    ascii_ = "".join(c for c in base if c.isascii() and (c.isalnum() or c == " ")).strip().replace(" ", "-")
    return f"{ascii_ or 'clip'}-{hashlib.sha1(key.encode()).hexdigest()[:6]}"


def speak_to_wav(text: str, path: Path, voice: str = "vi", speed: int = 150, pitch: int = 50) -> None:
    exe = espeak_binary()
    if exe is None:
        raise PackError("espeak-ng is not installed (Debian: apt-get install espeak-ng)")
    # a guard against a hung espeak-ng, not a speed goal: a Pi says a word in a fraction of a second, a
    # busy emulated box (images/build) in tens of seconds
    try:
        subprocess.run([exe, "-v", voice, "-s", str(speed), "-p", str(pitch), "-w", str(path), text],
                       check=True, capture_output=True, timeout=180)
    except subprocess.CalledProcessError as exc:
        raise PackError(f"espeak-ng failed for {text!r} (exit {exc.returncode}): "
                        f"{exc.stderr.decode(errors='replace').strip()[-300:]}") from None
    except subprocess.TimeoutExpired:
        raise PackError(f"espeak-ng did not finish {text!r} within 180 s") from None


def process_clip(samples: array, rate: int, target_rate: int, target_dbfs: float = -20.0) -> array:
    """Trim, resample, even out loudness: what every generated (or imported) clip goes through."""
    samples = audio.trim_silence(samples, rate)
    samples = audio.resample(samples, rate, target_rate)
    return audio.normalise_loudness(samples, target_dbfs)


def build(folder: Path, words: Iterable[str] | None = None, *, dialect: Dialect = "northern", speed: int = 150,
          rate: int = DEFAULT_RATE, name: str = "vi-default", chime: bool = True,
          target_dbfs: float = -20.0) -> Manifest:
    """Generate a pack with espeak-ng: one clip per word (default: every word ``required_words`` lists).

    Keys already in an existing manifest that point at files outside ``clips/``
    (a site's own recordings) are kept.
    """
    folder = Path(folder)
    words = sorted({normalise_key(w) for w in (words if words is not None else required_words())} - {CHIME})
    old = Manifest.read(folder) if (folder / MANIFEST).is_file() else None
    manifest = Manifest(name=name, language="vi", sample_rate=rate)
    (folder / "clips").mkdir(parents=True, exist_ok=True)
    voice = ESPEAK_VOICES[dialect]
    with tempfile.TemporaryDirectory() as tmp:
        for key in words:
            raw_path = Path(tmp) / "raw.wav"
            speak_to_wav(key, raw_path, voice=voice, speed=speed)
            samples, src_rate = audio.read_wav(raw_path)
            clip = process_clip(samples, src_rate, rate, target_dbfs)
            if not clip:
                raise PackError(f"espeak-ng produced silence for {key!r}")
            rel = f"clips/{slug(key)}.wav"
            audio.write_wav(folder / rel, clip, rate)
            manifest.clips[key] = rel
    if chime:
        rel = "clips/chime.wav"
        audio.write_wav(folder / rel, audio.tone([880.0, 698.5, 523.3], 900, rate, level=0.35), rate)
        manifest.clips[CHIME] = rel
    if old is not None:
        for key, v in old.clips.items():
            name_ = v if isinstance(v, str) else v.get("file", "")
            if key not in manifest.clips or (name_ and not str(name_).startswith("clips/")):
                manifest.clips[key] = v
    manifest.write(folder, description=f"Generated by motcua from espeak-ng voice {voice}; replace any clip "
                                       "with a recording by pointing its key at your own file.")
    return manifest


def synthetic(folder: Path, words: Iterable[str], *, rate: int = 8000, word_ms: float = 60,
              chime_ms: float = 120) -> Manifest:
    """A pack of tones, no speech: each word its own pitch. For tests and boxes without espeak-ng."""
    manifest = Manifest(name="synthetic", language="vi", sample_rate=rate)
    for key in sorted({normalise_key(w) for w in words}):
        if key == CHIME:
            continue
        h = int(hashlib.sha1(key.encode()).hexdigest()[:4], 16)
        manifest.clips[key] = {"tone": [300.0 + h % 900], "ms": word_ms}
    manifest.clips[CHIME] = {"tone": [880.0, 660.0], "ms": chime_ms}
    manifest.write(folder, description="Synthetic tones, one per word.")
    return manifest
