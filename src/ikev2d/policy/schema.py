"""The option schema, as data: the daemon's loader and the LuCI page validate the same thing.

Each ``Option`` says its section, type, default, allowed values or range, whether it is a list
or a secret, and its help text. ``schema_docs`` exports it for the LuCI page and writes
docs/configuration.md from it.

In UCI the server section is ``config ikev2d 'server'`` and users are ``config user``; in TOML
they are ``[server]`` and ``[[user]]``. Defaults are given as Python values; ``uci_default``
renders them the way /etc/config/ikev2d spells them.
"""

from __future__ import annotations

from ikev2d.wire.frozen import Frozen

__all__ = [
    "DEFAULT_ESP_PROPOSALS",
    "DEFAULT_IKE_PROPOSALS",
    "LEGACY_ESP_PROPOSALS",
    "LEGACY_IKE_PROPOSALS",
    "OPTIONS",
    "SECTIONS",
    "Option",
    "Section",
    "option",
]

# Led by the one suite iOS and macOS both accept; ECP256 for iOS; Curve25519 (cheap on small
# routers) and AES-GCM for Android and strongSwan. MODP4096 is left out on purpose: Android
# offers it first, and answering INVALID_KE_PAYLOAD makes it retry with a group we prefer
# instead of costing a small router a 4096-bit exponentiation per handshake.
DEFAULT_IKE_PROPOSALS = (
    "aes256-sha256-modp2048",
    "aes256-sha256-ecp256",
    "aes256-sha256-curve25519",
    "aes256gcm16-prfsha256-curve25519",
)
DEFAULT_ESP_PROPOSALS = ("aes256-sha256", "aes256gcm16")
# Appended to the defaults (only when the lists are left at their defaults) by legacy_proposals:
# what Windows offers out of the box (MODP1024, SHA-1, 3DES).
LEGACY_IKE_PROPOSALS = ("aes256-sha256-modp1024", "aes256-sha1-modp1024", "3des-sha1-modp1024")
LEGACY_ESP_PROPOSALS = ("aes256-sha1", "aes128-sha1", "3des-sha1")


class Section(Frozen):
    __slots__ = ("help", "multiple", "name", "toml", "uci_name", "uci_type")
    name: str  # the schema's name: "server" or "user"
    uci_type: str  # config <uci_type> ['<uci_name>']
    uci_name: str | None  # None: anonymous sections, any number
    toml: str  # [server] or [[user]]
    multiple: bool
    help: str

    def __init__(
        self,
        name: str,
        uci_type: str,
        uci_name: str | None,
        toml: str,
        multiple: bool,
        help: str,
    ) -> None:
        self._set(
            name=name, uci_type=uci_type, uci_name=uci_name, toml=toml, multiple=multiple, help=help
        )


SECTIONS = (
    Section("server", "ikev2d", "server", "server", False, "The VPN server."),
    Section("user", "user", None, "user", True, "A VPN user (EAP login, fixed address)."),
)


class Option(Frozen):
    """One configuration option."""

    __slots__ = (
        "allowed",
        "choices",
        "datatype",
        "default",
        "default_doc",
        "help",
        "is_list",
        "max",
        "min",
        "name",
        "required",
        "secret",
        "section",
        "type",
    )
    name: str
    section: str
    type: str  # bool int enum ipaddr cidr4 cidr pool6 host name path secret string identity ...
    default: object
    help: str
    allowed: str  # shown in error messages: "(allowed: ...)"
    choices: tuple[str, ...]
    min: int | None
    max: int | None
    is_list: bool
    secret: bool
    required: bool
    default_doc: str  # for defaults computed from other values
    datatype: str  # LuCI datatype for the form field

    def __init__(
        self,
        name: str,
        section: str,
        type: str,
        default: object,
        help: str,
        allowed: str,
        choices: tuple[str, ...] = (),
        min: int | None = None,
        max: int | None = None,
        is_list: bool = False,
        secret: bool = False,
        required: bool = False,
        default_doc: str = "",
        datatype: str = "",
    ) -> None:
        self._set(
            name=name,
            section=section,
            type=type,
            default=default,
            help=help,
            allowed=allowed,
            choices=choices,
            min=min,
            max=max,
            is_list=is_list,
            secret=secret,
            required=required,
            default_doc=default_doc,
            datatype=datatype,
        )

    @property
    def uci_default(self) -> str | list[str] | None:
        """The default as /etc/config/ikev2d spells it (None: computed or unset)."""
        d = self.default
        if d is None:
            return None
        if isinstance(d, bool):
            return "1" if d else "0"
        if isinstance(d, tuple):
            return [str(x) for x in d]
        return str(d)

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "section": self.section,
            "type": self.type,
            "default": list(self.default) if isinstance(self.default, tuple) else self.default,
            "uci_default": self.uci_default,
            "default_doc": self.default_doc,
            "list": self.is_list,
            "secret": self.secret,
            "required": self.required,
            "choices": list(self.choices),
            "min": self.min,
            "max": self.max,
            "datatype": self.datatype,
            "allowed": self.allowed,
            "help": self.help,
        }


def _bool(name: str, default: bool, help_: str, section: str = "server") -> Option:
    return Option(name, section, "bool", default, help_, "0 or 1 (true or false)", datatype="bool")


def _int(
    name: str, default: int | None, lo: int, hi: int, help_: str, datatype: str = "",
    default_doc: str = "",
) -> Option:  # fmt: skip
    return Option(
        name, "server", "int", default, help_, f"an integer {lo}..{hi}", min=lo, max=hi,
        datatype=datatype or f"range({lo},{hi})", default_doc=default_doc,
    )  # fmt: skip


_ID_TYPES = ("ipv4", "ipv6", "fqdn", "user-fqdn", "key-id")

OPTIONS: tuple[Option, ...] = (
    _bool("enabled", False, "Run the VPN server."),
    Option(
        "listen", "server", "ipaddr", ("0.0.0.0", "::"),  # noqa: S104 - a server binds all
        "Local addresses to receive IKE on. The default is every IPv4 and IPv6 address; "
        "the daemon skips :: when the kernel has no IPv6.",
        "IPv4 or IPv6 addresses", is_list=True, datatype="ipaddr",
    ),
    _int("port", 500, 1, 65535, "UDP port for IKE.", "port"),
    _int("natt_port", 4500, 1, 65535, "UDP port for IKE and ESP behind NAT (NAT-T).", "port"),
    Option(
        "wan_interface", "server", "name", "wan",
        "The firewall side (network interface) clients come from; the package opens the "
        "IKE ports there.", "an interface name: letters, digits and _", max=32,
        datatype="network",
    ),
    Option(
        "server_address", "server", "host", None,
        "Public address or DNS name clients connect to (for profiles and certificates).",
        "an IP address or a DNS name", default_doc="unset", datatype="host",
    ),
    Option(
        "auth_mode", "server", "enum", "psk",
        "How clients authenticate: psk (pre-shared key), eap (user name and password "
        "against a server certificate), cert (client certificates from the built-in CA). "
        "eap and cert create the CA and server certificate. Only this method is accepted: "
        "a PSK left in the configuration does not let anyone in under eap or cert, and "
        "changing the mode ends the sessions of the old one.",
        "psk, eap or cert", choices=("psk", "eap", "cert"),
    ),
    Option(
        "psk", "server", "secret", None,
        "Pre-shared key, at least 20 characters with enough variety. Required for "
        "auth_mode psk.", "at least 20 characters, not easily guessed (or set allow_weak_psk)",
        secret=True, min=20, max=256, default_doc="unset",  # no datatype: see allow_weak_psk
    ),
    _bool("allow_weak_psk", False, "Accept a short or guessable PSK (with a warning)."),
    Option(
        "local_id_type", "server", "enum", "auto",
        "Type of each local_id: auto takes it from the form (an IP address gives an ipv4 or "
        "ipv6 ID, user@host a user-fqdn ID, a DNS name an fqdn ID); any other type applies "
        "to every local_id.", "auto, ipv4, ipv6, fqdn, user-fqdn or key-id",
        choices=("auto", *_ID_TYPES),
    ),
    Option(
        "local_id", "server", "identity", None,
        "The server's IKE identities (IDr). A client that asks for one of the server's "
        "identities (local_id, server_address, a listen address or the address it contacted) "
        "gets exactly that one; any other client the first. Certificates made by the built-in "
        "CA name every DNS name and address among them.", "identities of local_id_type",
        is_list=True,
        default_doc="unset: server_address (an IP literal gives an ipv4/ipv6 ID, a name an "
        "fqdn ID), else the address the client contacted",
    ),
    Option(
        "remote_id_type", "server", "enum", "any",
        "Type of the identity clients must present (any: accept every identity).",
        "any, ipv4, ipv6, fqdn, user-fqdn or key-id", choices=("any", *_ID_TYPES),
    ),
    Option(
        "remote_id", "server", "identity", None,
        "The identity clients must present (IDi); required unless remote_id_type is any.",
        "an identity of remote_id_type", default_doc="unset (any)",
    ),
    Option(
        "pool", "server", "cidr4", "10.10.10.0/24",
        "Network clients get their virtual addresses from (network and broadcast addresses "
        "are never leased).", "an IPv4 network like 10.10.10.0/24, prefix 8..30", min=8,
        max=30, datatype="cidr4",
    ),
    Option(
        "pool6", "server", "pool6", None,
        "IPv6 network clients get an IPv6 address from (each client's ends in the same host "
        "number as its IPv4 address), or off. Clients then reach the IPv6 local_subnet "
        "networks, and in a full tunnel the IPv6 internet.",
        "off, or an IPv6 network like fd12:3456:789a:ffff::/64 (prefix 48..120, at least as "
        "many addresses as pool)", min=48, max=120,
        default_doc="the last /64 of the router's ULA prefix (UCI: ula_prefix in "
        "/etc/config/network); off in TOML and on a router without one",
    ),
    Option(
        "dns", "server", "ipaddr", None, "DNS servers given to clients.",
        "IPv4 or IPv6 addresses", is_list=True,
        default_doc="the router's LAN address (UCI); in TOML the first host of the first "
        "local_subnet", datatype="ipaddr",
    ),
    Option(
        "local_subnet", "server", "cidr", None,
        "Networks clients reach through the tunnel; 0.0.0.0/0 (or ::/0) sends all their "
        "traffic through the router (full tunnel), IPv6 included, so a dual-stack phone "
        "sends nothing around the tunnel.",
        "IPv4 or IPv6 networks like 192.168.1.0/24 or fd00:1::/64, or 0.0.0.0/0",
        is_list=True, default_doc="the router's LAN subnet and, unless pool6 is off, the "
        "LAN's ULA /64 (UCI); required in TOML", datatype="cidr",
    ),
    _bool("masquerade", False, "Full tunnel: NAT client traffic to the wan interface."),
    Option(
        "ike_proposal", "server", "proposal", DEFAULT_IKE_PROPOSALS,
        "IKE proposals, most preferred first (encryption-integrity/PRF-group).",
        "proposals like aes256-sha256-modp2048 or aes256gcm16-prfsha256-curve25519",
        is_list=True,
    ),
    Option(
        "esp_proposal", "server", "proposal", DEFAULT_ESP_PROPOSALS,
        "ESP proposals for the tunnel, most preferred first (optional -esn/-noesn).",
        "proposals like aes256-sha256 or aes256gcm16", is_list=True,
    ),
    _bool(
        "legacy_proposals", False,
        "Accept weak algorithms (MODP1024, SHA-1, 3DES) that Windows uses by default; with "
        "the default proposal lists this appends " + ", ".join(LEGACY_IKE_PROPOSALS) + " (IKE) "
        "and " + ", ".join(LEGACY_ESP_PROPOSALS) + " (ESP).",
    ),
    Option(
        "post_quantum", "server", "enum", "preferred",
        "Post-quantum key exchange (ML-KEM, RFC 9370) next to the classic group, against "
        "recorded traffic being decrypted later: preferred takes it whenever a client offers "
        "it (iOS/macOS 26, strongSwan 6); required refuses clients without it; off never "
        "negotiates it. Needs a cryptography with ML-KEM (ikev2ctl check says).",
        "off, preferred or required", choices=("off", "preferred", "required"),
    ),
    _int("ike_lifetime", 14400, 60, 86400, "Seconds before the IKE SA is rekeyed."),
    _int("child_lifetime", 3600, 60, 86400, "Seconds before a tunnel (Child SA) is rekeyed."),
    _int(
        "child_lifetime_bytes", 0, 0, 1 << 50,
        "Bytes (either direction) before a tunnel is rekeyed; 0 = no byte limit.",
    ),
    _int("dpd_delay", 30, 0, 3600, "Idle seconds before checking a client is alive; 0 = off."),
    _int(
        "retransmit_timeout", 2, 1, 60,
        "Seconds before the server first resends an unanswered request; each retry waits "
        "twice as long (RFC 7296 2.1).",
    ),
    _int(
        "retransmit_tries", 5, 1, 10,
        "Sends of a request before a silent client is given up and its tunnel deleted.",
    ),
    _int(
        "cookie_threshold", None, 0, 100000,
        "Half-open IKE SAs above which new clients must return a cookie first (RFC 7296 "
        "2.6); 0 = always.", default_doc="a quarter of max_half_open",
    ),
    _int(
        "cookie_threshold_per_ip", 1, 0, 1000000,
        "Half-open IKE SAs from one address above which its new attempts must return a "
        "cookie first: a forged sender address gets one answer, then only small COOKIE "
        "notifies (no reflection).",
    ),
    _int(
        "max_half_open", None, 1, 1000000,
        "Half-open IKE SAs kept at most; new attempts beyond it are dropped.",
        default_doc="from the router's memory: what keeps the worst case within 1/128 of "
        "its RAM, 1..4 MiB (32 half-open SAs on a 128 MB router, 128 from 512 MB)",
    ),
    _int(
        "max_half_open_per_ip", None, 1, 1000000,
        "Half-open IKE SAs kept at most per client address.",
        default_doc="an eighth of max_half_open, at least 2",
    ),
    _bool("mobike", True, "Let clients move between networks (Wi-Fi, mobile) and keep the tunnel."),
    _bool("fragmentation", True, "IKE fragmentation (RFC 7383), needed for large messages."),
    _int("fragment_size", 1280, 576, 9000, "Largest IKE datagram sent when fragmenting (bytes)."),
    Option(
        "log_level", "server", "enum", "info", "How much the daemon logs.",
        "debug, info, warning or error", choices=("debug", "info", "warning", "error"),
    ),
    Option(
        "control_socket", "server", "path", None,
        "UNIX socket for ikev2ctl, LuCI and ubus.",
        "an absolute path inside state_dir (at most 107 bytes)",
        max=107, default_doc="control.sock in state_dir (/var/run/ikev2d/control.sock)",
    ),
    Option(
        "pki_dir", "server", "path", "/etc/ikev2d/pki",
        "Directory of the built-in certificate authority and the server certificate "
        "(created when auth_mode is eap or cert; ikev2ctl pki manages it).",
        "an absolute path", max=4096,
    ),
    Option(
        "state_dir", "server", "path", "/var/run/ikev2d",
        "Directory for the status snapshot and other run-time state.", "an absolute path",
        max=4096,
    ),
    # --- users ---
    Option(
        "name", "user", "string", None, "User name (EAP identity); unique.",
        "1..128 printable characters, no leading/trailing spaces", required=True, max=128,
    ),
    Option(
        "password", "user", "secret", None, "Password (EAP-MSCHAPv2); required for auth_mode eap.",
        "1..256 characters without control characters", secret=True, max=256,
        default_doc="unset",
    ),
    Option(
        "ip", "user", "ip4addr", None, "Fixed virtual address for this user, inside pool.",
        "an IPv4 host address inside pool", default_doc="unset (from the pool)",
        datatype="ip4addr",
    ),
    _bool("enabled", True, "Allow this user to connect.", section="user"),
)  # fmt: skip

_INDEX = {(o.section, o.name): o for o in OPTIONS}


def option(section: str, name: str) -> Option:
    return _INDEX[(section, name)]
