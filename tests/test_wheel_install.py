"""The distribution as a central box gets it: a wheel in a fresh venv, far from this repository.

`pip install motcua-*.whl[hub]` must bring everything the central box runs: the development
broker (its Mosquitto template read from the installed package) and the dispatcher, and the
`motcua box` provisioning tools with the roles, units and examples they ship.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from motcua.localbroker import REPO, free_port, mosquitto_binary



def clean_env(**extra: str) -> dict[str, str]:
    """No PYTHONPATH, no MOTCUA_*, nothing pointing back at the checkout."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("MOTCUA_", "PYTHON", "VIRTUAL_ENV"))}
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def hub_venv(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("wheel")
    dist = work / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(dist), str(REPO)],
                   check=True, capture_output=True, cwd=work)
    wheel = next(dist.glob("motcua-*.whl"))
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    # this venv's pip installs into the new one (no ensurepip: seconds saved); wheels come from pip's cache
    r = subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "-q",
                        "--disable-pip-version-check", f"{wheel}[hub]"], capture_output=True, text=True, cwd=work)
    assert r.returncode == 0, r.stderr[-3000:]
    return venv


def test_the_wheel_carries_no_path_back_to_the_checkout(hub_venv: Path, tmp_path: Path):
    code = ("import motcua, boxes, dispatcher; from motcua.broker.configs import SITE_TEMPLATE; "
            "from boxes.roles import load_roles, EXAMPLES; "
            "print(motcua.__file__); print(SITE_TEMPLATE.read_text()[:40]); "
            "print(sorted(load_roles())); print(sorted(u.name for r in load_roles().values() for u in r.units())); "
            "print(sorted(p.name for p in EXAMPLES.iterdir()))")
    r = subprocess.run([str(hub_venv / "bin" / "python"), "-c", code], capture_output=True, text=True,
                       cwd=tmp_path, env=clean_env(), timeout=60)
    assert r.returncode == 0, r.stderr
    where, template, roles, units, examples = r.stdout.splitlines()
    assert where.startswith(str(hub_venv)) and not where.startswith(str(REPO))
    assert template.startswith("# motcua site broker")
    import tomllib

    assert roles == str(sorted(tomllib.loads((REPO / "boxes" / "roles.toml").read_text())))
    assert "motcua-dispatcher.service" in units and "motcua-broker.service" in units
    assert "hall.toml" in examples
    # the hub's venv holds no screen, LED or printer libraries
    r = subprocess.run([str(hub_venv / "bin" / "python"), "-c", "import pygame"], capture_output=True,
                       cwd=tmp_path, env=clean_env())
    assert r.returncode != 0


def _dispatcher_online(port: int, login: dict[str, str], hall_name: str, timeout: float) -> bool:
    """Wait on the broker for the dispatcher's retained availability (online) and hall config (its name)."""
    import paho.mqtt.client as mqtt

    seen: dict[str, bytes] = {}
    both = threading.Event()
    root = "motcua/v1/wheel"

    def on_message(client, userdata, msg) -> None:
        seen[msg.topic] = msg.payload
        if (seen.get(f"{root}/device/dispatcher/availability") == b"online"
                and hall_name.encode() in seen.get(f"{root}/hall/config", b"")):
            both.set()

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=login["MOTCUA_MQTT__USERNAME"],
                         protocol=mqtt.MQTTv5)
    client.username_pw_set(login["MOTCUA_MQTT__USERNAME"], login["MOTCUA_MQTT__PASSWORD"])
    client.on_connect = lambda c, *_: c.subscribe([(f"{root}/device/dispatcher/availability", 1),
                                                   (f"{root}/hall/config", 1)])
    client.on_message = on_message
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        return both.wait(timeout)
    finally:
        client.disconnect()
        client.loop_stop()


def test_fresh_hub_venv_starts_the_dev_broker_and_the_dispatcher(hub_venv: Path, tmp_path: Path):
    bin_ = hub_venv / "bin"
    port = free_port()
    broker_dir = tmp_path / "broker"
    env = clean_env(PATH=f"{bin_}:{os.path.dirname(mosquitto_binary())}:{os.environ.get('PATH', '')}")
    broker = subprocess.Popen([str(bin_ / "motcua"), "broker", "dev", "--dir", str(broker_dir), "--port", str(port)],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp_path, env=env)
    dispatcher = None
    try:
        first = ""
        for line in broker.stdout:
            first += line
            if "logins, as environment variables" in line:
                break
        assert f"development broker on 127.0.0.1:{port}" in first, first
        login = dict(line.split("=", 1) for line in (broker_dir / "dispatcher.env").read_text().splitlines())
        config = tmp_path / "dispatcher.toml"
        hall = (REPO / "examples" / "hall.toml").read_text()
        config.write_text(hall.replace('database = "/var/lib/motcua/dispatcher.db"',
                                       f'database = "{tmp_path / "hall.db"}"')
                          .replace('password_file = "/etc/motcua/mqtt.password"', ""))
        dispatcher = subprocess.Popen(
            [str(bin_ / "motcua-dispatcher"), "--config", str(config)], cwd=tmp_path,
            env={**env, **login, "MOTCUA_SITE": "wheel", "MOTCUA_HALL__OPENING_HOURS": "[]"},
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        tech = dict(line.split("=", 1) for line in (broker_dir / "tech.env").read_text().splitlines())
        import tomllib

        hall_name = tomllib.loads(hall)["hall"]["name"]
        # the dispatcher's own retained words, heard as the technician's login hears them; then the status
        assert _dispatcher_online(port, tech, hall_name, 60), dispatcher.poll() is None or dispatcher.stdout.read()
        r = subprocess.run([str(bin_ / "motcua"), "status", "--port", str(port), "--site", "wheel"],
                           capture_output=True, text=True, cwd=tmp_path, env={**env, **tech}, timeout=30)
        out = r.stdout + r.stderr
        assert hall_name in out, out
        assert "dispatcher" in out and "online" in out, out
        rc = subprocess.run([str(bin_ / "motcua"), "ticket", "TP", "--port", str(port), "--site", "wheel"],
                            capture_output=True, text=True, cwd=tmp_path, env={**env, **tech}, timeout=30)
        assert rc.returncode == 0 and rc.stdout.startswith("A1001"), rc.stdout + rc.stderr
    finally:
        for proc in (dispatcher, broker):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
