"""Which identity the responder answers with (IDr): the one the client asks for when it is one
of the server's, else the first (issue 14: Android asks for the typed address, Apple for its
RemoteIdentifier, Windows for nothing)."""

from __future__ import annotations

import ipaddress
import os

import pytest
from test_ike_auth_methods import NOW, EapInitiator, cert_auth_request, start
from test_ike_auth_methods import responder as cert_responder

from ikev2d.auth import ca as pki
from ikev2d.auth.signatures import verify_auth
from ikev2d.crypto.auth import responder_signed_octets
from ikev2d.ike.reload import affected_by
from ikev2d.ike.responder import Responder
from ikev2d.wire.enums import ExchangeType, IdType
from ikev2d.wire.payloads import AuthPayload, IdrPayload
from testbed.ike_initiator import Initiator
from testbed.sans_io import SERVER, Spis, make_config, roundtrip

CONTACTED = (IdType.IPV4_ADDR, ipaddress.ip_address(SERVER[0]).packed)
PUBLIC_IP = (IdType.IPV4_ADDR, ipaddress.ip_address("203.0.113.7").packed)
NAME = (IdType.FQDN, b"vpn.example.test")


def config(**server):
    """test_ike_responder's configuration; an option given as None is left unset."""
    kept = {k: v for k, v in server.items() if v is not None}
    if kept == server:
        return make_config(**server)
    from ikev2d.policy.config import from_mapping

    fields = {"enabled": True, "psk": "correct horse battery staple 42",
              "local_subnet": ["192.168.1.0/24"], "dns": ["192.168.1.1"], **kept}  # fmt: skip
    return from_mapping({"server": fields})


@pytest.fixture(scope="module")
def authority():
    """Our CA and a server certificate naming the name and both addresses."""
    ca = pki.make_ca("ikev2d test CA", NOW, os.urandom, "ecdsa-p256")
    names = ["vpn.example.test", "203.0.113.7", SERVER[0]]
    return ca, pki.issue_server_cert(ca, names, NOW, os.urandom, "ecdsa-p256")


def psk_responder(**server) -> Responder:
    return Responder(config(**server), rng=os.urandom, allocate_spi=Spis())


def answered(inner) -> tuple[int, bytes]:
    idr = next(p for p in inner if isinstance(p, IdrPayload))
    return idr.id_type, idr.data


def psk_connect(r: Responder, idr=None) -> tuple[Initiator, list]:
    client = Initiator()
    (resp,) = roundtrip(r, client.init_request())
    client.init_response(resp)
    (resp,) = roundtrip(r, client.auth_request(idr=idr))
    return client, client.open(resp)[1]


@pytest.mark.parametrize(
    ("asked", "expected"),
    [
        (None, NAME),  # Windows: no IDr, the first identity
        (NAME, NAME),  # Apple: RemoteIdentifier = the name
        ((IdType.FQDN, b"VPN.Example.Test"), (IdType.FQDN, b"VPN.Example.Test")),  # as asked
        (CONTACTED, CONTACTED),  # Android typed the address it reached
        (PUBLIC_IP, PUBLIC_IP),  # ... or the public address in front of a NAT (local_id)
        ((IdType.FQDN, b"other.example"), NAME),  # not ours: the first
        ((IdType.IPV4_ADDR, b"\x01\x02\x03"), NAME),  # malformed: not ours either
        ((IdType.KEY_ID, b"vpn.example.test"), NAME),  # same bytes, other type
    ],
)
def test_psk_answers_with_the_identity_the_client_asks_for(asked, expected):
    r = psk_responder(local_id=["vpn.example.test", "203.0.113.7"], local_id_type="auto")
    client, inner = psk_connect(r, asked)
    assert answered(inner) == expected
    assert client.verify_responder_auth(inner)  # our AUTH is computed over that identity


def test_without_local_id_the_server_address_and_the_contacted_address_answer():
    r = psk_responder(local_id=None, server_address="203.0.113.7")
    assert answered(psk_connect(r)[1]) == PUBLIC_IP
    assert answered(psk_connect(r, CONTACTED)[1]) == CONTACTED
    assert answered(psk_connect(r, NAME)[1]) == PUBLIC_IP
    bare = psk_responder(local_id=None)
    assert answered(psk_connect(bare)[1]) == CONTACTED


def test_reload_ends_only_tunnels_whose_answered_identity_is_gone():
    old = config(local_id=None, server_address="203.0.113.7")
    r = Responder(old, rng=os.urandom, allocate_spi=Spis())
    psk_connect(r, PUBLIC_IP)
    (sa,) = list(r.ike_sas())
    assert (sa.client.local_identity.id_type, sa.client.local_identity.data) == PUBLIC_IP
    grown = config(local_id=["vpn.example.test"], server_address="203.0.113.7")
    assert affected_by(sa, old, grown) is None
    moved = config(local_id=None, server_address="vpn.example.test")
    assert affected_by(sa, old, moved) == "server identity"


def _signed(inner, client, cert) -> bool:
    idr = next(p for p in inner if isinstance(p, IdrPayload))
    auth = next(p for p in inner if isinstance(p, AuthPayload))
    octets = responder_signed_octets(
        client.prf, client.message2, client.nonce_i, client.keys.sk_pr, idr.body()
    )
    return verify_auth(cert, octets, auth.method, auth.data)


@pytest.mark.parametrize(("asked", "expected"), [(None, NAME), (NAME, NAME),
                                                 (CONTACTED, CONTACTED)])  # fmt: skip
def test_eap_answers_with_the_asked_identity_and_signs_over_it(authority, asked, expected):
    r = cert_responder(authority)
    client = EapInitiator()
    start(r, client)
    first = client.first_eap_payloads()
    if asked is not None:
        first.insert(1, IdrPayload(*asked))
    (resp,) = roundtrip(r, client._protect(ExchangeType.IKE_AUTH, first))
    inner = client.open(resp)[1]
    assert answered(inner) == expected
    assert _signed(inner, client, authority[1].certificate)


def test_certificate_client_gets_the_asked_identity(authority):
    ca, server = authority
    from test_ike_auth_methods import NOW

    from ikev2d.auth import ca as pki

    laptop = pki.issue_client_cert(ca, "laptop.example.test", NOW, os.urandom)
    r = cert_responder(authority, server_address="203.0.113.7", auth_mode="cert")
    client = Initiator(identity=(IdType.FQDN, b"laptop.example.test"))
    start(r, client)
    (resp,) = roundtrip(r, cert_auth_request(client, laptop, idr=PUBLIC_IP))
    inner = client.open(resp)[1]
    assert answered(inner) == PUBLIC_IP
    assert _signed(inner, client, server.certificate)
