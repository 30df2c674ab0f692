"""IKE identities (RFC 7296 §3.5): from configuration text or from an ID payload.

Equality is what remote-ID matching needs: an FQDN compares case-insensitively (and ignores a
trailing dot), the host part of a user FQDN (RFC 822 address) too; everything else compares
byte for byte. ``str()`` is printable and safe for logs and status output.
"""

from __future__ import annotations

import ipaddress
import re

from ikev2d.wire.enums import IdType
from ikev2d.wire.frozen import Frozen

__all__ = [
    "CONFIG_ID_TYPES",
    "Identity",
    "IdentityError",
    "identity_from_text",
    "is_dns_name",
]

# Configuration names of the ID types, as on the Omada page and in strongSwan's vocabulary.
CONFIG_ID_TYPES: dict[str, IdType] = {
    "ipv4": IdType.IPV4_ADDR,
    "ipv6": IdType.IPV6_ADDR,
    "fqdn": IdType.FQDN,
    "user-fqdn": IdType.RFC822_ADDR,
    "key-id": IdType.KEY_ID,
}
_TYPE_NAMES: dict[int, str] = {v: k for k, v in CONFIG_ID_TYPES.items()}
_MAX_ID = 255  # longer than any DNS name; IDs are echoed in logs and status
_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)\Z")
_LOCAL_PART = re.compile(r"[^\s@\x00-\x1f\x7f]{1,64}\Z")


class IdentityError(ValueError):
    """A value that is not a valid identity of the given type; the message says what is wrong."""


def is_dns_name(text: str) -> bool:
    """A DNS host name: dot-separated letter/digit/hyphen labels, at most 253 characters."""
    name = text[:-1] if text.endswith(".") else text
    if not name or len(name) > 253:
        return False
    labels = name.split(".")
    if not all(_LABEL.match(label) for label in labels):
        return False
    # all-numeric last label: an IPv4 literal or a typo of one, never a host name
    return not labels[-1].isdigit()


def identity_from_text(text: str) -> Identity:
    """The identity a client derives from what its user typed, as Android's built-in client
    does: an IP literal gives an IP ID, ``user@host`` an RFC 822 ID, a name an FQDN ID."""
    try:
        return Identity.from_address(ipaddress.ip_address(text))
    except ValueError:
        pass
    if "@" in text:
        return Identity.from_config("user-fqdn", text)
    if not text.isascii() or not is_dns_name(text):
        raise IdentityError("is neither an IP address, a DNS name nor user@host.name")
    return Identity(IdType.FQDN, text.encode("ascii"))


def _escape(data: bytes) -> str:
    out = []
    for b in data:
        if 0x20 <= b < 0x7F and b != 0x5C:
            out.append(chr(b))
        else:
            out.append(f"\\x{b:02x}")
    return "".join(out)


def _normalise(id_type: int, data: bytes) -> bytes:
    if id_type == IdType.FQDN:
        return data.rstrip(b".").lower()
    if id_type == IdType.RFC822_ADDR:
        local, at, host = data.rpartition(b"@")
        return local + at + host.rstrip(b".").lower() if at else data
    return data


class Identity(Frozen):
    """An IKE identity: the ID payload's type number and its data."""

    __slots__ = ("_key", "data", "id_type")
    _hidden = frozenset(("_key",))
    id_type: int
    data: bytes
    _key: tuple[int, bytes]

    def __init__(self, id_type: int, data: bytes) -> None:
        self._set(id_type=id_type, data=data)
        if len(self.data) > _MAX_ID:
            raise IdentityError(f"identity longer than {_MAX_ID} bytes")
        normal = _normalise(self.id_type, self.data)
        # most identities are already in normal form: keep one bytes object, not two
        self._set(_key=(int(self.id_type), self.data if normal == self.data else normal))

    # -- constructors -------------------------------------------------------------------------
    @classmethod
    def from_config(cls, type_name: str, value: str) -> Identity:
        """Build from a configuration type name (``ipv4``, ``fqdn``, ``user-fqdn``, ``key-id``,
        ``ipv6``) and its text; raise IdentityError with a short reason otherwise."""
        id_type = CONFIG_ID_TYPES.get(type_name)
        if id_type is None:
            raise IdentityError(f"unknown identity type {type_name!r}")
        if not value:
            raise IdentityError("is empty")
        if id_type == IdType.IPV4_ADDR:
            try:
                return cls(id_type, ipaddress.IPv4Address(value).packed)
            except ValueError:
                raise IdentityError("is not an IPv4 address") from None
        if id_type == IdType.IPV6_ADDR:
            try:
                return cls(id_type, ipaddress.IPv6Address(value).packed)
            except ValueError:
                raise IdentityError("is not an IPv6 address") from None
        if id_type == IdType.FQDN:
            if not value.isascii() or not is_dns_name(value):
                raise IdentityError("is not a DNS name")
            return cls(id_type, value.encode("ascii"))
        if id_type == IdType.RFC822_ADDR:
            local, at, host = value.rpartition("@")
            if not at or not _LOCAL_PART.match(local) or not is_dns_name(host):
                raise IdentityError("is not of the form user@host.name")
            return cls(id_type, value.encode("utf-8"))
        if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
            raise IdentityError("contains control characters")
        return cls(id_type, value.encode("utf-8"))

    @classmethod
    def from_payload(cls, id_type: int, data: bytes) -> Identity:
        """Build from an ID payload's type and data, checking lengths the type implies."""
        if id_type == IdType.IPV4_ADDR and len(data) != 4:
            raise IdentityError("ID_IPV4_ADDR must be 4 bytes")
        if id_type == IdType.IPV6_ADDR and len(data) != 16:
            raise IdentityError("ID_IPV6_ADDR must be 16 bytes")
        return cls(int(id_type), bytes(data))

    @classmethod
    def from_address(cls, address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> Identity:
        if address.version == 4:
            return cls(IdType.IPV4_ADDR, address.packed)
        return cls(IdType.IPV6_ADDR, address.packed)

    # -- comparison and display ---------------------------------------------------------------
    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Identity):
            return NotImplemented
        return self._key == other._key

    def __hash__(self) -> int:
        return hash(self._key)

    @property
    def type_name(self) -> str:
        """The configuration name of the type, or the IANA name for other types."""
        name = _TYPE_NAMES.get(self.id_type)
        if name is not None:
            return name
        try:
            return IdType(self.id_type).name.lower()
        except ValueError:
            return f"type{self.id_type}"

    def __str__(self) -> str:
        if self.id_type == IdType.IPV4_ADDR and len(self.data) == 4:
            return str(ipaddress.IPv4Address(self.data))
        if self.id_type == IdType.IPV6_ADDR and len(self.data) == 16:
            return str(ipaddress.IPv6Address(self.data))
        if self.id_type in (IdType.FQDN, IdType.RFC822_ADDR, IdType.KEY_ID):
            return _escape(self.data)
        # DNs and other binary types: type and hex, never raw bytes in a log line
        return f"{self.type_name}:{self.data.hex()}"
