"""Turn one raw option value (UCI text or a TOML value) into a typed value, by schema type.

UCI gives strings (and lists of strings for ``list``); TOML gives native values. ``text=True``
selects UCI's spellings (``'1'``/``'0'`` booleans, decimal integers). Every failure raises
ConfigError naming the option, the value and what is allowed; secrets are never shown.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable

from ikev2d.policy.errors import ConfigError
from ikev2d.policy.identity import is_dns_name
from ikev2d.policy.schema import Option

__all__ = ["convert"]

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

_TRUE = frozenset(("1", "true", "yes", "on", "enabled"))
_FALSE = frozenset(("0", "false", "no", "off", "disabled"))
_IFNAME = re.compile(r"[A-Za-z0-9_]{1,32}\Z")
_DIGITS = re.compile(r"[0-9]{1,10}\Z")


def _has_control(s: str) -> bool:
    return any(ord(c) < 0x20 or ord(c) == 0x7F for c in s)


def _bool(o: Option, where: str, v: object, text: bool) -> bool:
    if isinstance(v, bool):
        return v
    if text and isinstance(v, str) and v.lower() in _TRUE | _FALSE:
        return v.lower() in _TRUE
    raise ConfigError(where, v, o.allowed, "is not a boolean")


def _int(o: Option, where: str, v: object, text: bool) -> int:
    if text and isinstance(v, str) and _DIGITS.match(v.strip()):
        v = int(v.strip())
    if not isinstance(v, int) or isinstance(v, bool):
        raise ConfigError(where, v, o.allowed, "is not an integer")
    if (o.min is not None and v < o.min) or (o.max is not None and v > o.max):
        raise ConfigError(where, v, o.allowed, "is out of range")
    return v


def _str(o: Option, where: str, v: object) -> str:
    if not isinstance(v, str):
        raise ConfigError(where, v, o.allowed, "is not a string", secret=o.secret)
    return v


def _enum(o: Option, where: str, v: str) -> str:
    if v not in o.choices:
        raise ConfigError(where, v, o.allowed, "is not one of the choices")
    return v


def _ipaddr(o: Option, where: str, v: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    try:
        return ipaddress.ip_address(v.strip())
    except ValueError:
        raise ConfigError(where, v, o.allowed, "is not an IP address") from None


def _ip4addr(o: Option, where: str, v: str) -> ipaddress.IPv4Address:
    try:
        return ipaddress.IPv4Address(v.strip())
    except ValueError:
        raise ConfigError(where, v, o.allowed, "is not an IPv4 address") from None


def _cidr4(o: Option, where: str, v: str) -> Network:
    return _network(o, where, v, ipaddress.IPv4Network, "an IPv4 network")


def _cidr(o: Option, where: str, v: str) -> Network:
    kind = ipaddress.IPv6Network if ":" in v else ipaddress.IPv4Network
    return _network(o, where, v, kind, "an IPv4 or IPv6 network")


def _pool6(o: Option, where: str, v: str) -> Network | str:
    if v.strip() == "off":
        return "off"
    return _network(o, where, v, ipaddress.IPv6Network, "an IPv6 network (or off)")


def _network(
    o: Option, where: str, v: str,
    kind: type[ipaddress.IPv4Network] | type[ipaddress.IPv6Network], what: str,
) -> Network:  # fmt: skip
    try:
        net = kind(v.strip(), strict=False)
    except ValueError:
        raise ConfigError(where, v, o.allowed, f"is not {what}") from None
    if "/" not in v:
        raise ConfigError(where, v, o.allowed, "has no prefix length (like /24)")
    if net.network_address != ipaddress.ip_address(v.strip().split("/")[0]):
        raise ConfigError(where, v, o.allowed, f"has host bits set (the network is {net})")
    if (o.min is not None and net.prefixlen < o.min) or (
        o.max is not None and net.prefixlen > o.max
    ):
        raise ConfigError(where, v, o.allowed, "has a prefix length out of range")
    return net


def _host(o: Option, where: str, v: str) -> str:
    v = v.strip()
    try:
        return str(ipaddress.ip_address(v))
    except ValueError:
        pass
    if not v.isascii() or not is_dns_name(v):
        raise ConfigError(where, v, o.allowed, "is neither an IP address nor a DNS name")
    return v.rstrip(".").lower()


def _name(o: Option, where: str, v: str) -> str:
    if not _IFNAME.match(v):
        raise ConfigError(where, v, o.allowed, "is not a valid name")
    return v


def _path(o: Option, where: str, v: str) -> str:
    if not v.startswith("/") or _has_control(v):
        raise ConfigError(where, v, o.allowed, "is not an absolute path")
    if o.max is not None and len(v.encode("utf-8")) > o.max:
        raise ConfigError(where, v, o.allowed, "is too long")
    return v


def _secret(o: Option, where: str, v: str) -> str:
    if _has_control(v):
        raise ConfigError(where, v, o.allowed, "contains control characters", secret=True)
    if o.max is not None and len(v) > o.max:
        raise ConfigError(where, v, o.allowed, f"is longer than {o.max} characters", secret=True)
    return v


def _string(o: Option, where: str, v: str) -> str:
    if _has_control(v) or v != v.strip() or not v:
        raise ConfigError(where, v, o.allowed, "is not a printable name")
    if o.max is not None and len(v) > o.max:
        raise ConfigError(where, v, o.allowed, "is too long")
    return v


_SCALAR: dict[str, Callable[[Option, str, str], object]] = {
    "enum": _enum,
    "ipaddr": _ipaddr,
    "ip4addr": _ip4addr,
    "cidr4": _cidr4,
    "cidr": _cidr,
    "pool6": _pool6,
    "host": _host,
    "name": _name,
    "path": _path,
    "secret": _secret,
    "string": _string,
    # checked later against other options (identity type, legacy_proposals)
    "identity": lambda o, where, v: v,
    "proposal": lambda o, where, v: v,
}


def _one(o: Option, where: str, v: object, text: bool) -> object:
    if o.type == "bool":
        return _bool(o, where, v, text)
    if o.type == "int":
        return _int(o, where, v, text)
    return _SCALAR[o.type](o, where, _str(o, where, v))


def _items(o: Option, where: str, raw: object, text: bool) -> list[str]:
    if isinstance(raw, str):
        # UCI `option dns '1.1.1.1 9.9.9.9'` is a list spelled on one line; an identity may
        # hold spaces (a key ID), and `option local_id` was one identity before it was a list
        if text and o.type != "identity":
            return raw.split()
        return [raw] if raw else []
    if isinstance(raw, list) and all(isinstance(x, str) for x in raw):
        return [x for x in raw if x != ""]
    raise ConfigError(where, raw, o.allowed, "is not a list of strings")


def convert(o: Option, where: str, raw: object, *, text: bool) -> object:
    """The typed value of ``raw`` for option ``o``; None when it is empty (use the default).

    Lists become tuples; duplicate list items are an error (they are always a mistake).
    """
    if o.is_list:
        items = _items(o, where, raw, text)
        values = tuple(_one(o, where, x, text) for x in items)
        seen: set[object] = set()
        for raw_item, value in zip(items, values, strict=True):
            if value in seen:
                raise ConfigError(where, raw_item, o.allowed, "is listed twice")
            seen.add(value)
        return values or None
    if isinstance(raw, list):
        raise ConfigError(where, raw, o.allowed, "takes one value, not a list", secret=o.secret)
    if raw == "":
        return None
    return _one(o, where, raw, text)
