"""The device runtime: MQTT connection, availability, health, systemd, logging."""

from .device import DeviceRuntime, Inbound, NotAuthorized, Offline, RequestTimeout, rss_mb
from .logs import setup_logging
from .systemd import SystemdNotifier

__all__ = ["DeviceRuntime", "Inbound", "NotAuthorized", "Offline", "RequestTimeout", "SystemdNotifier", "rss_mb", "setup_logging"]
