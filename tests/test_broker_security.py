"""The production site broker, started from broker_config/site with a registry made by `motcua broker`.

Each role's allowed publishes succeed and its forbidden ones get PUBACK 0x87;
logins without the right password are refused; nobody reads what is not
theirs. The policy is written out here, independently of motcua/broker/roles.py,
so a change to the roles that widens a right fails a test.
"""

from __future__ import annotations

import queue
import socket

import pytest

from brokerkit import NOT_AUTHORIZED, Refused, SecureSite, connect

SITE = "hcm-q1"
DEVICES = [
    ("dispatcher", "dispatcher", None),
    ("counter", "counter-3", 3),
    ("display", "display-3", 3),
    ("pad", "pad-3", 3),
    ("pad", "pad-4", 4),
    ("kiosk", "kiosk-1", None),
    ("board", "board-1", None),
    ("announcer", "announcer", None),
    ("signboard", "signboard-1", None),
    ("progress", "progress-1", None),
    ("operator", "tech-1", None),
]


@pytest.fixture(scope="module")
def hall(tmp_path_factory):
    s = SecureSite(tmp_path_factory.mktemp("secure"), SITE, DEVICES).start()
    yield s
    s.stop()


OWN = ["device/{me}/availability", "device/{me}/health", "device/{me}/state"]
EVERYONE_DENIED = ["device/{me}/reply", "device/dispatcher/state", "hall/config", "event/call", "counter/3/state",
                   "dossier/status", "dossier/progress", "hall/notice"]

# (device, allowed publishes, forbidden publishes), topics below motcua/v1/hcm-q1/
POLICY = [
    ("counter-3", [*OWN, "request/{me}/counter/3/next", "request/{me}/counter/3/transfer"],
     [*EVERYONE_DENIED, "request/{me}/counter/4/next", "request/{me}/rating/3", "request/{me}/ticket/issue",
      "device/pad-3/state", "request/counter-4/counter/3/next", "request/pad-3/counter/3/next"]),
    ("display-3", OWN, [*EVERYONE_DENIED, "request/{me}/counter/3/next", "request/{me}/rating/3"]),
    ("pad-3", [*OWN, "request/{me}/rating/3"],
     [*EVERYONE_DENIED, "request/{me}/rating/4", "request/pad-4/rating/4", "request/{me}/counter/3/finish",
      "device/pad-4/state", "request/{me}/ticket/issue"]),
    ("kiosk-1", [*OWN, "request/{me}/ticket/issue", "request/{me}/ticket/cancel", "request/{me}/dossier/lookup"],
     [*EVERYONE_DENIED, "request/kiosk-2/ticket/cancel", "request/kiosk-2/ticket/issue",
      "request/{me}/counter/1/next", "request/{me}/rating/1", "event/ticket", "area/TP/summary"]),
    ("board-1", OWN, [*EVERYONE_DENIED, "request/{me}/ticket/issue", "request/{me}/counter/1/next"]),
    ("announcer", OWN, [*EVERYONE_DENIED, "request/{me}/counter/1/next", "request/{me}/ticket/issue"]),
    ("signboard-1", OWN, [*EVERYONE_DENIED, "request/{me}/counter/1/next", "request/{me}/ticket/issue",
                          "event/ticket"]),
    ("progress-1", OWN, [*EVERYONE_DENIED, "request/{me}/counter/1/next", "request/{me}/dossier/lookup",
                         "device/board-1/state"]),
    ("tech-1", [*OWN, "request/{me}/counter/5/next", "request/{me}/ticket/issue", "request/{me}/dossier/lookup"],
     [*EVERYONE_DENIED, "request/{me}/rating/5", "request/kiosk-1/ticket/issue", "request/{me}/anything",
      "area/TP/summary"]),
    ("dispatcher", [*OWN, "hall/config", "counter/3/state", "event/call", "area/TP/summary",
                    "device/pad-3/reply"], []),
]


@pytest.mark.parametrize("device, allowed, denied", POLICY, ids=[p[0] for p in POLICY])
def test_each_role_publishes_only_what_it_may(hall, device, allowed, denied):
    peer = hall.login(device)
    try:
        for rest in allowed:
            topic = hall.topic(rest.format(me=device))
            rc = peer.publish(topic)
            assert rc in (0x00, 0x10), f"{device} should publish {topic}, broker said {rc:#x}"
        for rest in denied:
            topic = hall.topic(rest.format(me=device))
            assert peer.publish(topic) == NOT_AUTHORIZED, f"{device} must not publish {topic}"
        # another hall's tree is off limits to everyone, even to this hall's dispatcher
        assert peer.publish(f"motcua/v1/other-hall/device/{device}/state") == NOT_AUTHORIZED
    finally:
        peer.close()


def test_a_device_claiming_another_ones_client_id_gets_its_own(hall):
    """pad-3's login with client id 'pad-4': the broker renames it; it cannot act as pad-4 nor kick pad-4 off."""
    real = hall.login("pad-4", client_id="pad-4")
    impostor = hall.login("pad-3", client_id="pad-4")
    try:
        assert impostor.assigned_client_id in (None, "pad-3")
        assert impostor.publish(hall.topic("device/pad-4/state")) == NOT_AUTHORIZED
        assert impostor.publish(hall.topic("request/pad-4/rating/4")) == NOT_AUTHORIZED
        # the real pad-4 was not disconnected by the impostor's CONNECT: it still gets its PUBACKs
        assert real.publish(hall.topic("request/pad-4/rating/4")) in (0x00, 0x10)
        assert not real.disconnected.is_set()
    finally:
        impostor.close()
        real.close()


def test_logins_without_the_right_password_are_refused(hall):
    with pytest.raises(Refused, match="Not authorized|Bad user name or password"):
        connect(hall.port, "pad-3", "not-the-password")
    with pytest.raises(Refused, match="Not authorized|Bad user name or password"):
        connect(hall.port, "pad-4", hall.passwords["pad-3"])  # a stolen pad's password is only that pad's
    with pytest.raises(Refused, match="Not authorized|Bad user name or password"):
        connect(hall.port, None, None)  # anonymous
    with pytest.raises(Refused, match="Not authorized|Bad user name or password"):
        connect(hall.port, "laptop", "guess")


def _nothing_delivered_before(peer, sentinel_topic: str) -> list[str]:
    """Drain deliveries up to the sentinel: the broker delivers in order, so anything allowed came first."""
    got = []
    while True:
        msg = peer.next_message()
        if msg.topic == sentinel_topic:
            return got
        got.append(msg.topic)


def test_nobody_reads_another_devices_commands_or_replies(hall):
    dispatcher, keypad = hall.login("dispatcher"), hall.login("counter-3")
    snoops = {d: hall.login(d) for d in ("pad-3", "kiosk-1", "board-1", "display-3")}
    sentinel = hall.topic("hall/sentinel")
    try:
        for peer in snoops.values():
            peer.subscribe(hall.topic("request/+/counter/#"))
            peer.subscribe(hall.topic("device/+/reply"))
            peer.subscribe(hall.topic("device/+/health"))
            peer.subscribe(hall.topic("request/#"))
            peer.subscribe(hall.topic("hall/sentinel"))
        dispatcher.subscribe(hall.topic("request/+/counter/#"))
        assert keypad.publish(hall.topic("request/counter-3/counter/3/next"), b'{"secret": 1}') == 0x00
        assert dispatcher.next_message().topic == hall.topic("request/counter-3/counter/3/next")
        dispatcher.publish(hall.topic("device/counter-3/reply"))
        dispatcher.publish(hall.topic("device/dispatcher/health"))
        kiosk = snoops["kiosk-1"]
        kiosk.publish(hall.topic("request/kiosk-1/ticket/issue"))
        dispatcher.publish(sentinel)
        for name, peer in snoops.items():
            assert _nothing_delivered_before(peer, sentinel) == [], f"{name} read what is not its own"
    finally:
        for peer in (dispatcher, keypad, *snoops.values()):
            peer.close()


def test_each_device_reads_its_own_reply_and_the_hall(hall):
    pad, dispatcher = hall.login("pad-3"), hall.login("dispatcher")
    try:
        pad.subscribe(hall.topic("device/pad-3/reply"))
        pad.subscribe(hall.topic("counter/3/state"))
        pad.subscribe(hall.topic("counter/4/state"))  # not its counter: nothing comes
        pad.subscribe(hall.topic("hall/config"))
        for rest in ("counter/4/state", "device/pad-3/reply", "counter/3/state", "hall/config"):
            dispatcher.publish(hall.topic(rest))
        got = [pad.next_message().topic for _ in range(3)]
        assert got == [hall.topic(t) for t in ("device/pad-3/reply", "counter/3/state", "hall/config")]
        with pytest.raises(queue.Empty):
            pad.received.get_nowait()
    finally:
        pad.close()
        dispatcher.close()


def test_tls_listener_with_password(hall):
    peer = connect(hall.tls_port, "kiosk-1", hall.passwords["kiosk-1"], tls=hall.tls())
    try:
        assert peer.publish(hall.topic("request/kiosk-1/ticket/issue")) in (0x00, 0x10)
        assert peer.publish(hall.topic("request/kiosk-1/counter/1/next")) == NOT_AUTHORIZED
    finally:
        peer.close()
    with pytest.raises(Refused):  # TLS is not enough: the password is still required
        connect(hall.tls_port, "kiosk-1", "wrong", tls=hall.tls())


def test_tls_listener_refuses_plain_mqtt(hall):
    with pytest.raises(Refused):
        connect(hall.tls_port, "kiosk-1", hall.passwords["kiosk-1"], timeout=3)


def test_client_certificate_is_the_login(hall):
    issued = hall.ca.device("counter-3")
    peer = connect(hall.cert_port, None, None, tls=hall.tls(cert=issued.cert, key=issued.key))
    try:
        assert peer.publish(hall.topic("request/counter-3/counter/3/next")) in (0x00, 0x10)
        assert peer.publish(hall.topic("request/counter-3/counter/4/next")) == NOT_AUTHORIZED
    finally:
        peer.close()
    with pytest.raises(Refused):  # no certificate, no entry, password or not
        connect(hall.cert_port, "counter-3", hall.passwords["counter-3"], tls=hall.tls())


def test_a_certificate_from_another_ca_is_refused(hall, tmp_path):
    from motcua.broker.certs import SiteCA

    rogue = SiteCA(tmp_path / "rogue", SITE).device("counter-3")
    with pytest.raises(Refused):
        connect(hall.cert_port, None, None, tls=hall.tls(cert=rogue.cert, key=rogue.key))


def test_the_plain_listener_is_loopback_only(hall):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:  # the address this box would use on its LAN (a UDP connect sends nothing)
            probe.connect(("198.51.100.1", 9))
            lan_ip = probe.getsockname()[0]
        except OSError:
            lan_ip = "127.0.0.1"
    if lan_ip.startswith("127."):
        # No LAN here: any other address than 127.0.0.1 shows the same (Linux routes all of 127/8
        # to lo, and only a listener bound to every address answers on 127.0.0.2).
        lan_ip = "127.0.0.2"
    with pytest.raises(ConnectionRefusedError), socket.create_connection((lan_ip, hall.port), timeout=2):
        pass
    # while the TLS listener answers on every address
    with socket.create_connection((lan_ip, hall.tls_port), timeout=2):
        pass


def test_an_oversized_packet_is_refused(hall):
    peer = hall.login("kiosk-1")
    try:
        peer.client.publish(hall.topic("request/kiosk-1/ticket/issue"), b"x" * 300_000, qos=1)
        assert peer.disconnected.wait(5), "the broker must drop a client sending a packet above max_packet_size"
    finally:
        peer.client.loop_stop()


def test_a_hall_over_tls_with_the_shipped_settings(hall, tmp_path):
    """The dispatcher on the central box's loopback listener, a kiosk across the LAN over TLS, each with
    the password file `add-device` wrote, as examples/*.toml set them up: a ticket is issued."""
    import os
    import subprocess
    import sys

    from motcua.client import HallClient
    from motcua.localbroker import REPO
    from motcua.protocol import new_id
    from motcua.runtime import RequestTimeout
    from motcua.settings import MqttSettings

    env = {k: v for k, v in os.environ.items() if not k.startswith("MOTCUA_")}
    env.update(MOTCUA_SITE=SITE, MOTCUA_MQTT__PORT=str(hall.port),
               MOTCUA_MQTT__PASSWORD_FILE=str(hall.sb.secret_path("dispatcher")),
               MOTCUA_DATABASE=str(tmp_path / "hall.db"), MOTCUA_HALL__OPENING_HOURS="[]")
    log = open(tmp_path / "dispatcher.log", "w")
    daemon = subprocess.Popen([sys.executable, "-m", "dispatcher", "--config", str(REPO / "examples/hall.toml")],
                              env=env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
    kiosk_login = MqttSettings(host="127.0.0.1", port=hall.tls_port, ca_file=hall.ca.cert_path,
                               password_file=hall.sb.secret_path("kiosk-1"))
    try:
        with HallClient(SITE, mqtt=kiosk_login, device_id="kiosk-1", timeout=2) as kiosk:
            assert kiosk.device_id == "kiosk-1"
            command_id = new_id()
            for _ in range(30):  # until the dispatcher is up (a loaded machine: generous); the same command id, so at most one ticket
                try:
                    reply = kiosk.ticket("TP", command_id=command_id)
                    break
                except RequestTimeout:
                    assert daemon.poll() is None, (tmp_path / "dispatcher.log").read_text()
            assert reply.ok and reply.ticket.number.startswith("A")
    finally:
        daemon.terminate()
        daemon.wait(15)
        log.close()
