"""``motcua broker …``: what a technician runs on the central box to lock the hall's broker down.

    motcua broker init --site hcm-q1                 registry, mosquitto.conf, the dispatcher's login
    motcua broker add-device counter counter-3 --counter 3
    motcua broker add-device kiosk kiosk-1
    motcua broker remove-device pad-7
    motcua broker list | roles
    motcua broker gen-certs --host motcua-hub.local --host 192.168.10.2
    motcua broker bridge --remote-host mqtt.motcua.tinh.gov.vn --remote-ca province-ca.crt \\
                         --remote-password-file site.secret
    motcua broker dev                                 a development broker on :1884, locked down the same way

Every change rewrites ``passwd`` and ``acl``; ``systemctl reload motcua-broker``
makes Mosquitto read them again without dropping anyone.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .site import DEFAULT_DIR, RegistryError, SiteBroker, give_to_broker, write_file

RELOAD_HINT = ("then: systemctl reload motcua-broker   (Mosquitto re-reads passwd and acl; "
               "`motcua broker dev` reloads by itself)")


def _site(args) -> SiteBroker:
    return SiteBroker(Path(args.dir))


def cmd_init(args) -> int:
    from .configs import render_site

    sb = _site(args)
    registry = sb.init(args.site)
    data_dir = Path(args.data_dir)
    config = render_site(sb.directory, data_dir=data_dir, local_port=args.local_port, tls_port=args.tls_port,
                         cert_port=args.client_cert_port, log_dest="syslog", user=None)
    (sb.directory / "mosquitto.conf").write_text(config)
    print(f"site {registry.site}: broker directory {sb.directory}")
    if registry.find(args.dispatcher_id) is None:
        sb.add_device("dispatcher", args.dispatcher_id)
        print(f"registered the dispatcher as {args.dispatcher_id}; its password: {sb.secret_path(args.dispatcher_id)}")
    if not (sb.certs_dir / "server.crt").is_file():
        print("next: motcua broker gen-certs --host <the name devices use for this box>")
    return 0


def cmd_add(args) -> int:
    sb = _site(args)
    sb.add_device(args.role, args.device_id, args.counter, rotate=args.rotate)
    print(f"{args.device_id}: role {args.role}" + (f", counter {args.counter}" if args.counter else ""))
    print(f"password in {sb.secret_path(args.device_id)}: copy it to the box as its mqtt.password_file")
    print(RELOAD_HINT)
    return 0


def cmd_remove(args) -> int:
    sb = _site(args)
    sb.remove_device(args.device_id)
    print(f"{args.device_id} removed")
    print(RELOAD_HINT + "; a connected device is disconnected then")
    return 0


def cmd_list(args) -> int:
    registry = _site(args).load()
    print(f"site {registry.site}")
    for d in sorted(registry.devices, key=lambda d: (d.role, d.counter or 0, d.id)):
        print(f"  {d.id:24} {d.role:10} {'' if d.counter is None else f'counter {d.counter}'}")
    return 0


def cmd_roles(_args) -> int:
    from .roles import ROLES

    for role in ROLES.values():
        print(f"{role.name:10} {role.summary}")
        for access, topic in role.rights:
            print(f"{'':10}   {access:9} {topic}")
    return 0


def cmd_gen_certs(args) -> int:
    from .certs import SiteCA, default_hosts
    from .roles import ROLES

    sb = _site(args)
    registry = sb.load()
    ca = SiteCA(sb.certs_dir, registry.site)
    issued = ca.ensure()
    print(f"site CA: {issued.cert}  (copy to every device as mqtt.ca_file; the key stays here)")
    if args.server or not (sb.certs_dir / "server.crt").is_file():
        hosts = args.host or default_hosts()
        server = ca.server(hosts)
        give_to_broker(server.key)
        print(f"server certificate for {', '.join(hosts)}: {server.cert}")
    # by default only roles that log in by certificate; the dispatcher or a technician only by name
    wanted = args.device or ([] if args.no_devices else [d.id for d in registry.devices if ROLES[d.role].cert_login])
    ca.write_crl()  # the listener's crlfile must exist, even with nothing revoked yet
    for device_id in wanted:
        if registry.find(device_id) is None:
            raise RegistryError(f"{device_id} is not registered: add-device first")
        pair = ca.device(device_id)
        print(f"client certificate for {device_id}: {pair.cert} {pair.key}")
    return 0


def cmd_bridge(args) -> int:
    from .configs import BridgeSettings, render_bridge, render_province_acl

    sb = _site(args)
    registry = sb.load()
    password = Path(args.remote_password_file).read_text().strip() if args.remote_password_file else None
    b = BridgeSettings(site=registry.site, remote_host=args.remote_host, remote_port=args.remote_port,
                       remote_ca=Path(args.remote_ca).resolve(), remote_username=args.identity,
                       remote_password=password,
                       remote_certfile=Path(args.remote_cert).resolve() if args.remote_cert else None,
                       remote_keyfile=Path(args.remote_key).resolve() if args.remote_key else None)
    text = render_bridge(b)
    sb.conf_d.mkdir(parents=True, exist_ok=True)
    target = sb.conf_d / "province-bridge.conf"
    write_file(target, text, 0o640)  # it holds the bridge's password: the broker's group only
    print(f"bridge to {b.remote_host}:{b.remote_port} as {b.identity}: {target}")
    print("the province must give this site these rights:\n")
    print(render_province_acl(registry.site, b.identity))
    print("then: systemctl restart motcua-broker   (a new bridge needs a restart, not a reload)")
    return 0


def cmd_dev(args) -> int:
    """The development broker in the foreground, with logins for trying a hall by hand."""
    import signal
    import threading

    from ..localbroker import LocalBroker

    directory = Path(args.dir)
    broker = LocalBroker(directory, port=args.port)
    logins = {"dispatcher": "dispatcher", "tech": "operator"}
    for device_id, role in logins.items():
        env = broker.env(device_id, role)
        env["MOTCUA_DEVICE_ID"] = device_id
        path = directory / f"{device_id}.env"
        path.write_text("".join(f"{k}={v}\n" for k, v in env.items()))
        path.chmod(0o600)
    try:
        broker.start()
    except RuntimeError as exc:
        print(f"motcua broker dev: {exc}", file=sys.stderr)
        return 1
    registry = broker.registry.registry_path
    print(f"development broker on 127.0.0.1:{broker.port}, log {broker.log_path}")
    print(f"registry {registry}: add devices with\n"
          f"  motcua broker add-device ROLE ID [--counter N] --dir {broker.registry.directory}\n"
          "  (this broker reloads by itself when the registry changes)")
    print("logins, as environment variables:")
    for device_id in logins:
        print(f"  set -a; . {directory / f'{device_id}.env'}; set +a")
    sys.stdout.flush()  # whoever waits on this output (a terminal, tee, a test) sees it now
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    seen = registry.stat().st_mtime_ns
    try:
        while not stop.wait(1.0):
            if not broker.running:
                print("mosquitto exited; see its log", file=sys.stderr)
                return 1
            mtime = registry.stat().st_mtime_ns
            if mtime != seen:  # add-device / remove-device ran: have Mosquitto re-read passwd and acl
                seen = mtime
                broker.reload()
                print("registry changed: broker reloaded", flush=True)
    finally:
        broker.stop()
    return 0


def run(args) -> int:
    try:
        return args.broker_func(args)
    except RegistryError as exc:
        print(f"motcua broker: {exc}", file=sys.stderr)
        return 2


def register(sub: argparse._SubParsersAction) -> None:
    bp = sub.add_parser("broker", help="the site broker: devices, rights, certificates, the bridge",
                        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    bsub = bp.add_subparsers(dest="broker_command", required=True)

    def common(sp):
        sp.add_argument("--dir", default=str(DEFAULT_DIR), help=f"broker directory (default {DEFAULT_DIR})")
        return sp

    sp = common(bsub.add_parser("init", help="create the registry and the broker's mosquitto.conf"))
    sp.add_argument("--site", required=True, help="the hall's id in topics, as in the dispatcher's settings")
    sp.add_argument("--dispatcher-id", default="dispatcher")
    sp.add_argument("--local-port", type=int, default=1883)
    sp.add_argument("--tls-port", type=int, default=8883)
    sp.add_argument("--client-cert-port", type=int, help="also accept client certificates on this port (e.g. 8884)")
    sp.add_argument("--data-dir", default="/var/lib/motcua-broker")
    sp.set_defaults(broker_func=cmd_init)

    from .roles import ROLES

    sp = common(bsub.add_parser("add-device", help="register a device: password entry and rights from its role"))
    sp.add_argument("role", choices=list(ROLES))
    sp.add_argument("device_id")
    sp.add_argument("--counter", type=int, help="the counter a counter box, display or pad belongs to")
    sp.add_argument("--rotate", action="store_true", help="give an already registered device a new password")
    sp.set_defaults(broker_func=cmd_add)

    sp = common(bsub.add_parser("remove-device", help="withdraw a device's login and rights"))
    sp.add_argument("device_id")
    sp.set_defaults(broker_func=cmd_remove)

    sp = common(bsub.add_parser("list", help="the registered devices"))
    sp.set_defaults(broker_func=cmd_list)

    sp = bsub.add_parser("roles", help="what each role may publish and read")
    sp.set_defaults(broker_func=cmd_roles)

    sp = common(bsub.add_parser("gen-certs", help="site CA, server certificate, a client certificate per device"))
    sp.add_argument("--host", action="append", help="a name or IP devices dial (repeat); default: this box's names")
    sp.add_argument("--server", action="store_true", help="reissue the server certificate")
    sp.add_argument("--device", action="append", help="only these devices (repeat)")
    sp.add_argument("--no-devices", action="store_true", help="no client certificates")
    sp.set_defaults(broker_func=cmd_gen_certs)

    sp = common(bsub.add_parser("bridge", help="bridge this hall to the province's central broker"))
    sp.add_argument("--remote-host", required=True)
    sp.add_argument("--remote-port", type=int, default=8883)
    sp.add_argument("--remote-ca", required=True, help="the province broker's CA certificate")
    sp.add_argument("--identity", help="this site's username at the province (default site-SITE)")
    sp.add_argument("--remote-password-file")
    sp.add_argument("--remote-cert")
    sp.add_argument("--remote-key")
    sp.set_defaults(broker_func=cmd_bridge)

    sp = bsub.add_parser("dev", help="run the development broker (loopback, same ACL, generated logins)")
    # not 1883: Debian starts its own mosquitto.service there when the package is installed
    sp.add_argument("--port", type=int, default=1884)
    sp.add_argument("--dir", default="/tmp/motcua-dev", help="its data, registry and login files")
    sp.set_defaults(broker_func=cmd_dev)
    bp.set_defaults(func=run)
