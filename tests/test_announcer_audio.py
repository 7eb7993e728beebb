"""The rendered audio of calls: length, gaps between clips, and no overlap between consecutive calls.

Measured on real output: the WAV the announcer records, and the stream SDL's
``disk`` audio driver writes, with calls arriving over a real Mosquitto.
"""

from __future__ import annotations

import os
from array import array

import pytest

from announcer import audio
from announcer.phrases import Wording
from announcer.service import AnnouncerService
from announcer.voicepack import VoicePack
from announcerkit import RATE, Recorder, publish_call, runs, settings, start, tone_pack

WORD_MS, CHIME_MS, GAP_MS, PAUSE_MS, CHIME_GAP_MS = 40, 80, 20, 100, 50
TOL = int(0.004 * RATE)  # edges of a faded tone: a few ms


def ms(n: float) -> int:
    return int(round(n * RATE / 1000))


@pytest.fixture
def pack(tmp_path):
    return tone_pack(tmp_path / "pack", word_ms=WORD_MS, chime_ms=CHIME_MS)


def test_render_one_call_length_and_gaps(pack):
    p = VoicePack(pack)
    words = Wording().words("A12", 3)
    r = audio.render_announcement(p.lookup(words), p.rate, repeats=2, gap_ms=GAP_MS, pause_ms=PAUSE_MS,
                                  chime=p.chime(), chime_gap_ms=CHIME_GAP_MS)
    n = len(words)
    assert r.keys == ["chime"] + [w.lower() for w in words] * 2
    expected = ms(CHIME_MS) + ms(CHIME_GAP_MS) + 2 * (n * ms(WORD_MS) + (n - 1) * ms(GAP_MS)) + ms(PAUSE_MS)
    assert len(r.samples) == expected
    segs = r.segments
    assert segs[1].start - segs[0].end == ms(CHIME_GAP_MS)
    gaps = [b.start - a.end for a, b in zip(segs[1:], segs[2:])]
    assert gaps.count(ms(PAUSE_MS)) == 1 and set(gaps) == {ms(GAP_MS), ms(PAUSE_MS)}


def test_recorded_wav_of_one_call(broker, site, pack, tmp_path, publisher, watcher_factory):
    rec_dir = tmp_path / "wav"
    s = settings(broker, site, pack, wording={"repeats": 2}, audio={"record_dir": rec_dir})
    service = start(AnnouncerService(s), watcher_factory)
    recorder = Recorder(service)
    try:
        publish_call(publisher, site, "A12", 3)
        (played,) = recorder.wait(1)
    finally:
        service.stop()
    wavs = list(rec_dir.glob("*.wav"))
    assert len(wavs) == 1 and "A12" in wavs[0].name
    samples, rate = audio.read_wav(wavs[0])
    assert rate == RATE
    n = len(played.words)
    assert n == 12  # Mời công dân có số a mười hai đến quầy số ba
    duration = CHIME_MS + CHIME_GAP_MS + 2 * (n * WORD_MS + (n - 1) * GAP_MS) + PAUSE_MS
    assert abs(len(samples) - ms(duration)) <= 1
    found = runs(samples)
    assert len(found) == 1 + 2 * n, found
    lengths = [e - s for s, e in found]
    assert abs(lengths[0] - ms(CHIME_MS)) <= 2 * TOL
    assert all(abs(x - ms(WORD_MS)) <= 2 * TOL for x in lengths[1:])
    gaps = [b[0] - a[1] for a, b in zip(found, found[1:])]
    assert abs(gaps[0] - ms(CHIME_GAP_MS)) <= 2 * TOL
    word_gaps = gaps[1:n] + gaps[n + 1:]
    assert all(abs(g - ms(GAP_MS)) <= 2 * TOL for g in word_gaps), word_gaps
    assert abs(gaps[n] - ms(PAUSE_MS)) <= 2 * TOL


def test_consecutive_calls_never_overlap(broker, site, pack, tmp_path, publisher, monkeypatch, watcher_factory):
    raw = tmp_path / "out.raw"
    monkeypatch.setenv("SDL_DISKAUDIOFILE", str(raw))
    s = settings(broker, site, pack, audio={"driver": "disk"})
    service = start(AnnouncerService(s), watcher_factory)
    recorder = Recorder(service)
    try:
        publish_call(publisher, site, "A15", 1)
        publish_call(publisher, site, "B2001", 4)
        first, second = recorder.wait(2)
    finally:
        service.stop()
    assert [first.call.number, second.call.number] == ["A15", "B2001"]
    # the second went to the mixer only after the first had played to its end
    assert second.handed_at >= first.handed_at + first.rendered.duration_s - 0.01
    out = array("h")
    out.frombytes(raw.read_bytes()[: os.path.getsize(raw) // 2 * 2])
    found = runs(out)
    per_call = [1 + len(first.words), 1 + len(second.words)]
    assert len(found) == sum(per_call), (len(found), per_call)
    # the stream holds the first call's clips, then the second's, each at its own length
    expected = [ms(CHIME_MS)] + [ms(WORD_MS)] * len(first.words) + [ms(CHIME_MS)] + [ms(WORD_MS)] * len(second.words)
    assert all(abs((e - s) - x) <= 2 * TOL for (s, e), x in zip(found, expected))
    boundary = found[per_call[0]][0] - found[per_call[0] - 1][1]
    assert boundary >= 0


def test_gap_setting_changes_the_gaps(pack):
    p = VoicePack(pack)
    clips = p.lookup(Wording().words("5", 1))
    tight = audio.render_announcement(clips, p.rate, gap_ms=0, chime=None)
    loose = audio.render_announcement(clips, p.rate, gap_ms=100, chime=None)
    assert len(tight.samples) == len(clips) * ms(WORD_MS)
    assert len(loose.samples) - len(tight.samples) == (len(clips) - 1) * ms(100)
    assert len(runs(tight.samples, min_silence=ms(10))) == 1  # joined without audible gaps
