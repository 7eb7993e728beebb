"""A hall's own certificate authority: the broker's server certificate and one client certificate per device.

A hall runs on its own LAN with no public DNS name, so a public CA cannot
vouch for it; the site CA is made on the central box, its certificate copied
to every device (``mqtt.ca_file``), and its key never leaves the box. Keys are
ECDSA P-256: small, fast on a Pi Zero, accepted by Mosquitto's OpenSSL.

Client certificates carry the device id as Common Name, so on the listener
with ``use_identity_as_username`` the certificate *is* the login and the same
ACL applies. That is why a removed or rotated device's certificate is revoked:
``certs/crl.pem`` (the listener's ``crlfile``) lists every revoked serial, and
the broker refuses those certificates at the TLS handshake.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import os
import socket
from dataclasses import dataclass
from pathlib import Path

try:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
except ImportError:  # pragma: no cover - the broker extra is not installed on device boxes
    x509 = None  # type: ignore[assignment]

CA_DAYS, SERVER_DAYS, DEVICE_DAYS = 3650, 825, 825


@dataclass(frozen=True)
class Issued:
    cert: Path
    key: Path


def _need_cryptography() -> None:
    if x509 is None:
        raise RuntimeError("making certificates needs the 'cryptography' package: pip install 'motcua[broker]'")


def _write_key(path: Path, key, mode: int) -> None:
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    os.chmod(path, mode)


def _write_cert(path: Path, cert) -> None:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    os.chmod(path, 0o644)


def _name(common_name: str, site: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, f"motcua {site}"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _builder(subject, issuer, public_key, days: int) -> x509.CertificateBuilder:
    now = dt.datetime.now(dt.timezone.utc)
    return (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))  # a box whose clock lags a little still accepts it
            .not_valid_after(now + dt.timedelta(days=days)))


class SiteCA:
    """``certs/ca.crt`` + ``certs/ca.key``; made once, reused by every later call."""

    def __init__(self, certs_dir: Path, site: str):
        _need_cryptography()
        self.dir = Path(certs_dir)
        self.site = site
        self.cert_path, self.key_path = self.dir / "ca.crt", self.dir / "ca.key"

    def ensure(self) -> Issued:
        self.dir.mkdir(parents=True, exist_ok=True)
        if not (self.cert_path.is_file() and self.key_path.is_file()):
            key = ec.generate_private_key(ec.SECP256R1())
            name = _name(f"motcua {self.site} site CA", self.site)
            cert = (_builder(name, name, key.public_key(), CA_DAYS)
                    .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                    .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False,
                                                 key_encipherment=False, data_encipherment=False,
                                                 key_agreement=False, key_cert_sign=True, crl_sign=True,
                                                 encipher_only=False, decipher_only=False), critical=True)
                    .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
                    .sign(key, hashes.SHA256()))
            _write_key(self.key_path, key, 0o600)
            _write_cert(self.cert_path, cert)
        if not self.crl_path.is_file():  # the client-certificate listener needs its crlfile from the start
            self.write_crl()
        return Issued(self.cert_path, self.key_path)

    def _load(self):
        self.ensure()
        cert = x509.load_pem_x509_certificate(self.cert_path.read_bytes())
        key = serialization.load_pem_private_key(self.key_path.read_bytes(), password=None)
        return cert, key

    def _issue(self, common_name: str, usage, sans: list, days: int, cert_path: Path, key_path: Path,
               key_mode: int) -> Issued:
        ca_cert, ca_key = self._load()
        key = ec.generate_private_key(ec.SECP256R1())
        builder = (_builder(_name(common_name, self.site), ca_cert.subject, key.public_key(), days)
                   .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                   .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
                   .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                                  critical=False))
        if sans:
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        cert_path.parent.mkdir(parents=True, exist_ok=True)
        _write_key(key_path, key, key_mode)
        _write_cert(cert_path, builder.sign(ca_key, hashes.SHA256()))
        return Issued(cert_path, key_path)

    def server(self, hosts: list[str], name: str = "server") -> Issued:
        """The broker's certificate (or, named ``web``, the web console's), valid for each host name or IP
        address a device or a browser may dial."""
        sans: list[x509.GeneralName] = []
        for host in hosts:
            try:
                sans.append(x509.IPAddress(ipaddress.ip_address(host)))
            except ValueError:
                sans.append(x509.DNSName(host))
        # The broker reads its key as the mosquitto user: group-readable, given to that group by the caller.
        return self._issue(hosts[0], ExtendedKeyUsageOID.SERVER_AUTH, sans, SERVER_DAYS,
                           self.dir / f"{name}.crt", self.dir / f"{name}.key", 0o640)

    def device(self, device_id: str) -> Issued:
        d = self.dir / "devices"
        old = d / f"{device_id}.crt"
        if old.is_file():  # a new certificate replaces the old one: the old one must stop working too
            self.revoke(device_id)
        return self._issue(device_id, ExtendedKeyUsageOID.CLIENT_AUTH, [], DEVICE_DAYS,
                           d / f"{device_id}.crt", d / f"{device_id}.key", 0o600)

    # ------------------------------------------------------------------ revocation

    @property
    def crl_path(self) -> Path:
        return self.dir / "crl.pem"

    @property
    def revoked_path(self) -> Path:
        return self.dir / "revoked.json"

    def _revoked(self) -> list[dict]:
        if not self.revoked_path.is_file():
            return []
        return json.loads(self.revoked_path.read_text())

    def revoke(self, device_id: str) -> int | None:
        """Revoke the device's current certificate, if it has one; delete it; rewrite the CRL.
        Returns the revoked serial number."""
        cert_path = self.dir / "devices" / f"{device_id}.crt"
        serial = None
        if cert_path.is_file():
            serial = x509.load_pem_x509_certificate(cert_path.read_bytes()).serial_number
            entries = [e for e in self._revoked() if e["serial"] != str(serial)]
            entries.append({"serial": str(serial), "device_id": device_id,
                            "revoked_at": dt.datetime.now(dt.timezone.utc).isoformat()})
            self.revoked_path.write_text(json.dumps(entries, indent=1) + "\n")
            cert_path.unlink()
            (self.dir / "devices" / f"{device_id}.key").unlink(missing_ok=True)
        self.write_crl()
        return serial

    def write_crl(self) -> Path:
        """``crl.pem``: every revoked serial, signed by the site CA. Valid as long as the CA: an
        expired CRL would make OpenSSL refuse every client certificate."""
        ca_cert = x509.load_pem_x509_certificate(self.cert_path.read_bytes())
        ca_key = serialization.load_pem_private_key(self.key_path.read_bytes(), password=None)
        now = dt.datetime.now(dt.timezone.utc)
        builder = (x509.CertificateRevocationListBuilder().issuer_name(ca_cert.subject)
                   .last_update(now - dt.timedelta(minutes=5)).next_update(now + dt.timedelta(days=CA_DAYS)))
        for entry in self._revoked():
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder().serial_number(int(entry["serial"]))
                .revocation_date(dt.datetime.fromisoformat(entry["revoked_at"])).build())
        crl = builder.sign(ca_key, hashes.SHA256())  # type: ignore[arg-type]  # our CA key is EC, which sign takes
        tmp = self.crl_path.with_name("crl.pem.tmp")
        tmp.write_bytes(crl.public_bytes(serialization.Encoding.PEM))
        os.chmod(tmp, 0o644)
        os.replace(tmp, self.crl_path)
        return self.crl_path


def default_hosts() -> list[str]:
    """What a device on the LAN may call the central box: its host names, and loopback."""
    names = [socket.gethostname()]
    fqdn = socket.getfqdn()
    if fqdn not in names:
        names.append(fqdn)
    return [*names, "localhost", "127.0.0.1"]
