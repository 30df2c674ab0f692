"""Cross-option rules: defaults computed from other values, identities, PSK strength, pool
layout, proposals and users. Input is the typed options of convert.py; output the fields of
ServerConfig. Each failure is a ConfigError naming one option; warnings are collected.
"""

from __future__ import annotations

import ipaddress
import posixpath
from typing import Any

from ikev2d.crypto.transforms import by_keyword
from ikev2d.policy.convert import convert
from ikev2d.policy.errors import HIDDEN, ConfigError
from ikev2d.policy.identity import Identity, IdentityError, identity_from_text
from ikev2d.policy.pool import reserved_hosts
from ikev2d.policy.proposals import ProposalError, is_legacy, parse_proposal
from ikev2d.policy.psk import psk_problem
from ikev2d.policy.schema import (
    LEGACY_ESP_PROPOSALS,
    LEGACY_IKE_PROPOSALS,
    OPTIONS,
    option,
)
from ikev2d.wire.frozen import Frozen

__all__ = ["LanInfo", "Values", "finish_server", "finish_users", "last_64"]

# option name -> value, as the finishing steps fill them in (ServerConfig keyword arguments)
Values = dict[str, Any]

_ID_ALLOWED = {
    "auto": "an IP address, a DNS name or user@host.name (key IDs need local_id_type key-id)",
    "ipv4": "an IPv4 address like 203.0.113.5",
    "ipv6": "an IPv6 address like 2001:db8::5",
    "fqdn": "a DNS name like vpn.example.com",
    "user-fqdn": "an address like user@example.com",
    "key-id": "any text without control characters",
}
_MIN_LEASABLE = 2


class LanInfo(Frozen):
    """The router's LAN: its address, and its subnet when known; the router's ULA prefix and
    the LAN's /64 of it, when it has them."""

    __slots__ = ("address", "network", "network6", "ula")
    address: ipaddress.IPv4Address
    network: ipaddress.IPv4Network | None
    ula: ipaddress.IPv6Network | None
    network6: ipaddress.IPv6Network | None

    def __init__(
        self,
        address: ipaddress.IPv4Address,
        network: ipaddress.IPv4Network | None = None,
        ula: ipaddress.IPv6Network | None = None,
        network6: ipaddress.IPv6Network | None = None,
    ) -> None:
        self._set(address=address, network=network, ula=ula, network6=network6)


def _with_defaults(server: Values) -> Values:
    out = {}
    for o in OPTIONS:
        if o.section != "server":
            continue
        value = server.get(o.name)
        if value is None and o.default is not None and o.type != "proposal":
            default = list(o.default) if isinstance(o.default, tuple) else o.default
            value = convert(o, f"server.{o.name}", default, text=False)
        out[o.name] = value
    return out


def _psk(v: Values, warnings: list[str]) -> None:
    psk, where, allowed = v["psk"], "server.psk", option("server", "psk").allowed
    if psk is None:
        if v["auth_mode"] == "psk":
            if v["enabled"]:
                raise ConfigError(where, None, allowed, "is required when auth_mode is psk")
            warnings.append(f"{where}: not set; it is required before the server is enabled")
        return
    problem = psk_problem(psk)
    if problem:
        if not v["allow_weak_psk"]:
            raise ConfigError(where, psk, allowed, problem, secret=True)
        warnings.append(f"{where}: {HIDDEN} {problem}; accepted because allow_weak_psk is set")
    if psk != psk.strip():
        warnings.append(f"{where}: starts or ends with spaces, which clients may strip")


def _remote_id(v: Values) -> Identity | None:
    id_type, raw, where = v["remote_id_type"], v["remote_id"], "server.remote_id"
    if id_type == "any":
        if raw is not None:
            raise ConfigError(where, raw, "unset with remote_id_type any", "would be ignored")
        return None
    if raw is None:
        raise ConfigError(where, None, _ID_ALLOWED[id_type], f"is required for {id_type}")
    return _typed_identity(where, id_type, raw)


def _local_ids(v: Values) -> tuple[Identity, ...]:
    id_type, where = v["local_id_type"], "server.local_id"
    ids = tuple(_typed_identity(where, id_type, raw) for raw in v["local_id"] or ())
    for i, identity in enumerate(ids):
        if identity in ids[:i]:
            raise ConfigError(where, v["local_id"][i], _ID_ALLOWED[id_type], "is listed twice")
    return ids


def _typed_identity(where: str, id_type: str, raw: str) -> Identity:
    try:
        if id_type == "auto":
            return identity_from_text(raw)
        return Identity.from_config(id_type, raw)
    except IdentityError as exc:
        raise ConfigError(where, raw, _ID_ALLOWED[id_type], f"{exc} ({id_type})") from None


def _subnets_and_dns(v: Values, lan: LanInfo | None, lan_source: str) -> None:
    if v["local_subnet"] is None:
        if lan is None or lan.network is None:
            raise ConfigError(
                "server.local_subnet",
                None,
                option("server", "local_subnet").allowed,
                f"is required: no default from {lan_source}",
            )
        ipv6 = lan.network6 is not None and v["pool6"] != "off"
        v["local_subnet"] = (lan.network, lan.network6) if ipv6 else (lan.network,)
    if v["dns"] is None:
        if lan is not None:
            v["dns"] = (lan.address,)
        else:
            routed = [n for n in v["local_subnet"] if n.version == 4 and 0 < n.prefixlen < 31]
            if not routed:
                raise ConfigError(
                    "server.dns",
                    None,
                    option("server", "dns").allowed,
                    f"is required in a full tunnel: no default from {lan_source}",
                )
            v["dns"] = (routed[0].network_address + 1,)


def _pool(v: Values, lan: LanInfo | None) -> None:
    pool, where = v["pool"], "server.pool"
    allowed = "a network that overlaps neither local_subnet nor the LAN"
    for net in v["local_subnet"]:
        if net.version == 4 and net.prefixlen > 0 and pool.overlaps(net):
            raise ConfigError(where, str(pool), allowed, f"overlaps local_subnet {net}")
    if lan is not None and lan.network is not None and pool.overlaps(lan.network):
        raise ConfigError(where, str(pool), allowed, f"overlaps the LAN {lan.network}")
    if pool.num_addresses - 2 - len(reserved_hosts(pool, v["dns"])) < _MIN_LEASABLE:
        raise ConfigError(
            where,
            str(pool),
            f"at least {_MIN_LEASABLE} leasable addresses",
            "leaves too few addresses (DNS addresses inside it are not leased)",
        )


def _pool6(v: Values, lan: LanInfo | None) -> None:
    """pool6: off, as given, or (unset) the last /64 of the router's ULA prefix."""
    pool6, where, o = v["pool6"], "server.pool6", option("server", "pool6")
    if pool6 is None and lan is not None and lan.ula is not None:
        pool6 = v["pool6"] = last_64(lan.ula)
        if pool6 is None:  # a /64 ULA prefix: no room for a second network
            return
    if pool6 == "off" or pool6 is None:
        v["pool6"] = None
        return
    if pool6.num_addresses < v["pool"].num_addresses:
        raise ConfigError(where, str(pool6), o.allowed, f"has fewer addresses than {v['pool']}")
    lan6 = lan.network6 if lan is not None else None
    for net in (*v["local_subnet"], lan6):
        if net is not None and net.version == 6 and net.prefixlen > 0 and pool6.overlaps(net):
            what = "the LAN" if net == lan6 else "local_subnet"
            raise ConfigError(where, str(pool6), "a network of its own", f"overlaps {what} {net}")


def last_64(prefix: ipaddress.IPv6Network) -> ipaddress.IPv6Network | None:
    """The highest /64 of a prefix (netifd hands the LAN and others /64s from the bottom);
    None when the prefix has no second /64."""
    if prefix.prefixlen >= 64:
        return None
    last = int(prefix.broadcast_address) >> 64 << 64
    return ipaddress.IPv6Network((last, 64))


def _proposals(v: Values, kind: str, warnings: list[str]) -> None:
    name = f"{kind}_proposal"
    where, o = f"server.{name}", option("server", name)
    texts = v[name]
    default = o.default
    assert isinstance(default, tuple)  # the schema's proposal defaults are tuples
    # the defaults written out (the shipped /etc/config/ikev2d, a LuCI save) are the defaults
    if texts is None or tuple(texts) == default:
        texts = default
        if v["legacy_proposals"]:
            texts += LEGACY_IKE_PROPOSALS if kind == "ike" else LEGACY_ESP_PROPOSALS
    parsed, seen = [], set()
    for text in texts:
        try:
            p = parse_proposal(text, kind)
        except ProposalError as exc:
            raise ConfigError(where, text, o.allowed, str(exc)) from None
        if p.legacy and not v["legacy_proposals"]:
            weak = ", ".join(kw for kw in p.text.split("-") if is_legacy(by_keyword(kw)))
            raise ConfigError(
                where, text, "strong algorithms, or set legacy_proposals", f"uses weak {weak}"
            )
        if p.text in seen:
            raise ConfigError(where, text, o.allowed, "is listed twice")
        seen.add(p.text)
        parsed.append(p)
    v[name] = tuple(parsed)


_SOCKET_NAME = "control.sock"
_SUN_PATH_MAX = 107  # bytes of a UNIX socket path (sun_path)


def default_control_socket(state_dir: str) -> str:
    """Where the control socket is when control_socket is not set: in state_dir."""
    return posixpath.join(posixpath.normpath(state_dir), _SOCKET_NAME)


def _control_socket(v: Values) -> None:
    """The control socket lives inside state_dir: start-up replaces a stale socket there, so
    the path must not reach any file an owner cares about (/etc/config/firewall ...)."""
    state = posixpath.normpath(v["state_dir"])
    if v["control_socket"] is None:
        path = v["control_socket"] = default_control_socket(state)
        if len(path.encode()) > _SUN_PATH_MAX:
            raise ConfigError(
                "server.state_dir", v["state_dir"], f"a path of at most "
                f"{_SUN_PATH_MAX - len(_SOCKET_NAME) - 1} bytes, or set control_socket",
                f"is too long for the control socket {_SOCKET_NAME} in it",
            )  # fmt: skip
    sock = posixpath.normpath(v["control_socket"])
    if not sock.startswith(state.rstrip("/") + "/"):
        raise ConfigError(
            "server.control_socket", v["control_socket"], f"a path inside state_dir ({state})",
            "is not inside state_dir",
        )  # fmt: skip
    v["control_socket"] = sock


def finish_server(
    server: Values, *, lan: LanInfo | None, lan_source: str, warnings: list[str]
) -> Values:
    """Apply defaults and the cross-option rules; return ServerConfig's fields."""
    v = _with_defaults(server)
    if v["natt_port"] == v["port"]:
        raise ConfigError(
            "server.natt_port", v["natt_port"], "a port other than port", "is the same as port"
        )
    _psk(v, warnings)
    _control_socket(v)
    v["local_id"] = _local_ids(v)
    v["remote_id"] = _remote_id(v)
    _subnets_and_dns(v, lan, lan_source)
    _pool(v, lan)
    _pool6(v, lan)
    _proposals(v, "ike", warnings)
    _proposals(v, "esp", warnings)
    if v["legacy_proposals"]:
        warnings.append(
            "server.legacy_proposals: weak algorithms (MODP1024, SHA-1, 3DES) are "
            "accepted; turn it off once no client needs them"
        )
    full = any(n.prefixlen == 0 for n in v["local_subnet"])
    if full and not v["masquerade"]:
        warnings.append(
            "server.masquerade: full tunnel without masquerade; clients reach the "
            f"internet only if the upstream routes {v['pool']} back"
        )
    return v


def finish_users(
    users: list[tuple[str, Values]], fields: Values, *, warnings: list[str]
) -> list[Values]:
    """Check users against each other and the pool; return UserConfig keyword dicts."""
    pool, dns = fields["pool"], set(fields["dns"])
    names: set[str] = set()
    ips: dict[ipaddress.IPv4Address, str] = {}
    eap = fields["auth_mode"] == "eap"
    out: list[Values] = []
    for label, u in users:
        name, ip = u.get("name"), u.get("ip")
        enabled = True if u.get("enabled") is None else u["enabled"]
        o = option("user", "name")
        if name is None:
            raise ConfigError(f"{label}.name", None, o.allowed, "is required")
        if name in names:
            raise ConfigError(f"{label}.name", name, "a name no other user has", "is used twice")
        names.add(name)
        if ip is not None:
            where, allowed = f"{label}.ip", f"a host address inside pool {pool}"
            if ip not in pool or ip in (pool.network_address, pool.broadcast_address):
                raise ConfigError(where, str(ip), allowed, "is not a host address of the pool")
            if ip in dns:
                raise ConfigError(where, str(ip), allowed, "is a DNS server address")
            if ip in ips:
                raise ConfigError(where, str(ip), allowed, f"is also the ip of {ips[ip]}")
            ips[ip] = label
        password = u.get("password")
        if eap and enabled and password is None:
            where = f"{label}.password"
            if fields["enabled"]:
                raise ConfigError(
                    where,
                    None,
                    option("user", "password").allowed,
                    "is required when auth_mode is eap",
                )
            warnings.append(f"{where}: not set; required for auth_mode eap")
        out.append({"name": name, "password": password, "ip": ip, "enabled": enabled})
    if eap and not any(u["enabled"] and u["password"] for u in out):
        if fields["enabled"]:
            raise ConfigError(
                "user",
                None,
                "at least one enabled user with a password",
                "is missing: auth_mode eap needs users",
                show_value=False,
            )
        warnings.append("user: auth_mode eap needs at least one enabled user")
    return out
