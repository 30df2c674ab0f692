"""The option schema, as data: the daemon's loader and the LuCI page validate the same thing.

Each ``Option`` says its section, type, default, allowed values or range, whether it is a list
or a secret, and its help text. ``schema_as_json()`` exports it for the LuCI page (a later step
generates the form from it); ``configuration_markdown()`` writes docs/configuration.md.

In UCI the server section is ``config ikev2d 'server'`` and users are ``config user``; in TOML
they are ``[server]`` and ``[[user]]``. Defaults are given as Python values; ``uci_default``
renders them the way /etc/config/ikev2d spells them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

__all__ = [
    "DEFAULT_ESP_PROPOSALS",
    "DEFAULT_IKE_PROPOSALS",
    "LEGACY_ESP_PROPOSALS",
    "LEGACY_IKE_PROPOSALS",
    "OPTIONS",
    "SECTIONS",
    "Option",
    "Section",
    "configuration_markdown",
    "option",
    "schema_as_json",
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


@dataclass(frozen=True, slots=True)
class Section:
    name: str  # the schema's name: "server" or "user"
    uci_type: str  # config <uci_type> ['<uci_name>']
    uci_name: str | None  # None: anonymous sections, any number
    toml: str  # [server] or [[user]]
    multiple: bool
    help: str


SECTIONS = (
    Section("server", "ikev2d", "server", "server", False, "The VPN server."),
    Section("user", "user", None, "user", True, "A VPN user (EAP login, fixed address)."),
)


@dataclass(frozen=True, slots=True)
class Option:
    """One configuration option."""

    name: str
    section: str
    type: str  # bool int enum ipaddr cidr4 cidr pool6 host name path secret string identity ...
    default: object
    help: str
    allowed: str  # shown in error messages: "(allowed: ...)"
    choices: tuple[str, ...] = ()
    min: int | None = None
    max: int | None = None
    is_list: bool = False
    secret: bool = False
    required: bool = False
    default_doc: str = ""  # for defaults computed from other values
    datatype: str = ""  # LuCI datatype for the form field

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

    def as_dict(self) -> dict:
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


def _bool(name, default, help_, section="server"):
    return Option(name, section, "bool", default, help_, "0 or 1 (true or false)", datatype="bool")


def _int(name, default, lo, hi, help_, datatype="", default_doc=""):
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


def schema_as_json(indent: int | None = 2) -> str:
    """The schema as JSON for the LuCI page and other tools."""
    doc = {
        "version": 1,
        "config": "ikev2d",
        "sections": [
            {
                "name": s.name,
                "uci_type": s.uci_type,
                "uci_name": s.uci_name,
                "toml": s.toml,
                "multiple": s.multiple,
                "help": s.help,
            }
            for s in SECTIONS
        ],
        "options": [o.as_dict() for o in OPTIONS],
    }
    return json.dumps(doc, indent=indent, sort_keys=False)


def _md_default(o: Option) -> str:
    if o.default_doc:
        return o.default_doc
    d = o.uci_default
    if isinstance(d, list):
        return ", ".join(f"`{x}`" for x in d)
    return f"`{d}`"


def configuration_markdown() -> str:
    """docs/configuration.md, generated from the schema (a test keeps the file in sync)."""
    out = [_MD_HEAD]
    for s in SECTIONS:
        head = f"config {s.uci_type}" + (f" '{s.uci_name}'" if s.uci_name else "")
        toml = f"[[{s.toml}]]" if s.multiple else f"[{s.toml}]"
        out.append(f"\n## `{s.name}` — UCI `{head}`, TOML `{toml}`\n\n{s.help}\n")
        out.append("| option | type | default | allowed | meaning |")
        out.append("|---|---|---|---|---|")
        for o in OPTIONS:
            if o.section != s.name:
                continue
            kind = ("list of " if o.is_list else "") + o.type
            cells = (f"`{o.name}`", kind, _md_default(o), o.allowed, o.help)
            out.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    out.append(_MD_TAIL)
    return "\n".join(out) + "\n"


_MD_HEAD = """# ikev2d configuration

<!-- Generated by ikev2d.policy.schema.configuration_markdown(); do not edit the tables by
     hand: tests/unit/policy/test_policy_schema.py compares this file with the schema. -->

On OpenWrt the configuration is UCI, `/etc/config/ikev2d`, which the LuCI page edits; elsewhere
`ikev2d --config file.toml` reads TOML. Both are validated into the same model by
`ikev2d.policy.config` (`load_uci`, `load_toml`), and both use the option names below.

```
config ikev2d 'server'                     [server]
    option enabled '1'                     enabled = true
                                           psk = "a long random secret..."
    list local_subnet '192.168.1.0/24'     local_subnet = ["192.168.1.0/24"]
config user 'user_alice'                   [[user]]
    option name 'alice'                    name = "alice"
    option ip '10.10.10.20'                ip = "10.10.10.20"

# /etc/config/ikev2d_secrets
config ikev2d 'server'
    option psk 'a long random secret...'
```

Values: booleans are `0`/`1` in UCI (also yes/no, on/off, true/false) and `true`/`false` in
TOML; numbers are plain integers. A list option takes UCI `list` lines (or one `option` with
values separated by spaces) and a TOML array (or a single string)."""

_MD_TAIL = """
## Rules checked when loading

- Unknown options in these sections are errors (a typo is never ignored). In UCI, sections of
  other types are reported as warnings; in TOML, unknown tables or keys are errors.
- `option x ''` in UCI means unset (as in libuci), and empty `list` items are ignored.
- Every error is one line: `option: value problem (allowed: ...)`; a secret's value is never
  shown (`<hidden>`). `ikev2d` prints it and exits with status 2.
- `psk` is required when `auth_mode` is `psk` and the server is enabled (a warning while it is
  disabled). It must have at least 20 characters, at least 8 different ones, and pass a small
  guessability estimate (dictionary words, keyboard runs, sequences and repeats count little);
  `allow_weak_psk` turns a refusal into a warning. Leading or trailing spaces are warned about.
- `local_id`/`remote_id` are checked by type: `ipv4` an IPv4 address, `ipv6` an IPv6 address,
  `fqdn` a DNS name, `user-fqdn` `user@host.name`, `key-id` any text (its UTF-8 bytes);
  `local_id_type auto` types each `local_id` by its form (key IDs need `key-id`). `remote_id`
  set with `remote_id_type any` is an error (it would be ignored). `local_id` is a list; an
  older `option local_id '...'` is one identity (it is not split at spaces).
- `pool` must not overlap `local_subnet` (except `0.0.0.0/0`) or the router's LAN; `dns`
  addresses inside the pool are never leased. User `ip`s must be host addresses inside the
  pool, unique, and not a DNS address; user names must be unique.
- Proposals: one encryption algorithm; AEAD (`aes128gcm16`, `aes256gcm16`, `chacha20poly1305`)
  without integrity, others with exactly one; IKE needs a PRF (a bare `sha256` is integrity and
  PRF; write `prfsha256` with AEAD) and exactly one key exchange group; ESP may end in
  `-esn`/`-noesn` and may name a group for PFS on rekey. Proposals using `modp1024`, `sha1` or
  `3des` need `legacy_proposals`. Duplicates are errors.
- `auth_mode` `eap` needs at least one enabled user with a password. The daemon refuses to run
  with an `auth_mode` it does not implement yet (`eap`, `cert`), saying so.
- Full tunnel (`0.0.0.0/0`) without `masquerade` gives a warning: clients reach the internet
  only if the upstream network routes the pool back.

## Server identity

Clients check the identity the server answers with (IDr) against what they expect: Android's
built-in client the server address as typed (an IP literal as an IP ID, a name as an FQDN ID),
Apple's the profile's `RemoteIdentifier`; Windows asks for none. The server therefore has a set
of identities: every `local_id`, then `server_address` (as typed), then the `listen` addresses
that are not wildcards, then the address the client's packets arrived at. A client whose
IKE_AUTH names one of them as IDr gets exactly that identity back (the PSK AUTH is computed
over it); a client that names none, or another one, gets the first of the set. With
certificates (EAP and certificate clients) the server certificate must hold the identity: the
built-in CA names `server_address`, every DNS-name or address `local_id` and the `listen`
addresses in its subjectAltName, and the daemon reissues a certificate of its own CA that lacks
one of them when it starts or reloads; an imported certificate is never replaced (`ikev2ctl
check` names the identities it lacks).

## IPv6

**Outside.** With the default `listen` (`0.0.0.0` and `::`) clients reach the server over IPv4
and IPv6 alike: IKE on UDP 500/4500 of the router's IPv6 address, ESP between IPv6 addresses.
The firewall openings (IKE, NAT-T, ESP) are for both families. A MOBIKE client learns the
router's other addresses (ADDITIONAL_IP4/6_ADDRESS, those of the interface it reached) and
moves between IPv4 and IPv6 with its tunnel, from Wi-Fi to an IPv6-only mobile network, say.

**Inside.** With `pool6` on, a client that asks for an IPv6 address (phones do) gets the one of
`pool6` with the host number of its IPv4 address (10.10.10.7 → `<pool6>::7`), the IPv6 `dns`
servers, and the IPv6 `local_subnet` networks in its tunnel. On OpenWrt `pool6` defaults to the
last /64 of the router's ULA prefix (`ula_prefix` of `/etc/config/network`) and `local_subnet`
to the LAN's IPv4 subnet and the LAN's /64 of that prefix (the one netifd gives an interface
with `ip6assign`, numbered by `ip6hint`); set `local_subnet` when the LAN's IPv6 network is
another one. LAN hosts reach the clients through the router (odhcpd announces the ULA prefix
as a route); the daemon routes each client's /128 into its tunnel, as it routes its /32.

**Full tunnel.** `0.0.0.0/0` (or `::/0`) in `local_subnet` claims all of IPv6 as well, so a
dual-stack phone sends no IPv6 around the tunnel:
- with `pool6` (the default on OpenWrt) IPv6 goes through the tunnel; with `masquerade` and a
  ULA `pool6` the firewall masquerades it to the router's WAN address, as it does IPv4
  (a ULA address is not routed on the internet);
- with `pool6 off` IPv6 is refused: the server still answers `::/0` on both sides of the
  tunnel but gives no IPv6 address and installs no IPv6 policy. A phone building its routes
  from the tunnel (Android) sends its IPv6 into the tunnel, or fails at once for lack of an
  address there, and the router drops what arrives; either way nothing leaks and apps fall
  back to IPv4 at once. (strongSwan's Linux client narrows its side to its virtual addresses
  and would send IPv6 around the tunnel: give it `pool6`.)

A split tunnel without `pool6` leaves IPv6 alone: it goes where the client's network sends it.

## Clients that vanish

A client gone without a Delete (a crash, a lost network) is found by DPD: after `dpd_delay`
seconds without a message or ESP from it the server sends an empty INFORMATIONAL request,
resends it after `retransmit_timeout`, twice that, four times that ..., and when
`retransmit_tries` sends went unanswered it removes the client, its tunnel (kernel SAs and
policies) and its address lease: with the defaults (30, 2, 5) 30 + 62 = 92 s after its last
packet. A client that comes back first and sends INITIAL_CONTACT in IKE_AUTH (Windows always
does, strongSwan after a restart) replaces every IKE SA of the same authenticated client (EAP
user, certificate name, else IDi) at once, and gets its address back. Two devices sharing one
identity replace each other that way: give each device its own user or identity.

## Secrets in their own file (UCI)

The options marked `secret` (`psk`, a user's `password`) belong in
`/etc/config/ikev2d_secrets`, next to `/etc/config/ikev2d`, in a section of the same type and
name as the one they belong to (`config ikev2d 'server'`, `config user 'user_alice'`): UCI's
access control works per file, and LuCI's read-only users may read `/etc/config/ikev2d`. Users
are therefore named sections. Anything but a secret option in the secrets file is an error; a
secret still in `/etc/config/ikev2d` is used with a warning; where both files set one, the
secrets file wins. TOML keeps everything in one file.

## Defaults taken from the router (UCI)

`dns` and `local_subnet` default to the LAN of `/etc/config/network` (`config interface 'lan'`:
`ipaddr` with `netmask`, or `ipaddr` in CIDR form; the first IPv4 of a `list ipaddr`). If the LAN
cannot be read (no file, DHCP client LAN), `local_subnet` must be set, and so must `dns` in a full
tunnel. In TOML nothing is read from the system: `local_subnet` is required and `dns` defaults to
the first host of the first `local_subnet` (required in a full tunnel).

## Post-quantum key exchange

`post_quantum` adds ML-KEM (FIPS 203) as an RFC 9370 additional key exchange next to the
proposal's classic group, in IKE_INTERMEDIATE exchanges (RFC 9242) after IKE_SA_INIT and in
IKE_FOLLOWUP_KE exchanges after a rekey, so that traffic recorded today cannot be decrypted by
a future quantum computer. The server takes ML-KEM-768, else ML-KEM-1024, whichever the client
offers (ML-KEM-512 is not available). `preferred` uses it with every client that offers it and
accepts the others as before; `required` refuses a new IKE SA without it (failure code
`ike_proposal_pq`); rekeys take it whenever offered, since their keys derive from the first
exchange's. The server's own rekeys repeat what an SA was made with. It needs a `cryptography`
with ML-KEM on the router (47 or newer with OpenSSL 3.5); without it nothing is offered,
`ikev2ctl check` says why, and `ikev2d --check` warns when `required` would refuse everyone.
Clients: iOS/macOS 26 with the profile, strongSwan 6 (`…-x25519-ke1_mlkem768`).

## Enabled

`enabled` defaults to off so a fresh install does nothing until configured. The init script
does not start a disabled server; the model keeps `enabled` for the daemon to decide."""
