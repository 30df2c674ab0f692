"""The validated configuration model, loaded from UCI (OpenWrt) or TOML (elsewhere).

``load_uci(path)`` and ``load_toml(path)`` read a file, ``from_mapping(data)`` takes the TOML
shape as Python values (``{"server": {...}, "user": [{...}, ...]}``). All three return one frozen
``ServerConfig`` or raise ConfigError (one line, exit status 2); non-fatal findings are in
``ServerConfig.warnings``. The rules are in docs/configuration.md (generated from schema.py).
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING

from ikev2d.policy.convert import convert
from ikev2d.policy.errors import ConfigError, ConfigErrors, ConfigSyntaxError
from ikev2d.policy.model import ServerConfig, UserConfig, lease_key
from ikev2d.policy.schema import OPTIONS, SECTIONS
from ikev2d.policy.validate import (
    LanInfo,
    Values,
    default_control_socket,
    finish_server,
    finish_users,
)

if TYPE_CHECKING:
    from ikev2d.policy.uci import UciPackage

# The UCI reader, tomllib and difflib are imported where used: a daemon reads one format, and
# suggestions are for mistakes (issue 8, idle RSS).

__all__ = [
    "DEFAULT_NETWORK_PATH",
    "SUPPORTED_AUTH_MODES",
    "LanInfo",
    "ServerConfig",
    "UserConfig",
    "check_supported",
    "configured_control_socket",
    "from_mapping",
    "lan_from_uci",
    "lease_key",
    "load_toml",
    "load_uci",
    "server_option",
]

DEFAULT_NETWORK_PATH = "/etc/config/network"
SUPPORTED_AUTH_MODES = frozenset({"psk", "eap", "cert"})


def check_supported(config: ServerConfig) -> None:
    """Raise ConfigError if the daemon cannot run this configuration (auth_mode eap/cert)."""
    if config.auth_mode not in SUPPORTED_AUTH_MODES:
        raise ConfigError(
            "server.auth_mode",
            config.auth_mode,
            ", ".join(sorted(SUPPORTED_AUTH_MODES)),
            "is not implemented by this version of ikev2d",
        )


# -- building -----------------------------------------------------------------------------------
_SECTION_OPTIONS = {s.name: {o.name: o for o in OPTIONS if o.section == s.name} for s in SECTIONS}


def _unknown(section: str, where: str) -> ConfigError:
    import difflib

    names = list(_SECTION_OPTIONS[section])
    guess = difflib.get_close_matches(where.rsplit(".", 1)[-1], names, n=1)
    hint = f", did you mean {guess[0]!r}?" if guess else ""
    return ConfigError(
        where, None, ", ".join(names), f"is not a known option{hint}", show_value=False
    )


def _typed(
    section: str, label: str, raw: Values, *, text: bool, errors: list[ConfigError]
) -> Values:
    """Convert every present option; defaults are left to the finishing step. Each option
    that fails is added to `errors` (all of them are reported, not only the first)."""
    options = _SECTION_OPTIONS[section]
    values = {}
    for name, value in raw.items():
        where = f"{label}.{name}"
        opt = options.get(name)
        try:
            if opt is None:
                raise _unknown(section, where)
            values[name] = convert(opt, where, value, text=text)
        except ConfigError as exc:
            errors.append(exc)
    return values


def _build(
    server_raw: Values,
    users_raw: list[tuple[str, Values]],
    *,
    text: bool,
    lan: LanInfo | None,
    lan_source: str,
    warnings: list[str],
) -> ServerConfig:
    errors: list[ConfigError] = []
    server = _typed("server", "server", server_raw, text=text, errors=errors)
    users = [(label, _typed("user", label, raw, text=text, errors=errors))
             for label, raw in users_raw]  # fmt: skip
    if errors:  # the checks across options need every value converted
        raise ConfigErrors.of(errors)
    fields = finish_server(server, lan=lan, lan_source=lan_source, warnings=warnings)
    user_objs = finish_users(users, fields, warnings=warnings)
    fields["users"] = tuple(UserConfig(**u) for u in user_objs)
    return ServerConfig(**fields, warnings=tuple(warnings))


def from_mapping(
    data: Values, *, lan: LanInfo | None = None, source: str = "<mapping>"
) -> ServerConfig:
    """Build from the TOML shape: ``{"server": {...}, "user": [{...}, ...]}``."""
    if not isinstance(data, dict):
        raise ConfigError(source, data, "a table with [server] and [[user]]", "is not a table")
    for key in data:
        if key not in ("server", "user"):
            raise ConfigError(source, key, "[server] and [[user]]", "is not a known table")
    server = data.get("server", {})
    if not isinstance(server, dict):
        raise ConfigError("server", server, "a table of options", "is not a table")
    users = data.get("user", [])
    if not isinstance(users, list) or not all(isinstance(u, dict) for u in users):
        raise ConfigError("user", None, "[[user]] tables", "is not an array of tables")
    labelled = [(f"user[{i}]", u) for i, u in enumerate(users)]
    lan_source = "the configuration (TOML has no LAN default)" if lan is None else "the LAN"
    return _build(server, labelled, text=False, lan=lan, lan_source=lan_source, warnings=[])


def load_toml(path: str, *, lan: LanInfo | None = None) -> ServerConfig:
    """Load a TOML configuration file; ``lan`` may supply the router's LAN for defaults."""
    return from_mapping(_read_toml(path), lan=lan, source=path)


def _read_toml(path: str) -> Values:
    import tomllib

    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except OSError as exc:
        raise ConfigSyntaxError(path, None, f"cannot read: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigSyntaxError(path, None, f"not valid TOML: {exc}") from None


def lan_from_uci(pkg: UciPackage) -> LanInfo | None:
    """The static IPv4 address and subnet of ``config interface 'lan'``, if there is one,
    with the router's ULA prefix and the LAN's /64 of it."""
    found = _lan4_from_uci(pkg)
    if found is None:
        return None
    ula, network6 = _ula_from_uci(pkg)
    return LanInfo(found.address, found.network, ula, network6)


def _ula_from_uci(
    pkg: UciPackage,
) -> tuple[ipaddress.IPv6Network | None, ipaddress.IPv6Network | None]:
    """(ula_prefix of ``config globals``, the LAN's /64 of it): netifd gives an interface
    with ``ip6assign N`` the /N numbered ``ip6hint`` (its low bits cleared; 0 by default) of
    the ULA prefix, and the LAN's hosts the first /64 of that. A guess when several
    interfaces compete for the prefix: local_subnet can say otherwise."""
    globals_ = pkg.get("globals")
    raw = globals_.options.get("ula_prefix") if globals_ is not None else None
    try:
        ula = ipaddress.IPv6Network(raw, strict=False) if isinstance(raw, str) else None
    except ValueError:
        ula = None
    lan = pkg.get("lan")
    if ula is None or ula.prefixlen > 64 or lan is None or not lan.options.get("ip6assign"):
        return ula, None
    try:
        hint = int(str(lan.options.get("ip6hint", "0")), 16)
        assign = min(max(int(str(lan.options["ip6assign"])), ula.prefixlen), 64)
    except ValueError:
        hint, assign = 0, 64
    hint = hint % (1 << (64 - ula.prefixlen)) >> (64 - assign) << (64 - assign)
    return ula, ipaddress.IPv6Network((int(ula.network_address) + (hint << 64), 64))


def _lan4_from_uci(pkg: UciPackage) -> LanInfo | None:
    sec = pkg.get("lan")
    if sec is None or sec.type != "interface":
        return None
    if sec.options.get("proto", "static") != "static":
        return None
    raw = sec.options.get("ipaddr")
    items = raw.split() if isinstance(raw, str) else list(raw or [])
    netmask = sec.options.get("netmask")
    for item in items:
        try:
            if "/" in item:
                iface = ipaddress.IPv4Interface(item)
            elif isinstance(netmask, str):
                iface = ipaddress.IPv4Interface(f"{item}/{netmask}")
            else:
                iface = ipaddress.IPv4Interface(f"{item}/32")
        except ValueError:
            continue
        network = iface.network if iface.network.prefixlen < 32 else None
        return LanInfo(iface.ip, network)
    return None


def _read_lan(network_path: str) -> tuple[LanInfo | None, str]:
    """The LAN and how to describe where it came from (or why it is unknown) in errors."""
    from ikev2d.policy.uci import load_uci_file

    source = f"the LAN in {network_path}"
    try:
        lan = lan_from_uci(load_uci_file(network_path))
    except ConfigSyntaxError as exc:
        return None, f"{source} ({exc.message})"
    if lan is None:
        return None, f"{source} (no static IPv4 on interface lan)"
    return lan, source


def load_uci(path: str, network_path: str = DEFAULT_NETWORK_PATH) -> ServerConfig:
    """Load /etc/config/ikev2d (``path``) with the secrets of ikev2d_secrets beside it
    (policy.uci_secrets); LAN defaults come from ``network_path``."""
    from ikev2d.policy.uci import load_uci_file
    from ikev2d.policy.uci_secrets import merge_secrets, read_secrets, secrets_path

    pkg = load_uci_file(path)
    warnings: list[str] = []
    merge_secrets(pkg, read_secrets(secrets_path(path)), warnings)
    server_raw = _uci_server(pkg, path)
    users = [(s.label, dict(s.options)) for s in pkg.of_type("user")]
    for s in pkg.sections:
        if s.type not in ("ikev2d", "user"):
            warnings.append(
                f"{path}:{s.line}: section type {s.type!r} ({s.label}) is not used by ikev2d"
            )
    lan, lan_source = _read_lan(network_path)
    return _build(server_raw, users, text=True, lan=lan, lan_source=lan_source, warnings=warnings)


def _uci_server(pkg: UciPackage, path: str) -> Values:
    servers = pkg.of_type("ikev2d")
    if len(servers) > 1:
        raise ConfigError(
            f"{path}: config ikev2d",
            servers[1].label,
            "one config ikev2d 'server' section",
            f"is a second server section (line {servers[1].line})",
        )
    return dict(servers[0].options) if servers else {}


def server_option(name: str, *, uci: str | None = None, toml: str | None = None) -> object:
    """One option of the server section of a UCI or TOML file (neither: the default),
    converted, with the schema's default, without the rules between options: for a command
    that must work before the rest of the configuration is finished (``ikev2ctl pki init``
    before a key is set or the LAN is known)."""
    opt = _SECTION_OPTIONS["server"][name]
    raw: object = None
    if toml is not None:
        server = _read_toml(toml).get("server", {})
        if not isinstance(server, dict):
            raise ConfigError("server", server, "a table of options", "is not a table")
        raw = server.get(name)
    elif uci is not None:
        from ikev2d.policy.uci import load_uci_file

        raw = _uci_server(load_uci_file(uci), uci).get(name)
    if raw is None:  # the schema's default (None: unset, the rules between options decide)
        return (
            None if opt.default is None else convert(opt, f"server.{name}", opt.default, text=False)
        )
    return convert(opt, f"server.{name}", raw, text=toml is None)


def configured_control_socket(uci: str) -> str:
    """The control socket of a daemon started from this UCI file (its state_dir and
    control_socket; the defaults when the file is missing or they are invalid, since the
    daemon would not have started with them): ikev2ctl and LuCI's helper find it here."""
    import posixpath

    try:
        socket = server_option("control_socket", uci=uci)
        state_dir = server_option("state_dir", uci=uci)
    except ConfigError:
        socket, state_dir = None, server_option("state_dir")
    return posixpath.normpath(str(socket)) if socket else default_control_socket(str(state_dir))
