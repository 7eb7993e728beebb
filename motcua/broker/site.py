"""One hall's broker directory: the device registry and the files Mosquitto reads.

::

    /etc/mosquitto/motcua/              (SiteBroker.directory)
      devices.toml                   the registry: site id, each device's id, role, counter
      passwd                         generated: one PBKDF2 hash per device (Mosquitto password_file)
      acl                            generated from the registry (Mosquitto acl_file)
      secrets/<id>.password          each device's password, to copy onto that box (0600)
      certs/                         from `motcua broker gen-certs`: ca, server, devices/<id>
      conf.d/                        extra config Mosquitto includes: the bridge to the province
      mosquitto.conf                 rendered from broker_config/site/mosquitto.conf

The registry is the technician's source of truth; ``passwd`` and ``acl`` are
rewritten from it on every change, so they never drift apart. Mosquitto
re-reads both on SIGHUP (``systemctl reload motcua-broker``).
"""

from __future__ import annotations

import grp
import os
import tomllib
from pathlib import Path

from pydantic import Field, ValidationError, field_validator, model_validator

from ..settings import StrictModel
from . import passwords
from .roles import ROLES, Device, render_acl

DEFAULT_DIR = Path("/etc/mosquitto/motcua")
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
SITE_PATTERN = r"^(\+|[A-Za-z0-9][A-Za-z0-9_.-]{0,63})$"


class RegistryError(ValueError):
    """The registry or a request to change it is wrong; the message says how."""


class DeviceEntry(StrictModel):
    id: str = Field(pattern=ID_PATTERN)
    role: str
    counter: int | None = Field(None, ge=1, le=999)

    @field_validator("role")
    @classmethod
    def _known_role(cls, role: str) -> str:
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}; roles: {', '.join(ROLES)}")
        return role

    @model_validator(mode="after")
    def _counter_fits_role(self) -> DeviceEntry:
        self.device()
        return self

    def device(self) -> Device:
        return Device(self.id, self.role, self.counter)


class Registry(StrictModel):
    site: str = Field(pattern=SITE_PATTERN, description="The hall's id in topics; '+' on the development broker.")
    devices: list[DeviceEntry] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_ids(self) -> Registry:
        seen: set[str] = set()
        for d in self.devices:
            if d.id in seen:
                raise ValueError(f"device id {d.id!r} is registered twice")
            seen.add(d.id)
        return self

    def find(self, device_id: str) -> DeviceEntry | None:
        return next((d for d in self.devices if d.id == device_id), None)

    def to_toml(self) -> str:
        out = ["# The devices allowed on this hall's broker. Change it with `motcua broker add-device` /",
               "# `remove-device`; passwd and acl are generated from it.", f'site = "{self.site}"']
        for d in sorted(self.devices, key=lambda d: d.id):
            out += ["", "[[devices]]", f'id = "{d.id}"', f'role = "{d.role}"']
            if d.counter is not None:
                out.append(f"counter = {d.counter}")
        return "\n".join(out) + "\n"


def write_file(path: Path, text: str, mode: int) -> None:
    """Write atomically (a power cut leaves the old file or the new one) with the given mode."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.chmod(tmp, mode)
    if mode & 0o040:  # group-readable: a file the broker must read
        give_to_broker(tmp)
    os.replace(tmp, path)


def give_to_broker(path: Path) -> None:
    """Files the broker must read (mode 0640) belong to group mosquitto, when we are root to say so."""
    if os.geteuid() == 0:
        try:
            os.chown(path, 0, grp.getgrnam("mosquitto").gr_gid)
        except KeyError:
            pass


class SiteBroker:
    def __init__(self, directory: Path | str = DEFAULT_DIR):
        self.directory = Path(directory)

    # paths
    @property
    def registry_path(self) -> Path:
        return self.directory / "devices.toml"

    @property
    def passwd_path(self) -> Path:
        return self.directory / "passwd"

    @property
    def acl_path(self) -> Path:
        return self.directory / "acl"

    @property
    def secrets_dir(self) -> Path:
        return self.directory / "secrets"

    @property
    def certs_dir(self) -> Path:
        return self.directory / "certs"

    @property
    def conf_d(self) -> Path:
        return self.directory / "conf.d"

    def secret_path(self, device_id: str) -> Path:
        return self.secrets_dir / f"{device_id}.password"

    # registry
    def exists(self) -> bool:
        return self.registry_path.is_file()

    def load(self) -> Registry:
        if not self.exists():
            raise RegistryError(f"{self.registry_path} does not exist: run `motcua broker init --site SITE` first")
        try:
            return Registry.model_validate(tomllib.loads(self.registry_path.read_text(encoding="utf-8")))
        except tomllib.TOMLDecodeError as exc:
            raise RegistryError(f"{self.registry_path}: {exc}") from None
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '(top)'}: {e['msg']}" for e in exc.errors())
            raise RegistryError(f"{self.registry_path}: {problems}") from None

    def init(self, site: str) -> Registry:
        if self.exists():
            registry = self.load()
            if registry.site != site:
                raise RegistryError(f"{self.directory} already belongs to site {registry.site!r}")
        else:
            try:
                registry = Registry(site=site)
            except ValidationError:
                raise RegistryError(f"site {site!r} cannot be a topic level (letters, digits, '.', '_', '-')") from None
        for d in (self.directory, self.conf_d):
            d.mkdir(parents=True, exist_ok=True)
        self.secrets_dir.mkdir(mode=0o700, exist_ok=True)
        self.save(registry)
        return registry

    def save(self, registry: Registry, entries: dict[str, str] | None = None) -> None:
        """Write the registry, then the acl and passwd that follow from it (``entries``: the
        password lines to keep, by device id; default: those on file)."""
        write_file(self.registry_path, registry.to_toml(), 0o644)
        write_file(self.acl_path, render_acl([d.device() for d in registry.devices], registry.site), 0o640)
        entries = self._passwd_entries() if entries is None else entries
        kept = [entries[d.id] for d in registry.devices if d.id in entries]
        write_file(self.passwd_path, "".join(f"{line}\n" for line in kept), 0o640)

    def _passwd_entries(self) -> dict[str, str]:
        if not self.passwd_path.is_file():
            return {}
        lines = [line for line in self.passwd_path.read_text().splitlines() if ":" in line]
        return {line.split(":", 1)[0]: line for line in lines}

    # devices
    def add_device(self, role: str, device_id: str, counter: int | None = None, *,
                   rotate: bool = False, password: str | None = None) -> str:
        """Register a device (or give an existing one a new password with ``rotate``); returns its password."""
        registry = self.load()
        try:
            entry = DeviceEntry(id=device_id, role=role, counter=counter)
        except ValidationError as exc:
            raise RegistryError("; ".join(e["msg"].removeprefix("Value error, ") for e in exc.errors())) from None
        existing = registry.find(device_id)
        if existing is not None and not rotate:
            if existing == entry:
                raise RegistryError(f"{device_id} is already registered as {role}; --rotate gives it a new password")
            raise RegistryError(f"{device_id} is already registered as {existing.role}"
                                + (f" (counter {existing.counter})" if existing.counter else "")
                                + "; remove it first")
        password = password or passwords.new_password()
        devices = [d for d in registry.devices if d.id != device_id] + [entry]
        registry = Registry(site=registry.site, devices=devices)
        self.secrets_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        write_file(self.secret_path(device_id), password + "\n", 0o600)
        entries = self._passwd_entries()
        entries[device_id] = passwords.hash_entry(device_id, password)
        self.save(registry, entries)
        if rotate:  # a new password says the old secrets leaked: the old certificate goes too
            self.revoke_certificate(device_id)
        return password

    def remove_device(self, device_id: str) -> None:
        registry = self.load()
        if registry.find(device_id) is None:
            raise RegistryError(f"{device_id} is not registered")
        self.save(Registry(site=registry.site, devices=[d for d in registry.devices if d.id != device_id]))
        self.secret_path(device_id).unlink(missing_ok=True)
        self.revoke_certificate(device_id)

    def revoke_certificate(self, device_id: str) -> bool:
        """A removed or rotated device's client certificate stops logging in (the broker's crlfile)."""
        if not (self.certs_dir / "devices" / f"{device_id}.crt").is_file():
            return False
        from .certs import SiteCA

        SiteCA(self.certs_dir, self.load().site).revoke(device_id)
        return True

    def password_of(self, device_id: str) -> str:
        path = self.secret_path(device_id)
        if not path.is_file():
            raise RegistryError(f"no password on file for {device_id} ({path})")
        return path.read_text().strip()
