"""`motcua` as a technician types it."""

from __future__ import annotations

import time

from motcua.cli import main
from motcua.localbroker import free_port


def run(capsys, *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def test_drive_the_hall_by_hand(dispatcher, broker, site, capsys, monkeypatch):
    # a technician's login, from the environment as systemd-creds or a shell would give it
    for var, value in broker.env("tech-cli", "operator").items():
        monkeypatch.setenv(var, value)
    conn = ["--port", str(broker.port), "--site", site]
    rc, out, _ = run(capsys, "ticket", "TP", *conn)
    assert rc == 0 and out.startswith("A1001  area TP") and "0 ahead" in out
    rc, out, _ = run(capsys, "ticket", "DD", "--priority", "elderly", *conn)
    assert rc == 0 and "B2001" in out and "priority: elderly" in out

    rc, out, err = run(capsys, "counter", "1", "next", *conn)
    assert rc == 1 and "closed" in err  # refused: open it first
    rc, out, _ = run(capsys, "counter", "1", "open", "--officer", "lan.nguyen", *conn)
    assert rc == 0 and "counter 1 (Quầy 1): open Nguyễn Thị Lan" in out
    rc, out, _ = run(capsys, "counter", "1", "next", *conn)
    assert rc == 0 and "serving A1001" in out
    rc, out, _ = run(capsys, "counter", "1", "dossier", "H12.22-240115-0001", *conn)
    assert rc == 0
    rc, out, _ = run(capsys, "counter", "1", "transfer", "--to-area", "DD", *conn)
    assert rc == 0 and "serving" not in out
    rc, out, err = run(capsys, "counter", "1", "transfer", *conn)
    assert rc == 2 and "exactly one" in err

    # an area's summary follows its changes within a second (the dispatcher's tick): look again until then
    for _ in range(10):
        rc, out, _ = run(capsys, "status", *conn)
        assert rc == 0
        dd = next(line for line in out.splitlines() if line.strip().startswith("DD "))
        if "waiting   2 (1 priority)" in dd:
            break
        time.sleep(0.5)
    assert "Trung tâm Phục vụ hành chính công phường Long Châu" in out
    assert "dispatcher" in out and "online" in out and "database ok" in out
    assert "Quầy 1" in out and "Nguyễn Thị Lan" in out
    assert "waiting   2 (1 priority)" in dd


def test_unreachable_broker_exits_3(capsys, site):
    rc, _, err = run(capsys, "ticket", "TP", "--port", str(free_port()), "--site", site, "--timeout", "1")
    assert rc == 3 and "unreachable" in err


def test_a_wrong_login_is_named(broker, site, capsys, monkeypatch):
    monkeypatch.setenv("MOTCUA_MQTT__USERNAME", "tech-cli")
    monkeypatch.setenv("MOTCUA_MQTT__PASSWORD", "not-the-password")
    rc, _, err = run(capsys, "ticket", "TP", "--port", str(broker.port), "--site", site, "--timeout", "1")
    assert rc == 3 and "Not authorized" in err and "tech-cli" in err


def test_connection_comes_from_the_strict_loader(tmp_path, capsys, monkeypatch):
    """`motcua` reads site and [mqtt] of a daemon's file; the rest of the file is the daemon's business,
    but a misspelt key inside [mqtt] is an error naming it (exit 78), never silently ignored."""
    import argparse

    from motcua.cli import connection
    from motcua.settings import EX_CONFIG

    for var in [v for v in __import__("os").environ if v.startswith("MOTCUA_")]:
        monkeypatch.delenv(var)
    good = tmp_path / "dispatcher.toml"
    good.write_text('site = "long-ho"\ndevice_id = "dispatcher"\ndatabase = "/x.db"\n'
                    '[mqtt]\nhost = "10.0.0.2"\nport = 8883\n[hall]\nname = "x"\n', encoding="utf-8")
    args = argparse.Namespace(config=str(good), host=None, port=None, site=None)
    site, mqtt = connection(args)
    assert (site, mqtt.host, mqtt.port) == ("long-ho", "10.0.0.2", 8883)
    monkeypatch.setenv("MOTCUA_MQTT__PORT", "1884")
    monkeypatch.setenv("MOTCUA_DATABASE", "/elsewhere.db")  # the dispatcher's, not ours: left alone
    assert connection(args)[1].port == 1884

    bad = tmp_path / "typo.toml"
    bad.write_text('[mqtt]\nhots = "10.0.0.2"\n', encoding="utf-8")
    rc, _, err = run(capsys, "status", "--config", str(bad))
    assert rc == EX_CONFIG and "mqtt.hots" in err


def test_status_on_a_slow_box_waits_for_the_retained_burst(dispatcher, broker, site, capsys, monkeypatch):
    """On an emulated box connecting takes seconds, and the retained messages come after it: status waits for
    them instead of printing an empty hall (timed from before the connection, it did)."""
    import time

    from motcua import client as hall_client

    for var, value in broker.env("tech-cli", "operator").items():
        monkeypatch.setenv(var, value)
    real_start = hall_client.HallClient.start

    def slow_start(self, *args, **kwargs):
        time.sleep(1.0)  # a slow TLS handshake before the connection is made
        return real_start(self, *args, **kwargs)

    monkeypatch.setattr(hall_client.HallClient, "start", slow_start)
    rc, out, _ = run(capsys, "status", "--port", str(broker.port), "--site", site)
    assert rc == 0
    assert "no hall configuration retained" not in out
    assert "Trung tâm Phục vụ hành chính công phường Long Châu" in out and "dispatcher" in out
