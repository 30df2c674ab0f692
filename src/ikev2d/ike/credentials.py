"""What the server authenticates with and trusts, handed to the responder by the daemon."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ikev2d.crypto.digests import digest

if TYPE_CHECKING:
    from cryptography import x509

    from ikev2d.auth.certs import PrivateKey

__all__ = ["Credentials"]


@dataclass(frozen=True, slots=True)
class Credentials:
    """Server certificate chain (leaf first) and key; the CA whose client certificates we
    accept, and the serials revoked from it (None: no certificate clients)."""

    chain: tuple[x509.Certificate, ...] = ()
    key: PrivateKey | None = field(default=None, repr=False)
    ca: x509.Certificate | None = None
    revoked: frozenset[int] = frozenset()

    @property
    def can_sign(self) -> bool:
        return bool(self.chain) and self.key is not None

    def certreq_data(self) -> bytes:
        """CERTREQ (X.509) data: SHA-1 of our CA's SubjectPublicKeyInfo (RFC 7296 §3.7)."""
        from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

        if self.ca is None:
            return b""
        spki = self.ca.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
        return digest("sha1", spki)  # the RFC's hash, not a security use

    def der_chain(self) -> list[bytes]:
        from cryptography.hazmat.primitives.serialization import Encoding

        return [c.public_bytes(Encoding.DER) for c in self.chain]
