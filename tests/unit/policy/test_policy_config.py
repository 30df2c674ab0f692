"""Loading TOML and UCI into one validated ServerConfig; defaults; one-line errors."""

import ipaddress
import textwrap

import pytest

from ikev2d.policy.config import (
    ServerConfig,
    check_supported,
    from_mapping,
    lease_key,
    load_toml,
    load_uci,
)
from ikev2d.policy.errors import ConfigError, ConfigSyntaxError
from ikev2d.policy.identity import Identity
from ikev2d.policy.pool import PoolExhausted
from ikev2d.policy.schema import DEFAULT_ESP_PROPOSALS, DEFAULT_IKE_PROPOSALS
from ikev2d.policy.validate import LanInfo
from ikev2d.wire.enums import IdType

PSK = "k8#Lm2$pQ9zR4vW7nX1y"  # 20 characters, random
NETWORK = """
config interface 'loopback'
    option device 'lo'
    option proto 'static'
    option ipaddr '127.0.0.1'
    option netmask '255.0.0.0'

config interface 'lan'
    option device 'br-lan'
    option proto 'static'
    option ipaddr '192.168.8.1'
    option netmask '255.255.255.0'
"""

UCI_FULL = """
config ikev2d 'server'
    option enabled '1'
    list listen '0.0.0.0'
    option port '500'
    option natt_port '4500'
    option wan_interface 'wan'
    option server_address 'vpn.example.com'
    option auth_mode 'psk'
    option allow_weak_psk '0'
    option local_id_type 'fqdn'
    option local_id 'vpn.example.com'
    option remote_id_type 'user-fqdn'
    option remote_id 'phone@example.com'
    option pool '10.10.10.0/24'
    list dns '192.168.8.1'
    list dns '9.9.9.9'
    list local_subnet '192.168.8.0/24'
    option masquerade '0'
    list ike_proposal 'aes256-sha256-modp2048'
    list ike_proposal 'aes256gcm16-prfsha384-curve25519'
    list esp_proposal 'aes256-sha256'
    list esp_proposal 'chacha20poly1305-esn'
    option legacy_proposals '0'
    option ike_lifetime '7200'
    option child_lifetime '1800'
    option dpd_delay '0'
    option mobike '0'
    option fragmentation 'yes'
    option fragment_size '1400'
    option log_level 'debug'
    option control_socket '/tmp/ikev2d/control.sock'
    option state_dir '/tmp/ikev2d'

config user 'user_alice'
    option name 'alice'
    option ip '10.10.10.20'

config user 'bob'
    option name 'bob'
    option enabled '0'
"""

# what read-only LuCI users must not read: in its own file, by section name
SECRETS_FULL = f"""
config ikev2d 'server'
    option psk '{PSK}'

config user 'user_alice'
    option password 'alice-secret'
"""

TOML_FULL = f"""
[server]
enabled = true
listen = ["0.0.0.0"]
port = 500
natt_port = 4500
wan_interface = "wan"
server_address = "vpn.example.com"
auth_mode = "psk"
psk = "{PSK.replace("$", "$")}"
allow_weak_psk = false
local_id_type = "fqdn"
local_id = "vpn.example.com"
remote_id_type = "user-fqdn"
remote_id = "phone@example.com"
pool = "10.10.10.0/24"
dns = ["192.168.8.1", "9.9.9.9"]
local_subnet = ["192.168.8.0/24"]
masquerade = false
ike_proposal = ["aes256-sha256-modp2048", "aes256gcm16-prfsha384-curve25519"]
esp_proposal = ["aes256-sha256", "chacha20poly1305-esn"]
legacy_proposals = false
ike_lifetime = 7200
child_lifetime = 1800
dpd_delay = 0
mobike = false
fragmentation = true
fragment_size = 1400
log_level = "debug"
control_socket = "/tmp/ikev2d/control.sock"
state_dir = "/tmp/ikev2d"

[[user]]
name = "alice"
password = "alice-secret"
ip = "10.10.10.20"

[[user]]
name = "bob"
enabled = false
"""


@pytest.fixture
def files(tmp_path):
    def write(name: str, text: str) -> str:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text))
        return str(path)

    return write


def server(**opts) -> dict:
    base = {"enabled": True, "psk": PSK, "local_subnet": ["192.168.1.0/24"]}
    base.update(opts)
    return {"server": base}


def error_of(data: dict, **kw) -> ConfigError:
    with pytest.raises(ConfigError) as exc:
        from_mapping(data, **kw)
    return exc.value


def test_uci_and_toml_load_into_equal_models(files):
    files("ikev2d_secrets", SECRETS_FULL)
    uci = load_uci(files("ikev2d", UCI_FULL), network_path=files("network", NETWORK))
    toml = load_toml(files("c.toml", TOML_FULL))
    assert uci == toml
    assert isinstance(uci, ServerConfig)
    assert uci.listen == (ipaddress.ip_address("0.0.0.0"),)
    assert uci.fragmentation is True and uci.mobike is False and uci.dpd_delay == 0
    assert uci.local_id == (Identity(IdType.FQDN, b"VPN.example.com"),)
    assert uci.remote_id_accepted(Identity(IdType.RFC822_ADDR, b"phone@EXAMPLE.com"))
    assert not uci.remote_id_accepted(Identity(IdType.RFC822_ADDR, b"other@example.com"))
    assert [p.text for p in uci.esp_proposal] == ["aes256-sha256", "chacha20poly1305-esn"]
    assert uci.esp_proposal[1].esn.keyword == "esn"
    assert [u.name for u in uci.users] == ["alice", "bob"]
    assert uci.users[1].enabled is False
    assert uci.find_user("alice").ip == ipaddress.IPv4Address("10.10.10.20")
    assert uci.warnings == ()


def test_uci_unknown_sections_warn_and_values_spelled_as_uci(files):
    files("ikev2d_secrets", SECRETS_FULL)
    text = UCI_FULL + "\nconfig frobnicator 'x'\n    option y '1'\n"
    cfg = load_uci(files("ikev2d", text), network_path=files("network", NETWORK))
    assert len(cfg.warnings) == 1
    assert "section type 'frobnicator' (x) is not used by ikev2d" in cfg.warnings[0]


def test_secrets_still_in_the_main_file_are_used_with_a_warning(files):
    """A configuration from before the secrets file (or edited by hand) keeps working."""
    old = UCI_FULL.replace(
        "    option allow_weak_psk", f"    option psk '{PSK}'\n    option allow_weak_psk"
    )
    old = old.replace(
        "    option ip '10.10.10.20'",
        "    option password 'alice-secret'\n    option ip '10.10.10.20'",
    )
    cfg = load_uci(files("ikev2d", old), network_path=files("network", NETWORK))
    assert cfg.psk == PSK and cfg.find_user("alice").password == "alice-secret"
    assert len(cfg.warnings) == 2
    assert all("can be read by read-only LuCI users" in w for w in cfg.warnings)
    assert "server.psk" in cfg.warnings[0] and "user_alice.password" in cfg.warnings[1]
    assert PSK not in " ".join(cfg.warnings)
    # where both files set one, the secrets file wins
    files("ikev2d_secrets", SECRETS_FULL.replace("alice-secret", "moved-secret"))
    cfg = load_uci(files("ikev2d", old), network_path=files("network", NETWORK))
    assert cfg.find_user("alice").password == "moved-secret"


def test_the_secrets_file_holds_secrets_only_by_section_name(files):
    ikev2d = files("ikev2d", UCI_FULL)
    network = files("network", NETWORK)
    for text, message in [
        ("config ikev2d 'server'\n option psk 'x'\n option port '600'\n",
         "ikev2d_secrets:1: server.port: is not a secret option (allowed: psk (the rest"),
        ("config user\n option password 'x'\n",
         "ikev2d_secrets:1: config user: '@user[0]' is not named like a section it holds"),
    ]:  # fmt: skip
        files("ikev2d_secrets", text)
        with pytest.raises(ConfigError) as exc:
            load_uci(ikev2d, network_path=network)
        assert message in str(exc.value)
    # secrets of a section that is gone are left alone, with a warning
    files("ikev2d_secrets", SECRETS_FULL + "\nconfig user 'user_gone'\n option password 'x'\n")
    cfg = load_uci(ikev2d, network_path=network)
    assert cfg.warnings == (f"{ikev2d}_secrets:8: no config user 'user_gone' in {ikev2d}",)


def test_secrets_never_in_repr():
    cfg = from_mapping({**server(), "user": [{"name": "a", "password": "hunter2-password"}]})
    assert PSK not in repr(cfg) and "hunter2" not in repr(cfg)
    assert cfg.psk_bytes == PSK.encode()


# -- defaults -----------------------------------------------------------------------------------
def test_defaults_from_etc_config_network(files):
    ikev2d = files("ikev2d", f"config ikev2d 'server'\n option enabled 1\n option psk '{PSK}'\n")
    cfg = load_uci(ikev2d, network_path=files("network", NETWORK))
    assert cfg.dns == (ipaddress.IPv4Address("192.168.8.1"),)
    assert cfg.local_subnet == (ipaddress.IPv4Network("192.168.8.0/24"),)
    assert cfg.pool == ipaddress.IPv4Network("10.10.10.0/24")
    assert [p.text for p in cfg.ike_proposal] == [
        "aes256-sha256-modp2048",
        "aes256-sha256-ecp256",
        "aes256-sha256-curve25519",
        "aes256gcm16-prfsha256-curve25519",
    ]
    assert [p.text for p in cfg.esp_proposal] == ["aes256-sha256", "aes256gcm16"]
    assert cfg.listen == (ipaddress.ip_address("0.0.0.0"), ipaddress.ip_address("::"))
    assert (cfg.port, cfg.natt_port, cfg.ike_lifetime, cfg.child_lifetime) == (
        500,
        4500,
        14400,
        3600,
    )
    assert cfg.local_id == () and cfg.remote_id is None
    assert cfg.users == ()


@pytest.mark.parametrize(
    ("lan", "address", "subnet"),
    [
        ("option ipaddr '10.1.2.3/16'", "10.1.2.3", "10.1.0.0/16"),
        ("list ipaddr 'junk'\n list ipaddr '172.16.0.1/12'", "172.16.0.1", "172.16.0.0/12"),
    ],
)
def test_lan_forms(files, lan, address, subnet):
    network = files("network", f"config interface 'lan'\n option proto 'static'\n {lan}\n")
    ikev2d = files("ikev2d", f"config ikev2d 'server'\n option psk '{PSK}'\n")
    cfg = load_uci(ikev2d, network_path=network)
    assert cfg.dns == (ipaddress.IPv4Address(address),)
    assert cfg.local_subnet == (ipaddress.IPv4Network(subnet),)


def test_no_lan_means_local_subnet_is_required(files):
    ikev2d = files("ikev2d", f"config ikev2d 'server'\n option psk '{PSK}'\n")
    dhcp = files("network", "config interface 'lan'\n option proto 'dhcp'\n")
    with pytest.raises(ConfigError) as exc:
        load_uci(ikev2d, network_path=dhcp)
    assert str(exc.value).startswith("server.local_subnet: (not set) is required: no default")
    assert "no static IPv4 on interface lan" in str(exc.value)
    with pytest.raises(ConfigError, match="cannot read"):
        load_uci(ikev2d, network_path=files("x", "") + ".missing")


def test_toml_dns_falls_back_to_first_host_of_local_subnet():
    cfg = from_mapping(server(local_subnet=["192.168.50.0/24", "172.16.0.0/12"]))
    assert cfg.dns == (ipaddress.IPv4Address("192.168.50.1"),)


def test_full_tunnel_needs_dns_in_toml_and_warns_without_masquerade():
    err = error_of(server(local_subnet=["0.0.0.0/0"]))
    assert str(err).startswith("server.dns: (not set) is required in a full tunnel")
    cfg = from_mapping(server(local_subnet=["0.0.0.0/0"], dns=["192.168.1.1"]))
    assert cfg.full_tunnel
    assert any("masquerade" in w for w in cfg.warnings)
    cfg = from_mapping(server(local_subnet=["0.0.0.0/0"], dns=["192.168.1.1"], masquerade=True))
    assert cfg.warnings == ()
    lan = LanInfo(ipaddress.IPv4Address("192.168.3.1"), ipaddress.IPv4Network("192.168.3.0/24"))
    cfg = from_mapping(server(local_subnet=["0.0.0.0/0"], masquerade=True), lan=lan)
    assert cfg.dns == (lan.address,)


def test_server_identities_local_ids_then_server_address_then_addresses():
    contacted = ipaddress.ip_address("198.51.100.1")
    ip = from_mapping(server(server_address="203.0.113.7"))
    assert ip.local_id == ()
    assert ip.server_identities(contacted) == (
        Identity(IdType.IPV4_ADDR, bytes([203, 0, 113, 7])),
        Identity(IdType.IPV4_ADDR, contacted.packed),
    )
    name = from_mapping(server(server_address="VPN.Example.org", listen=["0.0.0.0", "2001:db8::1"]))
    assert name.server_identities(contacted) == (
        Identity(IdType.FQDN, b"vpn.example.org"),
        Identity(IdType.IPV6_ADDR, ipaddress.ip_address("2001:db8::1").packed),
        Identity(IdType.IPV4_ADDR, contacted.packed),
    )
    assert name.certificate_names() == ("vpn.example.org", "2001:db8::1")
    keyed = from_mapping(
        server(server_address="vpn.example.org", local_id_type="key-id", local_id="router 1")
    )
    assert keyed.server_identities()[:2] == (
        Identity(IdType.KEY_ID, b"router 1"),
        Identity(IdType.FQDN, b"vpn.example.org"),
    )
    assert keyed.certificate_names() == ("vpn.example.org",)  # a key ID is no certificate name
    bare = from_mapping(server())
    assert bare.server_identities(contacted) == (Identity(IdType.IPV4_ADDR, contacted.packed),)


def test_local_id_auto_types_each_item_by_its_form():
    cfg = from_mapping(
        server(local_id=["vpn.example.org", "203.0.113.7", "2001:db8::7", "ops@example.org"])
    )
    assert [i.type_name for i in cfg.local_id] == ["fqdn", "ipv4", "ipv6", "user-fqdn"]
    assert cfg.certificate_names() == ("vpn.example.org", "203.0.113.7", "2001:db8::7")
    err = error_of(server(local_id=["vpn.example.org", "VPN.example.org."]))
    assert str(err).startswith("server.local_id: 'VPN.example.org.' is listed twice")
    err = error_of(server(local_id="router one"))
    assert str(err) == (
        "server.local_id: 'router one' is neither an IP address, a DNS name nor user@host.name "
        "(auto) (allowed: an IP address, a DNS name or user@host.name (key IDs need "
        "local_id_type key-id))"
    )


def test_single_valued_uci_local_id_stays_one_identity(files):
    text = (
        f"config ikev2d 'server'\n option psk '{PSK}'\n option local_subnet '192.168.1.0/24'\n"
        " option local_id_type 'key-id'\n option local_id 'my router'\n"
    )
    cfg = load_uci(files("ikev2d", text), network_path=files("network", ""))
    assert cfg.local_id == (Identity(IdType.KEY_ID, b"my router"),)
    listed = text.replace(
        " option local_id 'my router'", " list local_id 'a'\n list local_id 'b c'"
    )
    cfg = load_uci(files("ikev2d", listed), network_path=files("network", ""))
    assert cfg.local_id == (Identity(IdType.KEY_ID, b"a"), Identity(IdType.KEY_ID, b"b c"))


def test_server_disabled_without_psk_loads_with_a_warning():
    cfg = from_mapping({"server": {"local_subnet": ["192.168.1.0/24"]}})
    assert cfg.enabled is False and cfg.psk is None
    assert cfg.warnings == ("server.psk: not set; it is required before the server is enabled",)


def test_legacy_proposals_extend_the_defaults_and_warn():
    cfg = from_mapping(server(legacy_proposals=True))
    ike = [p.text for p in cfg.ike_proposal]
    assert ike[-1] == "3des-sha1-modp1024" and "aes256-sha256-modp1024" in ike
    assert [p.text for p in cfg.esp_proposal][-3:] == ["aes256-sha1", "aes128-sha1", "3des-sha1"]
    assert any("legacy_proposals" in w for w in cfg.warnings)
    # the default lists written out, as /etc/config/ikev2d ships them, are the defaults too
    spelled = server(legacy_proposals=True, ike_proposal=list(DEFAULT_IKE_PROPOSALS),
                     esp_proposal=list(DEFAULT_ESP_PROPOSALS))  # fmt: skip
    assert from_mapping(spelled).ike_proposal == cfg.ike_proposal
    assert from_mapping(spelled).esp_proposal == cfg.esp_proposal


def test_check_supported():
    check_supported(from_mapping(server()))
    eap = from_mapping({**server(auth_mode="eap"), "user": [{"name": "a", "password": "pw"}]})
    check_supported(eap)  # every mode of the schema is implemented


def test_new_pool_reserves_dns_and_fixed_addresses():
    data = server(dns=["10.10.10.1"], auth_mode="cert")
    data["user"] = [
        {"name": "alice", "ip": "10.10.10.2"},
        {"name": "off", "ip": "10.10.10.3", "enabled": False},
    ]
    pool = from_mapping(data).new_pool()
    assert pool.lease(lease_key("cert", "carol")) == ipaddress.IPv4Address("10.10.10.3")  # off
    assert pool.lease(lease_key("psk", "alice")) != ipaddress.IPv4Address("10.10.10.2")
    assert pool.lease(lease_key("eap", "alice")) != ipaddress.IPv4Address("10.10.10.2")
    assert pool.lease(lease_key("cert", "alice")) == ipaddress.IPv4Address("10.10.10.2")
    # with a PSK nobody is authenticated as a user: no fixed addresses
    psk = from_mapping({**data, "server": {**data["server"], "auth_mode": "psk"}}).new_pool()
    assert psk.lease(lease_key("psk", "alice")) == ipaddress.IPv4Address("10.10.10.2")


@pytest.mark.parametrize("dns", ["10.10.10.0", "10.10.10.255"])
def test_a_dns_address_validation_accepts_at_the_pool_s_ends_makes_a_pool(dns):
    # one rule for the addresses the pool keeps back: what the check accepts, the daemon starts
    pool = from_mapping(server(dns=[dns, "10.10.10.9"])).new_pool()
    leased = {pool.lease(lease_key("psk", str(n))) for n in range(253)}
    assert ipaddress.IPv4Address("10.10.10.9") not in leased and len(leased) == 253
    with pytest.raises(PoolExhausted):
        pool.lease(lease_key("psk", "one more"))


# -- errors: one line naming option, value and what is allowed ---------------------------------
ERRORS = [
    (
        server(pool="10.10.10.0/33"),
        "server.pool: '10.10.10.0/33' is not an IPv4 network "
        "(allowed: an IPv4 network like 10.10.10.0/24, prefix 8..30)",
    ),
    (
        server(pool="10.10.10.0/31"),
        "server.pool: '10.10.10.0/31' has a prefix length out of range "
        "(allowed: an IPv4 network like 10.10.10.0/24, prefix 8..30)",
    ),
    (
        server(pool="10.10.10.1/24"),
        "server.pool: '10.10.10.1/24' has host bits set (the network is 10.10.10.0/24) "
        "(allowed: an IPv4 network like 10.10.10.0/24, prefix 8..30)",
    ),
    (
        server(pool="192.168.1.128/25"),
        "server.pool: '192.168.1.128/25' overlaps local_subnet 192.168.1.0/24 "
        "(allowed: a network that overlaps neither local_subnet nor the LAN)",
    ),
    (
        server(pool="10.0.0.0/30", dns=["10.0.0.1"]),
        "server.pool: '10.0.0.0/30' leaves too few addresses (DNS addresses inside it are not "
        "leased) (allowed: at least 2 leasable addresses)",
    ),
    (server(port=0), "server.port: 0 is out of range (allowed: an integer 1..65535)"),
    (server(port="500"), "server.port: '500' is not an integer (allowed: an integer 1..65535)"),
    (server(port=True), "server.port: true is not an integer (allowed: an integer 1..65535)"),
    (
        server(natt_port=500),
        "server.natt_port: 500 is the same as port (allowed: a port other than port)",
    ),
    (
        server(enabled="yes"),
        "server.enabled: 'yes' is not a boolean (allowed: 0 or 1 (true or false))",
    ),
    (
        server(auth_mode="radius"),
        "server.auth_mode: 'radius' is not one of the choices (allowed: psk, eap or cert)",
    ),
    (
        server(listen=["0.0.0.0", "1.2.3"]),
        "server.listen: '1.2.3' is not an IP address (allowed: IPv4 or IPv6 addresses)",
    ),
    (
        server(dns=["9.9.9.9", "9.9.9.9"]),
        "server.dns: '9.9.9.9' is listed twice (allowed: IPv4 or IPv6 addresses)",
    ),
    (
        server(wan_interface="wan; rm -rf /"),
        "server.wan_interface: 'wan; rm -rf /' is not a valid name (allowed: an interface name: "
        "letters, digits and _)",
    ),
    (
        server(server_address="not a host"),
        "server.server_address: 'not a host' is neither an IP address nor a DNS name "
        "(allowed: an IP address or a DNS name)",
    ),
    (
        server(local_id_type="ipv4", local_id="vpn.example.com"),
        "server.local_id: 'vpn.example.com' is not an IPv4 address (ipv4) "
        "(allowed: an IPv4 address like 203.0.113.5)",
    ),
    (
        server(local_id_type="fqdn", local_id="10.1.1.1"),
        "server.local_id: '10.1.1.1' is not a DNS name (fqdn) "
        "(allowed: a DNS name like vpn.example.com)",
    ),
    (
        server(remote_id_type="user-fqdn", remote_id="nobody"),
        "server.remote_id: 'nobody' is not of the form user@host.name (user-fqdn) "
        "(allowed: an address like user@example.com)",
    ),
    (
        server(remote_id_type="fqdn"),
        "server.remote_id: (not set) is required for fqdn (allowed: a DNS name like "
        "vpn.example.com)",
    ),
    (
        server(remote_id="phone.example.com"),
        "server.remote_id: 'phone.example.com' would be ignored "
        "(allowed: unset with remote_id_type any)",
    ),
    (
        server(ike_proposal=["aes256-sha256"]),
        "server.ike_proposal: 'aes256-sha256' needs one key exchange group (e.g. modp2048, "
        "curve25519) (allowed: proposals like aes256-sha256-modp2048 or "
        "aes256gcm16-prfsha256-curve25519)",
    ),
    (
        server(ike_proposal=["aes256-sha1-modp1024"]),
        "server.ike_proposal: 'aes256-sha1-modp1024' uses weak sha1, modp1024 "
        "(allowed: strong algorithms, or set legacy_proposals)",
    ),
    (
        server(esp_proposal=["aes256-SHA256", "aes256-sha256"]),
        "server.esp_proposal: 'aes256-sha256' is listed twice (allowed: proposals like "
        "aes256-sha256 or aes256gcm16)",
    ),
    (
        server(control_socket="relative.sock"),
        "server.control_socket: 'relative.sock' is not an absolute path "
        "(allowed: an absolute path inside state_dir (at most 107 bytes))",
    ),
    (
        {**server(), "user": [{"name": "a", "ip": "10.10.11.5"}]},
        "user[0].ip: '10.10.11.5' is not a host address of the pool "
        "(allowed: a host address inside pool 10.10.10.0/24)",
    ),
    (
        {**server(), "user": [{"name": "a", "ip": "10.10.10.255"}]},
        "user[0].ip: '10.10.10.255' is not a host address of the pool "
        "(allowed: a host address inside pool 10.10.10.0/24)",
    ),
    (
        {
            **server(),
            "user": [{"name": "a", "ip": "10.10.10.9"}, {"name": "b", "ip": "10.10.10.9"}],
        },
        "user[1].ip: '10.10.10.9' is also the ip of user[0] "
        "(allowed: a host address inside pool 10.10.10.0/24)",
    ),
    (
        {**server(), "user": [{"name": "a"}, {"name": "a"}]},
        "user[1].name: 'a' is used twice (allowed: a name no other user has)",
    ),
    (
        {**server(), "user": [{"ip": "10.10.10.9"}]},
        "user[0].name: (not set) is required "
        "(allowed: 1..128 printable characters, no leading/trailing spaces)",
    ),
    (
        {**server(auth_mode="eap"), "user": [{"name": "a"}]},
        "user[0].password: (not set) is required when auth_mode is eap "
        "(allowed: 1..256 characters without control characters)",
    ),
    (
        server(auth_mode="eap"),
        "user: is missing: auth_mode eap needs users "
        "(allowed: at least one enabled user with a password)",
    ),
    (
        server(pol="10.0.0.0/24"),
        "server.pol: is not a known option, did you mean 'pool'? (allowed: enabled, listen, "
        "port, natt_port, wan_interface, server_address, auth_mode, psk, allow_weak_psk, "
        "local_id_type, local_id, remote_id_type, remote_id, pool, pool6, dns, local_subnet, "
        "masquerade, ike_proposal, esp_proposal, legacy_proposals, post_quantum, ike_lifetime, "
        "child_lifetime, child_lifetime_bytes, dpd_delay, retransmit_timeout, "
        "retransmit_tries, cookie_threshold, cookie_threshold_per_ip, max_half_open, "
        "max_half_open_per_ip, mobike, "
        "fragmentation, fragment_size, log_level, control_socket, pki_dir, state_dir)",
    ),
    (
        {"server": {}, "sever": {}},
        "<mapping>: 'sever' is not a known table (allowed: [server] and [[user]])",
    ),
    (
        server(ike_lifetime=[3600]),
        "server.ike_lifetime: [3600] takes one value, not a list (allowed: an integer 60..86400)",
    ),
]


@pytest.mark.parametrize(("data", "message"), ERRORS, ids=lambda x: x if isinstance(x, str) else "")
def test_error_messages_are_one_line(data, message):
    err = error_of(data)
    assert str(err) == message
    assert "\n" not in str(err)
    assert PSK not in str(err) and PSK not in repr(err)


@pytest.mark.parametrize(
    ("psk", "problem"),
    [
        ("short-but-random!Q", "is shorter than 20 characters"),
        ("abababababababababababab", "uses fewer than 8 different characters"),
        ("password1234567890abc", "is easy to guess"),
        ("qwertyuiopasdfghjklzxc", "is easy to guess"),
        ("Summer2024!Summer2024!", "is easy to guess"),
        ("MyRouterVpnPassword2024", "is easy to guess"),
    ],
)
def test_weak_psk_refused_without_showing_it(psk, problem):
    err = error_of(server(psk=psk))
    assert str(err).startswith(f"server.psk: <hidden> {problem}")
    assert str(err).endswith(
        "(allowed: at least 20 characters, not easily guessed (or set allow_weak_psk))"
    )
    assert psk not in str(err) and psk not in repr(err) and psk not in str(err.__dict__)
    cfg = from_mapping(server(psk=psk, allow_weak_psk=True))
    assert cfg.psk == psk
    (warning,) = cfg.warnings
    assert warning.startswith(f"server.psk: <hidden> {problem}") and psk not in warning


@pytest.mark.parametrize("psk", [PSK, "correct horse battery staple", "Tr0ub4dor&3xyzMNPQvk"])
def test_strong_psks_accepted(psk):
    assert from_mapping(server(psk=psk)).warnings == ()


def test_psk_with_control_characters_or_wrong_type_hidden():
    err = error_of(server(psk="abc\ndefghijklmnopqrstuvwxyz"))
    assert str(err).startswith("server.psk: <hidden> contains control characters")
    err = error_of(server(psk=12345678901234567890123))
    assert "12345678901234567890123" not in str(err) and "is not a string" in str(err)
    err = error_of(server(psk=[PSK]))
    assert PSK not in str(err) and "takes one value" in str(err)


def test_psk_required_when_enabled():
    err = error_of({"server": {"enabled": True, "local_subnet": ["192.168.1.0/24"]}})
    assert str(err).startswith("server.psk: (not set) is required when auth_mode is psk")


def test_uci_error_labels_and_syntax_errors(files):
    files("ikev2d_secrets", SECRETS_FULL)
    text = UCI_FULL.replace("option ip '10.10.10.20'", "option ip '10.10.99.20'")
    with pytest.raises(ConfigError) as exc:
        load_uci(files("ikev2d", text), network_path=files("network", NETWORK))
    assert str(exc.value).startswith("user_alice.ip: '10.10.99.20'")
    anonymous = text.replace("config user 'user_alice'", "config user")
    with pytest.raises(ConfigError) as exc:
        load_uci(files("ikev2d", anonymous), network_path=files("network", NETWORK))
    assert str(exc.value).startswith("@user[0].ip: '10.10.99.20'")
    text = UCI_FULL.replace("option port '500'", "option port 'x500'")
    with pytest.raises(ConfigError) as exc:
        load_uci(files("ikev2d", text), network_path=files("network", NETWORK))
    assert str(exc.value) == "server.port: 'x500' is not an integer (allowed: an integer 1..65535)"
    with pytest.raises(ConfigError) as exc:
        load_uci(
            files(
                "ikev2d",
                UCI_FULL.replace("list listen", "option listen") + "config ikev2d 'other'\n",
            ),
            network_path=files("network", NETWORK),
        )
    assert "is a second server section" in str(exc.value)
    with pytest.raises(ConfigError, match="takes one value, not a list"):
        load_uci(
            files("ikev2d", UCI_FULL.replace("option pool", "list pool")),
            network_path=files("network", NETWORK),
        )


def test_uci_list_spelled_as_option_splits_on_spaces(files):
    files("ikev2d_secrets", SECRETS_FULL)
    text = UCI_FULL.replace(
        "list dns '192.168.8.1'\n    list dns '9.9.9.9'", "option dns '192.168.8.1 9.9.9.9'"
    )
    cfg = load_uci(files("ikev2d", text), network_path=files("network", NETWORK))
    assert [str(a) for a in cfg.dns] == ["192.168.8.1", "9.9.9.9"]


def test_toml_syntax_error(files):
    with pytest.raises(ConfigSyntaxError) as exc:
        load_toml(files("bad.toml", "[server\n"))
    assert str(exc.value).startswith(f"{exc.value.path}: not valid TOML")
    assert "\n" not in str(exc.value)


NETWORK_ULA = """
config globals 'globals'
    option ula_prefix 'fd12:3456:789a::/48'

config interface 'lan'
    option device 'br-lan'
    option proto 'static'
    option ipaddr '192.168.8.1'
    option netmask '255.255.255.0'
    option ip6assign '60'
    option ip6hint '23'
"""


def test_ipv6_inside_defaults_from_the_ula_prefix(files):
    ikev2d = files("ikev2d", f"config ikev2d 'server'\n option psk '{PSK}'\n")
    cfg = load_uci(ikev2d, network_path=files("network", NETWORK_ULA))
    assert cfg.pool6 == ipaddress.IPv6Network("fd12:3456:789a:ffff::/64")  # the last /64
    assert cfg.local_subnet == (ipaddress.ip_network("192.168.8.0/24"),
                                ipaddress.ip_network("fd12:3456:789a:20::/64"))  # fmt: skip
    assert cfg.address6_for(ipaddress.IPv4Address("10.10.10.7")) == ipaddress.IPv6Address(
        "fd12:3456:789a:ffff::7"
    )
    assert cfg.subnets(6) == (ipaddress.ip_network("fd12:3456:789a:20::/64"),)
    off = files("ikev2d", f"config ikev2d 'server'\n option psk '{PSK}'\n option pool6 'off'\n")
    cfg = load_uci(off, network_path=files("network", NETWORK_ULA))
    assert cfg.pool6 is None and cfg.local_subnet == (ipaddress.ip_network("192.168.8.0/24"),)
    assert load_uci(ikev2d, network_path=files("network", NETWORK)).pool6 is None  # no ULA
    assert from_mapping(server()).pool6 is None  # TOML reads nothing from the system


def test_full_tunnel_claims_ipv6_too_and_refuses_it_without_pool6():
    full = from_mapping(server(local_subnet=["0.0.0.0/0"], dns=["192.168.1.1"], masquerade=True))
    assert full.subnets(6) == (ipaddress.ip_network("::/0"),) and full.ipv6_refused
    with6 = from_mapping(
        server(local_subnet=["0.0.0.0/0"], dns=["192.168.1.1"], pool6="fd00:99::/64")
    )
    assert with6.subnets(6) == (ipaddress.ip_network("::/0"),) and not with6.ipv6_refused
    split = from_mapping(server(local_subnet=["192.168.1.0/24", "fd00:1::/64"]))
    assert split.subnets(4) == (ipaddress.ip_network("192.168.1.0/24"),)
    assert split.subnets(6) == (ipaddress.ip_network("fd00:1::/64"),) and not split.ipv6_refused


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"pool6": "fd00:1:0:ff::/64", "local_subnet": ["192.168.1.0/24", "fd00:1::/48"]},
         "server.pool6: 'fd00:1:0:ff::/64' overlaps local_subnet fd00:1::/48 (allowed: a "
         "network of its own)"),
        ({"pool6": "fd00:1::/121"},
         "server.pool6: 'fd00:1::/121' has a prefix length out of range (allowed: off, or an "
         "IPv6 network like fd12:3456:789a:ffff::/64 (prefix 48..120, at least as many "
         "addresses as pool))"),
        ({"pool6": "fd00:1::/120", "pool": "10.10.0.0/22"},
         "server.pool6: 'fd00:1::/120' has fewer addresses than 10.10.0.0/22 (allowed: off, or "
         "an IPv6 network like fd12:3456:789a:ffff::/64 (prefix 48..120, at least as many "
         "addresses as pool))"),
        ({"pool6": "10.0.0.0/24"},
         "server.pool6: '10.0.0.0/24' is not an IPv6 network (or off) (allowed: off, or an "
         "IPv6 network like fd12:3456:789a:ffff::/64 (prefix 48..120, at least as many "
         "addresses as pool))"),
        ({"local_subnet": ["fd00:1::1/64"]},
         "server.local_subnet: 'fd00:1::1/64' has host bits set (the network is fd00:1::/64) "
         "(allowed: IPv4 or IPv6 networks like 192.168.1.0/24 or fd00:1::/64, or 0.0.0.0/0)"),
    ],
)  # fmt: skip
def test_ipv6_option_errors(options, message):
    assert str(error_of(server(**options))) == message


def test_every_option_that_fails_on_its_own_is_reported_at_once():
    data = server(port=70000, pool="10.10.10.0/33", pskk="x")
    data["user"] = [{"name": "alice", "password": "p\x00"}]
    exc = error_of(data)
    port, pool, pskk, password = exc.problems
    assert port == "server.port: 70000 is out of range (allowed: an integer 1..65535)"
    assert pool.startswith("server.pool: '10.10.10.0/33' is not an IPv4 network")
    assert pskk.startswith("server.pskk: is not a known option, did you mean 'psk'?")
    assert password.startswith("user[0].password: <hidden> contains control characters")
    assert str(exc) == "\n".join(exc.problems) and exc.option == "server.port"
    assert "p\x00" not in repr(exc) and "p\\x00" not in str(exc)
    # one problem stays one plain ConfigError
    single = error_of(server(port=70000))
    assert type(single) is ConfigError and single.problems == [str(single)]


def test_the_configured_control_socket_follows_state_dir_and_control_socket(tmp_path):
    from ikev2d.policy.config import configured_control_socket

    def uci(*options: str) -> str:
        path = tmp_path / "ikev2d"
        path.write_text("config ikev2d 'server'\n" + "".join(f"\toption {o}\n" for o in options))
        return str(path)

    assert configured_control_socket(str(tmp_path / "missing")) == "/var/run/ikev2d/control.sock"
    assert configured_control_socket(uci("state_dir '/tmp/st/'")) == "/tmp/st/control.sock"
    assert (
        configured_control_socket(uci("state_dir '/tmp/st'", "control_socket '/tmp/st/c'"))
        == "/tmp/st/c"
    )
    assert configured_control_socket(uci("state_dir 'relative'")) == "/var/run/ikev2d/control.sock"
