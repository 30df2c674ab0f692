"""``ikev2ctl check``'s view of the server identity: which IDr each client asks for, what the
server answers, and whether the server certificate names it (EAP and certificate modes).

Android's built-in client asks for the server address as typed (an IP literal as an IP ID, a
name as an FQDN ID), Apple's and the strongSwan app for the profile's server ID, Windows for
none (it checks the server address against the certificate's dNSName entries instead).
"""

from __future__ import annotations

from ikev2d.policy.config import ServerConfig
from ikev2d.policy.identity import Identity, identity_from_text
from ikev2d.wire.enums import IdType

__all__ = ["certificate_state", "identity_summary", "platform_identity"]

_NAMED = (IdType.FQDN, IdType.IPV4_ADDR, IdType.IPV6_ADDR)
_CERT_MODES = ("eap", "cert")


def certificate_state(config: ServerConfig, pki_dir: str) -> dict | None:
    """The server certificate in `pki_dir`: its names, whether our CA issued it, and which
    of the server's identities it lacks (None: no certificate yet)."""
    from ikev2d.pki_files import PkiError, PkiStore, server_cert_names, server_names

    store = PkiStore(pki_dir)
    try:
        chain, _key = store.load_server()
        ours = store.exists() and chain[0].issuer == store.load_ca().certificate.subject
    except (PkiError, OSError, ValueError):
        return None
    missing = [n for n in config.certificate_names() if not server_cert_names(chain[0], n)]
    return {"names": server_names(chain[0]), "ours": ours, "missing": missing}


def _asked(config: ServerConfig, platform: str) -> Identity | None:
    if platform == "windows" or config.server_address is None:
        return None
    if platform == "android":
        return identity_from_text(config.server_address)
    return config.server_identities()[0]  # the profile's RemoteIdentifier / remote.id


def _certificate_fix(config: ServerConfig, needed: Identity, certificate: dict | None):
    if needed.id_type not in _NAMED:
        return (f"the server answers with {needed.type_name} {needed}, which no certificate "
                "can name: put a DNS name or address first in local_id")  # fmt: skip
    name = str(needed)
    if certificate is None or name not in certificate["missing"]:
        return None
    if certificate["ours"]:
        return f"restart the daemon: it reissues its server certificate to name {name}"
    return f"the imported server certificate does not name {name}: import one that does"


def platform_identity(config: ServerConfig, platform: str, certificate: dict | None) -> dict:
    """What `platform` asks for as IDr, what the server answers, and a fix if it fails."""
    ours = config.server_identities()
    asked = _asked(config, platform)
    answered = asked if asked in ours else (ours[0] if ours else None)
    fix = None
    if config.auth_mode in _CERT_MODES:
        # Windows compares the certificate with the address it was given, not with IDr
        needed = identity_from_text(config.server_address) if platform == "windows" else answered
        if needed is not None:
            fix = _certificate_fix(config, needed, certificate)
    return {
        "asks": "none" if asked is None else f"{asked} ({asked.type_name})",
        "answered": "the address the client reached" if answered is None else str(answered),
        "ok": fix is None,
        "fix": fix,
    }


def identity_summary(config: ServerConfig, certificate: dict | None) -> dict:
    """The server's identities in answer order, and the certificate that must name them."""
    answers = [f"{i} ({i.type_name})" for i in config.server_identities()]
    return {"answers": [*answers, "the address a client reaches"], "certificate": certificate}
