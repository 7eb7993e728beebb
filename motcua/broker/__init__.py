"""The hall's broker: device registry, rights per role, passwords, certificates, the bridge to the province."""

from .roles import ROLES, Device, render_acl
from .site import RegistryError, SiteBroker

__all__ = ["ROLES", "Device", "RegistryError", "SiteBroker", "render_acl"]
