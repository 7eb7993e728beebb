"""Hostile messages for the fuzz tests: deterministic (a seeded ``random.Random``), built from a valid body.

``hostile(r, body)`` turns a valid body into one of many bad ones: random bytes, nesting deeper than any decoder
allows, truncated JSON, lone surrogates, NaN, a list instead of an object, fields with wrong types, values out of
range, another device's name, a missing field. ``request_body(r, path)`` is a valid body for a request path
(``ticket/issue``, ``counter/1/next``, ``rating/1`` …), ``device_body(r, kind)`` one for a device's own topics.
"""

from __future__ import annotations

import json
import random

from motcua.protocol import new_id

STRINGS = ["", "TP", "ZZ", "A1001", "lan.nguyen", "\u0000", "+", "#", "a/b", "Quầy 1", "x" * 5000, "\ud83d",
           "\udfff\ud800", "🙂", "null", "1e309", "../../etc/passwd", "' OR 1=1 --", "20261201-TP-1001"]
NUMBERS = [0, -1, 1, 3, 999, 1000, 2**31, 2**63, -(2**63), 10**30, 1.5, float("inf")]
TIMES = ["1970-01-01T00:00:00+00:00", "2099-12-31T23:59:59+00:00", "2026-13-40T25:61:00+07:00", "yesterday",
         "2026-12-01T08:00:00", "now"]


def value(r: random.Random, depth: int = 0):
    kind = r.randrange(9)
    if kind == 0:
        return r.choice(STRINGS)
    if kind == 1:
        return r.choice(NUMBERS)
    if kind == 2:
        return r.choice(TIMES)
    if kind == 3:
        return r.choice([True, False, None])
    if kind == 4 and depth < 4:
        return [value(r, depth + 1) for _ in range(r.randrange(4))]
    if kind == 5 and depth < 4:
        return {r.choice(STRINGS[:9]): value(r, depth + 1) for _ in range(r.randrange(4))}
    if kind == 6:
        return new_id()
    if kind == 7:
        return "".join(chr(r.randrange(0x20, 0x2FFFF)) for _ in range(r.randrange(1, 30)))
    return r.randrange(-10, 10)


def hostile(r: random.Random, body: dict) -> bytes:
    """A hostile variant of a valid body."""
    kind = r.randrange(12)
    body = dict(body)
    if kind == 0:
        return bytes(r.randrange(256) for _ in range(r.randrange(1, 200)))
    if kind == 1:
        n = r.choice([100, 5000, 30000])
        return (b'{"command_id": "' + new_id().encode() + b'", "x": ' + b"[" * n + b"]" * n + b"}")
    if kind == 2:
        return json.dumps(body).encode()[: r.randrange(1, 40)]  # truncated
    if kind == 3:
        return b'{"command_id": "' + new_id().encode() + b'", "area": "\\ud83d", "officer": "\\udc00"}'
    if kind == 4:
        return b'{"command_id": "' + new_id().encode() + b'", "area": NaN, "to_counter": Infinity}'
    if kind == 5:
        return json.dumps([body]).encode()
    for _ in range(r.randrange(1, 4)):
        key = r.choice([*body, "device_id", "sent_at", "rated_at", "counter", "schema_version", "extra"])
        body[key] = value(r)
    if kind == 6:
        body["device_id"] = r.choice(["kiosk-2", "counter-2", "pad-2", "dispatcher", "tech-1"])
    if kind == 7:
        body.pop(r.choice(list(body)), None)
    try:
        return json.dumps(body, allow_nan=True).encode("utf-8", "surrogatepass")
    except (TypeError, ValueError):
        return repr(body).encode("utf-8", "surrogatepass")


def request_body(r: random.Random, what: str) -> dict:
    cid = new_id()
    if what == "ticket/issue":
        return {"command_id": cid, "area": r.choice(["TP", "DD", "ZZ"]), "priority": r.choice([None, "elderly", "x"])}
    if what == "ticket/cancel":
        return {"command_id": cid, "ticket_id": r.choice(STRINGS), "reason": "printer jam"}
    if what == "dossier/lookup":
        return {"command_id": cid, "code": "H12.22-240115-0001"}
    if what.startswith("rating"):
        return {"rating_id": cid, "counter": 1, "ticket_id": "20261201-TP-1001", "level": "satisfied",
                "rated_at": "2026-12-01T08:00:00+00:00"}
    action = what.rsplit("/", 1)[1]
    extra = {"open": {"officer": "lan.nguyen"}, "reactivate": {"number": "A1001"}, "transfer": {"to_area": "DD"},
             "attach_dossier": {"dossier_code": "H12.22-240115-0001"}}.get(action, {})
    return {"command_id": cid, **extra}


def device_body(r: random.Random, topic: str, login: str) -> dict:
    """A valid body for a topic a device writes about itself (health, state, commissioning) or the notice."""
    if topic.endswith("/health"):
        return {"device_id": login, "role": r.choice(["kiosk", "pad", "board", "x"]), "status": "ok",
                "at": "2026-12-01T08:00:00+00:00", "uptime_s": 12.5, "version": "0.1", "mqtt_connected": True,
                "checks": {"printer": "ok"}, "instance": new_id(), "takeovers": 0}
    if topic.endswith("hall/notice"):
        return {"text": "Hôm nay làm việc đến 17 giờ", "expires_at": None, "updated_at": "2026-12-01T08:00:00+00:00"}
    if topic.endswith("/commissioning"):
        return {"passed": True, "at": "2026-12-01T08:00:00+00:00", "checks": {"printer": "ok"}}
    return {"device_id": login, "status": "ok", "current": "A1001", "at": "2026-12-01T08:00:00+00:00"}


def availability(r: random.Random) -> bytes:
    return r.choice([b"online", b"offline", b"", b"ONLINE", b"online\x00", b"\xff\xfe", b"{}", b"null", b"x" * 70000,
                     bytes(r.randrange(256) for _ in range(r.randrange(1, 64))), "trực tuyến".encode()])
