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

ALLOWED = ["device/web-1/availability", "device/web-1/health", "device/web-1/state", "hall/notice",
           "counter/3/cmd/open", "counter/3/cmd/close", "counter/3/cmd/pause", "counter/3/cmd/resume",
           "counter/7/cmd/transfer", "request/ticket/cancel"]
DENIED = ["counter/3/cmd/next", "counter/3/cmd/recall", "counter/3/cmd/skip", "counter/3/cmd/finish",
          "counter/3/cmd/reactivate", "counter/3/cmd/attach_dossier", "counter/3/rating", "request/ticket/issue",
          "request/dossier/lookup", "hall/config", "hall/figures", "event/call", "event/ticket", "counter/3/state",
          "area/TP/summary", "dossier/status", "device/web-1/reply", "device/dispatcher/state",
          "device/dispatcher/availability", "device/pad-3/health", "device/kiosk-1/reply"]
READABLE = ["hall/config", "hall/notice", "hall/figures", "counter/3/state", "area/TP/summary", "event/call",
            "event/ticket", "device/pad-3/availability", "device/pad-3/health", "device/web-1/reply"]
UNREADABLE = ["counter/3/cmd/next", "counter/3/rating", "device/pad-3/reply", "device/kiosk-1/reply",
              "request/ticket/issue", "request/dossier/lookup", "dossier/status", "device/dispatcher/state"]


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
            sender = {"request/ticket/issue": kiosk, "request/dossier/lookup": kiosk,
                      "counter/3/rating": pad}.get(rest, dispatcher)
            sender.publish(hall.topic(rest), b"{}")
        dispatcher.publish(sentinel)
        got = []
        while (msg := web.next_message()).topic != sentinel:
            got.append(msg.topic)
        assert sorted(got) == sorted(hall.topic(r) for r in READABLE)
    finally:
        for peer in (web, dispatcher, kiosk, pad):
            peer.close()
