"""Render the shipped Mosquitto configurations (broker_config/) for one box.

The templates are plain Mosquitto files with ``{placeholders}``; what varies
between a hall, the development broker and a test is filled in here, so the
tests start exactly the files a technician deploys.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

from ..protocol.topics import ROOT

# broker_config/ of the repository, shipped inside this package (a link in the
# source tree, real files in the wheel): read through importlib.resources so an
# installed box needs no checkout.
BROKER_CONFIG = files(__package__) / "templates"
SITE_TEMPLATE = BROKER_CONFIG / "site" / "mosquitto.conf"
CLIENT_CERTS_TEMPLATE = BROKER_CONFIG / "site" / "client-certs.conf"
DEV_TEMPLATE = BROKER_CONFIG / "dev" / "mosquitto.conf"
PROVINCE_TEMPLATE = BROKER_CONFIG / "province" / "mosquitto.conf"
BRIDGE_TEMPLATE = BROKER_CONFIG / "bridge" / "province.conf"

# What crosses the bridge, below ``motcua/v1/{site}/``. Up: what happened in the
# hall, for the province's dashboards and archives. Down: what the province
# knows and the hall needs. Disjoint by construction (checked by a test), and
# no command or request goes up: a command can never echo back. Ratings go up as the
# dispatcher's ``event/rating`` (accepted, once, with its own record of who served what),
# never as the pads' raw ``request/{pad}/rating/{n}`` messages (retries and refused ones).
UP = ("event/#", "counter/+/state", "area/+/summary", "hall/config", "hall/figures", "hall/report/+",
      "device/+/availability", "device/+/health",
      # for the citizens' pages served at the province: by tracking key (a hash), never the token
      "area/+/queue", "track/+")
DOWN = ("dossier/status", "dossier/progress", "hall/notice", "central/#")


def render_site(directory: Path, *, data_dir: Path, local_port: int = 1883, tls_port: int = 8883,
                cert_port: int | None = None, log_dest: str = "syslog", user: str | None = "mosquitto") -> str:
    """The production config; ``cert_port`` adds the client-certificate listener."""
    cert_listener = ""
    if cert_port is not None:
        cert_listener = "\n" + CLIENT_CERTS_TEMPLATE.read_text().format(cert_port=cert_port, dir=directory)
    return SITE_TEMPLATE.read_text().format(
        dir=directory, data_dir=data_dir, local_port=local_port, tls_port=tls_port, cert_listener=cert_listener,
        log_dest=log_dest, user_line=f"user {user}" if user else "")


def render_dev(directory: Path, *, port: int, user: str) -> str:
    """The development broker of ``make demo`` and the tests: loopback, same ACL, generated passwords."""
    return DEV_TEMPLATE.read_text().format(port=port, data_dir=directory, user=user)


@dataclass(frozen=True)
class BridgeSettings:
    site: str
    remote_host: str
    remote_port: int = 8883
    remote_ca: Path = Path("/etc/mosquitto/motcua/province-ca.crt")
    remote_username: str | None = None
    remote_password: str | None = None
    remote_certfile: Path | None = None
    remote_keyfile: Path | None = None

    @property
    def identity(self) -> str:
        """The site's client id and username at the province."""
        return self.remote_username or f"site-{self.site}"

    @property
    def notification_topic(self) -> str:
        return f"{ROOT}/{self.site}/bridge/province"


def render_bridge(b: BridgeSettings) -> str:
    if b.remote_certfile and b.remote_keyfile:
        auth = f"bridge_certfile {b.remote_certfile}\nbridge_keyfile {b.remote_keyfile}"
    elif b.remote_password:
        auth = f"remote_username {b.identity}\nremote_password {b.remote_password}"
    else:
        raise ValueError("the bridge needs a password (--remote-password-file) or a client certificate "
                         "(--remote-cert and --remote-key) to log in at the province")
    prefix = f"{ROOT}/{b.site}/"
    lines = [f"topic {t} out 1 {prefix} {prefix}" for t in UP] + [f"topic {t} in 1 {prefix} {prefix}" for t in DOWN]
    return BRIDGE_TEMPLATE.read_text().format(
        site=b.site, remote_address=f"{b.remote_host}:{b.remote_port}", remote_clientid=b.identity,
        remote_auth=auth, remote_ca=b.remote_ca, notification_topic=b.notification_topic,
        topic_lines="\n".join(lines))


def render_province_acl(site: str, identity: str | None = None) -> str:
    """The rights the province's broker should give one site's bridge: its own subtree, no more.

    It writes what flows up and reads what flows down, for its own site only:
    one hall cannot publish as another or read another's dossiers.
    """
    identity = identity or f"site-{site}"
    root = f"{ROOT}/{site}"
    lines = [f"# The bridge of hall '{site}' (motcua broker bridge): give this to the province.", f"user {identity}"]
    lines += [f"topic write {root}/{t}" for t in UP]
    lines += [f"topic write {root}/bridge/province"]
    lines += [f"topic read {root}/{t}" for t in DOWN]
    return "\n".join(lines) + "\n"


def render_province_stand_in(directory: Path, *, data_dir: Path, tls_port: int, log_dest: str,
                             user: str | None) -> str:
    """broker_config/province: the bench stand-in for the province's broker."""
    return PROVINCE_TEMPLATE.read_text().format(dir=directory, data_dir=data_dir, tls_port=tls_port,
                                                log_dest=log_dest, user_line=f"user {user}" if user else "")


def render_central_system_acl(user: str = "central") -> str:
    """The province's own application: reads every hall, writes only what flows down to them."""
    lines = ["# The province's one-stop system, reading every hall and writing what flows down to them.",
             f"user {user}", f"topic read {ROOT}/#"]
    lines += [f"topic write {ROOT}/+/{t}" for t in DOWN]
    return "\n".join(lines) + "\n"


# What the province's citizen pages read: the hall's names, the areas' summaries and queues, the tickets
# by tracking key. Nothing about officers, devices or dossiers, and nothing to write.
PROVINCE_WEB_READS = ("hall/config", "area/+/summary", "area/+/queue", "track/+")


def render_province_web_acl(user: str = "web-province") -> str:
    """The province's web service (citizens' queue pages): reads what those pages show, for every hall."""
    lines = ["# The province's web service: the citizens' queue pages of every hall; reads only what they show.",
             f"user {user}"]
    lines += [f"topic read {ROOT}/+/{t}" for t in PROVINCE_WEB_READS]
    return "\n".join(lines) + "\n"
