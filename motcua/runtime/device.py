"""The runtime every motcua daemon shares: one MQTT connection and its duties.

A daemon builds a :class:`DeviceRuntime`, registers what it listens to with
:meth:`DeviceRuntime.on` (events, retained state) and
:meth:`DeviceRuntime.on_command` (commands that deserve a reply), starts it,
and calls :meth:`DeviceRuntime.ready` once its hardware is initialised.
The runtime then

* connects asynchronously (a missing broker never blocks start-up) and
  reconnects within ``reconnect_max_s`` (about 2 s, not paho's 120 s);
* keeps a persistent MQTT v5 session (``clean_start=False`` + session expiry)
  so commands queued while the device was away still arrive;
* publishes retained ``availability`` (``offline`` is the last will) and
  periodic retained ``health``;
* validates every inbound payload before any logic sees it, answers a bad
  command with an error reply, logs why, and never dies of input;
* talks to systemd: ``READY=1``, ``STATUS=``, and ``WATCHDOG=1`` only while
  the network loop and the daemon's own checks are healthy.

Handlers run on paho's network thread, one message at a time, in order.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any, TypeVar

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from .. import __version__
from ..protocol import (
    AVAILABILITY_OFFLINE,
    AVAILABILITY_ONLINE,
    ErrorInfo,
    Health,
    Message,
    PayloadError,
    Reply,
    Topics,
    decode,
)
from ..settings import DeviceSettings
from .systemd import SystemdNotifier

log = logging.getLogger("motcua.runtime")

R = TypeVar("R", bound=Reply)
M = TypeVar("M", bound=Message)

# A handler still running after this long means the network loop is stuck
# behind it: stop petting the systemd watchdog so the unit gets restarted.
STUCK_HANDLER_S = 10.0


class Offline(ConnectionError):
    """The broker is not reachable right now; nothing was sent."""


class RequestTimeout(TimeoutError):
    """No reply arrived in time. Retrying with the same command id is safe."""


class NotAuthorized(RequestTimeout):
    """The broker refused the request (PUBACK 0x87): this login's role may not send on that topic.

    No reply will come, as with a timeout, so callers that retry or beep on a
    timeout do the right thing; the message says why, for the technician.
    """


@dataclass
class Inbound:
    """What a handler gets besides the validated message."""

    topic: str
    levels: list[str]  # topic levels below the site root
    response_topic: str | None
    correlation: bytes | None
    retained: bool


@dataclass
class _Pending:
    model: type[Reply]
    done: threading.Event
    reply: Reply | None = None
    refused: str | None = None


def rss_mb() -> float | None:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return None


def _overall(checks: dict[str, str]) -> str:
    """Each check reads 'ok …', 'fault …' or anything else (degraded); the worst one wins."""
    if any(v.startswith("fault") for v in checks.values()):
        return "fault"
    return "ok" if all(v.startswith("ok") for v in checks.values()) else "degraded"


class DeviceRuntime:
    def __init__(
        self,
        settings: DeviceSettings,
        role: str,
        *,
        announce: bool = True,
        persistent: bool = True,
        checks: Callable[[], dict[str, str]] | None = None,
        notifier: SystemdNotifier | None = None,
        watchdog_checks: Collection[str] | None = None,
    ):
        """``watchdog_checks`` names the checks whose fault should get the daemon restarted (default:
        all); a kiosk out of paper is a fault worth publishing, but a restart refills no paper."""
        self.settings = settings
        self.watchdog_checks = watchdog_checks
        self.role = role
        self.device_id = settings.device_id
        self.topics = Topics(settings.site)
        self.announce = announce
        self._checks = checks or (lambda: {})
        self.systemd = notifier or SystemdNotifier()
        self.last_error: str | None = None
        self.started_at = time.monotonic()
        self.on_connected: list[Callable[[], None]] = []  # run on the network thread after each (re)connect
        # mid of each QoS 1 publish the broker acknowledged. Called on paho's thread while it holds
        # the mutex publish() needs: never wait there for a lock that is held around publishing.
        self.on_published: list[Callable[[int], None]] = []

        self._subs: list[tuple[str, Callable[[mqtt.MQTTMessage], None]]] = []
        self._pending: dict[str, _Pending] = {}
        self._pending_lock = threading.Lock()
        # mid -> (topic, command id) until its PUBACK; refusals whose PUBACK beat the bookkeeping.
        # Never held while calling into paho: its network thread takes this lock in _on_publish.
        self._unacked: dict[int, tuple[str, str | None]] = {}
        self._early_refusals: dict[int, str] = {}
        self._connected = threading.Event()
        self._stopping = threading.Event()
        self._handler_since: float | None = None
        self._loop_thread: threading.Thread | None = None
        self._timers: list[threading.Thread] = []
        self._is_ready = False

        cfg = settings.mqtt
        self._client = mqtt.Client(
            callback_api_version=mqtt.CallbackAPIVersion.VERSION2,
            client_id=self.device_id,
            protocol=mqtt.MQTTv5,
        )
        self._client.username_pw_set(cfg.username or self.device_id, cfg.resolved_password())
        if cfg.ca_file:
            self._client.tls_set(
                ca_certs=str(cfg.ca_file),
                certfile=str(cfg.cert_file) if cfg.cert_file else None,
                keyfile=str(cfg.key_file) if cfg.key_file else None,
            )
        self._client.reconnect_delay_set(cfg.reconnect_min_s, cfg.reconnect_max_s)  # type: ignore[arg-type]
        self._client.max_inflight_messages_set(cfg.max_inflight)
        self._client.max_queued_messages_set(cfg.max_queued)
        self._persistent = persistent
        if announce:
            self._client.will_set(self.topics.availability(self.device_id), AVAILABILITY_OFFLINE, qos=1, retain=True)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = self._on_message
        self._client.on_publish = self._on_publish
        self._client.on_socket_open = self._on_socket_open
        # Our own reply topic: answers to the requests this device sends.
        self._subs.append((self.topics.reply(self.device_id), self._on_reply))

    # ------------------------------------------------------------------ registration

    def on(self, topic_filter: str, model: type[M], handler: Callable[[M, Inbound], None]) -> None:
        """Call ``handler(message, inbound)`` for each valid message on ``topic_filter``; log the invalid."""

        def dispatch(msg: mqtt.MQTTMessage) -> None:
            if not msg.payload and msg.retain:
                return  # an empty retained message clears a topic: nothing to handle
            inbound = self._inbound(msg)
            try:
                message = decode(model, msg.payload, self.settings.mqtt.max_payload_bytes)
            except PayloadError as exc:
                self._refused(msg.topic, exc)
                return
            handler(message, inbound)

        self._add_sub(topic_filter, dispatch)

    def on_raw(self, topic_filter: str, handler: Callable[[mqtt.MQTTMessage], None]) -> None:
        """Unvalidated access for tools that show whatever is there (``motcua status``)."""
        self._add_sub(topic_filter, handler)

    def _add_sub(self, topic_filter: str, dispatch: Callable[[mqtt.MQTTMessage], None]) -> None:
        self._subs.append((topic_filter, dispatch))
        if self._connected.is_set():  # registered late: subscribe now; on_connect renews it later
            self._client.subscribe(topic_filter, qos=1)

    def on_command(
        self,
        topic_filter: str,
        model_for: Callable[[Inbound], type[Message] | None],
        handler: Callable[[Any, Inbound], Reply | tuple[Reply, Callable[[], None]]],
    ) -> None:
        """Commands: validate with ``model_for(inbound)``, call ``handler``, publish the Reply it returns.

        ``handler`` may return ``(reply, then)``: ``then()`` runs once the reply is queued,
        for work the requester should not wait for.

        A command that cannot be validated is answered with ``ok: false`` and
        the reason, on the MQTT v5 response topic or, when a 3.1.1 hop dropped
        it, on the sender's ``device/{device_id}/reply`` named in the body.
        """

        def dispatch(msg: mqtt.MQTTMessage) -> None:
            inbound = self._inbound(msg)
            model = model_for(inbound)
            try:
                if model is None:
                    raise PayloadError("bad_payload", f"no such command topic: {msg.topic}")
                message = decode(model, msg.payload, self.settings.mqtt.max_payload_bytes)
            except PayloadError as exc:
                if model is None:  # unknown action: the body may still say whom to answer
                    exc = self._with_ids(exc, msg.payload)
                self._refused(msg.topic, exc)
                # answer whenever we know where to: even unreadable bodies come with v5 correlation data
                command_id = exc.command_id or (inbound.correlation or b"").decode("ascii", "replace")[:64]
                if command_id or exc.device_id:
                    reply = Reply(command_id=command_id, ok=False, error=ErrorInfo(code=exc.code, message=str(exc)))
                    self._send_reply(reply, inbound, exc.device_id)
                return
            try:
                answer = handler(message, inbound)
            except Exception as exc:  # noqa: BLE001 - our bug, not the sender's: say so, then keep serving
                log.exception("command on %s failed", msg.topic)
                self.last_error = f"{type(exc).__name__}: {exc}"
                command_id = getattr(message, "command_id", None) or getattr(message, "rating_id", "")
                answer = Reply(command_id=command_id, ok=False,
                               error=ErrorInfo(code="internal", message=f"internal error: {type(exc).__name__}"))
            reply, then = answer if isinstance(answer, tuple) else (answer, None)
            self._send_reply(reply, inbound, getattr(message, "device_id", None))
            if then is not None:
                then()

        self._add_sub(topic_filter, dispatch)

    @staticmethod
    def _with_ids(exc: PayloadError, payload: bytes) -> PayloadError:
        try:
            raw = json.loads(payload) if len(payload) < 65536 else None
        except ValueError:
            raw = None
        if isinstance(raw, dict):
            cid, dev = raw.get("command_id"), raw.get("device_id")
            exc.command_id = cid if isinstance(cid, str) and 0 < len(cid) <= 64 else None
            exc.device_id = dev if isinstance(dev, str) and 0 < len(dev) <= 64 else None
        return exc

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        cfg = self.settings.mqtt
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = cfg.session_expiry_s if self._persistent else 0
        self._client.connect_async(
            cfg.host, cfg.port, keepalive=cfg.keepalive_s, clean_start=not self._persistent, properties=props,
        )
        self._client.loop_start()
        # paho keeps its loop thread private; we watch it to decide whether to pet the watchdog
        self._loop_thread = getattr(self._client, "_thread", None)
        if self.announce:
            self.every(self.settings.health_interval_s, self.publish_health, "health")
        if self.systemd.watchdog_s:
            self.every(self.systemd.watchdog_s / 3, self._pet_watchdog, "watchdog")

    def ready(self, status: str | None = None) -> None:
        """Hardware initialised: tell systemd, publish health."""
        self._is_ready = True
        self.systemd.ready(status or self._status_line())
        if self._connected.is_set():
            self.publish_health()

    def stop(self) -> None:
        """Say goodbye cleanly: retained offline, then disconnect."""
        self._stopping.set()
        self.systemd.stopping()
        if self._connected.is_set():
            if self.announce:
                info = self._client.publish(self.topics.availability(self.device_id), AVAILABILITY_OFFLINE, 1, True)
                try:
                    info.wait_for_publish(timeout=2)
                except (RuntimeError, ValueError):
                    pass
            self._client.disconnect()
        self._client.loop_stop()
        for t in self._timers:
            t.join(timeout=2)

    def wait_connected(self, timeout: float) -> bool:
        return self._connected.wait(timeout)

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def healthy(self) -> bool:
        """Network loop alive, no handler stuck, and no check in 'fault'."""
        if self._loop_thread is not None and not self._loop_thread.is_alive():
            return False
        since = self._handler_since
        if since is not None and time.monotonic() - since > STUCK_HANDLER_S:
            return False
        checks = self._safe_checks()
        if self.watchdog_checks is not None:
            checks = {name: state for name, state in checks.items() if name in self.watchdog_checks}
        return _overall(checks) != "fault"

    # ------------------------------------------------------------------ publishing

    def publish(
        self,
        topic: str,
        message: Message | bytes,
        *,
        retain: bool = False,
        qos: int = 1,
        expiry_s: int | None = None,
        properties: Properties | None = None,
    ) -> mqtt.MQTTMessageInfo:
        payload = message if isinstance(message, bytes) else message.to_json()
        if expiry_s is not None:
            properties = properties or Properties(PacketTypes.PUBLISH)
            properties.MessageExpiryInterval = expiry_s
        info = self._client.publish(topic, payload, qos=qos, retain=retain, properties=properties)
        if qos > 0:
            self._track(info.mid, topic, None)
        return info

    def _track(self, mid: int, topic: str, command_id: str | None) -> str | None:
        """Note a QoS 1 publish until its PUBACK; returns the refusal if the PUBACK already came."""
        with self._pending_lock:
            refused = self._early_refusals.pop(mid, None)
            if refused is None:
                self._unacked[mid] = (topic, command_id)
        if refused is not None:
            self._publish_refused(topic, refused)
        return refused

    def _publish_refused(self, topic: str | None, reason: str) -> None:
        # Typically 0x87: the ACL does not let this device publish there. Say so
        # loudly: it is a deployment mistake, and retrying will not fix it.
        log.error("the broker refused our publish on %s: %s", topic, reason)
        self.last_error = f"broker refused publish on {topic}: {reason}"

    def request(self, topic: str, message: Message, reply_model: type[R], *, timeout: float = 5.0,
                expiry_s: int | None = None) -> R:
        """Send a command or request and wait for its reply.

        Raises Offline when not connected (nothing is sent) and RequestTimeout
        when no reply came; the caller may retry with the same message, whose
        ``command_id`` makes the retry harmless.
        """
        command_id = getattr(message, "command_id", None) or getattr(message, "rating_id")
        if not self._connected.is_set():
            raise Offline("not connected to the broker")
        pending = _Pending(reply_model, threading.Event())
        with self._pending_lock:
            self._pending[command_id] = pending
        props = Properties(PacketTypes.PUBLISH)
        props.ResponseTopic = self.topics.reply(self.device_id)
        props.CorrelationData = command_id.encode()
        if expiry_s is not None:
            props.MessageExpiryInterval = expiry_s
        try:
            info = self._client.publish(topic, message.to_json(), qos=1, properties=props)
            refused = self._track(info.mid, topic, command_id)
            if refused is not None:
                pending.refused = refused
                pending.done.set()
            if not pending.done.wait(timeout):
                raise RequestTimeout(f"no reply to {command_id} on {topic} within {timeout:g} s")
            if pending.refused:
                raise NotAuthorized(f"the broker refused {command_id} on {topic} ({pending.refused}): "
                                    f"'{self.settings.mqtt.username or self.device_id}' may not send there; "
                                    "check its role (motcua broker list)")
            assert pending.reply is not None
            return pending.reply  # type: ignore[return-value]
        finally:
            with self._pending_lock:
                self._pending.pop(command_id, None)

    def publish_health(self) -> None:
        if not self._connected.is_set() or not self.announce:
            return
        checks = self._safe_checks()
        status = _overall(checks)
        health = Health(
            device_id=self.device_id, role=self.role, status=status,
            uptime_s=round(time.monotonic() - self.started_at, 1), version=__version__,
            mqtt_connected=True, rss_mb=round(rss_mb() or 0, 1), checks=checks, last_error=self.last_error,
        )
        self.publish(self.topics.health(self.device_id), health, retain=True)

    # ------------------------------------------------------------------ paho callbacks (network thread)

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            self.last_error = f"broker refused connection: {reason_code}"
            log.error("broker %s:%s refused the connection: %s",
                      self.settings.mqtt.host, self.settings.mqtt.port, reason_code)
            return
        log.info("connected to %s:%s as %s (session %s)", self.settings.mqtt.host, self.settings.mqtt.port,
                 self.device_id, "resumed" if flags.session_present else "new")
        for topic_filter, _ in self._subs:
            client.subscribe(topic_filter, qos=1)
        if self.announce:
            client.publish(self.topics.availability(self.device_id), AVAILABILITY_ONLINE, qos=1, retain=True)
        self._connected.set()
        for callback in self.on_connected:
            self._guard(callback)
        if self._is_ready:
            self.publish_health()
        self.systemd.status(self._status_line())

    @staticmethod
    def _on_socket_open(client, userdata, sock) -> None:
        # paho leaves Nagle on: a reply then waits for the peer's delayed ACK (~40 ms a hop)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except (OSError, AttributeError):  # not a TCP socket (unix, websockets)
            pass

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        was_connected = self._connected.is_set()
        self._connected.clear()
        if self._stopping.is_set():
            return
        if not was_connected and (self.last_error or "").startswith("broker refused connection"):
            return  # the refusal already said why (and paho follows it with a meaningless "Protocol error")
        self.last_error = f"disconnected from broker: {reason_code}"
        log.warning("lost the broker (%s); reconnecting", reason_code)
        self.systemd.status(self._status_line())

    def _on_message(self, client, userdata, msg: mqtt.MQTTMessage) -> None:
        for topic_filter, dispatch in self._subs:
            if mqtt.topic_matches_sub(topic_filter, msg.topic):
                self._guard(dispatch, msg)

    def _on_publish(self, client, userdata, mid, reason_code, properties) -> None:
        failed = reason_code is not None and reason_code.is_failure
        with self._pending_lock:
            entry = self._unacked.pop(mid, None)
            if entry is None and failed:  # acknowledged before publish() returned: _track reports it
                self._early_refusals[mid] = str(reason_code)
                return
            topic, command_id = entry or (None, None)
            pending = self._pending.get(command_id) if command_id else None
        if failed:
            self._publish_refused(topic, str(reason_code))
            if pending is not None:
                pending.refused = str(reason_code)
                pending.done.set()
            return
        for callback in self.on_published:
            self._guard(callback, mid)

    def _on_reply(self, msg: mqtt.MQTTMessage) -> None:
        props = msg.properties
        corr = getattr(props, "CorrelationData", None) if props else None
        command_id = corr.decode(errors="replace") if corr else None
        if command_id is None:
            try:
                command_id = json.loads(msg.payload).get("command_id")
            except (ValueError, AttributeError):
                command_id = None
        with self._pending_lock:
            pending = self._pending.get(command_id) if command_id else None
        if pending is None:
            log.debug("reply for no pending request (%s): late or not ours", command_id)
            return
        try:
            pending.reply = decode(pending.model, msg.payload, self.settings.mqtt.max_payload_bytes)
        except PayloadError as exc:
            self._refused(msg.topic, exc)
            return
        pending.done.set()

    # ------------------------------------------------------------------ helpers

    def _guard(self, fn: Callable[..., None], *args: Any) -> None:
        """Run a handler; whatever it raises is logged, never kills the network loop."""
        self._handler_since = time.monotonic()
        try:
            fn(*args)
        except Exception as exc:  # noqa: BLE001 - a daemon must survive its own bugs
            self.last_error = f"{type(exc).__name__}: {exc}"
            log.exception("handler failed")
        finally:
            self._handler_since = None

    def _inbound(self, msg: mqtt.MQTTMessage) -> Inbound:
        props = msg.properties
        response = getattr(props, "ResponseTopic", None) if props else None
        corr = getattr(props, "CorrelationData", None) if props else None
        return Inbound(msg.topic, self.topics.split(msg.topic), response, corr, bool(msg.retain))

    def _refused(self, topic: str, exc: PayloadError) -> None:
        self.last_error = f"refused message on {topic}: {exc}"
        log.warning("refused message on %s: %s", topic, exc)

    def _reply_topic(self, inbound: Inbound, device_id: str | None) -> str | None:
        # Only ever answer onto a device's own reply topic: a client naming any
        # other response topic must not make us publish where it cannot.
        rt = inbound.response_topic
        levels = self.topics.split(rt) if rt else []
        if len(levels) == 3 and levels[0] == "device" and levels[2] == "reply":
            return rt
        if device_id:
            try:
                return self.topics.reply(device_id)
            except ValueError:
                return None
        return None

    def _send_reply(self, reply: Reply, inbound: Inbound, device_id: str | None) -> None:
        topic = self._reply_topic(inbound, device_id)
        if topic is None:
            log.warning("no valid reply topic for %s; reply dropped", reply.command_id)
            return
        props = Properties(PacketTypes.PUBLISH)
        props.CorrelationData = inbound.correlation or reply.command_id.encode()
        self._client.publish(topic, reply.to_json(), qos=1, properties=props)

    def _safe_checks(self) -> dict[str, str]:
        try:
            return dict(self._checks())
        except Exception as exc:  # noqa: BLE001
            return {"checks": f"fault: {exc}"}

    def _status_line(self) -> str:
        link = "connected" if self._connected.is_set() else "waiting for broker"
        return f"{self.role} {self.device_id}: {link} {self.settings.mqtt.host}:{self.settings.mqtt.port}"

    def _pet_watchdog(self) -> None:
        if self.healthy():
            self.systemd.watchdog()
        else:
            log.error("unhealthy: withholding the systemd watchdog ping")

    def every(self, interval: float, fn: Callable[[], None], name: str) -> None:
        """Run ``fn`` every ``interval`` seconds on its own thread until stop()."""
        def run() -> None:
            while not self._stopping.wait(interval):
                try:
                    fn()
                except Exception:  # noqa: BLE001
                    log.exception("%s timer failed", name)

        t = threading.Thread(target=run, name=f"motcua-{name}", daemon=True)
        t.start()
        self._timers.append(t)
