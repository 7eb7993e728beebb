"""`make demo` must keep working: a short, fast run of the same code path."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path


def test_demo_runs_a_small_day(tmp_path):
    r = subprocess.run([sys.executable, "-m", "motcua.cli", "demo", "--citizens", "12", "--speed", "8",
                        "--output", str(tmp_path / "out")], capture_output=True, text=True, timeout=180)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    out = r.stdout
    assert "Trung tâm Phục vụ hành chính công phường Long Châu: 8 areas, 10 counters" in out
    assert "«Mời công dân có số " in out
    # the web service ran too: the console's address, and the first ticket's queue page (its QR code)
    assert re.search(r"the manager's console: http://127\.0\.0\.1:\d+/console", out)
    assert re.search(r"web +the citizen's page of [A-Z]\d+: http://127\.0\.0\.1:\d+/ve/[A-Za-z0-9_-]{22}", out)
    totals = re.search(r"tickets issued (\d+), served (\d+), no-shows (\d+)", out)
    issued, served, no_shows = map(int, totals.groups())
    assert issued == 12 and served + no_shows == 12, out[-1500:]
    # the citizens rated at the counters' pads, and every rating reached the dispatcher
    assert re.search(r"pad \d+ +A\d+: «(Rất hài lòng|Hài lòng|Không hài lòng)»", out)
    report = out.split("Satisfaction (target: at least 75% satisfied", 1)[1]
    assert re.search(r"counter \d+ +\d+\.\d%", report) and "Tư pháp - hộ tịch" in report
    # every call was announced, and each announcement saved as a WAV
    calls = len(re.findall(r"\bcalls [A-Z]\d+", out))
    wavs = sorted((tmp_path / "out" / "announcements").glob("*.wav"))
    assert calls > 0 and len(wavs) == calls
    assert f"announcements: {calls} played and saved" in out
    # the officers pressed their counter boxes' buttons: each LED matrix holds its last frame, and the
    # hall board (no display here) saved a frame per call and the final board
    frames = list((tmp_path / "out" / "matrix").glob("counter-*.png"))
    assert len([p for p in frames if not p.stem.endswith("-number")]) == 10
    # and beside it the last number it showed, for every box that called one
    assert [p for p in frames if p.stem.endswith("-number")]
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        assert list((tmp_path / "out" / "board").glob("call-*.png"))
        assert (tmp_path / "out" / "board" / "final.png").stat().st_size > 10000
    # the citizens took their numbers on the kiosk, and every printed ticket was saved as the paper shows it
    assert len(re.findall(r"kiosk +ticket [A-Z]\d+.*\(printed\)", out)) == 12
    tickets = sorted((tmp_path / "out" / "tickets").glob("*.png"))
    assert len(tickets) == 12 and all(p.stat().st_size > 2000 for p in tickets)
    # the day's leadership report, and `motcua report week` on the demo's database
    day = next((tmp_path / "out" / "reports").iterdir())
    assert "The day's report (XLSX, PDF, CSV, charts) in" in out
    assert len(list(day.glob("bao-cao-ngay-*.xlsx"))) == 1 and len(list(day.glob("bao-cao-ngay-*.pdf"))) == 1
    r = subprocess.run([sys.executable, "-m", "motcua.cli", "report", "week", "--config", str(Path(__file__).resolve().parent.parent / "examples" / "hall.toml"),
                        "--database", str(tmp_path / "out" / "dispatcher.db"), "--out", str(tmp_path / "week")],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "Trung tâm Phục vụ hành chính công phường Long Châu" in r.stdout and "Tỷ lệ hài lòng:" in r.stdout
    assert re.search(r"Số phiếu đã cấp: +12\b", r.stdout), r.stdout
    assert list((tmp_path / "week").glob("*/bao-cao-tuan-*.pdf"))
