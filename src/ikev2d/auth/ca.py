"""The built-in CA: pure functions building keys, certificates, PEM and PKCS#12 bytes.

Keys default to RSA-2048: every native client (Windows 10/11, iOS/macOS, Android, strongSwan)
accepts RSA server certificates with both AUTH method 1 and 14, whereas ECDSA server
certificates need method 14 or 9-11 support that older Windows builds lack. ECDSA P-256 is an
option (`key_type="ecdsa-p256"`): smaller messages, no fragmentation. File handling lives in
`ikev2d.pki_files`; randomness is the caller's (`rng` for serial numbers; key generation uses
OpenSSL's RNG through `cryptography`, which is not injectable).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

from .certs import PrivateKey, not_after
from .pkcs12_mac import MAC_ITERATIONS, strengthen_mac

__all__ = [
    "CA_VALIDITY",
    "CLIENT_NAME_RE",
    "CLIENT_VALIDITY",
    "IKE_INTERMEDIATE",
    "KEY_TYPES",
    "SERVER_VALIDITY",
    "IssuedCert",
    "cert_pem",
    "check_key_matches",
    "client_pkcs12",
    "client_sans",
    "generate_key",
    "issue_client_cert",
    "issue_server_cert",
    "key_pem",
    "make_ca",
    "server_sans",
]

IKE_INTERMEDIATE = ObjectIdentifier("1.3.6.1.5.5.8.2.2")  # RFC 4945 §5.1.3.12
CA_VALIDITY = dt.timedelta(days=3650)
SERVER_VALIDITY = dt.timedelta(days=730)
CLIENT_VALIDITY = dt.timedelta(days=730)
KEY_TYPES = ("rsa2048", "rsa3072", "ecdsa-p256", "ecdsa-p384")
# Client names double as file names and IKE identities: no path separators, no spaces.
CLIENT_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
_BACKDATE = dt.timedelta(minutes=5)  # tolerate small clock differences between router and phone


@dataclass(slots=True, frozen=True)
class IssuedCert:
    certificate: x509.Certificate
    private_key: PrivateKey = field(repr=False)


def generate_key(key_type: str = "rsa2048") -> PrivateKey:
    if key_type == "rsa2048":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if key_type == "rsa3072":
        return rsa.generate_private_key(public_exponent=65537, key_size=3072)
    if key_type == "ecdsa-p256":
        return ec.generate_private_key(ec.SECP256R1())
    if key_type == "ecdsa-p384":
        return ec.generate_private_key(ec.SECP384R1())
    raise ValueError(f"key type must be one of {', '.join(KEY_TYPES)}")


def _serial(rng: Callable[[int], bytes]) -> int:
    # 64 random bits, top bit cleared so the DER INTEGER stays positive and <= 8 octets + 0.
    return int.from_bytes(rng(8), "big") >> 1 or 1


def _utc(now: dt.datetime) -> dt.datetime:
    return now if now.tzinfo else now.replace(tzinfo=dt.UTC)


def _ski(key: PrivateKey) -> x509.SubjectKeyIdentifier:
    return x509.SubjectKeyIdentifier.from_public_key(key.public_key())


def _aki(ca_cert: x509.Certificate) -> x509.AuthorityKeyIdentifier:
    ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    return x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)


def make_ca(
    common_name: str, now: dt.datetime, rng: Callable[[int], bytes], key_type: str = "rsa2048"
) -> IssuedCert:
    """A self-signed CA: basicConstraints CA:TRUE pathlen 0, keyCertSign + cRLSign."""
    key = generate_key(key_type)
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "ikev2d"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )
    start = _utc(now) - _BACKDATE
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(_serial(rng))
        .not_valid_before(start)
        .not_valid_after(start + CA_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(cert_sign=True), critical=True)
        .add_extension(_ski(key), critical=False)
    )
    return IssuedCert(builder.sign(key, hashes.SHA256()), key)


def _key_usage(*, cert_sign: bool = False, key_enc: bool = False) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not cert_sign,
        content_commitment=False,
        key_encipherment=key_enc,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _leaf(
    ca: IssuedCert,
    key: PrivateKey,
    common_name: str,
    sans: Sequence[x509.GeneralName],
    ekus: Sequence[ObjectIdentifier],
    validity: dt.timedelta,
    now: dt.datetime,
    rng: Callable[[int], bytes],
) -> x509.Certificate:
    start = _utc(now) - _BACKDATE
    ca_end = not_after(ca.certificate)
    builder = (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name(
                [
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, "ikev2d"),
                    x509.NameAttribute(NameOID.COMMON_NAME, common_name),
                ]
            )
        )
        .issuer_name(ca.certificate.subject)
        .public_key(key.public_key())
        .serial_number(_serial(rng))
        .not_valid_before(start)
        .not_valid_after(min(start + validity, ca_end))  # never outlive the CA
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            _key_usage(key_enc=isinstance(key, rsa.RSAPrivateKey)),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage(list(ekus)), critical=False)
        .add_extension(x509.SubjectAlternativeName(list(sans)), critical=False)
        .add_extension(_ski(key), critical=False)
        .add_extension(_aki(ca.certificate), critical=False)
    )
    return builder.sign(ca.private_key, hashes.SHA256())


def server_sans(names: Sequence[str]) -> list[x509.GeneralName]:
    """dNSName for each name; an IP literal goes in as iPAddress AND as dNSName (Windows
    matches the server address against dNSName only and fails with 13801 otherwise)."""
    sans: list[x509.GeneralName] = []
    for name in names:
        try:
            ip = ipaddress.ip_address(name)
        except ValueError:
            sans.append(x509.DNSName(name))
        else:
            sans.extend((x509.IPAddress(ip), x509.DNSName(str(ip))))
    return sans


def issue_server_cert(
    ca: IssuedCert,
    names: Sequence[str],
    now: dt.datetime,
    rng: Callable[[int], bytes],
    key_type: str = "rsa2048",
    key: PrivateKey | None = None,
) -> IssuedCert:
    """Server certificate: CN = first name, SAN = all names, EKU serverAuth + ikeIntermediate."""
    if not names:
        raise ValueError("a server certificate needs at least one name or address")
    key = key or generate_key(key_type)
    ekus = (ExtendedKeyUsageOID.SERVER_AUTH, IKE_INTERMEDIATE)
    cert = _leaf(ca, key, names[0], server_sans(names), ekus, SERVER_VALIDITY, now, rng)
    return IssuedCert(cert, key)


def client_sans(name: str) -> list[x509.GeneralName]:
    """The identities a client certificate may present as IDi: NAME as rfc822Name when it
    holds an "@", else as dNSName (ID_FQDN); the subject DN always works as well."""
    return [x509.RFC822Name(name) if "@" in name else x509.DNSName(name)]


def issue_client_cert(
    ca: IssuedCert,
    name: str,
    now: dt.datetime,
    rng: Callable[[int], bytes],
    key_type: str = "rsa2048",
) -> IssuedCert:
    """Client certificate: CN = NAME, SAN per `client_sans`, EKU clientAuth."""
    if not CLIENT_NAME_RE.match(name):
        raise ValueError("client name: 1-64 of A-Z a-z 0-9 . _ @ -, starting alphanumeric")
    key = generate_key(key_type)
    ekus = (ExtendedKeyUsageOID.CLIENT_AUTH,)
    cert = _leaf(ca, key, name, client_sans(name), ekus, CLIENT_VALIDITY, now, rng)
    return IssuedCert(cert, key)


def cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def key_pem(key: PrivateKey) -> bytes:
    """Unencrypted PKCS#8 PEM (the file is protected by mode 0600 instead)."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def client_pkcs12(issued: IssuedCert, ca_cert: x509.Certificate, password: bytes) -> bytes:
    """PKCS#12 with key, certificate and CA, encrypted the legacy way every client imports:
    PBE-SHA1-3DES for key and certificates and a SHA-1 MAC. iOS/macOS and Android's keystore
    reject AES-256/PBES2 PKCS#12 files in several releases; Windows accepts both. Both the
    PBE and the MAC take MAC_ITERATIONS rounds on every cryptography version (41 writes a MAC
    of one iteration: pkcs12_mac)."""
    if not password:
        raise ValueError("a PKCS#12 password is required")
    encryption = (
        serialization.PrivateFormat.PKCS12.encryption_builder()
        .kdf_rounds(MAC_ITERATIONS)
        .key_cert_algorithm(pkcs12.PBES.PBESv1SHA1And3KeyTripleDESCBC)
        .hmac_hash(hashes.SHA1())  # noqa: S303 - the MAC iOS and Android can read
        .build(password)
    )
    friendly = issued.certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    p12 = pkcs12.serialize_key_and_certificates(
        str(friendly).encode("utf-8"), issued.private_key, issued.certificate, [ca_cert], encryption
    )
    return strengthen_mac(p12, password)


def check_key_matches(cert: x509.Certificate, key: PrivateKey) -> bool:
    """Whether `key` is the private key of `cert` (for importing an ACME certificate)."""
    fmt = serialization.PublicFormat.SubjectPublicKeyInfo
    enc = serialization.Encoding.DER
    return cert.public_key().public_bytes(enc, fmt) == key.public_key().public_bytes(enc, fmt)
