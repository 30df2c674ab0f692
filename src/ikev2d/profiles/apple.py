"""Apple configuration profile (.mobileconfig) for the built-in IKEv2 client (iOS, macOS).

One com.apple.vpn.managed payload (VPNType IKEv2) whose single IKE and Child SA proposal is
one the server accepts; the CA as com.apple.security.root in EAP and certificate modes, and
the client's PKCS#12 as com.apple.security.pkcs12 in certificate mode. UUIDs are derived
from the server and user, so re-importing replaces the profile.

With post_quantum on and ML-KEM on the router, iOS/macOS 26 are asked for one additional key
exchange (PostQuantumKeyExchangeMethods: each entry is one of ADDKE1..7, so one entry); with
PFS also on Child SA rekeys. AllowPostQuantumKeyExchangeFallback follows the mode: required
lets the device refuse a server without it; older systems ignore the keys.
"""

from __future__ import annotations

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
from .plist import dumps_plist
from .suites import APPLE, choose

__all__ = ["MIME", "render_mobileconfig"]

MIME = "application/x-apple-aspen-config"
_DPD_RATE = ((0, "None"), (60, "High"), (300, "Medium"))  # dpd_delay up to N s -> rate
_APPLE_PQ_METHODS = (36, 37)  # NEVPNIKEv2PostQuantumKeyExchangeMethod: ML-KEM-768, -1024


def _dpd_rate(delay: int) -> str:
    for limit, rate in _DPD_RATE:
        if delay <= limit:
            return rate
    return "Low"


def _sa_params(names: tuple, lifetime_s: int, group=None) -> dict:
    encr, integ, dh = names
    return {
        "EncryptionAlgorithm": encr,
        "IntegrityAlgorithm": integ,
        "DiffieHellmanGroup": dh if group is None else group,
        "LifeTimeInMinutes": max(10, min(1440, lifetime_s // 60)),
    }


def _ikev2_dict(config: ServerConfig, user: str | None, *, cert_uuid: str | None) -> dict:
    choice = choose(config, APPLE)
    pfs_group = choice.esp_names[2]
    ikev2 = {
        "RemoteAddress": server_address(config),
        "RemoteIdentifier": str(server_identity(config)),
        "LocalIdentifier": client_identity(config, user),
        "IKESecurityAssociationParameters": _sa_params(choice.ike_names, config.ike_lifetime),
        # Without PFS the child group only matters on rekey; iOS then also offers "none".
        "ChildSecurityAssociationParameters": _sa_params(
            choice.esp_names, config.child_lifetime, pfs_group or choice.ike_names[2]
        ),
        "EnablePFS": pfs_group is not None,
        "DeadPeerDetectionRate": _dpd_rate(config.dpd_delay),
        "DisableMOBIKE": not config.mobike,
        "DisableRedirect": True,
        "UseConfigurationAttributeInternalIPSubnet": False,
    }
    pq = _post_quantum_methods(config)
    if pq:
        ikev2["IKESecurityAssociationParameters"]["PostQuantumKeyExchangeMethods"] = pq
        if pfs_group is not None:  # an additional exchange rides on the PFS group
            ikev2["ChildSecurityAssociationParameters"]["PostQuantumKeyExchangeMethods"] = pq
        ikev2["AllowPostQuantumKeyExchangeFallback"] = config.post_quantum != "required"
    if config.auth_mode == "psk":
        if not config.psk:
            raise ProfileError("auth_mode psk: no pre-shared key (psk) is set")
        ikev2["AuthenticationMethod"] = "SharedSecret"
        ikev2["SharedSecret"] = config.psk
    elif config.auth_mode == "eap":
        ikev2["AuthenticationMethod"] = "None"  # the server signs; the client runs EAP
        ikev2["ExtendedAuthEnabled"] = True
        ikev2["AuthName"] = user or ""
    else:
        ikev2["AuthenticationMethod"] = "Certificate"
        ikev2["PayloadCertificateUUID"] = cert_uuid
    return ikev2


def _post_quantum_methods(config: ServerConfig) -> list[int]:
    """[ML-KEM method] for the profile: our first that Apple's schema has (36, 37), or []."""
    if config.post_quantum == "off":
        return []
    from ikev2d.crypto.mlkem import available_methods

    return [int(m) for m in available_methods() if int(m) in _APPLE_PQ_METHODS][:1]


def _on_demand(ikev2: dict) -> None:
    ikev2["OnDemandEnabled"] = 1
    ikev2["OnDemandRules"] = [{"Action": "Connect"}]


def render_mobileconfig(
    config: ServerConfig,
    platform: str,
    user: str | None = None,
    *,
    ca_pem: bytes | None = None,
    p12: bytes | None = None,
    p12_password: str | None = None,
    on_demand: bool = False,
    name: str | None = None,
) -> Profile:
    profile_user(config, user)
    address = server_address(config)
    who = user or "-"
    display = name or f"VPN {address}"
    uuid = {k: stable_uuid("ikev2d", address, who, k) for k in ("profile", "vpn", "ca", "p12")}
    payloads = []
    if config.auth_mode in ("eap", "cert"):
        if ca_pem is None:
            raise ProfileError(f"auth_mode {config.auth_mode}: the CA certificate is needed")
        payloads.append(_payload("com.apple.security.root", uuid["ca"], "VPN CA",
                                 {"PayloadContent": pem_to_der(ca_pem)}))  # fmt: skip
    cert_uuid = None
    if config.auth_mode == "cert":
        if p12 is None:
            raise ProfileError("auth_mode cert: the client's PKCS#12 certificate is needed")
        extra = {"PayloadContent": p12}
        if p12_password is not None:
            extra["Password"] = p12_password
        payloads.append(_payload("com.apple.security.pkcs12", uuid["p12"], "VPN client", extra))
        cert_uuid = uuid["p12"]
    ikev2 = _ikev2_dict(config, user, cert_uuid=cert_uuid)
    if on_demand:
        _on_demand(ikev2)
    vpn = {"UserDefinedName": display, "VPNType": "IKEv2", "IKEv2": ikev2,
           "IPv4": {"OverridePrimary": 1 if config.full_tunnel else 0}}  # fmt: skip
    payloads.append(_payload("com.apple.vpn.managed", uuid["vpn"], display, vpn))
    top = {
        "PayloadContent": payloads,
        "PayloadDisplayName": display,
        "PayloadIdentifier": f"ikev2d.{safe_filename(address)}.{safe_filename(who)}",
        "PayloadType": "Configuration",
        "PayloadUUID": uuid["profile"],
        "PayloadVersion": 1,
    }
    filename = f"{safe_filename(address)}-{safe_filename(user or platform)}.mobileconfig"
    return Profile(filename, MIME, dumps_plist(top))


def _payload(kind: str, uuid: str, display: str, content: dict) -> dict:
    return {
        "PayloadType": kind,
        "PayloadIdentifier": f"ikev2d.{kind}.{uuid}",
        "PayloadUUID": uuid,
        "PayloadVersion": 1,
        "PayloadDisplayName": display,
        **content,
    }
