"""Two real Mosquittos bridged as a hall and its province would be: TLS, per-site identity, MQTT v5.

What happened in the hall flows up, what the province knows flows down,
nothing loops, and what is published while the province is away arrives when
it comes back.
"""

from __future__ import annotations

import getpass
import itertools
import json

import pytest

from brokerkit import NOT_AUTHORIZED, SecureSite, connect
from motcua.broker import passwords
from motcua.broker.certs import SiteCA
from motcua.broker.configs import (
    DOWN,
    UP,
    BridgeSettings,
    render_bridge,
    render_central_system_acl,
    render_province_acl,
    render_province_stand_in,
)
from motcua.localbroker import LocalBroker, free_port

SITE = "hcm-q1"


def overlaps(a: str, b: str) -> bool:
    """Could one topic match both filters?"""
    x, y = a.split("/"), b.split("/")
    for i in range(max(len(x), len(y))):
        p = x[i] if i < len(x) else None
        q = y[i] if i < len(y) else None
        if p == "#" or q == "#":
            return True
        if p is None or q is None:
            return False
        if p != q and "+" not in (p, q):
            return False
    return True


def test_nothing_flows_both_ways_and_no_command_goes_up():
    assert not [(u, d) for u in UP for d in DOWN if overlaps(u, d)]
    assert not [u for u in UP if overlaps(u, "request/counter-1/counter/1/next") or overlaps(u, "request/kiosk-1/ticket/issue")]
    assert overlaps("hall/#", "hall/notice") and not overlaps("hall/config", "hall/notice")  # the checker checks


class Province:
    """The stand-in for the province's broker, with the ACL `motcua broker bridge` tells it to give the site."""

    def __init__(self, workdir, site_password: str):
        self.dir = workdir / "etc"
        (self.dir / "certs").mkdir(parents=True)
        self.ca = SiteCA(self.dir / "certs", "province")
        self.ca.ensure()
        self.ca.server(["localhost", "127.0.0.1"])
        self.central_password = passwords.new_password()
        (self.dir / "passwd").write_text(passwords.hash_entry(f"site-{SITE}", site_password) + "\n"
                                         + passwords.hash_entry("central", self.central_password) + "\n")
        (self.dir / "acl").write_text(render_province_acl(SITE) + "\n" + render_central_system_acl())
        for d in (workdir, self.dir, self.dir / "certs"):
            d.chmod(0o755)
        self.tls_port = free_port()
        self.broker = LocalBroker(workdir / "data", port=self.tls_port, render=lambda b: render_province_stand_in(
            self.dir, data_dir=b.workdir, tls_port=b.port, log_dest=f"file {b.workdir}/mosquitto.log",
            user=getpass.getuser()))

    def central(self, **kw):
        return connect(self.tls_port, "central", self.central_password, tls={"ca": self.ca.cert_path}, **kw)


@pytest.fixture
def bridged(tmp_path):
    site_password = passwords.new_password()
    province = Province(tmp_path / "province", site_password)
    province.broker.start()
    hall = SecureSite(tmp_path / "hall", SITE, [("dispatcher", "dispatcher", None), ("pad", "pad-3", 3)],
                      client_certs=False)
    secret = tmp_path / "site.secret"
    secret.write_text(site_password)
    bridge = render_bridge(BridgeSettings(site=SITE, remote_host="127.0.0.1", remote_port=province.tls_port,
                                          remote_ca=province.ca.cert_path, remote_password=site_password))
    (hall.sb.conf_d / "province-bridge.conf").write_text(bridge)
    hall.start()
    yield hall, province
    hall.stop()
    province.broker.stop()


def _wait_for_bridge(central, state: bytes = b"1"):
    central.subscribe(f"motcua/v1/{SITE}/bridge/province")
    while central.next_message(timeout=15).payload != state:
        pass


def test_events_go_up_statuses_come_down_and_nothing_loops(bridged):
    hall, province = bridged
    central = province.central()
    dispatcher = hall.login("dispatcher")
    seq = itertools.count()
    try:
        _wait_for_bridge(central)
        central.subscribe(f"motcua/v1/{SITE}/#")
        dispatcher.subscribe(hall.topic("dossier/status"))
        dispatcher.subscribe(hall.topic("hall/notice"))
        dispatcher.subscribe(hall.topic("request/+/counter/#"))

        # up: a call in the hall reaches the province, MQTT v5 properties intact
        dispatcher.publish(hall.topic("event/call"), json.dumps({"n": next(seq)}).encode())
        msg = central.next_message(timeout=10)
        while msg.topic.endswith("bridge/province"):  # its retained copy may come first
            msg = central.next_message(timeout=10)
        assert msg.topic == hall.topic("event/call")

        # down: the province's dossier statuses and notice reach the hall's dispatcher
        assert central.publish(hall.topic("dossier/status"), b'{"records": []}') in (0, 0x10)
        assert central.publish(hall.topic("hall/notice"), "Thông báo".encode()) in (0, 0x10)
        got = [dispatcher.next_message(timeout=10) for _ in range(2)]
        assert [m.topic for m in got] == [hall.topic("dossier/status"), hall.topic("hall/notice")]

        # a command published at the province never reaches the hall's counters
        assert central.publish(hall.topic("request/counter-3/counter/3/next"), b"{}") == NOT_AUTHORIZED

        # nothing loops: the province sees its own two messages once each, then the next call from the hall
        dispatcher.publish(hall.topic("event/call"), json.dumps({"n": next(seq)}).encode())
        seen = []
        while not (seen and seen[-1] == hall.topic("event/call")):
            seen.append(central.next_message(timeout=10).topic)
        assert seen == [hall.topic("dossier/status"), hall.topic("hall/notice"), hall.topic("event/call")]
        assert dispatcher.received.empty(), "the dispatcher got something that was not for it"

        # a pad's raw rating stays in the hall: only the dispatcher's accepted rating event goes up
        pad = hall.login("pad-3")
        pad.publish(hall.topic("request/pad-3/rating/3"), b"{}")
        dispatcher.publish(hall.topic("event/rating"), b'{"accepted": true}')
        assert central.next_message(timeout=10).topic == hall.topic("event/rating")
        pad.close()
    finally:
        central.close()
        dispatcher.close()


def test_events_published_while_the_province_is_away_arrive_when_it_returns(bridged):
    hall, province = bridged
    central = province.central(client_id="central", persistent=True)
    dispatcher = hall.login("dispatcher")
    try:
        _wait_for_bridge(central)
        central.subscribe(f"motcua/v1/{SITE}/event/#")
        province.broker.stop()  # SIGTERM: the province keeps its sessions
        for n in range(5):
            assert dispatcher.publish(hall.topic("event/call"), json.dumps({"n": n}).encode()) in (0, 0x10)
        province.broker.start()
        got = []
        while len(got) < 5:
            msg = central.next_message(timeout=30)
            if msg.topic == hall.topic("event/call"):  # the bridge's own state comes and goes meanwhile
                got.append(json.loads(msg.payload)["n"])
        assert got == list(range(5))
    finally:
        central.close()
        dispatcher.close()


def test_the_province_sees_the_bridge_go_down(bridged):
    hall, province = bridged
    central = province.central()
    try:
        _wait_for_bridge(central, b"1")
        hall.stop()  # the hall's broker goes away: the bridge's will at the province says so
        _wait_for_bridge(central, b"0")
    finally:
        central.close()
