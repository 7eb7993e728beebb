"""The web service in ``motcua demo``: the real ``motcua-web`` process, on loopback, with a demo account."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
import urllib.request
import webbrowser
from pathlib import Path

from motcua.localbroker import REPO, LocalBroker, free_port, stop_process

from .accounts import add_user

DEMO_USER = "quanly"


class DemoWeb:
    def __init__(self, broker: LocalBroker, out: Path, site: str = "demo"):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.password = secrets.token_urlsafe(9)
        users = out / "web-users.json"
        users.unlink(missing_ok=True)
        add_user(users, DEMO_USER, self.password, "supervisor", "Quản lý trung tâm (demo)")
        env = {k: v for k, v in os.environ.items() if not k.startswith("MOTCUA_")}
        env.update(broker.env("web-1", "web"))
        env.update(MOTCUA_SITE=site, MOTCUA_DEVICE_ID="web-1", MOTCUA_LISTEN_PORT=str(self.port),
                   MOTCUA_DATABASE=str(out / "dispatcher.db"), MOTCUA_USERS_FILE=str(users),
                   MOTCUA_SECRET_FILE=str(out / "web-secret"), MOTCUA_AUDIT_FILE=str(out / "web-audit.jsonl"),
                   MOTCUA_HALL_SETTINGS=str(REPO / "examples" / "hall.toml"),
                   MOTCUA_REPORTS_DIR=str(out / "web-reports"))
        self.log = out / "web.log"
        with open(self.log, "w") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "web"], env=env, cwd=REPO, stdout=log,
                                         stderr=subprocess.STDOUT)

    def wait_ready(self, timeout: float = 30.0) -> DemoWeb:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"motcua-web exited ({self.proc.returncode}); see {self.log}")
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=1):
                    return self
            except OSError:
                time.sleep(0.1)  # starting up; bounded by the deadline
        raise TimeoutError(f"motcua-web did not answer within {timeout} s; see {self.log}")

    def citizen_url(self, token: str) -> str:
        return f"{self.url}/ve/{token}"

    @staticmethod
    def show(url: str, display: bool) -> None:
        """With a display, open the page in the desktop's browser; the URL is printed either way."""
        if display:
            try:
                webbrowser.open(url)
            except webbrowser.Error:
                pass

    def stop(self) -> None:
        stop_process(self.proc)
