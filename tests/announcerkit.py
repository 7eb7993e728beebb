"""Helpers for the announcer tests: synthetic packs, settings, WAV analysis, an in-process announcer."""

from __future__ import annotations

import threading
from array import array
from pathlib import Path

from announcer import voicepack as vp
from announcer.config import AnnouncerSettings
from announcer.service import AnnouncerService, Played
from motcua.protocol import CallEvent, Topics

RATE = 8000


def tone_pack(folder: Path, word_ms: float = 40, chime_ms: float = 80, rate: int = RATE) -> Path:
    """Every word the announcer may need, each a short tone: fast, and exact to measure."""
    vp.synthetic(folder, vp.required_words(), rate=rate, word_ms=word_ms, chime_ms=chime_ms)
    return folder


def settings(broker, site: str, pack: Path, **over) -> AnnouncerSettings:
    base = dict(site=site, device_id=f"announcer-{site}", mqtt=broker.mqtt(f"announcer-{site}", "announcer"),
                health_interval_s=1,
                voice={"pack": pack, "gap_ms": 20, "pause_ms": 100, "chime_gap_ms": 50},
                wording={"repeats": 1}, audio={"driver": "dummy", "buffer": 256})
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            base[key] = {**base[key], **value}
        else:
            base[key] = value
    return AnnouncerSettings(**base)


class Recorder:
    """Collects Played announcements; wait for a number of them."""

    def __init__(self, service: AnnouncerService):
        self.played: list[Played] = []
        self.cond = threading.Condition()
        service.listeners.append(self._add)

    def _add(self, p: Played) -> None:
        with self.cond:
            self.played.append(p)
            self.cond.notify_all()

    def wait(self, n: int, timeout: float = 15.0) -> list[Played]:
        with self.cond:
            assert self.cond.wait_for(lambda: len(self.played) >= n, timeout), \
                f"only {len(self.played)} of {n} announcements within {timeout} s"
            return list(self.played)


def runs(samples: array, threshold: int = 327, min_silence: int = 32) -> list[tuple[int, int]]:
    """Non-silent runs [start, end) of a signal: silence is |x| <= threshold for at least min_silence samples."""
    out: list[tuple[int, int]] = []
    start = None
    quiet = 0
    for i, s in enumerate(samples):
        if abs(s) > threshold:
            if start is None:
                start = i
            quiet = 0
        elif start is not None:
            quiet += 1
            if quiet >= min_silence:
                out.append((start, i - quiet + 1))
                start, quiet = None, 0
    if start is not None:
        out.append((start, len(samples) - quiet))
    return out


def start(service: AnnouncerService, watcher_factory) -> AnnouncerService:
    """Start and wait for its live 'online': published after its subscriptions, so calls now reach it."""
    topics = service.topics
    w = watcher_factory(topics.availability(service.settings.device_id))
    service.start()
    w.wait_for(lambda m: m.payload == b"online" and not m.retain, 10)
    return service


def publish_call(publisher, site: str, number: str, counter: int, **kw) -> CallEvent:
    ev = CallEvent(ticket_id=kw.pop("ticket_id", f"20260302-TP-{number}"), number=number, area="TP",
                   counter=counter, counter_name=f"Quầy {counter}", call_count=kw.pop("call_count", 1), **kw)
    publisher.publish(Topics(site).call_event, ev.to_json(), qos=1).wait_for_publish(5)
    return ev
