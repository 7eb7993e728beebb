"""sd_notify without libsystemd: a datagram to $NOTIFY_SOCKET.

Outside systemd (no NOTIFY_SOCKET) every call is a no-op, so the daemons run
the same on a laptop.
"""

from __future__ import annotations

import logging
import os
import socket

log = logging.getLogger(__name__)


class SystemdNotifier:
    def __init__(self, environ: dict[str, str] | None = None):
        env = os.environ if environ is None else environ
        addr = env.get("NOTIFY_SOCKET", "")
        if addr.startswith("@"):  # abstract namespace socket
            addr = "\0" + addr[1:]
        self._addr = addr or None
        usec = env.get("WATCHDOG_USEC")
        pid = env.get("WATCHDOG_PID")
        enabled = usec is not None and usec.isdigit() and (not pid or pid == str(os.getpid()))
        self.watchdog_s: float | None = int(usec) / 1e6 if usec is not None and enabled else None
        self._sock: socket.socket | None = None

    @property
    def enabled(self) -> bool:
        return self._addr is not None

    def notify(self, *assignments: str) -> None:
        """Send e.g. notify('READY=1', 'STATUS=connected'). Newlines in values are flattened."""
        if self._addr is None:
            return
        text = "\n".join(a.replace("\n", " ") for a in assignments)
        try:
            if self._sock is None:
                self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            self._sock.sendto(text.encode(), self._addr)
        except OSError as exc:  # systemd gone or socket full: never fatal
            log.debug("sd_notify failed: %s", exc)

    def ready(self, status: str) -> None:
        self.notify("READY=1", f"STATUS={status}")

    def status(self, status: str) -> None:
        self.notify(f"STATUS={status}")

    def watchdog(self) -> None:
        self.notify("WATCHDOG=1")

    def stopping(self, status: str = "stopping") -> None:
        self.notify("STOPPING=1", f"STATUS={status}")
