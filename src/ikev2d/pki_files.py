"""The built-in CA on disk, and `ikev2ctl pki init|renew|issue|revoke|import|show`.

Layout of the store (the configuration's pki_dir, /etc/ikev2d/pki by default):
    ca.pem, ca.key (0600)          the CA
    server.pem, server.key (0600)  server certificate (chain allowed when imported), its key
    clients/NAME.p12 (0600)        issued client credentials, clients/NAME.pem its certificate
    revoked.txt                    revoked client serials, one hex number per line, # comments
Every write goes to a temporary file in the same directory, is fsynced and renamed over the
target, so a crash never leaves half a key. Keys are never printed.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import ipaddress
import os
import secrets
import sys
from collections.abc import Sequence
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from ikev2d.auth import ca as pki
from ikev2d.auth.certs import identity_matches_cert, not_after, not_before
from ikev2d.policy.identity import identity_from_text
from ikev2d.wire.enums import IdType

__all__ = [
    "PkiError",
    "PkiStore",
    "pki_main",
    "server_cert_names",
]

_PASSWORD_ALPHABET = "abcdefghijkmnpqrstuvwxyzACDEFGHJKLMNPQRTUVWXY34679"  # noqa: S105 - no look-alikes


class PkiError(Exception):
    """A user-facing failure of a pki command (printed as one line, exit code 1)."""


def atomic_write(path: Path, data: bytes, mode: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)  # umask may have narrowed or the fs widened it
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


class PkiStore:
    """File access for one PKI directory; all certificate logic lives in `ikev2d.auth.ca`."""

    def __init__(self, directory: Path | str) -> None:
        self.dir = Path(directory)

    # -- paths -------------------------------------------------------------------------------
    ca_pem = property(lambda self: self.dir / "ca.pem")
    ca_key = property(lambda self: self.dir / "ca.key")
    server_pem = property(lambda self: self.dir / "server.pem")
    server_key = property(lambda self: self.dir / "server.key")
    clients = property(lambda self: self.dir / "clients")
    revoked_txt = property(lambda self: self.dir / "revoked.txt")

    def exists(self) -> bool:
        """Our own CA is here (certificate and key: it can issue)."""
        return self.ca_pem.exists() and self.ca_key.exists()

    def placed(self) -> list[str]:
        """The CA and server files present: any of them means the owner (or an earlier run)
        set this directory up, and none of them is ever replaced without --force."""
        paths = (self.ca_pem, self.ca_key, self.server_pem, self.server_key)
        return [p.name for p in paths if p.exists() or p.is_symlink()]

    # -- loading -----------------------------------------------------------------------------
    def load_ca(self) -> pki.IssuedCert:
        if not self.exists():
            raise PkiError(f"no CA in {self.dir}: run 'ikev2ctl pki init' first")
        cert = x509.load_pem_x509_certificate(self.ca_pem.read_bytes())
        key = serialization.load_pem_private_key(self.ca_key.read_bytes(), None)
        return pki.IssuedCert(cert, key)

    def load_ca_certificate(self) -> x509.Certificate | None:
        """The CA whose client certificates are accepted (ca.pem; its key is not needed, and
        an outside CA has none here), or None without ca.pem."""
        if not self.ca_pem.exists():
            return None
        return x509.load_pem_x509_certificate(self.ca_pem.read_bytes())

    def load_server(self) -> tuple[list[x509.Certificate], object]:
        """(certificate chain, leaf first; private key) for the responder's CERT/AUTH."""
        if not (self.server_pem.exists() and self.server_key.exists()):
            raise PkiError(f"no server certificate in {self.dir}")
        chain = x509.load_pem_x509_certificates(self.server_pem.read_bytes())
        key = serialization.load_pem_private_key(self.server_key.read_bytes(), None)
        return chain, key

    def revoked_serials(self) -> frozenset[int]:
        if not self.revoked_txt.exists():
            return frozenset()
        serials = set()
        for line in self.revoked_txt.read_text().splitlines():
            token = line.split("#", 1)[0].strip()
            if token:
                serials.add(int(token.replace(":", ""), 16))
        return frozenset(serials)

    # -- changes -----------------------------------------------------------------------------
    def init(self, names: list[str], key_type: str, now: dt.datetime, force: bool = False) -> None:
        placed = self.placed()
        if placed and not force:
            raise PkiError(
                f"{', '.join(placed)} already exists in {self.dir} (use --force to replace)"
            )
        _check_names(names)
        authority = pki.make_ca(f"ikev2d CA {names[0]}", now, os.urandom, key_type)
        server = pki.issue_server_cert(authority, names, now, os.urandom, key_type)
        self.dir.mkdir(parents=True, exist_ok=True)
        atomic_write(self.ca_key, pki.key_pem(authority.private_key), 0o600)
        atomic_write(self.ca_pem, pki.cert_pem(authority.certificate), 0o644)
        self._write_server([server.certificate], server.private_key)

    def renew(self, names: list[str] | None, now: dt.datetime, force: bool = False) -> list[str]:
        authority = self.load_ca()
        old_key_type = "rsa2048"
        if self.server_pem.exists():
            chain, key = self.load_server()
            if chain[0].issuer != authority.certificate.subject and not force:
                raise PkiError("the server certificate was imported; import the new one instead")
            names = names or server_names(chain[0])
            old_key_type = _key_type(key)
        if not names:
            raise PkiError("no server name known: pass --name")
        _check_names(names)
        server = pki.issue_server_cert(authority, names, now, os.urandom, old_key_type)
        self._write_server([server.certificate], server.private_key)
        return names

    def cover_names(self, names: Sequence[str], now: dt.datetime) -> tuple[bool, list[str]]:
        """Make the server certificate name every one of `names`: a certificate of our CA
        that lacks some is reissued (its old names kept); an imported one is never replaced.
        Returns (reissued, the names the certificate still lacks)."""
        chain, _key = self.load_server()
        missing = [n for n in names if not server_cert_names(chain[0], n)]
        ours = self.exists() and chain[0].issuer == self.load_ca().certificate.subject
        if not missing or not ours:
            return False, missing
        self.renew([*server_names(chain[0]), *missing], now)
        return True, []

    def issue(self, name: str, password: str, now: dt.datetime, key_type: str) -> Path:
        authority = self.load_ca()
        try:
            client = pki.issue_client_cert(authority, name, now, os.urandom, key_type)
        except ValueError as exc:
            raise PkiError(str(exc)) from exc
        p12 = pki.client_pkcs12(client, authority.certificate, password.encode("utf-8"))
        self.clients.mkdir(mode=0o700, exist_ok=True)
        target = self.clients / f"{name}.p12"
        atomic_write(target, p12, 0o600)
        atomic_write(self.clients / f"{name}.pem", pki.cert_pem(client.certificate), 0o644)
        return target

    def revoke(self, name_or_serial: str) -> int:
        pem = self.clients / f"{name_or_serial}.pem"
        if pki.CLIENT_NAME_RE.match(name_or_serial) and pem.exists():
            serial = x509.load_pem_x509_certificate(pem.read_bytes()).serial_number
        else:
            try:
                serial = int(name_or_serial.replace(":", ""), 16)
            except ValueError as exc:
                raise PkiError(f"no issued client named {name_or_serial!r}") from exc
        if serial not in self.revoked_serials():
            old = self.revoked_txt.read_text() if self.revoked_txt.exists() else ""
            line = f"{serial:x}  # {name_or_serial}\n"
            atomic_write(self.revoked_txt, (old + line).encode(), 0o644)
        return serial

    def import_server(self, cert_path: Path, key_path: Path) -> x509.Certificate:
        try:
            chain = x509.load_pem_x509_certificates(cert_path.read_bytes())
            key = serialization.load_pem_private_key(key_path.read_bytes(), None)
        except (OSError, ValueError, TypeError) as exc:
            raise PkiError(f"cannot read certificate/key: {exc}") from exc
        if not pki.check_key_matches(chain[0], key):
            raise PkiError("the private key does not belong to the certificate")
        self._write_server(chain, key)
        return chain[0]

    def _write_server(self, chain: list[x509.Certificate], key) -> None:
        atomic_write(self.server_key, pki.key_pem(key), 0o600)
        atomic_write(self.server_pem, b"".join(pki.cert_pem(c) for c in chain), 0o644)


def server_names(cert: x509.Certificate) -> list[str]:
    """The names a certificate was issued for, IPs first seen as iPAddress collapsed."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    names: list[str] = []
    for value in san:
        if isinstance(value, x509.DNSName | x509.IPAddress):
            text = str(value.value)
            if text not in names:
                names.append(text)
    return names


def server_cert_names(cert: x509.Certificate, name: str) -> bool:
    """Whether a server certificate names `name` (a DNS name or an IP address) the way a
    client checks the identity it expects: an iPAddress or dNSName SAN entry, or a wildcard
    dNSName covering the first label (ACME certificates)."""
    identity = identity_from_text(name)
    if identity_matches_cert(cert, identity.id_type, identity.data):
        return True
    _first, dot, rest = str(identity).lower().partition(".")
    return (
        bool(dot)
        and identity.id_type == IdType.FQDN
        and f"*.{rest}" in (n.lower() for n in server_names(cert))
    )


def _check_names(names: list[str]) -> None:
    if not names:
        raise PkiError("give the server name and/or public IP with --name")
    for name in names:
        with contextlib.suppress(ValueError):
            ipaddress.ip_address(name)
            continue
        labels = name.rstrip(".").split(".")
        if not all(0 < len(lab) <= 63 and lab.replace("-", "").isalnum() for lab in labels):
            raise PkiError(f"not a host name or IP address: {name!r}")


def _key_type(key) -> str:
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    if isinstance(key, rsa.RSAPrivateKey):
        return "rsa3072" if key.key_size >= 3072 else "rsa2048"
    if isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name == "secp384r1":
        return "ecdsa-p384"
    return "ecdsa-p256"


def new_password() -> str:
    return "-".join("".join(secrets.choice(_PASSWORD_ALPHABET) for _ in range(4)) for _ in range(4))


def describe(cert: x509.Certificate) -> list[str]:
    """Human lines about a certificate (never about a key)."""
    lines = [
        f"  subject:  {cert.subject.rfc4514_string()}",
        f"  issuer:   {cert.issuer.rfc4514_string()}",
        f"  serial:   {cert.serial_number:x}",
        f"  valid:    {not_before(cert):%Y-%m-%d} .. {not_after(cert):%Y-%m-%d}",
        f"  sha256:   {cert.fingerprint(hashes.SHA256()).hex(':')}",
    ]
    names = server_names(cert)
    if names:
        lines.append(f"  names:    {', '.join(names)}")
    return lines


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ikev2ctl pki", description="the built-in CA")
    parser.add_argument(
        "--dir",
        type=Path,
        required=True,
        help="PKI directory (ikev2ctl: the configuration's pki_dir)",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    init = sub.add_parser("init", help="create the CA and the server certificate")
    init.add_argument("--name", action="append", default=[], help="server name or IP (repeat)")
    init.add_argument("--key-type", choices=pki.KEY_TYPES, default="rsa2048")
    init.add_argument("--force", action="store_true", help="replace an existing CA")
    renew = sub.add_parser("renew", help="reissue the server certificate with the same CA")
    renew.add_argument("--name", action="append", default=[], help="new names (default: old)")
    renew.add_argument("--force", action="store_true", help="replace an imported certificate")
    issue = sub.add_parser("issue", help="issue a client certificate as PKCS#12")
    issue.add_argument("client", metavar="NAME")
    issue.add_argument("--password", help="PKCS#12 password (default: random, printed once)")
    issue.add_argument("--key-type", choices=pki.KEY_TYPES, default="rsa2048")
    revoke = sub.add_parser("revoke", help="revoke a client certificate (name or hex serial)")
    revoke.add_argument("client", metavar="NAME|SERIAL")
    imp = sub.add_parser("import", help="use an existing server certificate and key (PEM)")
    imp.add_argument("cert", type=Path, metavar="CERT")
    imp.add_argument("key", type=Path, metavar="KEY")
    sub.add_parser("show", help="print the CA, server and client certificates")
    return parser


def pki_main(argv: list[str], now: dt.datetime | None = None) -> int:
    """Run one `ikev2ctl pki ...` command: 0 done, 1 failed (one line on stderr), 2 usage."""
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:  # argparse already printed the usage message
        return int(exc.code or 0)
    store = PkiStore(args.dir)
    when = now or dt.datetime.now(dt.UTC)
    try:
        return _run(store, args, when)
    except PkiError as exc:
        print(f"ikev2ctl pki: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"ikev2ctl pki: {exc.strerror or exc}: {exc.filename or args.dir}", file=sys.stderr)
        return 1


def _run(store: PkiStore, args: argparse.Namespace, now: dt.datetime) -> int:
    if args.command == "init":
        store.init(args.name, args.key_type, now, args.force)
        print(f"CA and server certificate created in {store.dir}")
        print(f"install {store.ca_pem} on the clients as the trusted CA")
    elif args.command == "renew":
        names = store.renew(args.name or None, now, args.force)
        print(f"server certificate renewed for {', '.join(names)}")
    elif args.command == "issue":
        password = args.password or new_password()
        path = store.issue(args.client, password, now, args.key_type)
        print(f"client certificate written to {path}")
        if not args.password:
            print(f"PKCS#12 password (shown once): {password}")
    elif args.command == "revoke":
        serial = store.revoke(args.client)
        print(f"revoked serial {serial:x}; reload the daemon to apply")
    elif args.command == "import":
        cert = store.import_server(args.cert, args.key)
        print(f"imported server certificate {cert.subject.rfc4514_string()}")
    else:
        _show(store)
    return 0


def _show(store: PkiStore) -> None:
    ca = store.load_ca_certificate()
    if ca is None and not store.server_pem.exists():
        raise PkiError(f"no CA in {store.dir}: run 'ikev2ctl pki init' first")
    if ca is not None:
        own = "" if store.ca_key.exists() else ", without its key: not ours"
        print(f"CA ({store.ca_pem}{own}):")
        print("\n".join(describe(ca)))
    if store.server_pem.exists():
        chain, _key = store.load_server()
        print(f"server ({store.server_pem}):")
        print("\n".join(describe(chain[0])))
    revoked = store.revoked_serials()
    for pem in sorted(store.clients.glob("*.pem")) if store.clients.exists() else ():
        cert = x509.load_pem_x509_certificate(pem.read_bytes())
        state = "revoked" if cert.serial_number in revoked else "valid"
        print(
            f"client {pem.stem}: serial {cert.serial_number:x}, until "
            f"{not_after(cert):%Y-%m-%d}, {state}"
        )
