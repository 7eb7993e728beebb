"""Every supervisor action, with the staff member who did it: a JSON line each, and the log."""

from __future__ import annotations

import json
import logging
import threading
from collections import deque
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

log = logging.getLogger("web.audit")


@dataclass(frozen=True)
class Entry:
    at: str
    staff: str
    action: str
    target: str
    ok: bool
    detail: str


class AuditLog:
    def __init__(self, path: Path | None, keep: int = 20):
        self.path = path
        self.recent: deque[Entry] = deque(maxlen=keep)
        self._lock = threading.Lock()

    def record(self, staff: str, action: str, target: str, ok: bool, detail: str = "") -> Entry:
        entry = Entry(datetime.now(timezone.utc).isoformat(timespec="seconds"), staff, action, target, ok, detail)
        log.info("staff %s: %s %s -> %s%s", staff, action, target, "ok" if ok else "refused",
                 f" ({detail})" if detail else "")
        with self._lock:
            self.recent.appendleft(entry)
            if self.path is not None:
                try:
                    with open(self.path, "a", encoding="utf-8") as f:
                        f.write(json.dumps(asdict(entry), ensure_ascii=False) + "\n")
                except OSError as exc:  # the action happened; say loudly that its record did not
                    log.error("cannot append to the audit file %s: %s", self.path, exc)
        return entry
