"""The web service's parts without a browser: accounts, the login limit, the view, settings, HTTPS."""

from __future__ import annotations

import json
import ssl
import subprocess
import sys
import urllib.request
from datetime import datetime, timedelta, timezone

import pytest

from motcua.localbroker import REPO
from motcua.protocol import AreaSummary, CallEvent, Health, Ticket, TicketEvent

from web.accounts import AccountError, Accounts, LoginLimiter, add_user
from web.hallview import HallView, TrackedTicket, ahead_of, citizen_state
from web.history import Waiting

from webkit import WebProcess

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=timezone.utc)


# --------------------------------------------------------------------------- accounts


def test_passwords_are_stored_as_argon2id_and_verified(tmp_path):
    path = tmp_path / "users.json"
    add_user(path, "lan.nguyen", "một mật khẩu dài", "supervisor", "Nguyễn Thị Lan")
    stored = json.loads(path.read_text())["users"]["lan.nguyen"]
    assert stored["hash"].startswith("$argon2id$") and "một mật khẩu" not in path.read_text()
    assert path.stat().st_mode & 0o077 in (0o040, 0)  # never world-readable
    accounts = Accounts(path)
    assert accounts.verify("lan.nguyen", "một mật khẩu dài").full_name == "Nguyễn Thị Lan"
    assert accounts.verify("lan.nguyen", "một mật khẩu DÀI") is None
    assert accounts.verify("nobody", "một mật khẩu dài") is None
    with pytest.raises(AccountError, match="already exists"):
        add_user(path, "lan.nguyen", "another long one", "viewer")
    with pytest.raises(AccountError, match="at least"):
        add_user(path, "an.tran", "short", "viewer")
    with pytest.raises(AccountError, match="role"):
        add_user(path, "an.tran", "long enough pass", "admin")
    add_user(path, "lan.nguyen", "another long one", "viewer", replace=True)
    assert accounts.verify("lan.nguyen", "another long one").role == "viewer"  # re-read on change


def test_add_user_is_a_motcua_subcommand(tmp_path):
    users = tmp_path / "u.json"
    cmd = [sys.executable, "-m", "motcua.cli", "web", "add-user", "ha.pham", "--role", "viewer",
           "--password-stdin", "--users-file", str(users)]
    r = subprocess.run(cmd, input="đủ dài rồi nhé\n", capture_output=True, text=True, timeout=60, cwd=REPO)
    assert r.returncode == 0 and "ha.pham: viewer" in r.stdout
    r = subprocess.run(cmd, input="đủ dài rồi nhé\n", capture_output=True, text=True, timeout=60, cwd=REPO)
    assert r.returncode == 2 and "already exists" in r.stderr


def test_the_login_limit_counts_failures_in_a_window():
    now = [0.0]
    limiter = LoginLimiter(3, 60, clock=lambda: now[0])
    for _ in range(3):
        assert limiter.blocked("ghost") == 0
        limiter.failed("ghost")
    assert limiter.blocked("ghost") == pytest.approx(60)
    assert limiter.blocked("lan") == 0
    now[0] = 61
    assert limiter.blocked("ghost") == 0


# --------------------------------------------------------------------------- the view


def _waiting(tid: str, pos: int, priority: bool = False, target: int | None = None) -> Waiting:
    return Waiting(tid, f"A{1000 + pos}", priority, target, pos, T0)


def test_who_is_ahead_follows_the_dispatchers_rules():
    queue = [_waiting("a", 1), _waiting("b", 2, priority=True), _waiting("c", 3), _waiting("d", 4, target=5),
             _waiting("e", 5, priority=True), _waiting("f", 6, target=5)]

    def t(tid, priority=False):
        return TrackedTicket(tid, "A", "TP", "2026-03-02", priority, "waiting", None, None, T0)

    assert ahead_of(t("a"), queue) == 2  # the priority tickets go first
    assert ahead_of(t("c"), queue) == 3
    assert ahead_of(t("e", priority=True), queue) == 1  # only earlier priority tickets
    assert ahead_of(t("f"), queue) == 1  # sent to counter 5: behind counter 5's only
    assert ahead_of(t("zz"), queue) == 0


def test_the_citizen_sees_a_call_a_skip_and_an_estimate_in_vietnamese():
    view = HallView()
    view.apply(["area", "TP", "summary"], AreaSummary(
        area="TP", name="Tư pháp - hộ tịch", waiting=3, waiting_priority=0, issued_today=5, served_today=2,
        open_counters=2, average_service_min=6.0).to_json())
    view.set_queue("TP", [_waiting("x", 1), _waiting("y", 2), _waiting("me", 3)])
    me = view.tracked["me"] = TrackedTicket("me", "A1003", "TP", "2026-03-02", False, "waiting", None, None, T0)
    s = citizen_state(view, me, 5.0)
    assert (s["line"], s["wait_min"], s["area"]) == ("Còn 2 người trước Ông/Bà", 6, "Tư pháp - hộ tịch")
    ch = view.apply(["event", "call"], CallEvent(ticket_id="me", number="A1003", area="TP", counter=5,
                                                 counter_name="Quầy 5", call_count=1).to_json())
    assert "me" in ch.tickets
    assert citizen_state(view, me, 5.0)["line"] == "Mời Ông/Bà đến quầy số 5"
    skipped = Ticket(ticket_id="me", number="A1003", area="TP", day=T0.date(), status="skipped", issued_at=T0,
                     counter=5)
    view.apply(["event", "ticket"], TicketEvent(kind="skipped", ticket=skipped, counter=5, officer="lan.nguyen").to_json())
    s = citizen_state(view, me, 5.0)
    assert s["title"] == "Số đã bị bỏ qua" and "quầy số 5" in s["detail"]
    assert "lan.nguyen" not in json.dumps(s, ensure_ascii=False)


def test_a_device_flapping_online_and_offline_raises_the_shared_login_alert():
    view = HallView(flaps=4)
    for i in range(5):
        view.apply(["device", "pad-3", "availability"], b"online" if i % 2 == 0 else b"offline",
                   T0 + timedelta(seconds=i * 2))
    assert view.devices["pad-3"].shared_login(T0 + timedelta(seconds=10), 4)
    assert not view.devices["pad-3"].shared_login(T0 + timedelta(minutes=5), 4)  # it stopped: the alert ages out
    health = Health(device_id="kiosk-1", role="kiosk", status="fault", uptime_s=3, version="0.1",
                    mqtt_connected=True, checks={"printer": "fault: out of paper"})
    view.apply(["device", "kiosk-1", "health"], health.to_json(), T0)
    assert view.devices["kiosk-1"].reason() == "printer: fault: out of paper"
    assert view.apply(["device", "kiosk-1", "health"], b"{not json", T0).sections == set()
    assert view.rejected == 1


# --------------------------------------------------------------------------- settings and HTTPS


def _run_web(env: dict, timeout: float = 60) -> subprocess.CompletedProcess:
    import os

    child = {k: v for k, v in os.environ.items() if not k.startswith("MOTCUA_")}
    child.update(env)
    return subprocess.run([sys.executable, "-m", "web"], env=child, capture_output=True, text=True, timeout=timeout,
                          cwd=REPO)


def test_plain_http_beyond_loopback_is_a_settings_error(tmp_path):
    r = _run_web({"MOTCUA_LISTEN_HOST": "0.0.0.0", "MOTCUA_USERS_FILE": str(tmp_path / "u.json")})
    assert r.returncode == 78 and "listen_host" in r.stderr and "[tls]" in r.stderr
    r = _run_web({"MOTCUA_LISTEN_HOST": "0.0.0.0", "MOTCUA_TLS__CERT_FILE": str(tmp_path / "missing.crt"),
                  "MOTCUA_TLS__KEY_FILE": str(tmp_path / "missing.key"), "MOTCUA_SECRET_FILE": str(tmp_path / "s"),
                  "MOTCUA_DATABASE": ""})
    assert r.returncode == 78 and "tls.cert_file" in r.stdout + r.stderr
    r = _run_web({"MOTCUA_LOGIN_LIMITS__ATEMPTS": "3"})
    assert r.returncode == 78 and "login_limits.atempts" in r.stderr


def test_https_with_the_site_ca_and_secure_cookies(broker, site, tmp_path):
    from motcua.broker.site import SiteBroker

    sb = SiteBroker(tmp_path / "etc")
    sb.init(site)
    r = subprocess.run([sys.executable, "-m", "motcua.cli", "broker", "gen-certs", "--dir", str(sb.directory),
                        "--host", "localhost", "--no-devices"], capture_output=True, text=True, timeout=60, cwd=REPO)
    assert r.returncode == 0, r.stderr
    r = subprocess.run([sys.executable, "-m", "motcua.cli", "web", "gen-cert", "--broker-dir", str(sb.directory),
                        "--host", "localhost", "--host", "127.0.0.1", "--out-dir", str(tmp_path / "web")],
                       capture_output=True, text=True, timeout=60, cwd=REPO)
    assert r.returncode == 0, r.stderr
    web = WebProcess(broker, site, tmp_path, None, MOTCUA_TLS__CERT_FILE=str(tmp_path / "web" / "web.crt"),
                     MOTCUA_TLS__KEY_FILE=str(tmp_path / "web" / "web.key"))
    web.url = web.url.replace("http://", "https://")
    trust = ssl.create_default_context(cafile=str(sb.certs_dir / "ca.crt"))
    try:
        web.start(context=trust)
        with urllib.request.urlopen(web.url + "/login", context=trust, timeout=10) as resp:
            cookie = resp.headers["set-cookie"]
            assert "secure" in cookie.lower() and "httponly" in cookie.lower() and "samesite=strict" in cookie.lower()
            assert resp.headers["strict-transport-security"]
        with pytest.raises(urllib.error.URLError):  # a browser that does not trust the site CA is warned
            urllib.request.urlopen(web.url + "/login", context=ssl.create_default_context(), timeout=10)
    finally:
        web.stop()
