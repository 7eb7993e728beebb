"""The province's side of the bridges, on one machine: for the test suite and the province bench.

:class:`ProvinceBroker` runs ``broker_config/province`` (TLS, password file,
ACL) with one bridge identity per site, the collectors' and the one-stop
adapter's logins. :class:`BridgedSite` is a hall's broker (the development
config, loopback) with ``broker_config/bridge`` rendered into it, the way
``motcua broker bridge`` renders it for a real hall.

In production the province runs its own MQTT cluster; what it gives each
hall is what ``motcua broker bridge`` prints, and what it gives the
collectors is :func:`render_reader_acl`.
"""

from __future__ import annotations

import getpass
import os
import subprocess
import sys
from pathlib import Path

from pydantic import SecretStr

from motcua.broker import passwords
from motcua.broker.certs import SiteCA
from motcua.broker.configs import (
    BridgeSettings,
    render_bridge,
    render_central_system_acl,
    render_province_acl,
    render_province_stand_in,
    render_province_web_acl,
)
from motcua.localbroker import REPO, LocalBroker, free_port
from motcua.protocol.topics import ROOT
from motcua.settings import MqttSettings


def render_reader_acl(user: str) -> str:
    """A province reader (the collector): every hall's topics, read only."""
    return f"# A province collector: reads every hall, writes nothing.\nuser {user}\ntopic read {ROOT}/#\n"


class ProvinceBroker:
    """The province's broker, TLS on a free port, with ``sites`` bridge identities and the given readers/writers.

    Each collector process has a login of its own: the broker takes the username as the client id,
    and each collector's persistent session is its own.
    """

    def __init__(self, workdir: Path, sites: list[str], *, readers: tuple[str, ...] = ("collector-1", "collector-2"),
                 writers: tuple[str, ...] = ("onestop",), webs: tuple[str, ...] = (), extra_config: str = ""):
        self.workdir = Path(workdir)
        self.dir = self.workdir / "etc"
        (self.dir / "certs").mkdir(parents=True, exist_ok=True)
        self.ca = SiteCA(self.dir / "certs", "province")
        self.ca.ensure()
        self.ca.server(["localhost", "127.0.0.1"])
        self.site_passwords = {s: passwords.new_password() for s in sites}
        self.logins = {u: passwords.new_password() for u in (*readers, *writers, *webs)}
        entries = [passwords.hash_entry(f"site-{s}", p) for s, p in self.site_passwords.items()]
        entries += [passwords.hash_entry(u, p) for u, p in self.logins.items()]
        (self.dir / "passwd").write_text("\n".join(entries) + "\n")
        acl = [render_province_acl(s) for s in sites]
        acl += [render_reader_acl(u) for u in readers] + [render_central_system_acl(u) for u in writers]
        acl += [render_province_web_acl(u) for u in webs]
        (self.dir / "acl").write_text("\n".join(acl))
        for d in (self.workdir, self.dir, self.dir / "certs"):
            d.chmod(0o755)
        for f in (self.dir / "passwd", self.dir / "acl"):
            f.chmod(0o644)
        self.port = free_port()
        self.extra_config = extra_config
        self.broker = LocalBroker(self.workdir / "data", port=self.port, render=self._render)

    def _render(self, b: LocalBroker) -> str:
        return render_province_stand_in(self.dir, data_dir=b.workdir, tls_port=b.port,
                                        log_dest=f"file {b.workdir}/mosquitto.log",
                                        user=getpass.getuser()) + self.extra_config

    def mqtt(self, user: str) -> MqttSettings:
        """The ``[mqtt]`` settings a collector or adapter logs in with."""
        return MqttSettings(host="127.0.0.1", port=self.port, username=user,
                            password=SecretStr(self.logins[user]), ca_file=self.ca.cert_path)

    def env(self, user: str) -> dict[str, str]:
        return {"MOTCUA_MQTT__HOST": "127.0.0.1", "MOTCUA_MQTT__PORT": str(self.port),
                "MOTCUA_MQTT__USERNAME": user, "MOTCUA_MQTT__PASSWORD": self.logins[user],
                "MOTCUA_MQTT__CA_FILE": str(self.ca.cert_path)}

    def start(self) -> ProvinceBroker:
        self.broker.start()
        return self

    def stop(self) -> None:
        self.broker.stop()


class BridgedSite:
    """One hall's broker (development config) bridged to the province as ``site-{site}``."""

    def __init__(self, workdir: Path, site: str, province: ProvinceBroker, *, extra_config: str = ""):
        self.site = site
        self.province = province
        self.bridge = render_bridge(BridgeSettings(
            site=site, remote_host="127.0.0.1", remote_port=province.port, remote_ca=province.ca.cert_path,
            remote_password=province.site_passwords[site]))
        self.broker = LocalBroker(Path(workdir), site=site, extra_config=extra_config + "\n" + self.bridge)

    def topic(self, rest: str) -> str:
        return f"{ROOT}/{self.site}/{rest}"

    def start(self) -> BridgedSite:
        self.broker.start()
        return self

    def stop(self) -> None:
        self.broker.stop()


def spawn_collector(province: ProvinceBroker, dsn: str, device_id: str, log: Path, **settings: str) -> subprocess.Popen:
    """The real collector daemon, as systemd would run it, logged in as ``device_id``; settings as env."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOTCUA_")}
    env.update(province.env(device_id))
    env.update(MOTCUA_DEVICE_ID=device_id, MOTCUA_DATABASE__DSN=dsn)
    env.update({f"MOTCUA_{k.upper()}": v for k, v in settings.items()})
    with open(log, "ab") as out:
        return subprocess.Popen([sys.executable, "-m", "province"], env=env, cwd=REPO, stdout=out,
                                stderr=subprocess.STDOUT)
