"""Identity: from configuration and from ID payloads, matching, printable str()."""

import pytest

from ikev2d.policy.identity import Identity, IdentityError, is_dns_name
from ikev2d.wire.enums import IdType


@pytest.mark.parametrize(
    ("type_name", "value", "id_type", "data"),
    [
        ("ipv4", "192.0.2.1", IdType.IPV4_ADDR, bytes([192, 0, 2, 1])),
        ("ipv6", "2001:db8::1", IdType.IPV6_ADDR, bytes.fromhex("20010db8" + "00" * 11 + "01")),
        ("fqdn", "vpn.example.com", IdType.FQDN, b"vpn.example.com"),
        ("user-fqdn", "alice@example.com", IdType.RFC822_ADDR, b"alice@example.com"),
        ("key-id", "router 1", IdType.KEY_ID, b"router 1"),
    ],
)
def test_from_config(type_name, value, id_type, data):
    ident = Identity.from_config(type_name, value)
    assert (ident.id_type, ident.data) == (id_type, data)
    assert ident == Identity.from_payload(int(id_type), data)


@pytest.mark.parametrize(
    ("type_name", "value", "reason"),
    [
        ("ipv4", "vpn.example.com", "not an IPv4 address"),
        ("ipv4", "2001:db8::1", "not an IPv4 address"),
        ("fqdn", "bad_name.example", "not a DNS name"),
        ("fqdn", "-lead.example", "not a DNS name"),
        ("fqdn", "10.0.0.1", "not a DNS name"),
        ("fqdn", "a" * 64 + ".com", "not a DNS name"),
        ("user-fqdn", "@example.com", "user@host.name"),
        ("user-fqdn", "alice", "user@host.name"),
        ("user-fqdn", "al ice@example.com", "user@host.name"),
        ("key-id", "", "is empty"),
        ("key-id", "bad\x01", "control characters"),
        ("nope", "x", "unknown identity type"),
    ],
)
def test_from_config_refuses(type_name, value, reason):
    with pytest.raises(IdentityError, match=reason):
        Identity.from_config(type_name, value)


def test_from_payload_checks_address_lengths():
    with pytest.raises(IdentityError):
        Identity.from_payload(IdType.IPV4_ADDR, b"\x01\x02\x03")
    with pytest.raises(IdentityError):
        Identity.from_payload(IdType.IPV6_ADDR, b"\x00" * 4)
    with pytest.raises(IdentityError):
        Identity.from_payload(IdType.KEY_ID, b"x" * 256)


def test_matching_rules():
    fqdn = Identity.from_config("fqdn", "VPN.Example.com")
    assert fqdn == Identity.from_payload(IdType.FQDN, b"vpn.example.com.")
    assert hash(fqdn) == hash(Identity.from_payload(IdType.FQDN, b"vpn.example.com"))
    mail = Identity.from_config("user-fqdn", "Alice@Example.COM")
    assert mail == Identity.from_payload(IdType.RFC822_ADDR, b"Alice@example.com")
    assert mail != Identity.from_payload(IdType.RFC822_ADDR, b"alice@example.com")
    assert Identity.from_config("key-id", "K") != Identity.from_config("key-id", "k")
    assert fqdn != Identity.from_payload(IdType.KEY_ID, b"vpn.example.com")  # type matters
    assert fqdn != "vpn.example.com"


def test_str_is_printable():
    assert str(Identity.from_config("ipv4", "192.0.2.1")) == "192.0.2.1"
    assert str(Identity.from_config("ipv6", "2001:db8:0::1")) == "2001:db8::1"
    assert str(Identity.from_payload(IdType.FQDN, b"a\nb\\c\xff")) == "a\\x0ab\\x5cc\\xff"
    assert str(Identity.from_payload(IdType.DER_ASN1_DN, b"\x30\x00")) == "der_asn1_dn:3000"
    assert str(Identity.from_payload(99, b"\x01")) == "type99:01"


def test_is_dns_name():
    assert is_dns_name("a.b-c.example")
    assert is_dns_name("localhost")
    assert not is_dns_name("a..b")
    assert not is_dns_name("x" * 254)
