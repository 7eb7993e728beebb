"""The web service's broker login, on the production site config: it may do what its role names, nothing else.

The policy is written out here, independently of motcua/broker/roles.py, so a
change that widens the web role fails this test.
"""

from __future__ import annotations

import pytest

from brokerkit import NOT_AUTHORIZED, SecureSite

SITE = "hcm-q3"
DEVICES = [("dispatcher", "dispatcher", None), ("web", "web-1", None), ("counter", "counter-3", 3),
           ("pad", "pad-3", 3), ("kiosk", "kiosk-1", None)]

# Requests travel on request/{login}/...: the web login sends only as itself, and only these.
ALLOWED = ["device/web-1/availability", "device/web-1/health", "device/web-1/state", "hall/notice",
           "request/web-1/counter/3/open", "request/web-1/counter/3/close", "request/web-1/counter/3/pause",
           "request/web-1/counter/3/resume", "request/web-1/counter/7/transfer", "request/web-1/ticket/cancel"]
DENIED = ["request/web-1/counter/3/next", "request/web-1/counter/3/recall", "request/web-1/counter/3/skip",
          "request/web-1/counter/3/finish", "request/web-1/counter/3/reactivate",
          "request/web-1/counter/3/attach_dossier", "request/web-1/rating/3", "request/web-1/ticket/issue",
          "request/web-1/dossier/lookup", "request/kiosk-1/ticket/cancel", "request/counter-3/counter/3/open",
          "hall/config", "hall/figures", "event/call", "event/ticket", "counter/3/state", "area/TP/summary",
          "dossier/status", "device/web-1/reply", "device/dispatcher/state", "device/dispatcher/availability",
          "device/pad-3/health", "device/kiosk-1/reply"]
READABLE = ["hall/config", "hall/notice", "hall/figures", "counter/3/state", "area/TP/summary", "event/call",
            "event/ticket", "device/pad-3/availability", "device/pad-3/health", "device/web-1/reply"]
UNREADABLE = ["request/counter-3/counter/3/next", "request/pad-3/rating/3", "device/pad-3/reply",
              "device/kiosk-1/reply", "request/kiosk-1/ticket/issue", "request/kiosk-1/dossier/lookup",
              "dossier/status", "device/dispatcher/state"]


@pytest.fixture(scope="module")
def hall(tmp_path_factory):
    s = SecureSite(tmp_path_factory.mktemp("websecure"), SITE, DEVICES, client_certs=False).start()
    yield s
    s.stop()


def test_the_web_login_publishes_only_what_its_role_names(hall):
    peer = hall.login("web-1")
    try:
        for rest in ALLOWED:
            rc = peer.publish(hall.topic(rest))
            assert rc in (0x00, 0x10), f"web-1 should publish {rest}, broker said {rc:#x}"
        for rest in DENIED:
            assert peer.publish(hall.topic(rest)) == NOT_AUTHORIZED, f"web-1 must not publish {rest}"
        assert peer.publish("motcua/v1/other-hall/hall/notice") == NOT_AUTHORIZED
    finally:
        peer.close()


def test_the_web_login_reads_the_hall_and_nobodys_commands_or_replies(hall):
    web, dispatcher, kiosk, pad = (hall.login(d) for d in ("web-1", "dispatcher", "kiosk-1", "pad-3"))
    sentinel = hall.topic("hall/sentinel")
    try:
        web.subscribe(hall.topic("#"))  # granted in the SUBACK, filtered per topic by the ACL
        for rest in [*READABLE, *UNREADABLE]:
            sender = {"request/kiosk-1/ticket/issue": kiosk, "request/kiosk-1/dossier/lookup": kiosk,
                      "request/pad-3/rating/3": pad}.get(rest, dispatcher)
            sender.publish(hall.topic(rest), b"{}")
        dispatcher.publish(sentinel)
        got = []
        while (msg := web.next_message()).topic != sentinel:
            got.append(msg.topic)
        assert sorted(got) == sorted(hall.topic(r) for r in READABLE)
    finally:
        for peer in (web, dispatcher, kiosk, pad):
            peer.close()
