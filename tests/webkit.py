"""The web service as a real process, and a real headless Chromium from Debian's packages to look at it.

No browser or driver is ever downloaded: Chromium is /usr/bin/chromium and
the driver /usr/bin/chromedriver (``make install`` installs both), named
explicitly so Selenium's own driver manager never runs.
"""

from __future__ import annotations

import http.cookiejar
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from daemonkit import wait_until

from motcua.localbroker import REPO, LocalBroker, free_port, stop_process

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
PHONE = (390, 844)  # a common phone's CSS pixels


def add_user(users_file: Path, username: str, password: str, role: str, name: str = "") -> None:
    r = subprocess.run([sys.executable, "-m", "motcua.cli", "web", "add-user", username, "--role", role,
                        "--name", name or username, "--password-stdin", "--users-file", str(users_file)],
                       input=password + "\n", capture_output=True, text=True, timeout=60, cwd=REPO)
    assert r.returncode == 0, r.stderr


class WebProcess:
    """``python -m web`` as systemd would run it, with its own broker login (role ``web``)."""

    def __init__(self, broker: LocalBroker, site: str, workdir: Path, database: Path | None, device_id: str = "web-1",
                 **env: str):
        self.broker, self.site, self.workdir = broker, site, workdir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.users_file = workdir / "web-users.json"
        self.log_path = workdir / "web.log"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("MOTCUA_")}
        self.env.update(broker.env(device_id, "web"))
        self.env.update(MOTCUA_SITE=site, MOTCUA_DEVICE_ID=device_id, MOTCUA_LISTEN_PORT=str(self.port),
                        MOTCUA_DATABASE=str(database) if database else "", MOTCUA_USERS_FILE=str(self.users_file),
                        MOTCUA_SECRET_FILE=str(workdir / "web-secret"), MOTCUA_AUDIT_FILE=str(workdir / "audit.jsonl"),
                        MOTCUA_HEALTH_INTERVAL_S="1", MOTCUA_REPORTS_DIR=str(workdir / "reports"),
                        **{"MOTCUA_HALL_SETTINGS": str(REPO / "examples" / "hall.toml"), **env})
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 30.0, context=None) -> WebProcess:
        """``context``: the SSL context that trusts the site CA, when the service listens with HTTPS."""
        with open(self.log_path, "a") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "web"], env=self.env, cwd=REPO, stdout=log,
                                         stderr=subprocess.STDOUT)
        def healthy() -> bool:  # the port opens, then the broker login: nothing to wait on but the page
            if self.proc is None or self.proc.poll() is not None:
                raise RuntimeError(f"motcua-web exited: {self.log()[-2000:]}")
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=1, context=context) as r:
                    return r.status == 200
            except (OSError, urllib.error.HTTPError):
                return False

        wait_until(healthy, timeout, "motcua-web's /healthz")
        return self
        raise TimeoutError(f"motcua-web not ready within {timeout} s: {self.log()[-2000:]}")

    def stop(self) -> int | None:
        if self.proc is None:
            return None
        rc = stop_process(self.proc, timeout=15)
        self.proc = None
        return rc

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


class Http:
    """A plain HTTP client with its own cookies, for what a browser would not do (forged posts)."""

    def __init__(self, base: str):
        self.base = base
        self.jar = http.cookiejar.CookieJar()

        class NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *a, **k):
                return None

        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar), NoRedirect)

    def request(self, path: str, form: dict | None = None, timeout: float = 10) -> tuple[int, dict, str]:
        data = urllib.parse.urlencode(form).encode() if form is not None else None
        try:
            with self.opener.open(self.base + path, data=data, timeout=timeout) as r:
                return r.status, dict(r.headers), r.read().decode(errors="replace")
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read().decode(errors="replace")

    def set_cookie(self, name: str, value: str) -> None:
        host = urllib.parse.urlparse(self.base).hostname
        self.jar.set_cookie(http.cookiejar.Cookie(0, name, value, None, False, host, False, False, "/", True, False,
                                                  None, False, None, None, {}))


def chromium(width: int = 1400, height: int = 1000, mobile: bool = False):
    """A fresh headless Chromium with a throw-away profile; ``.quit()`` it."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    os.environ.setdefault("SE_OFFLINE", "true")  # Selenium Manager must never reach for the network
    profile = tempfile.mkdtemp(prefix="motcua-chromium-")
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage", "--lang=vi",
                f"--user-data-dir={profile}", f"--window-size={width},{height}"):
        opts.add_argument(arg)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=opts)
    if mobile:  # a phone's viewport and pixel ratio (a desktop window cannot be made this narrow)
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
            "width": width, "height": height, "deviceScaleFactor": 2, "mobile": True})
    quit_ = driver.quit

    def quit_and_clean() -> None:
        try:
            quit_()
        finally:
            shutil.rmtree(profile, ignore_errors=True)

    driver.quit = quit_and_clean
    return driver


def sse_events(url: str, count: int = 1, timeout: float = 10.0, cookie: str | None = None,
               headers: dict | None = None) -> tuple[int, list[tuple[str, str]]]:
    """Open a Server-Sent Events stream and return its status and its first ``count`` events (name, data)."""
    import http.client

    u = urllib.parse.urlparse(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
    try:
        conn.request("GET", u.path, headers={**({"Cookie": cookie} if cookie else {}), **(headers or {})})
        r = conn.getresponse()
        if r.status != 200:
            return r.status, []
        events, name, data = [], "message", []
        while len(events) < count:
            line = r.fp.readline().decode().rstrip("\n")
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].lstrip())
            elif line == "" and data:
                events.append((name, "\n".join(data)))
                name, data = "message", []
        return 200, events
    finally:
        conn.close()
