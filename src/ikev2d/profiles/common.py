"""What every profile needs: errors, the server's address and IDs, PEM, stable UUIDs.

Profiles never guess: a value a client needs and the configuration lacks (server_address, a
user in EAP mode, the CA in certificate modes) is a ``ProfileError`` that says what to set.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from typing import NamedTuple

from ikev2d.policy.config import ServerConfig, UserConfig
from ikev2d.policy.identity import Identity

__all__ = [
    "PLATFORMS",
    "Profile",
    "ProfileError",
    "client_identity",
    "pem_to_der",
    "profile_user",
    "safe_filename",
    "server_address",
    "server_identity",
    "stable_uuid",
]

#: Platform names accepted by ``ikev2ctl profile --platform`` and the ubus ``profile`` method,
#: in the order LuCI shows their buttons (scripts/generate.py puts them in schema.js).
PLATFORMS = ("ios", "macos", "android", "android-sswan", "windows")

_NAMESPACE = bytes.fromhex("6ba7b8109dad11d180b400c04fd430c8")  # RFC 4122 URL namespace


class ProfileError(ValueError):
    """A profile that cannot be made for this configuration; the message says what to change."""


class Profile(NamedTuple):
    filename: str
    mime: str
    data: bytes


def stable_uuid(*parts: str) -> str:
    """An RFC 4122 version-5 UUID of ``parts``: the same server and user give the same UUID,
    so importing a new profile replaces the old one instead of adding a second VPN."""
    digest = bytearray(
        hashlib.sha1(  # noqa: S324 - RFC 4122 v5 is defined on SHA-1
            _NAMESPACE + "\x00".join(parts).encode()
        ).digest()[:16]
    )
    digest[6] = (digest[6] & 0x0F) | 0x50
    digest[8] = (digest[8] & 0x3F) | 0x80
    h = digest.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}".upper()


def server_address(config: ServerConfig) -> str:
    if not config.server_address:
        raise ProfileError(
            "server_address is not set: clients need the router's public address or DNS name"
        )
    return config.server_address


def server_identity(config: ServerConfig) -> Identity:
    """The server's IDr a profile names (Apple RemoteIdentifier, sswan remote.id): the first
    configured identity (local_id, else server_address as typed)."""
    server_address(config)  # every profile needs it
    return config.server_identities()[0]


def profile_user(config: ServerConfig, user: str | None) -> UserConfig | None:
    """The user a profile is for: required and known in EAP mode, optional otherwise."""
    if config.auth_mode != "eap":
        return None if user is None else UserConfig(name=user)
    if not user:
        raise ProfileError("auth_mode eap: name the user the profile is for (--user NAME)")
    found = config.find_user(user)
    if found is None:
        raise ProfileError(f"no user {user!r} in the configuration")
    if not found.enabled:
        raise ProfileError(f"user {user!r} is disabled")
    return found


def client_identity(config: ServerConfig, user: str | None) -> str:
    """The IDi the client should send: remote_id when the server demands one, else the user
    name (EAP identity or a label), else a neutral name."""
    if config.remote_id is not None:
        return str(config.remote_id)
    return user or "client"


def pem_to_der(pem: bytes, label: str = "CERTIFICATE") -> bytes:
    """The DER of the first ``label`` block of a PEM file (no cryptography import needed)."""
    text = pem.decode("ascii", "strict")
    begin, end = f"-----BEGIN {label}-----", f"-----END {label}-----"
    start = text.find(begin)
    stop = text.find(end, start + len(begin))
    if start < 0 or stop < 0:
        raise ProfileError(f"the CA file holds no PEM {label.lower()}")
    body = "".join(text[start + len(begin) : stop].split())
    try:
        return base64.b64decode(body, validate=True)
    except binascii.Error:
        raise ProfileError("the CA certificate is not valid base64 PEM") from None


def safe_filename(text: str) -> str:
    """A file name part from a user or host name: letters, digits, ``.-_`` only."""
    out = "".join(c if c.isascii() and (c.isalnum() or c in ".-_") else "_" for c in text)
    return out.strip("._")[:64] or "vpn"
