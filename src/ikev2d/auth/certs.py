"""Client certificate checks against our CA, and IKE identity matching (RFC 7296 §3.5).

A certificate-authenticated client is accepted when its certificate was issued by our CA
(signature and issuer name), is inside its validity period at `now`, is not a CA, carries
clientAuth or no EKU at all (so our own server certificate cannot log in), digitalSignature
if it has a keyUsage, and its serial is not in the revoked list; then the IDi it sent must
name the certificate: its subject DN (ID_DER_ASN1_DN), or a subjectAltName dNSName (ID_FQDN),
rfc822Name (ID_RFC822_ADDR) or iPAddress (ID_IPV4_ADDR/ID_IPV6_ADDR).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Collection
from dataclasses import dataclass
from typing import TypeVar

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ikev2d.wire.enums import IdType

__all__ = [
    "UNPARSABLE",
    "CertificateRejected",
    "ClientCertIdentity",
    "PrivateKey",
    "identity_matches_cert",
    "not_after",
    "not_before",
    "validate_client_cert",
]


# The keys the server signs with and the PKI makes (RSA or ECDSA).
PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
_E = TypeVar("_E", bound=x509.ExtensionType)

# What cryptography raises for a certificate (or one of its parts, parsed on first access:
# issuer, extensions, public key) that does not parse: the client's fault, never ours. A
# byte-flipping run over every position of RSA and ECDSA certificates saw these (KeyError: an
# unknown string tag in a name, cryptography 41).
UNPARSABLE = (
    ValueError,
    TypeError,
    KeyError,
    x509.InvalidVersion,
    x509.DuplicateExtension,
    x509.UnsupportedGeneralNameType,
    UnsupportedAlgorithm,
)


class CertificateRejected(Exception):
    """The peer certificate is not acceptable; `reason` is safe to log."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(slots=True, frozen=True)
class ClientCertIdentity:
    common_name: str
    subject: str  # RFC 4514 string of the subject DN
    serial: int


def not_after(cert: x509.Certificate) -> dt.datetime:
    """Aware UTC end of validity on cryptography 41 (naive) and >= 42 (`*_utc`)."""
    value = getattr(cert, "not_valid_after_utc", None)
    return value if value is not None else cert.not_valid_after.replace(tzinfo=dt.UTC)


def not_before(cert: x509.Certificate) -> dt.datetime:
    value = getattr(cert, "not_valid_before_utc", None)
    return value if value is not None else cert.not_valid_before.replace(tzinfo=dt.UTC)


def _ext(cert: x509.Certificate, kind: type[_E]) -> _E | None:
    try:
        return cert.extensions.get_extension_for_class(kind).value
    except x509.ExtensionNotFound:
        return None


def validate_client_cert(
    cert_der: bytes,
    ca_cert: x509.Certificate,
    now: dt.datetime,
    revoked_serials: Collection[int] = (),
) -> tuple[x509.Certificate, ClientCertIdentity]:
    """Check a client certificate (DER, from a CERT payload) against our CA at `now`."""
    try:
        return _validate(x509.load_der_x509_certificate(bytes(cert_der)), ca_cert, now,
                         revoked_serials)  # fmt: skip
    except UNPARSABLE as exc:
        raise CertificateRejected(f"certificate does not parse ({type(exc).__name__})") from None


def _validate(
    cert: x509.Certificate, ca_cert: x509.Certificate, now: dt.datetime,
    revoked_serials: Collection[int],
) -> tuple[x509.Certificate, ClientCertIdentity]:  # fmt: skip
    if cert.issuer != ca_cert.subject:
        raise CertificateRejected("certificate not issued by our CA (issuer differs)")
    try:
        cert.verify_directly_issued_by(ca_cert)
    except (InvalidSignature, ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise CertificateRejected("certificate signature does not verify with our CA") from exc
    when = now if now.tzinfo else now.replace(tzinfo=dt.UTC)
    if when < not_before(cert):
        raise CertificateRejected("certificate not yet valid")
    if when > not_after(cert):
        raise CertificateRejected("certificate expired")
    if when > not_after(ca_cert) or when < not_before(ca_cert):
        raise CertificateRejected("CA certificate outside its validity period")
    if cert.serial_number in revoked_serials:
        raise CertificateRejected(f"certificate serial {cert.serial_number:x} is revoked")
    _check_usage(cert)
    cns = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    common_name = str(cns[0].value) if cns else ""
    return cert, ClientCertIdentity(common_name, cert.subject.rfc4514_string(), cert.serial_number)


def _check_usage(cert: x509.Certificate) -> None:
    constraints = _ext(cert, x509.BasicConstraints)
    if constraints is not None and constraints.ca:
        raise CertificateRejected("a CA certificate cannot authenticate a client")
    usage = _ext(cert, x509.KeyUsage)
    if usage is not None and not usage.digital_signature:
        raise CertificateRejected("keyUsage lacks digitalSignature")
    ekus = _ext(cert, x509.ExtendedKeyUsage)
    if ekus is not None and ExtendedKeyUsageOID.CLIENT_AUTH not in ekus:
        raise CertificateRejected("extendedKeyUsage lacks clientAuth")


def identity_matches_cert(cert: x509.Certificate, id_type: int, id_data: bytes) -> bool:
    """Whether the IKE identity (type, data) names this certificate."""
    if id_type == IdType.DER_ASN1_DN:
        return bytes(id_data) == cert.subject.public_bytes()
    san = _ext(cert, x509.SubjectAlternativeName)
    if san is None:
        return False
    if id_type in (IdType.FQDN, IdType.RFC822_ADDR):
        try:
            text = bytes(id_data).decode("ascii").lower()
        except UnicodeDecodeError:
            return False
        kind = x509.DNSName if id_type == IdType.FQDN else x509.RFC822Name
        return any(v.lower() == text for v in san.get_values_for_type(kind))
    if id_type in (IdType.IPV4_ADDR, IdType.IPV6_ADDR):
        if len(id_data) not in (4, 16):
            return False
        address = ipaddress.ip_address(bytes(id_data))
        return address in san.get_values_for_type(x509.IPAddress)
    return False
