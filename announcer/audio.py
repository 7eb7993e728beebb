"""Samples, WAV files, joining clips into an announcement, and playback through pygame.mixer.

Audio inside motcua is mono, signed 16-bit, at the voice pack's sample rate, held
in ``array('h')``. Joining and silence are C-level array operations, so rendering
an announcement costs well under a millisecond per second of audio; only loading
(resampling, trimming, normalising) walks samples in Python, once, at start-up or
when a pack is built.

pygame is imported only when a :class:`Player` opens: hardware stays at the edge.
"""

from __future__ import annotations

import logging
import math
import operator
import os
import sys
import threading
import time
import wave
from array import array
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from pathlib import Path

log = logging.getLogger("announcer.audio")

FULL_SCALE = 32767


# ----------------------------------------------------------------------------- samples and files


def silence(n: int) -> array:
    return array("h", bytes(2 * max(0, n)))


def ms_to_samples(ms: float, rate: int) -> int:
    return int(round(ms * rate / 1000))


def tone(freqs: Sequence[float], ms: float, rate: int, level: float = 0.4) -> array:
    """A chime: the frequencies one after another, each an equal share of ``ms``, with soft edges."""
    out = array("h")
    each = max(1, ms_to_samples(ms / max(1, len(freqs)), rate))
    fade = min(each // 4, ms_to_samples(15, rate))
    for f in freqs:
        for i in range(each):
            env = min(1.0, i / fade, (each - 1 - i) / fade) if fade else 1.0
            # a little decay makes it sound like a bell rather than a beep
            decay = math.exp(-2.0 * i / each)
            out.append(int(FULL_SCALE * level * env * decay * math.sin(2 * math.pi * f * i / rate)))
    return out


def read_wav(path: Path) -> tuple[array, int]:
    """Any PCM WAV (8/16/24/32-bit, mono or multi-channel) as mono 16-bit samples and its rate."""
    with wave.open(str(path), "rb") as w:
        channels, width, rate, n = w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes()
        raw = w.readframes(n)
    if width == 1:
        samples = array("h", ((b - 128) << 8 for b in raw))
    elif width == 2:
        samples = array("h")
        samples.frombytes(raw[: len(raw) // 2 * 2])
        if sys.byteorder == "big":
            samples.byteswap()
    elif width in (3, 4):
        samples = array("h", (int.from_bytes(raw[i + width - 2:i + width], "little", signed=True)
                              for i in range(0, len(raw) - width + 1, width)))
    else:
        raise ValueError(f"{path}: unsupported sample width {width}")
    if channels > 1:
        samples = array("h", (int(sum(samples[i:i + channels]) / channels)
                              for i in range(0, len(samples) - channels + 1, channels)))
    return samples, rate


def write_wav(path: Path, samples: array, rate: int, channels: int = 1) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = samples
    if sys.byteorder == "big":
        data = array("h", samples)
        data.byteswap()
    tmp = path.with_name(path.name + ".tmp")
    with wave.open(str(tmp), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(data.tobytes())
    os.replace(tmp, path)
    return path


def resample(samples: array, src: int, dst: int) -> array:
    """Linear interpolation: good enough for speech clips recorded at 44.1 or 48 kHz."""
    if src == dst or not samples:
        return array("h", samples)
    n = max(1, int(len(samples) * dst / src))
    step = src / dst
    last = len(samples) - 1
    out = array("h", bytes(2 * n))
    for i in range(n):
        x = i * step
        j = int(x)
        if j >= last:
            out[i] = samples[last]
        else:
            frac = x - j
            out[i] = int(samples[j] + (samples[j + 1] - samples[j]) * frac)
    return out


def trim_silence(samples: array, rate: int, threshold: float = 0.02, margin_ms: float = 8, fade_ms: float = 4) -> array:
    """Cut leading and trailing silence (below ``threshold`` of full scale), keep a margin, fade the edges."""
    limit = int(threshold * FULL_SCALE)
    start = next((i for i, s in enumerate(samples) if abs(s) > limit), None)
    if start is None:
        return array("h")
    end = next(i for i in range(len(samples) - 1, -1, -1) if abs(samples[i]) > limit)
    margin = ms_to_samples(margin_ms, rate)
    out = samples[max(0, start - margin): min(len(samples), end + 1 + margin)]
    fade = min(ms_to_samples(fade_ms, rate), len(out) // 2)
    for i in range(fade):
        g = i / fade
        out[i] = int(out[i] * g)
        out[-1 - i] = int(out[-1 - i] * g)
    return out


def rms(samples: Sequence[int]) -> float:
    if not samples:
        return 0.0
    return math.sqrt(sum(map(operator.mul, samples, samples)) / len(samples))


def dbfs(value: float) -> float:
    return 20 * math.log10(value / FULL_SCALE) if value > 0 else -math.inf


def normalise_loudness(samples: array, target_dbfs: float = -20.0, peak_dbfs: float = -1.0) -> array:
    """Scale so the RMS level is ``target_dbfs``, without letting the peak pass ``peak_dbfs``."""
    level = rms(samples)
    if level == 0:
        return array("h", samples)
    gain = FULL_SCALE * 10 ** (target_dbfs / 20) / level
    peak = max(max(samples), -min(samples))
    gain = min(gain, FULL_SCALE * 10 ** (peak_dbfs / 20) / peak)
    # the peak limit keeps every scaled sample within 16 bits when peak_dbfs <= 0: no clipping to do
    # (per-sample work in C, not in a Python loop: an announcer box builds its voice pack at install)
    if peak * gain > 32767:
        return array("h", (max(-32768, min(32767, int(s * gain))) for s in samples))
    return array("h", map(int, map(gain.__mul__, samples)))


# ----------------------------------------------------------------------------- rendering


@dataclass(frozen=True)
class Segment:
    key: str
    start: int  # sample index, inclusive
    end: int  # exclusive


@dataclass
class Rendered:
    samples: array
    rate: int
    segments: list[Segment] = field(default_factory=list)

    @property
    def duration_s(self) -> float:
        return len(self.samples) / self.rate

    @property
    def keys(self) -> list[str]:
        return [s.key for s in self.segments]


def join(parts: Sequence[tuple[str, array] | int], rate: int) -> Rendered:
    """Concatenate clips ``(key, samples)`` and silences (an int: that many samples) into one buffer."""
    out = array("h")
    segments = []
    for part in parts:
        if isinstance(part, int):
            out.extend(silence(part))
        else:
            key, clip = part
            segments.append(Segment(key, len(out), len(out) + len(clip)))
            out.extend(clip)
    return Rendered(out, rate, segments)


def render_announcement(clips: Sequence[tuple[str, array]], rate: int, *, repeats: int = 1, gap_ms: float = 30,
                        pause_ms: float = 800, chime: tuple[str, array] | None = None,
                        chime_gap_ms: float = 250) -> Rendered:
    """One announcement: [chime, chime gap] then the phrase's clips ``repeats`` times.

    Clips of a phrase are separated by ``gap_ms`` of silence, repeats by ``pause_ms``.
    """
    gap, pause = ms_to_samples(gap_ms, rate), ms_to_samples(pause_ms, rate)
    parts: list[tuple[str, array] | int] = []
    if chime is not None:
        parts += [chime, ms_to_samples(chime_gap_ms, rate)]
    for r in range(repeats):
        if r:
            parts.append(pause)
        for i, clip in enumerate(clips):
            if i and gap:
                parts.append(gap)
            parts.append(clip)
    return join(parts, rate)


# ----------------------------------------------------------------------------- playback


class AudioUnavailable(RuntimeError):
    pass


class Player:
    """pygame.mixer behind a small interface: ``open()``, ``play(rendered, volume, stop)``, ``close()``.

    One announcement at a time, from one thread (the service's worker): ``play``
    returns when the sound has finished, or early if ``stop`` is set.
    """

    def __init__(self, rate: int, driver: str | None = None, device: str | None = None, buffer: int = 1024):
        self.rate, self.driver, self.device, self.buffer = rate, driver, device, buffer
        self._mixer: Any = None  # pygame.mixer once open: imported late, so a box without sound still starts
        self._format: tuple[int, int, int] | None = None
        self.last_error: str | None = None
        self.on_handed: list = []  # callables(t_monotonic): a sound was just handed to the mixer
        self._lock = threading.Lock()

    @property
    def is_open(self) -> bool:
        return self._mixer is not None

    def open(self) -> None:
        if self._mixer is not None:
            return
        if self.driver:
            os.environ["SDL_AUDIODRIVER"] = self.driver
        os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
        try:
            import pygame.mixer as mixer

            # allowedchanges=0: SDL converts to the device for us, the buffer format is what we ask
            mixer.init(frequency=self.rate, size=-16, channels=1, buffer=self.buffer,
                       devicename=self.device, allowedchanges=0)
            fmt = mixer.get_init()
            if not fmt:
                raise AudioUnavailable("the mixer did not start")
            mixer.set_num_channels(1)
        except Exception as exc:  # pygame.error, ImportError
            self.last_error = f"audio output unavailable: {exc}"
            raise AudioUnavailable(self.last_error) from exc
        self._mixer, self._format = mixer, fmt
        self.last_error = None
        log.info("audio output open: %s Hz, %s bit, %s channel(s), driver %s", fmt[0], abs(fmt[1]), fmt[2],
                 os.environ.get("SDL_AUDIODRIVER", "default"))

    def _buffer(self, r: Rendered) -> bytes:
        assert self._format is not None
        freq, _, channels = self._format
        samples = r.samples if freq == r.rate else resample(r.samples, r.rate, freq)
        if channels > 1:
            inter = array("h", bytes(2 * len(samples) * channels))
            for c in range(channels):
                inter[c::channels] = samples
            samples = inter
        return samples.tobytes()

    def play(self, rendered: Rendered, volume: float = 1.0, stop: threading.Event | None = None) -> None:
        self.open()
        mixer = self._mixer
        try:
            sound = mixer.Sound(buffer=self._buffer(rendered))
            sound.set_volume(volume)
            channel = sound.play()
            handed = time.monotonic()
            if channel is None:
                raise AudioUnavailable("no mixer channel free")
        except AudioUnavailable as exc:
            self.last_error = str(exc)
            raise
        except Exception as exc:  # pygame.error: the device went away
            self.last_error = f"playback failed: {exc}"
            self.close()
            raise AudioUnavailable(self.last_error) from exc
        for cb in self.on_handed:
            cb(handed)
        stop = stop or threading.Event()
        duration = rendered.duration_s
        # sleep through most of it, then poll: no pygame event loop needed
        if stop.wait(max(0.0, duration - 0.05)):
            channel.stop()
            return
        # done when the mixer has taken the last sample and the sound's own length has passed
        # (the mixer may let go up to one buffer early; the next sound then starts on time, not over it)
        freq = self._format[0] if self._format is not None else self.rate
        deadline = time.monotonic() + 2.0 + self.buffer / freq
        end = handed + duration
        while (channel.get_busy() or time.monotonic() < end) and time.monotonic() < deadline:
            if stop.wait(0.005):
                channel.stop()
                return

    def close(self) -> None:
        if self._mixer is not None:
            try:
                self._mixer.quit()
            except Exception:  # noqa: BLE001
                pass
        self._mixer = None
        self._format = None
