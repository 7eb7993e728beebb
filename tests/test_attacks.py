"""Attacks on a production hall: the site broker from `motcua broker init / add-device / gen-certs`, the real
dispatcher behind it, and intruders logged in with real devices' passwords (a compromised box).

Each test is one attack from docs/security.md, tried as an attacker would, and what stops it.
"""

from __future__ import annotations

import json
import queue
import ssl
from datetime import datetime, timezone

import paho.mqtt.client as mqtt
import pytest

from attackkit import ProductionHall
from daemonkit import wait_until
from motcua.cli import main as motcua
from motcua.protocol import new_id


@pytest.fixture(scope="module")
def hall(tmp_path_factory):
    h = ProductionHall(tmp_path_factory.mktemp("attacked")).start()
    yield h
    h.stop()
    assert "Traceback" not in h.log(), h.log()[-3000:]


def issue(hall, kiosk, area="TP") -> dict:
    cid = new_id()
    kiosk.publish(hall.topic(f"request/{kiosk.device_id}/ticket/issue"), {"command_id": cid, "area": area})
    return kiosk.reply_to(cid)


def opened_counter(hall, n: int):
    keypad = hall.login(f"counter-{n}")
    keypad.subscribe(hall.topic(f"device/counter-{n}/reply"))
    cid = new_id()
    keypad.publish(hall.topic(f"request/counter-{n}/counter/{n}/open"), {"command_id": cid, "officer": "lan.nguyen"})
    assert keypad.reply_to(cid)["ok"]
    return keypad


@pytest.fixture
def kiosks(hall):
    k1, k2 = hall.login("kiosk-1"), hall.login("kiosk-2")
    for k in (k1, k2):
        k.subscribe(hall.topic(f"device/{k.device_id}/reply"))
    yield k1, k2
    k1.close()
    k2.close()


# ---------------------------------------------------------------------------- identity


def test_a_kiosk_cannot_cancel_another_kiosks_tickets(hall, kiosks):
    k1, k2 = kiosks
    ticket = issue(hall, k1)["ticket"]
    # 1. under the other kiosk's login: the broker refuses the publish itself
    assert k2.publish(hall.topic("request/kiosk-1/ticket/cancel"),
                      {"command_id": new_id(), "ticket_id": ticket["ticket_id"], "reason": "x"}) == 0x87
    # 2. on its own topic, claiming in the body to be kiosk-1: refused, and said why
    cid = new_id()
    k2.publish(hall.topic("request/kiosk-2/ticket/cancel"),
               {"command_id": cid, "device_id": "kiosk-1", "ticket_id": ticket["ticket_id"], "reason": "x"})
    r = k2.reply_to(cid)
    assert r["ok"] is False and r["error"]["code"] == "not_allowed" and "kiosk-1" in r["error"]["message"]
    # 3. on its own topic as itself: not its ticket
    cid = new_id()
    k2.publish(hall.topic("request/kiosk-2/ticket/cancel"),
               {"command_id": cid, "ticket_id": ticket["ticket_id"], "reason": "x"})
    r = k2.reply_to(cid)
    assert r["error"]["code"] == "not_allowed" and "issued by kiosk-1" in r["error"]["message"]
    status = hall.db().execute("SELECT status FROM tickets WHERE ticket_id = ?", (ticket["ticket_id"],)).fetchone()
    assert status == ("waiting",)
    assert "identity refused" in hall.log()  # the contradiction is logged for the technician


def test_a_ticket_cannot_be_issued_under_another_kiosks_name(hall, kiosks):
    k1, k2 = kiosks
    cid = new_id()
    k2.publish(hall.topic("request/kiosk-2/ticket/issue"), {"command_id": cid, "device_id": "kiosk-1", "area": "TP"})
    assert k2.reply_to(cid)["error"]["code"] == "not_allowed"
    mine = issue(hall, k2)["ticket"]
    kiosk = hall.db().execute("SELECT kiosk FROM tickets WHERE ticket_id = ?", (mine["ticket_id"],)).fetchone()
    assert kiosk == ("kiosk-2",)  # the login, as the broker knows it


def test_replies_cannot_be_steered_to_another_device(hall, kiosks):
    k1, k2 = kiosks
    # v5: a response topic naming kiosk-1's reply topic is ignored: the answer comes back to kiosk-2
    cid = new_id()
    k2.publish(hall.topic("request/kiosk-2/ticket/issue"), {"command_id": cid, "area": "TP"},
               response_topic=hall.topic("device/kiosk-1/reply"), correlation=cid.encode())
    assert k2.reply_to(cid)["ok"]
    # 3.1.1 (no response topic at all), the body naming kiosk-1
    old = hall.login("kiosk-2", protocol=mqtt.MQTTv311, client_id="kiosk-2")
    try:
        old.subscribe(hall.topic("device/kiosk-2/reply"))
        cid2 = new_id()
        old.publish(hall.topic("request/kiosk-2/ticket/issue"), {"command_id": cid2, "device_id": "kiosk-1", "area": "TP"})
        assert old.reply_to(cid2)["error"]["code"] == "not_allowed"
    finally:
        old.close()
    stray = [m for m in k1.drain(1.0) if json.loads(m.payload).get("command_id") in (cid, cid2)]
    assert stray == [], "kiosk-1 received replies to kiosk-2's requests"


def test_a_wildcard_response_topic_does_not_silence_an_applied_command(hall, kiosks):
    k1, _ = kiosks
    keypad = opened_counter(hall, 1)
    board = hall.login("board-1")
    try:
        board.subscribe(hall.topic("event/call"))
        board.subscribe(hall.topic("counter/1/state"))
        board.drain(0.5)  # the retained state as it was
        number = issue(hall, k1)["ticket"]["number"]
        cid = new_id()
        keypad.publish(hall.topic("request/counter-1/counter/1/next"), {"command_id": cid},
                       response_topic=hall.topic("device/+/reply"), correlation=cid.encode())
        assert keypad.reply_to(cid)["ok"]
        seen = board.drain(2.0)  # the new state, then the call: both announced although no reply could go there
        calls = [json.loads(m.payload) for m in seen if m.topic.endswith("event/call")]
        states = [json.loads(m.payload) for m in seen if m.topic.endswith("counter/1/state")]
        assert calls and calls[-1]["counter"] == 1
        assert states and states[-1]["current"] is not None and number
    finally:
        keypad.close()
        board.close()


# ---------------------------------------------------------------------------- bad input


HOSTILE = [
    ("deeply nested JSON", b'{"command_id": "nest0000001", "area": ' + b"[" * 20000 + b"]" * 20000 + b"}",
     "nest0000001", "bad_payload"),
    ("a lone surrogate", b'{"command_id": "surrogate01", "area": "\\ud83d"}', "surrogate01", "bad_payload"),
    ("NaN", b'{"command_id": "nanvalue001", "area": NaN}', "nanvalue001", "bad_payload"),
    ("a huge number", b'{"command_id": "hugenumber1", "area": ' + b"9" * 5000 + b"}", "hugenumber1", "bad_payload"),
]


@pytest.mark.parametrize("what, payload, cid, code", HOSTILE, ids=[h[0] for h in HOSTILE])
def test_hostile_payloads_get_a_reply_naming_the_reason(hall, kiosks, what, payload, cid, code):
    k1, _ = kiosks
    k1.publish(hall.topic("request/kiosk-1/ticket/issue"), payload, correlation=cid.encode())
    r = k1.reply_to(cid)
    assert r["ok"] is False and r["error"]["code"] == code and r["error"]["message"]


def test_topic_levels_and_timestamps_are_checked(hall):
    tech = hall.login("tech-1")
    tech.subscribe(hall.topic("device/tech-1/reply"))
    try:
        for counter in ("³", "٣", "0", "1000", "01x"):  # a superscript and an Arabic-Indic three, out of range
            cid = new_id()
            tech.publish(hall.topic(f"request/tech-1/counter/{counter}/next"), {"command_id": cid},
                         correlation=cid.encode())
            r = tech.reply_to(cid)
            assert r["error"]["code"] in ("bad_payload", "unknown_counter"), (counter, r)
        for sent_at in ("1970-01-01T00:00:00+00:00", "2099-01-01T00:00:00+00:00"):
            cid = new_id()
            tech.publish(hall.topic("request/tech-1/counter/5/pause"), {"command_id": cid, "sent_at": sent_at})
            r = tech.reply_to(cid)
            assert r["error"]["code"] == "bad_payload" and "clock" in r["error"]["message"]
    finally:
        tech.close()


def test_a_rating_from_2099_or_for_an_old_ticket_is_refused(hall, kiosks):
    k1, _ = kiosks
    keypad = opened_counter(hall, 2)
    pad = hall.login("pad-2")
    pad.subscribe(hall.topic("device/pad-2/reply"))
    try:
        issue(hall, k1)
        cid = new_id()
        keypad.publish(hall.topic("request/counter-2/counter/2/next"), {"command_id": cid})
        ticket = keypad.reply_to(cid)["counter"]["current"]
        cid = new_id()
        keypad.publish(hall.topic("request/counter-2/counter/2/finish"), {"command_id": cid})
        assert keypad.reply_to(cid)["ok"]
        rating = {"counter": 2, "ticket_id": ticket["ticket_id"], "level": "satisfied"}
        rid = new_id()
        pad.publish(hall.topic("request/pad-2/rating/2"), {**rating, "rating_id": rid, "rated_at": "2099-01-01T00:00:00+00:00"})
        assert pad.reply_to(rid)["error"]["code"] == "bad_payload"
        rid = new_id()
        pad.publish(hall.topic("request/pad-2/rating/2"), {**rating, "rating_id": rid, "rated_at": "2020-01-01T00:00:00+00:00"})
        r = pad.reply_to(rid)
        assert r["error"]["code"] == "not_allowed" and "rating window" in r["error"]["message"]
        rid = new_id()
        now = datetime.now(timezone.utc).isoformat()
        pad.publish(hall.topic("request/pad-2/rating/2"), {**rating, "rating_id": rid, "rated_at": now})
        assert pad.reply_to(rid)["ok"]
        stored = hall.db().execute("SELECT pad_id, rated_at FROM ratings WHERE rating_id = ?", (rid,)).fetchone()
        assert stored[0] == "pad-2" and not stored[1].startswith("2099")
    finally:
        keypad.close()
        pad.close()


# ---------------------------------------------------------------------------- abuse


def test_one_kiosk_cannot_exhaust_an_area_nor_fill_the_disk(hall, kiosks):
    k1, k2 = kiosks
    before = hall.db().execute("SELECT COUNT(*) FROM commands").fetchone()[0]
    codes = []
    for _ in range(120):  # as fast as it can
        cid = new_id()
        k1.publish(hall.topic("request/kiosk-1/ticket/issue"), {"command_id": cid, "area": "DD"})
        codes.append(k1.reply_to(cid).get("error") or {"code": "ok"})
    codes = [c["code"] for c in codes]
    assert codes.count("ok") <= 20 and codes.count("rate_limited") >= 100, codes
    # the other kiosk still serves citizens in that area
    assert issue(hall, k2, "DD")["ok"]
    # and the refused flood left (almost) nothing on disk: refused requests are answered, not stored
    after = hall.db().execute("SELECT COUNT(*) FROM commands").fetchone()[0]
    assert after - before <= 21


# ---------------------------------------------------------------------------- least privilege


def test_the_board_reads_only_what_it_shows(hall, kiosks):
    k1, _ = kiosks
    board = hall.login("board-1")
    try:
        board.subscribe(hall.topic("event/ticket"))
        board.subscribe(hall.topic("counter/+/state"))
        keypad = opened_counter(hall, 1)
        issue(hall, k1)
        cid = new_id()
        keypad.publish(hall.topic("request/counter-1/counter/1/next"), {"command_id": cid})
        keypad.reply_to(cid)
        cid = new_id()
        keypad.publish(hall.topic("request/counter-1/counter/1/attach_dossier"),
                       {"command_id": cid, "dossier_code": "H12.22-240115-0042"})
        assert keypad.reply_to(cid)["ok"]
        keypad.close()
        seen = board.drain(1.5)
        assert not [m for m in seen if m.topic.endswith("event/ticket")], "the board read ticket events"
        assert all(b"H12.22-240115-0042" not in m.payload and b"lan.nguyen" not in m.payload for m in seen)
    finally:
        board.close()


def test_the_web_console_does_supervisor_actions_and_nothing_more(hall):
    web = hall.login("web-1")
    try:
        assert web.publish(hall.topic("hall/notice"), {"text": "Hôm nay làm việc đến 17 giờ"}) in (0, 0x10)
        assert web.publish(hall.topic("request/web-1/counter/7/open"), {"command_id": new_id(), "officer": "lan.nguyen"}) in (0, 0x10)
        assert web.publish(hall.topic("request/web-1/counter/7/next"), {"command_id": new_id()}) == 0x87
        assert web.publish(hall.topic("request/web-1/ticket/issue"), {"command_id": new_id(), "area": "TP"}) == 0x87
        assert web.publish(hall.topic("request/tech-1/counter/7/open"), {"command_id": new_id()}) == 0x87
    finally:
        web.publish(hall.topic("hall/notice"), b"")
        web.close()


# ---------------------------------------------------------------------------- certificates


def _cert_login(hall, device_id: str):
    d = hall.dir / "certs"
    return hall.login(device_id, port=hall.certs, tls={"ca": d / "ca.crt", "cert": d / f"devices/{device_id}.crt",
                                                        "key": d / f"devices/{device_id}.key"})


def test_a_removed_or_rotated_device_certificate_no_longer_logs_in(hall):
    d = hall.dir / "certs"
    _cert_login(hall, "announcer").close()
    kept = {p: (d / f"devices/announcer.{p}").read_bytes() for p in ("crt", "key")}
    assert motcua(["broker", "remove-device", "announcer", "--dir", str(hall.dir)]) == 0
    hall.reload_broker()
    stolen = hall.workdir / "stolen"
    stolen.mkdir()
    for p, data in kept.items():
        (stolen / f"announcer.{p}").write_bytes(data)
    tls = {"ca": d / "ca.crt", "cert": stolen / "announcer.crt", "key": stolen / "announcer.key"}

    def refused() -> bool:
        try:  # TLS 1.3 checks the client certificate after the client's handshake: then no CONNACK comes
            hall.login("announcer", port=hall.certs, tls=tls, connect_timeout=2).close()
        except (ssl.SSLError, OSError, ConnectionRefusedError, queue.Empty):
            return True
        return False

    # Mosquitto re-reads its files inside its own loop, with no event to wait on: try the login until refused
    wait_until(refused, 10, "a removed device's certificate to be refused")
    # re-added under the same id: the old certificate stays dead, a new one works
    assert motcua(["broker", "add-device", "announcer", "announcer", "--dir", str(hall.dir)]) == 0
    assert motcua(["broker", "gen-certs", "--dir", str(hall.dir), "--device", "announcer"]) == 0
    hall.reload_broker()
    wait_until(refused, 10, "the old certificate to stay refused")
    wait_until(lambda: _works(lambda: _cert_login(hall, "announcer").close()), 10, "the new certificate to log in")
    # --rotate revokes too
    fresh = {p: (d / f"devices/announcer.{p}").read_bytes() for p in ("crt", "key")}
    for p, data in fresh.items():
        (stolen / f"announcer.{p}").write_bytes(data)
    assert motcua(["broker", "add-device", "announcer", "announcer", "--rotate", "--dir", str(hall.dir)]) == 0
    hall.reload_broker()
    wait_until(refused, 10, "a rotated device's old certificate to be refused")


def test_certificates_only_for_roles_that_log_in_by_certificate(hall):
    devices = hall.dir / "certs" / "devices"
    assert (devices / "kiosk-1.crt").is_file() and (devices / "pad-1.crt").is_file()
    assert not (devices / "dispatcher.crt").exists() and not (devices / "tech-1.crt").exists()


def test_tls_1_2_refuses_cbc_sha1_suites(hall):
    import socket

    ctx = ssl.create_default_context(cafile=str(hall.dir / "certs" / "ca.crt"))
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_ciphers("ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA:ECDHE-RSA-AES128-SHA")
    with pytest.raises(ssl.SSLError), socket.create_connection(("127.0.0.1", hall.tls), timeout=5) as raw:
        ctx.wrap_socket(raw, server_hostname="localhost")
    good = ssl.create_default_context(cafile=str(hall.dir / "certs" / "ca.crt"))
    good.maximum_version = ssl.TLSVersion.TLSv1_2
    with socket.create_connection(("127.0.0.1", hall.tls), timeout=5) as raw, \
            good.wrap_socket(raw, server_hostname="localhost") as tls:
        assert "GCM" in tls.cipher()[0] or "CHACHA20" in tls.cipher()[0]


def _works(fn) -> bool:
    try:
        fn()
        return True
    except (ssl.SSLError, OSError, ConnectionRefusedError, queue.Empty):
        return False
