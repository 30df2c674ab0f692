"""The validated configuration: ``ServerConfig`` (the server section and its users), what
config.py builds from UCI or TOML. Field names are the option names of schema.py.

Frozen classes with ``__slots__`` (wire.frozen), not dataclasses: the daemon builds them before
it binds UDP 500 (docs/benchmarks.md, Start cost). The PSK and passwords are never in a repr.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Hashable, Mapping

from ikev2d.policy.identity import Identity, identity_from_text
from ikev2d.policy.pool import AddressPool, reserved_hosts
from ikev2d.policy.proposals import Proposal
from ikev2d.wire.enums import IdType
from ikev2d.wire.frozen import Frozen

__all__ = ["IPAddress", "ServerConfig", "UserConfig", "lease_key"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_ULA = ipaddress.IPv6Network("fc00::/7")


class UserConfig(Frozen):
    __slots__ = ("enabled", "ip", "name", "password")
    _hidden = frozenset(("password",))
    name: str
    password: str | None
    ip: ipaddress.IPv4Address | None
    enabled: bool

    def __init__(
        self,
        name: str,
        password: str | None = None,
        ip: ipaddress.IPv4Address | None = None,
        enabled: bool = True,
    ) -> None:
        self._set(name=name, password=password, ip=ip, enabled=enabled)


class ServerConfig(Frozen):
    """Field names are the option names of schema.py (``users`` holds the user sections)."""

    __slots__ = (
        "allow_weak_psk",
        "auth_mode",
        "child_lifetime",
        "child_lifetime_bytes",
        "control_socket",
        "cookie_threshold",
        "cookie_threshold_per_ip",
        "dns",
        "dpd_delay",
        "enabled",
        "esp_proposal",
        "fragment_size",
        "fragmentation",
        "ike_lifetime",
        "ike_proposal",
        "legacy_proposals",
        "listen",
        "local_id",
        "local_id_type",
        "local_subnet",
        "log_level",
        "masquerade",
        "max_half_open",
        "max_half_open_per_ip",
        "mobike",
        "natt_port",
        "pki_dir",
        "pool",
        "pool6",
        "port",
        "post_quantum",
        "psk",
        "remote_id",
        "remote_id_type",
        "retransmit_timeout",
        "retransmit_tries",
        "server_address",
        "state_dir",
        "users",
        "wan_interface",
        "warnings",
    )
    _hidden = frozenset(("psk",))
    _uncompared = frozenset(("warnings",))
    enabled: bool
    listen: tuple[IPAddress, ...]
    port: int
    natt_port: int
    wan_interface: str
    server_address: str | None
    auth_mode: str
    psk: str | None
    allow_weak_psk: bool
    local_id_type: str
    local_id: tuple[Identity, ...]  # as configured; server_identities() is the whole set
    remote_id_type: str
    remote_id: Identity | None  # None: any identity
    pool: ipaddress.IPv4Network
    pool6: ipaddress.IPv6Network | None  # None: no IPv6 inside the tunnel
    dns: tuple[IPAddress, ...]
    local_subnet: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]
    masquerade: bool
    ike_proposal: tuple[Proposal, ...]
    esp_proposal: tuple[Proposal, ...]
    legacy_proposals: bool
    post_quantum: str  # off | preferred | required (RFC 9370 additional ML-KEM exchanges)
    ike_lifetime: int
    child_lifetime: int
    child_lifetime_bytes: int
    dpd_delay: int
    retransmit_timeout: int
    retransmit_tries: int
    cookie_threshold: int | None  # None: derived from the router's memory (ike.dos)
    cookie_threshold_per_ip: int
    max_half_open: int | None  # None: derived from the router's memory
    max_half_open_per_ip: int | None
    mobike: bool
    fragmentation: bool
    fragment_size: int
    log_level: str
    control_socket: str
    pki_dir: str
    state_dir: str
    users: tuple[UserConfig, ...]
    warnings: tuple[str, ...]

    def __init__(
        self,
        *,
        enabled: bool,
        listen: tuple[IPAddress, ...],
        port: int,
        natt_port: int,
        wan_interface: str,
        server_address: str | None,
        auth_mode: str,
        psk: str | None,
        allow_weak_psk: bool,
        local_id_type: str,
        local_id: tuple[Identity, ...],
        remote_id_type: str,
        remote_id: Identity | None,
        pool: ipaddress.IPv4Network,
        pool6: ipaddress.IPv6Network | None,
        dns: tuple[IPAddress, ...],
        local_subnet: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...],
        masquerade: bool,
        ike_proposal: tuple[Proposal, ...],
        esp_proposal: tuple[Proposal, ...],
        legacy_proposals: bool,
        post_quantum: str,
        ike_lifetime: int,
        child_lifetime: int,
        child_lifetime_bytes: int,
        dpd_delay: int,
        retransmit_timeout: int,
        retransmit_tries: int,
        cookie_threshold: int | None,
        cookie_threshold_per_ip: int,
        max_half_open: int | None,
        max_half_open_per_ip: int | None,
        mobike: bool,
        fragmentation: bool,
        fragment_size: int,
        log_level: str,
        control_socket: str,
        pki_dir: str,
        state_dir: str,
        users: tuple[UserConfig, ...] = (),
        warnings: tuple[str, ...] = (),
    ) -> None:
        self._set(
            enabled=enabled,
            listen=listen,
            port=port,
            natt_port=natt_port,
            wan_interface=wan_interface,
            server_address=server_address,
            auth_mode=auth_mode,
            psk=psk,
            allow_weak_psk=allow_weak_psk,
            local_id_type=local_id_type,
            local_id=local_id,
            remote_id_type=remote_id_type,
            remote_id=remote_id,
            pool=pool,
            pool6=pool6,
            dns=dns,
            local_subnet=local_subnet,
            masquerade=masquerade,
            ike_proposal=ike_proposal,
            esp_proposal=esp_proposal,
            legacy_proposals=legacy_proposals,
            post_quantum=post_quantum,
            ike_lifetime=ike_lifetime,
            child_lifetime=child_lifetime,
            child_lifetime_bytes=child_lifetime_bytes,
            dpd_delay=dpd_delay,
            retransmit_timeout=retransmit_timeout,
            retransmit_tries=retransmit_tries,
            cookie_threshold=cookie_threshold,
            cookie_threshold_per_ip=cookie_threshold_per_ip,
            max_half_open=max_half_open,
            max_half_open_per_ip=max_half_open_per_ip,
            mobike=mobike,
            fragmentation=fragmentation,
            fragment_size=fragment_size,
            log_level=log_level,
            control_socket=control_socket,
            pki_dir=pki_dir,
            state_dir=state_dir,
            users=users,
            warnings=warnings,
        )

    @property
    def full_tunnel(self) -> bool:
        return any(net.prefixlen == 0 for net in self.local_subnet)

    def subnets(self, version: int) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        """The networks of one family clients reach; a full tunnel claims both families whole
        (a dual-stack phone must not send IPv6 around an IPv4 tunnel)."""
        if self.full_tunnel:
            return (ipaddress.ip_network("0.0.0.0/0" if version == 4 else "::/0"),)
        return tuple(n for n in self.local_subnet if n.version == version)

    @property
    def offered_subnets(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        """What a client reaches through the tunnel: the IPv6 networks only with pool6 (a
        client without an IPv6 address there reaches none of them)."""
        return self.subnets(4) + (self.subnets(6) if self.pool6 is not None else ())

    @property
    def ipv6_refused(self) -> bool:
        """Full tunnel without pool6: clients' IPv6 is taken into the tunnel and dropped
        there, so it neither leaks around the tunnel nor goes anywhere (docs/configuration)."""
        return self.pool6 is None and self.full_tunnel

    @property
    def masquerade6(self) -> bool:
        """Client IPv6 masqueraded to the WAN: masquerade asked for and a ULA pool6, which
        the internet does not route (an owner's global pool6 is routed as it is)."""
        return self.masquerade and self.pool6 is not None and self.pool6.subnet_of(_ULA)

    def address6_for(self, address: ipaddress.IPv4Address) -> ipaddress.IPv6Address | None:
        """A client's IPv6 address: pool6 with the host number of its IPv4 address."""
        if self.pool6 is None:
            return None
        host = int(address) - int(self.pool.network_address)
        return self.pool6.network_address + host

    @property
    def psk_bytes(self) -> bytes | None:
        return None if self.psk is None else self.psk.encode("utf-8")

    def server_identities(self, contacted: IPAddress | None = None) -> tuple[Identity, ...]:
        """The identities the server answers to, the default (the first) first: local_id,
        server_address as typed, the listen addresses, the address the client contacted."""
        found = list(self.local_id)
        if self.server_address is not None:
            found.append(identity_from_text(self.server_address))
        addresses = [a for a in self.listen if not a.is_unspecified]
        if contacted is not None:
            addresses.append(contacted)
        found += (Identity.from_address(a) for a in addresses)
        return tuple(dict.fromkeys(found))

    def certificate_names(self) -> tuple[str, ...]:
        """What a server certificate of the built-in CA names (server_address first: it is
        the CN): every configured identity that is a DNS name or an address."""
        named = (IdType.FQDN, IdType.IPV4_ADDR, IdType.IPV6_ADDR)
        names = [str(i) for i in self.server_identities() if i.id_type in named]
        if self.server_address is not None:
            names.insert(0, str(identity_from_text(self.server_address)))
        return tuple(dict.fromkeys(names))

    def answer_identity(self, requested: Identity | None, contacted: IPAddress) -> Identity:
        """Our IDr: the one the client asked for when it is ours, else the default."""
        ours = self.server_identities(contacted)
        return requested if requested in ours else ours[0]

    def remote_id_accepted(self, identity: Identity) -> bool:
        """Does a client's IDi satisfy remote_id (always, with remote_id_type any)?"""
        return self.remote_id is None or self.remote_id == identity

    def find_user(self, name: str) -> UserConfig | None:
        for user in self.users:
            if user.name == name:
                return user
        return None

    def new_pool(self, *, sticky_limit: int | None = None) -> AddressPool:
        """An AddressPool for this configuration, keyed by `lease_key`: an enabled user's
        fixed ``ip`` goes to that user authenticated by the server (an EAP login, or a
        certificate of that name from our CA, as auth_mode says), never to a PSK client that
        names itself so; DNS addresses inside the pool are reserved.
        """
        fixed: Mapping[Hashable, ipaddress.IPv4Address] = {}
        if self.auth_mode in ("eap", "cert"):
            fixed = {
                lease_key(self.auth_mode, u.name): u.ip
                for u in self.users
                if u.ip is not None and u.enabled
            }
        return AddressPool(
            self.pool, reserved_hosts(self.pool, self.dns), fixed, sticky_limit=sticky_limit
        )


def lease_key(method: str, name: str) -> tuple[str, str]:
    """A client's key in the address pool: how it authenticated (an auth_mode value) and its
    name under that method (EAP user name, certificate name, or the IDi text of a PSK
    client). Names of different methods never meet: a PSK client calling itself "alice"
    is not the EAP user alice."""
    return (method, name)
