"""A typed client of the dispatcher: what the CLI, the demo and the devices use to ask it things.

Every call sends one command with a fresh id (or the one you pass, to retry)
and waits for the matching reply.
"""

from __future__ import annotations

import os
import socket
import threading
from typing import Any

from .protocol import (
    COUNTER_ACTIONS,
    CounterReply,
    DossierLookup,
    DossierReply,
    Rating,
    RatingAck,
    TicketCancel,
    TicketReply,
    TicketRequest,
    new_id,
)
from .protocol.topics import TOPIC_SPECS
from .runtime import DeviceRuntime
from .settings import DeviceSettings, MqttSettings

_EXPIRY = {spec.pattern: spec.expiry_s for spec in TOPIC_SPECS}


def cli_device_id(prefix: str = "cli") -> str:
    host = "".join(c for c in socket.gethostname() if c.isalnum() or c in "-_")[:30] or "host"
    return f"{prefix}-{host}-{os.getpid()}-{threading.get_ident() % 10000}"


class HallClient:
    def __init__(self, site: str = "demo", host: str = "127.0.0.1", port: int = 1883, *,
                 device_id: str | None = None, announce: bool = False, persistent: bool = False,
                 mqtt: MqttSettings | None = None, timeout: float = 5.0):
        mqtt = mqtt or MqttSettings(host=host, port=port)
        # On a locked-down broker the client id is the username: the device id must be it too.
        settings = DeviceSettings(site=site, device_id=device_id or mqtt.username or cli_device_id(), mqtt=mqtt)
        self.runtime = DeviceRuntime(settings, "client", announce=announce, persistent=persistent)
        self.topics = self.runtime.topics
        self.device_id = settings.device_id
        self.timeout = timeout

    def start(self, wait: float | None = 10.0) -> HallClient:
        self.runtime.start()
        if wait is not None and not self.runtime.wait_connected(wait):
            self.runtime.stop()
            where = f"{self.runtime.settings.mqtt.host}:{self.runtime.settings.mqtt.port}"
            why = self.runtime.last_error or ""
            if why.startswith("broker refused connection"):  # a wrong login, not a missing broker
                raise ConnectionError(f"{why} at {where} (login {self.runtime.settings.mqtt.username or self.device_id})")
            raise ConnectionError(f"no broker at {where}")
        return self

    def close(self) -> None:
        self.runtime.stop()

    def __enter__(self) -> HallClient:
        return self.start(wait=max(self.timeout, 1.0))

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # ------------------------------------------------------------------ requests

    def ticket(self, area: str, priority: str | None = None, *, command_id: str | None = None,
               timeout: float | None = None, dossier_code: str | None = None) -> TicketReply:
        req = TicketRequest(command_id=command_id or new_id(), device_id=self.device_id, area=area, priority=priority,
                            dossier_code=dossier_code)
        return self.runtime.request(self.topics.ticket_issue, req, TicketReply, timeout=timeout or self.timeout,
                                    expiry_s=_EXPIRY["request/ticket/issue"])

    def cancel(self, ticket_id: str, reason: str, *, command_id: str | None = None) -> TicketReply:
        req = TicketCancel(command_id=command_id or new_id(), device_id=self.device_id, ticket_id=ticket_id,
                           reason=reason)
        return self.runtime.request(self.topics.ticket_cancel, req, TicketReply, timeout=self.timeout)

    def counter(self, counter: int, action: str, /, *, command_id: str | None = None, timeout: float | None = None,
                **fields: Any) -> CounterReply:
        model = COUNTER_ACTIONS.get(action)
        if model is None:
            raise ValueError(f"unknown counter action {action!r}; one of {', '.join(COUNTER_ACTIONS)}")
        cmd = model(command_id=command_id or new_id(), device_id=self.device_id, **fields)
        return self.runtime.request(self.topics.counter_command(counter, action), cmd, CounterReply,
                                    timeout=timeout or self.timeout, expiry_s=_EXPIRY["counter/{counter}/cmd/{action}"])

    def rate(self, rating: Rating, *, timeout: float | None = None) -> RatingAck:
        return self.runtime.request(self.topics.counter_rating(rating.counter), rating, RatingAck,
                                    timeout=timeout or self.timeout)

    def lookup(self, code: str) -> DossierReply:
        req = DossierLookup(command_id=new_id(), device_id=self.device_id, code=code)
        return self.runtime.request(self.topics.dossier_lookup, req, DossierReply, timeout=self.timeout,
                                    expiry_s=_EXPIRY["request/dossier/lookup"])
