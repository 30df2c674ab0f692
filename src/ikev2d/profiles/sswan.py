"""strongSwan VPN Client for Android profile (.sswan, JSON; docs.strongswan.org
os/androidVpnClientProfiles). The app always authenticates the server by certificate, so
only auth_mode eap (ikev2-eap) and cert (ikev2-cert) are possible."""

from __future__ import annotations

import base64
import json

from ikev2d.policy.config import ServerConfig

from .common import (
    Profile,
    ProfileError,
    client_identity,
    pem_to_der,
    profile_user,
    safe_filename,
    server_address,
    server_identity,
    stable_uuid,
)

__all__ = ["MIME", "render_sswan"]

MIME = "application/vnd.strongswan.profile"


def render_sswan(
    config: ServerConfig,
    platform: str = "android-sswan",
    user: str | None = None,
    *,
    ca_pem: bytes | None = None,
    p12: bytes | None = None,
    name: str | None = None,
    **_: object,
) -> Profile:
    if config.auth_mode == "psk":
        raise ProfileError(
            "the strongSwan Android app has no pre-shared key mode: use the Android built-in "
            "client (platform android), or set auth_mode eap or cert"
        )
    profile_user(config, user)
    address = server_address(config)
    if ca_pem is None:
        raise ProfileError(f"auth_mode {config.auth_mode}: the CA certificate is needed")
    remote = {
        "addr": address,
        "id": str(server_identity(config)),
        "cert": base64.b64encode(pem_to_der(ca_pem)).decode(),
    }
    local: dict[str, str] = {}
    if config.auth_mode == "eap":
        kind = "ikev2-eap"
        local["eap_id"] = user or ""
    else:
        if p12 is None:
            raise ProfileError("auth_mode cert: the client's PKCS#12 certificate is needed")
        kind = "ikev2-cert"
        local["p12"] = base64.b64encode(p12).decode()
        local["id"] = client_identity(config, user)
    doc: dict[str, object] = {
        "uuid": stable_uuid("ikev2d", address, user or "-", "sswan").lower(),
        "name": name or f"VPN {address}",
        "type": kind,
        "remote": remote,
        "local": local,
        # the server's most preferred proposals, in strongSwan's own syntax
        "ike-proposal": config.ike_proposal[0].text,
        "esp-proposal": config.esp_proposal[0].text,
    }
    if config.dns:
        doc["dns-servers"] = " ".join(str(a) for a in config.dns)
    if not config.full_tunnel and config.offered_subnets:
        doc["split-tunneling"] = {"subnets": " ".join(str(n) for n in config.offered_subnets)}
    filename = f"{safe_filename(address)}-{safe_filename(user or 'android')}.sswan"
    return Profile(filename, MIME, (json.dumps(doc, indent=2) + "\n").encode("utf-8"))
