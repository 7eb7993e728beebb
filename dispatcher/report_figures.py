"""The reports' summary figures, published retained on ``hall/report/{period}`` by the dispatcher.

Computed by ``python -m reports.summary`` in a child process over the database (read-only, WAL:
it never blocks the hall), at the lowest CPU priority, so the queue authority neither waits for a
year's arithmetic nor keeps its memory; the dispatcher only validates the result and publishes it.
Today's and this week's figures are refreshed every ``reports.publish_interval_s``, the longer
periods every ``reports.publish_long_interval_s``, and everything right after (re)connecting.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable

from motcua.protocol import ReportSummary

from .config import DispatcherSettings

log = logging.getLogger("dispatcher.reports")

# The child runs as nice as a process can be, from its first instruction (the `nice` command, before
# Python starts and imports): its seconds of arithmetic can wait, and a keypad on a box with two or four
# cores should not wait behind them. At 10, applied after its imports, a keypad's 'next' waited 10-15 ms
# behind it at the 99th percentile in the benchmark, against 4-6 ms when it did not run.
CHILD_NICENESS = 19

SHORT = ("day", "week")
LONG = ("reporting-week", "month", "quarter", "half", "year")


class ReportFigures:
    def __init__(self, settings: DispatcherSettings, publish: Callable[[str, ReportSummary], object]):
        self.settings = settings
        self.publish = publish  # (period kind, summary): the service publishes it retained
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._child: subprocess.Popen | None = None
        self.last_error: str | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="motcua-report-figures", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        child = self._child
        if child is not None and child.poll() is None:
            child.kill()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def wake(self) -> None:
        """Publish everything now (after a (re)connect: the broker may have lost its retained messages)."""
        self._wake.set()

    def _run(self) -> None:
        cfg = self.settings.reports
        next_short = next_long = float("inf")  # until the first connection wakes us
        while not self._stop.is_set():
            now = time.monotonic()
            if self._wake.is_set():  # not at once: a starting hall has more urgent work
                self._wake.clear()
                next_short = next_long = now + cfg.publish_delay_s
                now = time.monotonic()
            kinds = ([*SHORT] if now >= next_short else []) + ([*LONG] if now >= next_long else [])
            if kinds:
                self.refresh(kinds)
                if now >= next_short:
                    next_short = now + cfg.publish_interval_s
                if now >= next_long:
                    next_long = now + cfg.publish_long_interval_s
            due = min(next_short, next_long)
            self._wake.wait(None if due == float("inf") else max(0.5, due - time.monotonic()))

    def refresh(self, kinds: list[str]) -> list[ReportSummary]:
        cfg, hall = self.settings.reports, self.settings.hall
        cutoff = cfg.cutoff
        nice = shutil.which("nice")
        cmd = [*([nice, "-n", str(CHILD_NICENESS)] if nice else []),
               sys.executable, "-m", "reports.summary", "--database", str(self.settings.database),
               "--timezone", hall.timezone, "--kinds", ",".join(kinds),
               "--satisfaction-target", str(cfg.satisfaction_target_pct),
               "--cutoff-weekday", str(cutoff.weekday), "--cutoff-time", cutoff.at.isoformat(),
               "--nice", "0" if nice else str(CHILD_NICENESS)]
        if cfg.wait_target_min is not None:
            cmd += ["--wait-target", str(cfg.wait_target_min)]
        try:
            self._child = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            stdout, stderr = self._child.communicate(timeout=600)
        except (OSError, subprocess.TimeoutExpired) as exc:
            if self._child is not None:
                self._child.kill()
                self._child.wait()
            self.last_error = f"report figures: {exc}"
            log.warning("%s", self.last_error)
            return []
        if self._stop.is_set():
            return []
        if self._child.returncode != 0:
            self.last_error = f"report figures failed: {(stderr.strip().splitlines() or ['exit status'])[-1]}"
            log.warning("%s", self.last_error)
            return []
        out = []
        for line in stdout.splitlines():
            try:
                s = ReportSummary.model_validate_json(line)
            except ValueError as exc:
                log.warning("report figures: unreadable summary: %s", exc)
                continue
            self.publish(s.period, s)
            out.append(s)
        self.last_error = None
        log.info("report figures published: %s", ", ".join(s.period_id for s in out))
        return out
