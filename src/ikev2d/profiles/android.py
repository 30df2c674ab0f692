"""Android's built-in IKEv2 client (Android 11+) has no profile file: a card of what to type.

Settings → Network → VPN → + : type "IKEv2/IPSec PSK" (or MSCHAPv2, RSA), *Server address*,
*IPsec identifier* (our remote ID / the client's IDi) and the key or user name. Android takes
the server address itself as the server's ID (an IP literal as an IP ID, a name as an FQDN
ID); server_address is always one of the server's identities, so the server answers with it.
The QR code carries the same text, for copying the long key from another screen.
"""

from __future__ import annotations

import base64
import json

from ikev2d.policy.config import ServerConfig

from .common import (
    Profile,
    ProfileError,
    client_identity,
    profile_user,
    safe_filename,
    server_address,
)
from .qr import QrError, qr_svg

__all__ = ["MIME", "android_card", "render_android"]

MIME = "application/json"
_TYPES = {"psk": "IKEv2/IPSec PSK", "eap": "IKEv2/IPSec MSCHAPv2", "cert": "IKEv2/IPSec RSA"}


def android_card(config: ServerConfig, user: str | None = None) -> dict:
    """The fields to type into Android's VPN dialog, as a dict (secrets marked)."""
    profile_user(config, user)
    address = server_address(config)
    fields = [
        {"label": "Type", "value": _TYPES[config.auth_mode]},
        {"label": "Server address", "value": address},
        {"label": "IPsec identifier", "value": client_identity(config, user)},
    ]
    if config.auth_mode == "psk":
        if not config.psk:
            raise ProfileError("auth_mode psk: no pre-shared key (psk) is set")
        fields.append({"label": "IPsec pre-shared key", "value": config.psk, "secret": True})
    elif config.auth_mode == "eap":
        fields.append({"label": "Username", "value": user or ""})
        fields.append({"label": "Password", "value": "(the user's password)"})
    else:
        fields.append({"label": "IPsec user certificate", "value": "install the .p12 first"})
    warnings: list[str] = []  # the address typed is always one of the server's identities
    text = "\n".join(f"{f['label']}: {f['value']}" for f in fields)
    card = {"platform": "android", "fields": fields, "qr_text": text, "warnings": warnings}
    try:
        card["qr_svg"] = base64.b64encode(qr_svg(text).encode()).decode()
    except QrError:
        card["qr_svg"] = None  # too long for a small QR code; the card itself still works
    return card


def render_android(
    config: ServerConfig, platform: str = "android", user: str | None = None, **_: object
) -> Profile:
    card = android_card(config, user)
    name = f"{safe_filename(server_address(config))}-{safe_filename(user or 'android')}.json"
    return Profile(name, MIME, (json.dumps(card, indent=2) + "\n").encode("utf-8"))
