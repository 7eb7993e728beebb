"""``motcua web``: staff accounts of the web console.

    motcua web add-user lan.nguyen --role supervisor --name "Nguyễn Thị Lan"   (asks the password twice)
    motcua web add-user an.tran --role viewer --password-stdin < file
    motcua web remove-user an.tran
    motcua web users
    motcua web gen-cert --host motcua-hub.local --host 192.168.10.2   (HTTPS, signed by the site CA)

The accounts file is the ``users_file`` of /etc/motcua/web.toml (or --config,
or --users-file). The running service sees a change at the next login.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path

EX_CONFIG, EX_USAGE = 78, 2


def _users_file(args: argparse.Namespace) -> Path:
    if args.users_file:
        return Path(args.users_file)
    from motcua.settings import SettingsError, load_settings

    from .settings import WebSettings

    try:
        return load_settings(WebSettings, "web", args.config).users_file
    except SettingsError as exc:
        print(f"motcua: {exc}", file=sys.stderr)
        raise SystemExit(EX_CONFIG) from None


def cmd_add_user(args: argparse.Namespace) -> int:
    from .accounts import AccountError, add_user

    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass(f"password for {args.username}: ")
        if getpass.getpass("again: ") != password:
            print("motcua: the two passwords differ", file=sys.stderr)
            return EX_USAGE
    path = _users_file(args)
    try:
        account = add_user(path, args.username, password, args.role, args.name or "", replace=args.replace)
    except AccountError as exc:
        print(f"motcua: {exc}", file=sys.stderr)
        return EX_USAGE
    print(f"{account.username}: {account.role} ({account.full_name}) in {path}")
    return 0


def cmd_remove_user(args: argparse.Namespace) -> int:
    from .accounts import AccountError, remove_user

    path = _users_file(args)
    try:
        remove_user(path, args.username)
    except AccountError as exc:
        print(f"motcua: {exc}", file=sys.stderr)
        return 1
    print(f"{args.username} removed: their sessions end at their next page")
    return 0


def cmd_users(args: argparse.Namespace) -> int:
    from .accounts import list_users

    for a in list_users(_users_file(args)):
        print(f"{a.username:<24} {a.role:<10} {a.full_name}")
    return 0


def cmd_gen_cert(args: argparse.Namespace) -> int:
    """The console's HTTPS certificate from the site CA (the one `motcua broker gen-certs` made): staff
    browsers that trust that CA trust the console; no certificate bought, no internet needed."""
    import grp
    import os
    import shutil

    from motcua.broker.certs import SiteCA, default_hosts
    from motcua.broker.site import DEFAULT_DIR, SiteBroker

    sb = SiteBroker(Path(args.broker_dir) if args.broker_dir else DEFAULT_DIR)
    if not sb.exists():
        print(f"motcua: no site broker registry in {sb.directory} (motcua broker init first)", file=sys.stderr)
        return EX_CONFIG
    ca = SiteCA(sb.certs_dir, sb.load().site)
    if not ca.cert_path.is_file():
        print("motcua: the site has no CA yet: run `motcua broker gen-certs` first", file=sys.stderr)
        return EX_CONFIG
    hosts = args.host or default_hosts()
    issued = ca.server(hosts, name="web")
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for src, name in ((issued.cert, "web.crt"), (issued.key, "web.key")):
        dest = out / name
        shutil.copyfile(src, dest)
        os.chmod(dest, 0o640)
        if os.geteuid() == 0:  # the service runs as motcua: its group reads the key
            try:
                os.chown(dest, 0, grp.getgrnam("motcua").gr_gid)
            except KeyError:
                pass
    print(f"web certificate for {', '.join(hosts)}: {out / 'web.crt'} and {out / 'web.key'}")
    print(f"staff computers trust it once they trust the site CA {ca.cert_path}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("web", help="staff accounts of the web console",
                       formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    web = p.add_subparsers(dest="web_command", required=True)

    def where(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--config", help="the web service's settings (default /etc/motcua/web.toml)")
        sp.add_argument("--users-file", help="the accounts file itself")

    sp = web.add_parser("add-user", help="create a staff account (or --replace its password and role)")
    sp.add_argument("username")
    sp.add_argument("--role", choices=["viewer", "supervisor"], required=True)
    sp.add_argument("--name", help="full name, shown on the console and in the audit log")
    sp.add_argument("--password-stdin", action="store_true", help="read the password from the first line of stdin")
    sp.add_argument("--replace", action="store_true")
    where(sp)
    sp.set_defaults(func=cmd_add_user)

    sp = web.add_parser("remove-user", help="delete a staff account")
    sp.add_argument("username")
    where(sp)
    sp.set_defaults(func=cmd_remove_user)

    sp = web.add_parser("users", help="list the staff accounts")
    where(sp)
    sp.set_defaults(func=cmd_users)

    sp = web.add_parser("gen-cert", help="the console's HTTPS certificate, signed by the site CA")
    sp.add_argument("--host", action="append", help="a name or address browsers use for this box (repeat)")
    sp.add_argument("--broker-dir", help="the site broker's directory (default /etc/mosquitto/motcua)")
    sp.add_argument("--out-dir", default="/etc/motcua", help="where web.crt and web.key go (default /etc/motcua)")
    sp.set_defaults(func=cmd_gen_cert)
