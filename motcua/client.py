"""A typed client of the dispatcher: what the CLI, the demo, the web console and the devices use to ask it things.

Every call sends one request with a fresh id (or the one you pass, to retry)
on ``request/{login}/…`` and waits for the matching reply on
``device/{login}/reply``; the login is the client's MQTT username. The broker
lets a login write only the request topics its role names, and the dispatcher
takes the sender from the topic, so nothing in a body says who is asking.
Refusals come back as replies with ``ok: false`` and an ``error.code``
(docs/protocol.md lists them); a request the broker itself refuses raises
:class:`~motcua.runtime.BrokerRefused` (a sibling of
:class:`~motcua.runtime.RequestTimeout` and :class:`~motcua.runtime.Offline`: catch them by type,
or all three as :class:`~motcua.runtime.RequestFailed`). Each request type carries its own MQTT
expiry (:attr:`~motcua.protocol.Request.expiry_s`).
"""

from __future__ import annotations

import os
import socket
import threading
from typing import Any, TypeVar

from .protocol import (
    COUNTER_ACTIONS,
    CounterReply,
    DossierLookup,
    DossierReply,
    Request,
    Rating,
    RatingAck,
    Reply,
    TicketCancel,
    TicketReply,
    TicketRequest,
    new_id,
)
from .runtime import DeviceRuntime
from .settings import DeviceSettings, MqttSettings

R = TypeVar("R", bound=Reply)


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
        self.login = self.runtime.login
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

    def request(self, topic: str, message: Request, reply_model: type[R], *, timeout: float | None = None,
                expiry_s: int | None = None) -> R:
        """Any request: ``topic`` from ``self.topics`` with ``self.login`` as sender."""
        return self.runtime.request(topic, message, reply_model, timeout=timeout or self.timeout, expiry_s=expiry_s)

    def ticket(self, area: str, priority: str | None = None, *, command_id: str | None = None,
               timeout: float | None = None, dossier_code: str | None = None) -> TicketReply:
        req = TicketRequest(command_id=command_id or new_id(), area=area, priority=priority, dossier_code=dossier_code)
        return self.request(self.topics.ticket_issue(self.login), req, TicketReply, timeout=timeout)

    def cancel(self, ticket_id: str, reason: str, *, command_id: str | None = None) -> TicketReply:
        req = TicketCancel(command_id=command_id or new_id(), ticket_id=ticket_id, reason=reason)
        return self.request(self.topics.ticket_cancel(self.login), req, TicketReply)

    def counter(self, counter: int, action: str, /, *, command_id: str | None = None, timeout: float | None = None,
                **fields: Any) -> CounterReply:
        model = COUNTER_ACTIONS.get(action)
        if model is None:
            raise ValueError(f"unknown counter action {action!r}; one of {', '.join(COUNTER_ACTIONS)}")
        cmd = model(command_id=command_id or new_id(), **fields)
        return self.request(self.topics.counter_command(counter, action, self.login), cmd, CounterReply,
                            timeout=timeout)

    def rate(self, rating: Rating, *, timeout: float | None = None) -> RatingAck:
        return self.request(self.topics.counter_rating(rating.counter, self.login), rating, RatingAck, timeout=timeout)

    def lookup(self, code: str) -> DossierReply:
        req = DossierLookup(command_id=new_id(), code=code)
        return self.request(self.topics.dossier_lookup(self.login), req, DossierReply)
