"""The roles catalogue (roles.toml) and the units that belong to each role."""

from __future__ import annotations

import re
import tomllib
from functools import cache
from importlib.resources import files
from importlib.resources.abc import Traversable

from pydantic import Field, ValidationError, model_validator

from motcua.settings import StrictModel

SHIPPED = files(__package__) / "shipped"
"""The repository's systemd/ and examples/, shipped inside this package (links in the source tree)."""
UNITS = SHIPPED / "units"
EXAMPLES = SHIPPED / "examples"
ROLES_KEY = "X-Motcua-Roles"


class SettingsFile(StrictModel):
    file: str = Field(pattern=r"^[a-z_]+\.toml$")
    example: str = Field(pattern=r"^[a-z_]+\.toml$")


class Role(StrictModel):
    name: str = ""
    summary: str
    extra: str = Field(pattern=r"^[a-z][a-z0-9-]*$")
    broker_role: str
    settings: SettingsFile
    settings_class: str = Field(pattern=r"^[a-z_.]+:[A-Za-z]+$")
    settings_role: str
    commission: list[str] = []
    counter: bool = False
    debian: list[str] = []
    groups: list[str] = []
    config_txt: list[str] = []
    system_site_packages: bool = False
    python_from_debian: list[str] = []
    after_install: list[str] = []
    udev: list[str] = []
    local_broker: bool = False
    persistent_journal: bool = False

    @model_validator(mode="after")
    def _debian_python_is_seen(self) -> Role:
        if self.python_from_debian and not self.system_site_packages:
            raise ValueError("python_from_debian needs system_site_packages = true (the venv must see Debian's modules)")
        return self

    def units(self) -> list[Traversable]:
        return [u for u in unit_files() if self.name in unit_roles(u.read_text())]


class RolesError(ValueError):
    pass


@cache
def load_roles() -> dict[str, Role]:
    raw = tomllib.loads((files(__package__) / "roles.toml").read_text(encoding="utf-8"))
    roles = {}
    for name, table in raw.items():
        try:
            roles[name] = Role(name=name, **table)
        except ValidationError as exc:
            raise RolesError(f"roles.toml [{name}]: {exc}") from None
    return roles


def get_role(name: str) -> Role:
    roles = load_roles()
    if name not in roles:
        raise RolesError(f"unknown role {name!r}; roles: {', '.join(roles)}")
    return roles[name]


# Units no box bundle installs: the web console and the province's services are set up by hand
# (systemd/README.md, docs/web.md, docs/province.md), since they need accounts and settings a
# bundle does not make. Such a unit says so with X-Motcua-Roles=manual.
MANUAL = "manual"


def unit_roles(unit_text: str) -> list[str]:
    """The roles a unit names in its [Install] section (X-Motcua-Roles=…)."""
    found = re.findall(rf"^{ROLES_KEY}=(.*)$", unit_text, flags=re.M)
    return " ".join(found).split()


def started(unit_text: str) -> bool:
    """Units with an [Install] section are enabled and started; the others (a timer's service) only installed."""
    return re.search(r"^WantedBy=", unit_text, flags=re.M) is not None


def unit_files() -> list[Traversable]:
    kinds = (".service", ".timer", ".socket", ".path")
    return sorted((u for u in UNITS.iterdir() if u.name.endswith(kinds)), key=lambda u: u.name)
