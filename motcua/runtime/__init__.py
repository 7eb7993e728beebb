"""The device runtime: MQTT connection, availability, health, systemd, logging."""

from .device import (
    BrokerRefused,
    DeviceRuntime,
    Inbound,
    NotAuthorized,
    Offline,
    Refused,
    RequestFailed,
    RequestTimeout,
    release_free_memory,
    rss_mb,
)
from .logs import setup_logging
from .systemd import SystemdNotifier

__all__ = ["BrokerRefused", "DeviceRuntime", "Inbound", "NotAuthorized", "Offline", "Refused", "RequestFailed",
           "RequestTimeout", "SystemdNotifier", "release_free_memory", "rss_mb", "setup_logging"]
