"""EAP-MSCHAPv2, certificates and IKE fragmentation in IKE_AUTH, against the responder."""

from __future__ import annotations

import datetime as dt
import os

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from ikev2d.auth import ca as pki
from ikev2d.auth.signatures import sign_auth, verify_auth
from ikev2d.crypto.auth import initiator_signed_octets, psk_auth, responder_signed_octets
from ikev2d.ike import events as ev
from ikev2d.ike.credentials import Credentials
from ikev2d.ike.fragments import Reassembly, open_fragment
from ikev2d.ike.responder import Responder
from ikev2d.wire.cp import CfgAttribute, CpPayload
from ikev2d.wire.eap import EapPayload
from ikev2d.wire.enums import (
    AuthMethod,
    CertEncoding,
    CfgAttr,
    CfgType,
    ExchangeType,
    IdType,
    NotifyType,
)
from ikev2d.wire.message import (
    Header,
    Message,
    decode_message,
    decode_payloads,
    encode_message,
    encode_payloads,
)
from ikev2d.wire.payloads import (
    AuthPayload,
    CertPayload,
    CertReqPayload,
    EncryptedFragmentPayload,
    IdiPayload,
    IdrPayload,
    NotifyPayload,
)
from ikev2d.wire.sa import SaPayload
from ikev2d.wire.ts import TrafficSelector, TsiPayload, TsrPayload
from testbed.ike_initiator import Initiator, vip, wire_proposal
from testbed.mschapv2_peer import MschapV2Peer
from testbed.sans_io import PHONE, SERVER, Spis, events, roundtrip

NOW = dt.datetime(2026, 11, 27, 12, 0, tzinfo=dt.UTC)
USERS = [{"name": "alice", "password": "correct horse"}, {"name": "bob", "password": "hunter22"}]


@pytest.fixture(scope="module")
def authority():
    ca = pki.make_ca("ikev2d test CA", NOW - dt.timedelta(days=1), os.urandom)
    server = pki.issue_server_cert(ca, ["vpn.example.test"], NOW - dt.timedelta(days=1), os.urandom)
    return ca, server


def responder(authority, **server) -> Responder:
    ca, srv = authority
    creds = Credentials((srv.certificate,), srv.private_key, ca.certificate, frozenset())
    from ikev2d.policy.config import from_mapping

    data = {
        "server": {
            "enabled": True, "psk": "correct horse battery staple 42", "auth_mode": "eap",
            "local_id_type": "fqdn", "local_id": "vpn.example.test",
            "local_subnet": ["192.168.1.0/24"], "dns": ["192.168.1.1"], **server,
        },
        "user": USERS,
    }  # fmt: skip
    return Responder(from_mapping(data), rng=os.urandom, allocate_spi=Spis(),
                     credentials=creds, wall_clock=lambda: NOW.timestamp())  # fmt: skip


class EapInitiator(Initiator):
    """IKE_AUTH without AUTH (EAP), then EAP rounds, then the MSK AUTH."""

    def first_eap_message(self) -> bytes:
        return self._protect(ExchangeType.IKE_AUTH, self.first_eap_payloads())

    def first_eap_payloads(self) -> list:
        self.idi = IdiPayload(IdType.RFC822_ADDR, b"alice@phone")
        spi = self.child_spi.to_bytes(4, "big")
        payloads = [
            self.idi,
            CpPayload(CfgType.REQUEST, (CfgAttribute(CfgAttr.INTERNAL_IP4_ADDRESS),)),
            SaPayload((wire_proposal(self.esp[0], "esp", 1, spi),)),
            TsiPayload((TrafficSelector.from_network("0.0.0.0/0"),)),
            TsrPayload((TrafficSelector.from_network("0.0.0.0/0"),)),
        ]
        return payloads

    def next(self, payloads) -> bytes:
        self.mid += 1
        return self._protect(ExchangeType.IKE_AUTH, payloads)

    def msk_auth(self, msk: bytes) -> AuthPayload:
        octets = initiator_signed_octets(
            self.prf, self.message1, self.nonce_r, self.keys.sk_pi, self.idi.body()
        )
        return AuthPayload(AuthMethod.SHARED_KEY_MIC, psk_auth(self.prf, msk, octets))


def eap_of(inner) -> EapPayload:
    return next(p for p in inner if isinstance(p, EapPayload))


def start(r, client, fragments=False):
    init = client.init_request()
    if fragments:
        msg = decode_message(init)
        notify = NotifyPayload.of(NotifyType.IKEV2_FRAGMENTATION_SUPPORTED)
        init = client.message1 = encode_message(Message(msg.header, (*msg.payloads, notify)))
    (resp,) = roundtrip(r, init)
    client.init_response(resp)
    return decode_message(resp)


def open_all(client, datagrams):
    """Decrypt a response that may come as RFC 7383 fragments."""
    if len(datagrams) == 1:
        return client.open(datagrams[0])
    re = None
    for data in datagrams:
        msg = decode_message(data)
        frag = msg.payloads[0]
        assert isinstance(frag, EncryptedFragmentPayload) and len(data) <= 1280 - 28
        re = re or Reassembly(msg.header.message_id, frag.total)
        whole = re.add(frag, open_fragment(client.inp, data, frag))
    return msg.header, decode_payloads(re.first_inner_type, whole)


def test_eap_mschapv2_client_connects(authority):
    r = responder(authority)
    client = EapInitiator()
    init = start(r, client)
    assert init.get(CertReqPayload) is not None  # we ask for client certificates
    # IKE_AUTH { IDi, CP, SAi2, TSi, TSr } -->  <-- { IDr, CERT, AUTH, EAP(Identity) }
    (resp,) = roundtrip(r, client.first_eap_message())
    _, inner = client.open(resp)
    idr = next(p for p in inner if isinstance(p, IdrPayload))
    cert = next(p for p in inner if type(p) is CertPayload)
    auth = next(p for p in inner if isinstance(p, AuthPayload))
    assert cert.data == authority[1].certificate.public_bytes(Encoding.DER)
    octets = responder_signed_octets(
        client.prf, client.message2, client.nonce_i, client.keys.sk_pr, idr.body()
    )
    assert verify_auth(authority[1].certificate, octets, auth.method, auth.data)
    identity = eap_of(inner)
    assert (identity.code, identity.eap_type) == (1, 1)
    # { EAP(Identity: alice) } -->  <-- { EAP(MSCHAPv2 Challenge) }
    (resp,) = roundtrip(r, client.next([EapPayload(2, identity.identifier, 1, b"alice")]))
    peer = MschapV2Peer("alice", "correct horse")
    request = eap_of(client.open(resp)[1])
    (resp,) = roundtrip(r, client.next([_raw_eap(peer.answer(request.message()))]))
    request = eap_of(client.open(resp)[1])  # Success request (S=...)
    (resp,) = roundtrip(r, client.next([_raw_eap(peer.answer(request.message()))]))
    assert eap_of(client.open(resp)[1]).code == 3  # EAP-Success
    # { AUTH(MSK) } -->  <-- { AUTH(MSK), CP, SAr2, TSi, TSr }
    (resp,) = roundtrip(r, client.next([client.msk_auth(peer.msk())]))
    _, inner = client.open(resp)
    ours = next(p for p in inner if isinstance(p, AuthPayload))
    octets = responder_signed_octets(
        client.prf, client.message2, client.nonce_i, client.keys.sk_pr, idr.body()
    )
    assert ours.data == psk_auth(client.prf, peer.msk(), octets)
    assert vip(inner) is not None
    established = next(e for e in events(r) if isinstance(e, ev.IkeSaEstablished))
    assert established.identity == "alice"


def _raw_eap(raw: bytes) -> EapPayload:
    return EapPayload(raw[0], raw[1], raw[4] if len(raw) > 4 else None, raw[5:])


def test_eap_wrong_password_fails_after_a_held_back_retry(authority):
    r = responder(authority)
    client = EapInitiator()
    start(r, client)
    (resp,) = roundtrip(r, client.first_eap_message())
    identity = eap_of(client.open(resp)[1])
    (resp,) = roundtrip(r, client.next([EapPayload(2, identity.identifier, 1, b"alice")]))
    peer = MschapV2Peer("alice", "wrong password")
    challenge = eap_of(client.open(resp)[1])
    # the failure (with a retry allowed) is held back 2 s, as strongSwan does
    assert roundtrip(r, client.next([_raw_eap(peer.answer(challenge.message()))]), now=1.0) == []
    r.handle_timer(3.0)
    ((resp, _, _),) = r.datagrams_to_send()
    failure = eap_of(client.open(resp)[1])
    (resp,) = roundtrip(r, client.next([_raw_eap(peer.answer(failure.message()))]), now=4.0)
    _, inner = client.open(resp)
    assert eap_of(inner).code == 4  # EAP-Failure
    assert NotifyType.AUTHENTICATION_FAILED in [getattr(p, "notify_type", 0) for p in inner]
    assert r._sas == {}
    failed = next(e for e in events(r) if isinstance(e, ev.AuthenticationFailed))
    assert "EAP-MSCHAPv2" in failed.reason


def cert_auth_request(client, issued, method=AuthMethod.DIGITAL_SIGNATURE, idr=None) -> bytes:
    """IKE_AUTH { IDi, CERT, [IDr], AUTH(signature), CP, SAi2, TSi, TSr } of a certificate
    client (IDi = the certificate's FQDN name) that has run IKE_SA_INIT."""
    idi = IdiPayload(*client.identity)
    octets = initiator_signed_octets(
        client.prf, client.message1, client.nonce_r, client.keys.sk_pi, idi.body()
    )
    spi = client.child_spi.to_bytes(4, "big")
    der = issued.certificate.public_bytes(Encoding.DER)
    payloads = [
        idi,
        CertPayload(CertEncoding.X509_CERT_SIGNATURE, der),
        *([IdrPayload(*idr)] if idr else []),
        AuthPayload(method, sign_auth(issued.private_key, octets, method, 2)),
        CpPayload(CfgType.REQUEST, (CfgAttribute(CfgAttr.INTERNAL_IP4_ADDRESS),)),
        SaPayload((wire_proposal("aes256-sha256", "esp", 1, spi),)),
        TsiPayload((TrafficSelector.from_network("0.0.0.0/0"),)),
        TsrPayload((TrafficSelector.from_network("0.0.0.0/0"),)),
    ]
    return client._protect(ExchangeType.IKE_AUTH, payloads)


def test_certificate_client_connects_and_revoked_or_expired_do_not(authority):
    ca, _ = authority
    laptop = pki.issue_client_cert(ca, "laptop.example.test", NOW - dt.timedelta(days=1),
                                   os.urandom)  # fmt: skip

    def attempt(r, issued, auth_method=AuthMethod.DIGITAL_SIGNATURE):
        client = Initiator(identity=(IdType.FQDN, b"laptop.example.test"))
        start(r, client)
        (resp,) = roundtrip(r, cert_auth_request(client, issued, auth_method))
        return client.open(resp)[1]

    inner = attempt(responder(authority, auth_mode="cert"), laptop)
    assert any(isinstance(p, AuthPayload) for p in inner) and vip(inner) is not None
    inner = attempt(responder(authority, auth_mode="cert"), laptop, AuthMethod.RSA_SIG)
    assert any(isinstance(p, AuthPayload) for p in inner)
    revoked = responder(authority, auth_mode="cert")
    revoked.credentials = Credentials(
        revoked.credentials.chain,
        revoked.credentials.key,
        ca.certificate,
        frozenset({laptop.certificate.serial_number}),
    )
    inner = attempt(revoked, laptop)
    assert [p.notify_type for p in inner] == [NotifyType.AUTHENTICATION_FAILED]
    expired = pki.issue_client_cert(ca, "laptop.example.test", NOW - dt.timedelta(days=3000),
                                    os.urandom)  # fmt: skip
    inner = attempt(responder(authority, auth_mode="cert"), expired)
    assert [p.notify_type for p in inner] == [NotifyType.AUTHENTICATION_FAILED]


def test_large_responses_are_fragmented_and_fragmented_requests_reassembled(authority):
    r = responder(authority)
    client = EapInitiator()
    init = start(r, client, fragments=True)
    assert init.notify(NotifyType.IKEV2_FRAGMENTATION_SUPPORTED) is not None
    # the client sends its first IKE_AUTH in small fragments, as Windows does
    first, body = encode_payloads(client.first_eap_payloads())
    hdr = Header(client.spi_i, client.spi_r, ExchangeType.IKE_AUTH, 1, initiator=True).encode()
    chunks = [body[i : i + 100] for i in range(0, len(body), 100)]
    for n, chunk in enumerate(chunks, 1):
        frag = client.out.seal(hdr, first if n == 1 else 0, chunk, os.urandom,
                               fragment=(n, len(chunks)))  # fmt: skip
        r.receive_datagram(frag, PHONE, SERVER, 1.0)
    out = [d for d, _, _ in r.datagrams_to_send()]
    assert len(out) > 1  # the certificate makes it too big for one 1280-byte packet
    _, inner = open_all(client, out)
    assert any(type(p) is CertPayload for p in inner) and eap_of(inner).code == 1
    # a retransmission of fragment 1 brings the whole response again, once
    r.receive_datagram(
        client.out.seal(hdr, first, chunks[0], os.urandom, fragment=(1, len(chunks))),
        PHONE,
        SERVER,
        2.0,
    )
    assert [d for d, _, _ in r.datagrams_to_send()] == out
    r.receive_datagram(
        client.out.seal(hdr, 0, chunks[1], os.urandom, fragment=(2, len(chunks))),
        PHONE,
        SERVER,
        2.0,
    )
    assert r.datagrams_to_send() == []


def test_psk_clients_are_refused_when_auth_mode_is_eap(authority):
    r = responder(authority)  # a PSK is still configured
    client = Initiator()
    start(r, client)
    (resp,) = roundtrip(r, client.auth_request())
    assert [p.notify_type for p in client.open(resp)[1]] == [NotifyType.AUTHENTICATION_FAILED]
    r = responder(authority, auth_mode="psk")
    client = Initiator()
    start(r, client)
    (resp,) = roundtrip(r, client.auth_request())
    assert client.verify_responder_auth(client.open(resp)[1])


def test_new_credentials_with_a_revocation_delete_that_certificate_client(authority):
    ca, _ = authority
    laptop = pki.issue_client_cert(ca, "laptop.example.test", NOW - dt.timedelta(days=1),
                                   os.urandom)  # fmt: skip
    r = responder(authority, auth_mode="cert")
    client = Initiator(identity=(IdType.FQDN, b"laptop.example.test"))
    start(r, client)
    roundtrip(r, cert_auth_request(client, laptop, AuthMethod.RSA_SIG))
    (sa,) = r.ike_sas()
    assert sa.client.user == "laptop.example.test"
    events(r)
    creds = r.credentials
    assert r.update_credentials(creds, 5.0) == []  # same certificates: nobody affected
    revoked = Credentials(creds.chain, creds.key, creds.ca,
                          frozenset({laptop.certificate.serial_number}))  # fmt: skip
    assert r.update_credentials(revoked, 6.0) == [sa]
    kinds = [type(e) for e in events(r)]
    assert kinds == [ev.ChildSaRemoved, ev.IkeSaTerminated]


def test_client_giving_up_after_a_wrong_password_is_reported_and_throttled(authority):
    """strongSwan does not retry after MSCHAPv2's Failure request: it sends INFORMATIONAL
    { N(AUTHENTICATION_FAILED) } while the IKE SA is still half-open."""
    r = responder(authority)
    for attempt in range(5):
        client = EapInitiator()
        start(r, client)
        (resp,) = roundtrip(r, client.first_eap_message(), now=attempt)
        identity = eap_of(client.open(resp)[1])
        (resp,) = roundtrip(r, client.next([EapPayload(2, identity.identifier, 1, b"alice")]),
                            now=attempt)  # fmt: skip
        challenge = eap_of(client.open(resp)[1])
        peer = MschapV2Peer("alice", "wrong password")
        roundtrip(r, client.next([_raw_eap(peer.answer(challenge.message()))]), now=attempt)
        # <-- the failure request is held back; the client gives up instead of retrying
        client.mid += 1
        notify = NotifyPayload.of(NotifyType.AUTHENTICATION_FAILED)
        gave_up = client._protect(ExchangeType.INFORMATIONAL, [notify])
        (resp,) = roundtrip(r, gave_up, now=attempt + 0.5)
        assert client.open(resp)[1] == []  # answered, not ignored
        failed = [e for e in events(r) if isinstance(e, ev.AuthenticationFailed)]
        assert len(failed) == 1 and r._sas == {}
    # five refused passwords from one address: its next attempts are ignored for a while
    assert roundtrip(r, EapInitiator().init_request(), now=10.0) == []


def test_an_eap_attempt_that_stalls_after_a_wrong_password_is_reported(authority):
    r = responder(authority)
    client = EapInitiator()
    start(r, client)
    (resp,) = roundtrip(r, client.first_eap_message())
    identity = eap_of(client.open(resp)[1])
    (resp,) = roundtrip(r, client.next([EapPayload(2, identity.identifier, 1, b"alice")]))
    challenge = eap_of(client.open(resp)[1])
    roundtrip(r, client.next([_raw_eap(MschapV2Peer("alice", "nope").answer(
        challenge.message()))]))  # fmt: skip
    r.handle_timer(100.0)
    failed = [e for e in events(r) if isinstance(e, ev.AuthenticationFailed)]
    assert len(failed) == 1 and "wrong password" in failed[0].reason and r._sas == {}


def test_reload_keeps_a_named_client_with_its_fixed_address(authority):
    """Leases of EAP and certificate clients are under their user name (a user's fixed ip
    too): a reload re-leases them under the same key, not under their IKE identity."""
    ca, srv = authority
    creds = Credentials((srv.certificate,), srv.private_key, ca.certificate, frozenset())
    from ikev2d.policy.config import from_mapping

    users = [*USERS, {"name": "laptop.example.test", "password": "pw", "ip": "10.10.10.77"}]
    data = {"server": {"enabled": True, "auth_mode": "cert", "local_id": "vpn.example.test",
                       "local_subnet": ["192.168.1.0/24"], "dns": ["192.168.1.1"]},
            "user": users}  # fmt: skip
    config = from_mapping(data)
    r = Responder(config, rng=os.urandom, allocate_spi=Spis(), credentials=creds,
                  wall_clock=lambda: NOW.timestamp())  # fmt: skip
    laptop = pki.issue_client_cert(ca, "laptop.example.test", NOW - dt.timedelta(days=1),
                                   os.urandom)  # fmt: skip
    # IDi: the certificate's subject DN, as strongSwan sends it; the user is its CN
    client = Initiator(identity=(IdType.DER_ASN1_DN, laptop.certificate.subject.public_bytes()))
    start(r, client)
    (resp,) = roundtrip(r, cert_auth_request(client, laptop))
    assert str(vip(client.open(resp)[1])) == "10.10.10.77"
    events(r)
    assert r.update_config(from_mapping(data), now=5.0) == []
    assert r.pool.owner("10.10.10.77") == ("cert", "laptop.example.test")
