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
* learns who sent a request from the login level of its topic
  (``request/{login}/…``, which only that login may write), refuses a body
  ``device_id`` that says otherwise, and answers only on that login's own
  ``device/{login}/reply``;
* notices a second process using its login: the one knocked off hears "session
  taken over" (MQTT v5), and every run carries an instance id in its retained
  health, so the newer of two live instances sees the older one and yields
  (exit 78: systemd does not restart it) instead of fighting;
* talks to systemd: ``READY=1``, ``STATUS=``, and ``WATCHDOG=1`` only while
  the network loop and the daemon's own checks are healthy.

Handlers run on paho's network thread, one message at a time, in order.
"""

from __future__ import annotations

import ctypes
import functools
import gc
import json
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

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
    Request,
    Topics,
    decode,
    new_id,
)
from ..protocol.codec import loads
from ..protocol.topics import is_login_level
from ..settings import DeviceSettings
from .systemd import SystemdNotifier

log = logging.getLogger("motcua.runtime")

R = TypeVar("R", bound=Reply)
M = TypeVar("M", bound=Message)

# A handler still running after this long means the network loop is stuck
# behind it: stop petting the systemd watchdog so the unit gets restarted.
STUCK_HANDLER_S = 10.0


class RequestFailed(Exception):
    """A request came to nothing to act on. Its kinds are siblings, caught by type:

    * :class:`Offline`: not connected, nothing was sent;
    * :class:`RequestTimeout`: sent, no reply in time (the receiver may have acted: retry with the same id);
    * :class:`BrokerRefused`: the broker refused to take it (this login may not send there): final;
    * :class:`Refused`: the receiver answered ``ok: false`` (only when the caller asked for it to raise).
    """


class Offline(RequestFailed, ConnectionError):
    """The broker is not reachable right now; nothing was sent."""


class RequestTimeout(RequestFailed, TimeoutError):
    """No reply arrived in time. Retrying with the same command id is safe."""


class BrokerRefused(RequestFailed):
    """The broker refused the request (PUBACK 0x87): this login's role may not send on that topic.

    No reply will come and retrying will not change that; the message says why, for the technician.
    """


# The name callers used before the kinds were siblings.
NotAuthorized = BrokerRefused


class Refused(RequestFailed):
    """The receiver refused the request; :attr:`reply` holds its answer, error code and message."""

    def __init__(self, reply: Reply):
        error = reply.error
        super().__init__(f"{error.code}: {error.message}" if error else "refused")
        self.reply = reply


# MQTT v5 DISCONNECT reason 0x8E: another connection logged in with our client id.
SESSION_TAKEN_OVER = 142

# A process whose runtime yields its login to an older live instance stops through this event
# (daemon_main sets it); the yield reason stays readable for the exit status.
_process_stop: threading.Event | None = None
_yielded: list[str] = []


def stop_process_on_yield(stop: threading.Event) -> None:
    global _process_stop
    _process_stop = stop


def yielded_reason() -> str | None:
    return _yielded[0] if _yielded else None


@dataclass
class Inbound:
    """What a handler gets besides the validated message."""

    topic: str
    levels: list[str]  # topic levels below the site root
    response_topic: str | None
    correlation: bytes | None
    retained: bool

    @property
    def sender(self) -> str | None:
        """The login that sent a request: ``request/{login}/…``, which the broker's ACL lets only it write."""
        levels = self.levels
        if len(levels) >= 3 and levels[0] == "request" and is_login_level(levels[1]):
            return levels[1]
        return None

    @property
    def what(self) -> list[str]:
        """The levels of a request topic after the sender: ``['counter', '3', 'next']``."""
        return self.levels[2:] if self.sender else []

    @property
    def requester(self) -> str:
        """The sender of a request: a handler given to :meth:`DeviceRuntime.on_command` always has one
        (a message without is refused before any handler runs)."""
        if self.sender is None:
            raise ValueError(f"{self.topic!r} is not a request topic")
        return self.sender


@dataclass
class _Pending:
    model: type[Reply]
    done: threading.Event
    reply: Reply | None = None
    refused: str | None = None


def _correlation_id(correlation: bytes | None) -> str:
    """A v5 correlation id as a command id: printable ASCII only, at most 64 characters."""
    text = (correlation or b"")[:64].decode("ascii", "replace")
    return "".join(c for c in text if c.isascii() and c.isprintable() and c != "\ufffd")


def _body_command_id(payload: bytes) -> str:
    try:
        raw = loads(payload) if len(payload) <= 65536 else None
    except PayloadError:
        return ""
    cid = raw.get("command_id", raw.get("rating_id")) if isinstance(raw, dict) else None
    return cid if isinstance(cid, str) and 0 < len(cid) <= 64 and cid.isascii() and cid.isprintable() else ""


def rss_mb() -> float | None:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return None


_LIBC: Any = None


def release_free_memory() -> None:
    """Hand the memory the C allocator keeps after large temporaries were freed back to the system.

    A screen that renders a ticket (PIL rasters, ESC/POS buffers, pygame surfaces and masks of a
    full-HD frame, on several threads) leaves glibc holding tens of MiB of freed pages it would reuse
    only for the same sizes: trimming after each such burst keeps the resident size flat. A no-op
    where the C library is not glibc. ctypes lets go of the interpreter while it runs.
    """
    global _LIBC
    if _LIBC is None:
        try:
            _LIBC = ctypes.CDLL("libc.so.6")
            _LIBC.malloc_trim  # noqa: B018 - glibc only
        except (OSError, AttributeError):
            _LIBC = False
    if _LIBC:
        _LIBC.malloc_trim(0)


def _overall(checks: dict[str, str]) -> Literal["ok", "degraded", "fault"]:
    """Each check reads 'ok …', 'fault …' or anything else (degraded); the worst one wins."""
    if any(v.startswith("fault") for v in checks.values()):
        return "fault"
    return "ok" if all(v.startswith("ok") for v in checks.values()) else "degraded"


class _FixedProperties(Properties):
    """A property set never changed once built, so packed once: paho packs a publish's properties
    again on every publish, walking every property MQTT v5 defines."""

    def pack(self) -> bytes:
        packed = self.__dict__.get("_packed")
        if packed is None:
            packed = super().pack()
            object.__setattr__(self, "_packed", packed)  # paho's __setattr__ takes property names only
        return packed


@functools.lru_cache(maxsize=64)
def _expiry_properties(expiry_s: int) -> Properties:
    """One PUBLISH property set per expiry, shared by every publish with it: paho builds and packs a
    property set slowly, and the dispatcher's tick sends hundreds of these a second."""
    properties = _FixedProperties(PacketTypes.PUBLISH)
    properties.MessageExpiryInterval = expiry_s
    return properties


def _freeze_startup_heap() -> None:
    """Once per process, as the first runtime goes online: what the daemon built until then (imports,
    settings, schemas, its hardware's objects) lives as long as the process, so it is moved out of
    the collector's sight and a full collection no longer walks it. On the dispatcher a full
    collection of it took 16–40 ms, and a keypad's call that arrived meanwhile waited for it.
    Garbage is collected first, so none of it is kept for good."""
    if gc.get_freeze_count() == 0:
        gc.collect()
        gc.freeze()


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
        # checks whose fault a restart cannot fix right now, and the daemon retries by itself (a screen
        # with no display): the health still shows the fault, the watchdog does not restart for it
        self.watchdog_exempt: set[str] = set()
        self.status_note = ""  # what the daemon adds to its systemd status line (its screen, or why none)
        self.role = role
        self.device_id = settings.device_id
        # What the broker knows this process as: its ACL binds rights (and request topics) to it.
        self.login = settings.mqtt.username or settings.device_id
        self.instance = new_id()[:12]
        self.started_wall = time.time()
        self.takeovers = 0
        self.last_takeover: str | None = None
        self.other_instance: str | None = None  # a live instance with our login, as last seen
        self.yielded: str | None = None
        self._first_connected_wall: float | None = None
        self._dropped = False  # lost the broker unexpectedly since the last connect
        self._echoed = False  # our own health came back on this connection: later deliveries are live
        self._drops: list[float] = []  # monotonic times of unexpected drops, for flapping
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
        # mid -> (topic, command id, on_ack) until its PUBACK; PUBACKs that beat the bookkeeping
        # (paho may read the ack before publish() returns) wait in _early_acks: reason, None = accepted.
        # Never held while calling into paho: its network thread takes this lock in _on_publish.
        self._unacked: dict[int, tuple[str, str | None, Callable[[int], None] | None]] = {}
        self._early_acks: dict[int, str | None] = {}
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
        self._subs.append((self.topics.reply(self.login), self._on_reply))
        if announce:  # our own retained health: another live instance of this login shows up there
            self._subs.append((self.topics.health(self.device_id), self._on_own_health))

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

    def on_retained(self, topic_filter: str, model: type[M], handler: Callable[[M | None], None]) -> None:
        """Follow a retained state: ``handler(message)`` for each valid one, ``handler(None)`` when an empty
        retained message clears the topic; an invalid one is refused (logged, kept as ``last_error``)."""

        def dispatch(msg: mqtt.MQTTMessage) -> None:
            if not msg.payload:
                handler(None)
                return
            try:
                message = decode(model, msg.payload, self.settings.mqtt.max_payload_bytes)
            except PayloadError as exc:
                self._refused(msg.topic, exc)
                return
            handler(message)

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
        """Requests: validate with ``model_for(inbound)``, call ``handler``, publish the Reply it returns.

        ``handler`` may return ``(reply, then)``: ``then()`` runs once the reply is queued (or could
        not be), for work the requester should not wait for. It always runs: whether the sender can
        be answered never decides whether a command's effects are announced.

        The sender is the login level of the topic (:attr:`Inbound.sender`). Every answer, refusals
        included, goes to that login's ``device/{login}/reply``; a response topic or body field naming
        anywhere else is ignored, and a body ``device_id`` naming another device is refused.
        """

        def dispatch(msg: mqtt.MQTTMessage) -> None:
            inbound = self._inbound(msg)
            command_id = _correlation_id(inbound.correlation)
            try:
                if inbound.sender is None:
                    raise PayloadError("bad_payload", f"not a request topic (request/{{login}}/...): {msg.topic!r}")
                model = model_for(inbound)
                if model is None:
                    raise PayloadError("bad_payload", f"no such request: {'/'.join(inbound.what)!r}")
                message = decode(model, msg.payload, self.settings.mqtt.max_payload_bytes)
                claimed = None
                if isinstance(message, Request):
                    command_id, claimed = message.request_id, message.claimed_sender
                if claimed is not None and claimed != inbound.sender:
                    raise PayloadError("not_allowed", f"the body says device {claimed!r} but the request comes from "
                                                      f"login {inbound.sender!r}", command_id)
            except PayloadError as exc:
                if exc.code == "not_allowed":
                    log.warning("identity refused on %s: %s", msg.topic, exc)
                    self.last_error = f"refused message on {msg.topic}: {exc}"
                else:
                    self._refused(msg.topic, exc)
                command_id = exc.command_id or command_id or _body_command_id(msg.payload)
                # A request whose id cannot be read (an MQTT 3.1.1 sender, which has no correlation
                # data, and a body with no usable command_id) is answered all the same, with an empty
                # id: the login in the topic says where, and the sender learns why it was refused.
                if inbound.sender is not None:
                    self._send_reply(Reply(command_id=command_id, ok=False,
                                           error=ErrorInfo(code=exc.code, message=str(exc))), inbound)
                return
            then = None
            try:
                answer = handler(message, inbound)
                reply, then = answer if isinstance(answer, tuple) else (answer, None)
            except Exception as exc:  # noqa: BLE001 - our bug, not the sender's: say so, then keep serving
                log.exception("command on %s failed", msg.topic)
                self.last_error = f"{type(exc).__name__}: {exc}"
                reply = Reply(command_id=command_id, ok=False,
                              error=ErrorInfo(code="internal", message=f"internal error: {type(exc).__name__}"))
            try:
                self._send_reply(reply, inbound)
            finally:
                if then is not None:
                    then()

        self._add_sub(topic_filter, dispatch)

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        _freeze_startup_heap()
        cfg = self.settings.mqtt
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = cfg.session_expiry_s if self._persistent else 0
        self._client.connect_async(
            cfg.host, cfg.port, keepalive=cfg.keepalive_s, clean_start=not self._persistent, properties=props,
        )
        self._client.loop_start()
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
                info = self.publish(self.topics.availability(self.device_id), AVAILABILITY_OFFLINE, retain=True)
                try:
                    info.wait_for_publish(timeout=2)
                except (RuntimeError, ValueError):
                    pass
            self._client.disconnect()
        try:
            self._client.loop_stop()
        except AttributeError:
            # paho 2.x: after disconnect() its network thread may end by itself and clear its handle
            # between loop_stop()'s check and its join ('NoneType' has no 'join'): nothing left to stop.
            # Seen as a traceback at the end of `motcua status` on an emulated central box.
            pass
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
        checks = {name: state for name, state in checks.items() if name not in self.watchdog_exempt}
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
        on_ack: Callable[[int], None] | None = None,
    ) -> mqtt.MQTTMessageInfo:
        """Publish; with QoS 1, ``on_ack(mid)`` runs once the broker accepted it (on paho's thread,
        or on this one if the ack came first: never wait there for a lock held around publishing)."""
        payload = message if isinstance(message, bytes) else message.to_json()
        if expiry_s is not None:
            if properties is None:
                properties = _expiry_properties(expiry_s)
            else:
                properties.MessageExpiryInterval = expiry_s
        info = self._client.publish(topic, payload, qos=qos, retain=retain, properties=properties)
        if self.taken(info):
            if qos > 0:
                self._track(info.mid, topic, None, on_ack)
        else:
            log.warning("not sent on %s: %s", topic, mqtt.error_string(info.rc))
        return info

    @staticmethod
    def taken(info: mqtt.MQTTMessageInfo) -> bool:
        """Whether paho took a publish: sent, or queued while offline (it still gets its PUBACK after the
        reconnect); a full queue (``mqtt.max_queued``) turns it away and no PUBACK ever comes."""
        return info.rc in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN)

    def _track(self, mid: int, topic: str, command_id: str | None,
               on_ack: Callable[[int], None] | None = None) -> str | None:
        """Note a QoS 1 publish until its PUBACK; if the PUBACK already came, settle it now.
        Returns the broker's refusal, if that is what came."""
        with self._pending_lock:
            early = mid in self._early_acks
            refused = self._early_acks.pop(mid, None)
            if not early:
                self._unacked[mid] = (topic, command_id, on_ack)
        if early:
            if refused is not None:
                self._publish_refused(topic, refused)
            elif on_ack is not None:
                self._guard(on_ack, mid)
        return refused

    def _publish_refused(self, topic: str | None, reason: str) -> None:
        # Typically 0x87: the ACL does not let this device publish there. Say so
        # loudly: it is a deployment mistake, and retrying will not fix it.
        log.error("the broker refused our publish on %s: %s", topic, reason)
        self.last_error = f"broker refused publish on {topic}: {reason}"

    @property
    def unacked(self) -> int:
        """QoS 1 publishes still waiting for their PUBACK (and acks still waiting for their publish)."""
        with self._pending_lock:
            return len(self._unacked) + len(self._early_acks)

    def request(self, topic: str, message: Request, reply_model: type[R], *, timeout: float = 5.0,
                expiry_s: int | None = None, raise_refused: bool = False) -> R:
        """Send a request and wait for its reply.

        Raises :class:`Offline` when not connected (nothing is sent), :class:`RequestTimeout` when no
        reply came (retry with the same message: its id makes the retry harmless),
        :class:`BrokerRefused` when the broker would not take it, and, with ``raise_refused``,
        :class:`Refused` when the reply is ``ok: false``. ``expiry_s`` overrides the request type's own.
        """
        command_id = message.request_id
        if not self._connected.is_set():
            raise Offline("not connected to the broker")
        pending = _Pending(reply_model, threading.Event())
        with self._pending_lock:
            self._pending[command_id] = pending
        props = Properties(PacketTypes.PUBLISH)
        props.ResponseTopic = self.topics.reply(self.login)  # informative: replies go there whatever we say
        props.CorrelationData = command_id.encode()
        expiry = expiry_s if expiry_s is not None else message.expiry_s
        if expiry is not None:
            props.MessageExpiryInterval = expiry
        try:
            info = self._client.publish(topic, message.to_json(), qos=1, properties=props)
            refused = self._track(info.mid, topic, command_id)
            if refused is not None:
                pending.refused = refused
                pending.done.set()
            if not pending.done.wait(timeout):
                raise RequestTimeout(f"no reply to {command_id} on {topic} within {timeout:g} s")
            if pending.refused:
                raise BrokerRefused(f"the broker refused {command_id} on {topic} ({pending.refused}): "
                                    f"'{self.settings.mqtt.username or self.device_id}' may not send there; "
                                    "check its role (motcua broker list)")
            reply = pending.reply
            assert isinstance(reply, reply_model)
            if raise_refused and not reply.ok:
                raise Refused(reply)
            return reply
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
            instance=self.instance, takeovers=self.takeovers,
        )
        self.publish(self.topics.health(self.device_id), health, retain=True)

    # ------------------------------------------------------------------ paho callbacks (network thread)

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        # paho runs its callbacks on its network loop thread: that is the thread the watchdog
        # watches (known from the first connection on; paho keeps its own handle to it private)
        self._loop_thread = threading.current_thread()
        if reason_code.is_failure:
            self.last_error = f"broker refused connection: {reason_code}"
            log.error("broker %s:%s refused the connection: %s",
                      self.settings.mqtt.host, self.settings.mqtt.port, reason_code)
            return
        log.info("connected to %s:%s as %s (session %s)", self.settings.mqtt.host, self.settings.mqtt.port,
                 self.device_id, "resumed" if flags.session_present else "new")
        for topic_filter, _ in self._subs:
            client.subscribe(topic_filter, qos=1)
        if self._first_connected_wall is None:
            self._first_connected_wall = time.time()
        self._connected_at = time.monotonic()
        self._echoed = False
        self._connected.set()
        if self.announce:
            self.publish(self.topics.availability(self.device_id), AVAILABILITY_ONLINE, retain=True)
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
        now = time.monotonic()
        self._dropped = True
        if now - getattr(self, "_connected_at", 0.0) < 10.0:  # dropped soon after connecting
            self._drops = [t for t in self._drops if now - t < 60.0] + [now]
        if getattr(reason_code, "value", reason_code) == SESSION_TAKEN_OVER or len(self._drops) >= 3:
            self._drops = []
            self.takeovers += 1
            self.last_takeover = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            self.last_error = (f"another connection logged in as '{self.login}' and took over this session "
                               f"({self.takeovers}x): the same login on two processes, or a stolen password")
            log.error("%s; reconnecting", self.last_error)
            self.systemd.status(self._status_line())
            return
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
            if entry is None:  # acknowledged before publish() returned: _track settles it
                self._early_acks[mid] = str(reason_code) if failed else None
                return
            topic, command_id, on_ack = entry
            pending = self._pending.get(command_id) if command_id else None
        if failed:
            self._publish_refused(topic, str(reason_code))
            if pending is not None:
                pending.refused = str(reason_code)
                pending.done.set()
            return
        if on_ack is not None:
            self._guard(on_ack, mid)
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

    def _send_reply(self, reply: Reply, inbound: Inbound) -> None:
        """Answer the sender on its own reply topic. A reply that cannot leave is logged, never raised:
        the command it answers is applied already."""
        sender = inbound.sender
        if sender is None:
            log.warning("no sender login for %s; reply dropped", reply.command_id)
            return
        props = Properties(PacketTypes.PUBLISH)
        props.CorrelationData = (inbound.correlation or reply.command_id.encode())[:64]
        try:
            payload = reply.to_json()
        except ValueError as exc:  # cannot happen for decoded input; keep the promise of an answer anyway
            log.error("reply to %s could not be encoded (%s); sending a plain refusal", sender, exc)
            payload = Reply(command_id=reply.command_id, ok=False,
                            error=ErrorInfo(code="internal", message="the reply could not be encoded")).to_json()
        try:
            self.publish(self.topics.reply(sender), payload, properties=props)
        except (ValueError, RuntimeError, OSError) as exc:
            log.error("reply %s to %s not sent: %s", reply.command_id, sender, exc)

    def _safe_checks(self) -> dict[str, str]:
        try:
            checks = dict(self._checks())
        except Exception as exc:  # noqa: BLE001
            checks = {"checks": f"fault: {exc}"}
        if self.takeovers or self.other_instance:
            other = f" by instance {self.other_instance}" if self.other_instance else ""
            checks["login"] = (f"degraded: login '{self.login}' taken over {self.takeovers}x{other}, last at "
                               f"{self.last_takeover or 'unknown'}: is it running twice?")
        return checks

    def _on_own_health(self, msg: mqtt.MQTTMessage) -> None:
        """Our own health topic: a health there from another instance means our login runs twice.

        Evidence, not a guess: at our first connect a retained health of another instance may be the
        previous run's last word (a reboot), so it counts only when it arrives live (after our own health
        came back on this connection; before that, a persistent session replays the past), or as the retained
        message on reconnecting after the broker dropped us: someone published under our login since
        we last did. Of two live instances, the one that started later yields: it logs why, disconnects
        for good and stops its process (exit 78); the older one logs it and counts a takeover."""
        if not msg.payload:
            return
        try:
            health = decode(Health, msg.payload, self.settings.mqtt.max_payload_bytes)
        except PayloadError:
            return
        if health.instance in (None, self.instance):
            if not msg.retain:
                self._dropped = False  # our own word is on the topic again
                self._echoed = True
            return
        # What a persistent session had queued for a previous run (killed without a word) arrives before
        # our own health's echo: that is the past, not a live instance.
        live = (not msg.retain and self._echoed) or (msg.retain and self._dropped)
        self._dropped = False
        if not live:
            return
        if health.instance == self.other_instance:
            return  # the same episode, heard twice (its retained and its live health)
        self.other_instance = health.instance
        self.takeovers += 1
        self.last_takeover = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        other_started = health.at.timestamp() - health.uptime_s
        if other_started < self.started_wall and not self.yielded:
            self.yielded = (f"login '{self.login}' is already in use by a live instance ({health.instance}, up "
                            f"{health.uptime_s:.0f} s) that started before this one ({self.instance}): "
                            "this process stops instead of knocking it off. Check which box or env file "
                            "should have this login.")
            log.error("%s", self.yielded)
            _yielded.append(self.yielded)
            self._stopping.set()
            self._client.disconnect()
            if _process_stop is not None:
                _process_stop.set()
        elif not self.yielded:
            self.last_error = (f"another instance ({health.instance}) took over login '{self.login}' for a while "
                               f"({self.takeovers}x): the same login on two processes, or a stolen password")
            log.error("%s; this one started first and stays", self.last_error)
            self.publish_health()

    def _status_line(self) -> str:
        link = "connected" if self._connected.is_set() else "waiting for broker"
        line = f"{self.role} {self.device_id}: {link} {self.settings.mqtt.host}:{self.settings.mqtt.port}"
        return f"{line}; {self.status_note}" if self.status_note else line

    def note_status(self, note: str) -> None:
        """Say ``note`` in the systemd status line from now on (after the link), and publish the health."""
        self.status_note = note
        self.systemd.status(self._status_line())
        if self._is_ready:
            self.publish_health()

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
