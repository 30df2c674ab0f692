"""``ikev2ctl check``: which clients the configuration admits with their default settings.

The default offers below are what each built-in client proposes when set up by hand (see
docs/profiles.md for sources). An offer is a set of keywords per transform type, like one SA
proposal; the server admits it when one of its own proposals takes each transform from the
offer. KE groups count too when not the client's first guess: the responder answers
INVALID_KE_PAYLOAD with its group and the client retries.

Post-quantum key exchange (post_quantum, RFC 9370 ML-KEM) needs a cryptography with ML-KEM on
the router; of the built-in clients only iOS/macOS 26 use it, and only when the profile asks.
"""

from __future__ import annotations

import json

from ikev2d.policy.config import ServerConfig
from ikev2d.policy.proposals import Proposal

from .identities import identity_summary, platform_identity

__all__ = ["CLIENTS", "PQ_PLATFORMS", "check_main", "check_report", "format_report",
           "post_quantum_report"]  # fmt: skip

#: platforms whose client runs ML-KEM when set up by our profile (iOS/macOS 26 and later)
PQ_PLATFORMS = frozenset({"ios", "macos"})


def _offer(encr, integ, prf, ke=()) -> dict[str, set[str]]:
    return {"encr": set(encr.split()), "integ": set(integ.split()), "prf": set(prf.split()),
            "ke": set(ke.split()) if ke else set()}  # fmt: skip


_SHA2 = "sha256 sha384 sha512"
_PRF2 = "prfsha256 prfsha384 prfsha512"
_AEAD = "aes128gcm16 aes256gcm16 chacha20poly1305"

# platform -> (label, IKE offers, ESP offers, auth modes the built-in client can use, profile)
CLIENTS: dict[str, tuple] = {
    "ios": ("iOS", [
        _offer("aes256", "sha256", "prfsha256", "modp2048 ecp256 modp1536"),
        _offer("aes128", "sha1", "prfsha1", "modp1024"),
        _offer("3des", "sha1", "prfsha1", "modp1024"),
    ], [_offer("aes256", "sha256", "")], ("psk", "eap", "cert"), ".mobileconfig"),
    "macos": ("macOS", [_offer("aes256", "sha256", "prfsha256", "modp2048")],
              [_offer("aes256", "sha256", "")], ("psk", "eap", "cert"), ".mobileconfig"),
    "windows": ("Windows", [
        _offer("3des aes128 aes192 aes256", "sha1 sha256 sha384",
               "prfsha1 prfsha256 prfsha384", "modp1024"),
        _offer("aes128gcm16 aes256gcm16", "", "prfsha1 prfsha256 prfsha384", "modp1024"),
    ], [_offer("aes256 aes128 3des", "sha1", "")], ("eap", "cert"), "PowerShell script"),
    "android": ("Android (built-in)", [
        _offer("aes128 aes192 aes256", _SHA2, _PRF2, "modp4096 curve25519 modp3072 modp2048"),
        _offer(_AEAD, "", _PRF2, "modp4096 curve25519 modp3072 modp2048"),
    ], [_offer("aes128 aes192 aes256", _SHA2, ""), _offer(_AEAD, "", "")],
        ("psk", "eap", "cert"), "setup card"),
    "android-sswan": ("Android (strongSwan app)", [
        _offer("aes128 aes192 aes256", "sha256 sha384 sha512 sha1", _PRF2 + " prfsha1",
               "modp2048 modp3072 modp4096 ecp256 ecp384 ecp521 curve25519"),
        _offer(_AEAD, "", _PRF2, "modp2048 modp3072 modp4096 ecp256 ecp384 ecp521 curve25519"),
    ], [_offer("aes128 aes192 aes256", "sha256 sha384 sha512 sha1", ""), _offer(_AEAD, "", "")],
        ("eap", "cert"), ".sswan"),
}  # fmt: skip


def _admits(p: Proposal, offer: dict[str, set[str]]) -> bool:
    if p.encr.keyword not in offer["encr"]:
        return False
    if (p.integ.keyword if p.integ else None) not in (offer["integ"] or {None}):
        return False
    if p.protocol == "ike":
        return p.prf.keyword in offer["prf"] and p.ke.keyword in offer["ke"]
    return p.ke is None and p.esn.keyword == "noesn"  # first Child SA: no KE, no ESN


def _first(proposals, offers) -> str | None:
    return next((p.text for p in proposals if any(_admits(p, o) for o in offers)), None)


def _platform(config: ServerConfig, platform: str, certificate: dict | None) -> dict:
    label, ike_offers, esp_offers, modes, profile = CLIENTS[platform]
    ike = _first(config.ike_proposal, ike_offers)
    esp = _first(config.esp_proposal, esp_offers)
    auth_ok = config.auth_mode in modes
    fixes = []
    if ike is None or esp is None:
        if platform == "windows":
            fixes.append(
                "enable legacy_proposals (weak: MODP1024, SHA-1), or run the "
                "PowerShell profile, which sets a strong proposal the server accepts"
            )
        elif profile in (".mobileconfig", ".sswan"):
            fixes.append(
                f"import the {profile} profile (it carries a proposal the server "
                f"accepts), or add the client's defaults to the proposals"
            )
        else:
            fixes.append("add e.g. aes256-sha256-modp2048 (IKE) and aes256-sha256 (ESP)")
    if not auth_ok:
        fixes.append(
            f"auth_mode {config.auth_mode} is not available on {label}: use " + " or ".join(modes)
        )
    if not config.server_address:
        fixes.append("set server_address (profiles and certificates need it)")
    identity = platform_identity(config, platform, certificate)
    if identity["fix"]:
        fixes.append(identity["fix"])
    pq = platform in PQ_PLATFORMS and post_quantum_report(config)["offered"]
    pq_ok = pq or config.post_quantum != "required"
    if not pq_ok:
        fixes.append(f"post_quantum required refuses {label}, which runs no ML-KEM: set "
                     "post_quantum preferred")  # fmt: skip
    return {"platform": platform, "label": label,
            "ok": bool(ike and esp and auth_ok and identity["ok"] and pq_ok),
            "proposals_ok": bool(ike and esp), "auth_ok": auth_ok, "ike": ike, "esp": esp,
            "identity": identity, "profile": profile, "post_quantum": pq,
            "fixes": fixes}  # fmt: skip


def post_quantum_report(config: ServerConfig) -> dict:
    """post_quantum as this router can run it: the ML-KEM methods it offers; `why_not` when
    the mode asks for ML-KEM that this cryptography lacks, and a `warning` when that refuses
    every client (required)."""
    from ikev2d.crypto.mlkem import available_methods, unavailable_reason
    from ikev2d.crypto.transforms import lookup
    from ikev2d.wire.enums import TransformType

    mode = config.post_quantum
    methods = [lookup(TransformType.KE, m).keyword for m in available_methods()]
    why_not = unavailable_reason() if mode != "off" and not methods else None
    warning = None
    if why_not and mode == "required":
        warning = f"server.post_quantum: required, but {why_not}: every client is refused"
    return {"mode": mode, "methods": methods, "offered": mode != "off" and bool(methods),
            "why_not": why_not, "warning": warning}  # fmt: skip


def check_report(config: ServerConfig, certificate: dict | None = None) -> dict:
    """Per platform: does the config admit its default proposals, its auth methods and the
    server identity it asks for? `certificate`: `identities.certificate_state()`."""
    return {"auth_mode": config.auth_mode,
            "identities": identity_summary(config, certificate),
            "post_quantum": post_quantum_report(config),
            "ipv6": ipv6_summary(config),
            "platforms": [_platform(config, p, certificate) for p in CLIENTS]}  # fmt: skip


def ipv6_summary(config: ServerConfig) -> dict:
    """IPv6 inside the tunnel: routed (pool6 on), refused (a full tunnel without pool6: the
    clients' IPv6 enters the tunnel and is dropped, so it cannot leak around it) or off."""
    pool6 = config.pool6
    if pool6 is None:
        mode = "refused" if config.full_tunnel else "off"
        return {"mode": mode, "pool6": None, "subnets": [], "masquerade": False}
    masquerade = config.full_tunnel and config.masquerade6
    return {"mode": "routed", "pool6": str(pool6),
            "subnets": [str(n) for n in config.subnets(6)], "masquerade": masquerade}  # fmt: skip


def _ipv6_line(v6: dict) -> str:
    if v6["mode"] == "off":
        return "IPv6 inside: off (pool6): clients' IPv6 does not use the tunnel"
    if v6["mode"] == "refused":
        return ("IPv6 inside: refused: the full tunnel takes clients' IPv6 in and drops it "
                "(nothing leaks around it); set pool6 to carry it")  # fmt: skip
    masq = ", masqueraded to the WAN (a ULA pool)" if v6["masquerade"] else ""
    return f"IPv6 inside: addresses from {v6['pool6']}, reaching {', '.join(v6['subnets'])}{masq}"


def format_report(report: dict) -> str:
    rows = [f"{'platform':<26} {'status':<7} {'IKE / ESP':<48} {'asks IDr -> answered':<40} "
            "what to change"]  # fmt: skip
    for p in report["platforms"]:
        suites = f"{p['ike'] or '-'} / {p['esp'] or '-'}"
        ids = f"{p['identity']['asks']} -> {p['identity']['answered']}"
        rows.append(f"{p['label']:<26} {'OK' if p['ok'] else 'CHANGE':<7} {suites:<48} "
                    f"{ids:<40} " + ("; ".join(p["fixes"]) or "-"))  # fmt: skip
    pq = report["post_quantum"]
    if pq["why_not"]:
        effect = "every client is refused" if pq["warning"] else "offered to no client"
        rows.append(f"post-quantum: {pq['mode']}, but ML-KEM is {effect}: {pq['why_not']}")
    elif pq["offered"]:
        users = ", ".join(p["label"] for p in report["platforms"] if p["post_quantum"])
        rows.append(f"post-quantum: {pq['mode']}, ML-KEM ({', '.join(pq['methods'])}) next to "
                    f"the classic group for clients that offer it ({users} 26 with the "
                    "profile; strongSwan 6)")  # fmt: skip
    else:
        rows.append("post-quantum: off")
    rows.append(_ipv6_line(report["ipv6"]))
    ids = report["identities"]
    rows.append("server identities (a client asking for one gets it, any other the first): "
                + ", ".join(ids["answers"]))  # fmt: skip
    cert = ids["certificate"]
    if cert is not None:
        origin = "built-in CA" if cert["ours"] else "imported"
        lacks = f"; lacks {', '.join(cert['missing'])}" if cert["missing"] else ""
        rows.append(f"server certificate ({origin}) names: {', '.join(cert['names'])}{lacks}")
    return "\n".join(rows)


def check_main(argv: list[str], config: ServerConfig, certificate: dict | None = None) -> int:
    """``ikev2ctl check [--json]``: print the table (or JSON). Informational: returns 0."""
    report = check_report(config, certificate)
    print(json.dumps(report, indent=2) if "--json" in argv else format_report(report))
    return 0
