"""Clients of every method against one in-memory responder, for the attack tests.

A responder made by `responder()` has a PSK, two EAP users (alice with a fixed address) and a
CA whose client certificates it accepts; `auth_mode` picks the method it accepts.
"""

from __future__ import annotations

import datetime as dt
import os

from cryptography.hazmat.primitives.serialization import Encoding

from ikev2d.auth import ca as pki
from ikev2d.auth.signatures import sign_auth
from ikev2d.crypto.auth import initiator_signed_octets, psk_auth
from ikev2d.ike import events as ev
from ikev2d.ike.credentials import Credentials
from ikev2d.ike.responder import Responder
from ikev2d.policy.config import from_mapping
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
from ikev2d.wire.message import Message, decode_message, encode_message
from ikev2d.wire.payloads import AuthPayload, CertPayload, IdiPayload, NotifyPayload
from ikev2d.wire.sa import SaPayload
from ikev2d.wire.ts import TrafficSelector, TsiPayload, TsrPayload
from testbed.ike_initiator import Initiator, RekeyingInitiator, wire_proposal
from testbed.mschapv2_peer import MschapV2Peer

__all__ = [
    "ALICE_IP",
    "NOW",
    "PHONE",
    "PSK",
    "SERVER",
    "USERS",
    "Client",
    "authority",
    "config",
    "connect_cert",
    "connect_eap",
    "connect_psk",
    "events",
    "notify_types",
    "responder",
    "roundtrip",
]

PSK = "correct horse battery staple 42"
SERVER = ("198.51.100.1", 500)
PHONE = ("192.0.2.10", 500)
NOW = dt.datetime(2026, 11, 27, 12, 0, tzinfo=dt.UTC)
ALICE_IP = "10.10.10.20"
USERS = (
    {"name": "alice", "password": "correct horse", "ip": ALICE_IP},
    {"name": "bob", "password": "hunter22"},
)


class Client(RekeyingInitiator):
    """The unit tests' initiator; `extra_init` payloads are appended to its IKE_SA_INIT."""

    def __init__(self, *, extra_init=(), **kw) -> None:
        super().__init__(**kw)
        self.extra_init = tuple(extra_init)

    def init_request(self) -> bytes:
        message = super().init_request()
        if self.extra_init:
            msg = decode_message(message)
            payloads = (*msg.payloads, *self.extra_init)
            self.message1 = message = encode_message(Message(msg.header, payloads))
        return message

    def auth_request_payloads(self) -> list:
        """CP, SAi2, TSi, TSr of a first IKE_AUTH (what a Child SA needs)."""
        return _child_request(self)


# what iOS and strongSwan announce in IKE_SA_INIT: fragmentation and RFC 7427 hashes
IOS_LIKE_INIT = (
    NotifyPayload.of(NotifyType.IKEV2_FRAGMENTATION_SUPPORTED),
    NotifyPayload.signature_hash_algorithms([2, 3, 4]),
)


_AUTHORITY: list = []


def authority():
    """(CA, server certificate), made once per test session."""
    if not _AUTHORITY:
        ca = pki.make_ca("attack CA", NOW - dt.timedelta(days=1), os.urandom, "ecdsa-p256")
        server = pki.issue_server_cert(
            ca, ["vpn.example.test"], NOW - dt.timedelta(days=1), os.urandom, "ecdsa-p256"
        )
        _AUTHORITY.extend((ca, server))
    return tuple(_AUTHORITY)


def config(users=USERS, **server):
    base = {
        "enabled": True, "psk": PSK, "auth_mode": "psk",
        "local_id_type": "fqdn", "local_id": "vpn.example.test",
        "local_subnet": ["192.168.1.0/24"], "dns": ["192.168.1.1"],
    }  # fmt: skip
    base.update(server)
    return from_mapping({"server": base, "user": [dict(u) for u in users]})


def credentials(revoked=frozenset()):
    ca, server = authority()
    return Credentials((server.certificate,), server.private_key, ca.certificate, revoked)


def responder(users=USERS, memory_bytes=None, **server) -> Responder:
    spis = iter(range(0xC0000100, 0xC1000000))
    memory = {} if memory_bytes is None else {"memory_bytes": memory_bytes}
    return Responder(
        config(users, **server), rng=os.urandom, allocate_spi=lambda local, remote: next(spis),
        credentials=credentials(), wall_clock=lambda: NOW.timestamp(), **memory,
    )  # fmt: skip


def roundtrip(r: Responder, data: bytes, src=PHONE, dst=SERVER, now=0.0) -> list[bytes]:
    r.receive_datagram(data, src, dst, now)
    return [d for d, _, _ in r.datagrams_to_send()]


def events(r: Responder) -> list:
    out = []
    while (e := r.next_event()) is not None:
        out.append(e)
    return out


def notify_types(inner) -> list[int]:
    return [p.notify_type for p in inner if isinstance(p, NotifyPayload)]


def _child_request(client: Initiator) -> list:
    spi = client.child_spi.to_bytes(4, "big")
    return [
        CpPayload(CfgType.REQUEST, (CfgAttribute(CfgAttr.INTERNAL_IP4_ADDRESS),)),
        SaPayload((wire_proposal(client.esp[0], "esp", 1, spi),)),
        TsiPayload((TrafficSelector.from_network("0.0.0.0/0"),)),
        TsrPayload((TrafficSelector.from_network("0.0.0.0/0"),)),
    ]


def _init(r: Responder, client: Initiator, src, now) -> None:
    (resp,) = roundtrip(r, client.init_request(), src=src, now=now)
    client.init_response(resp)


def connect_psk(r: Responder, identity=(IdType.RFC822_ADDR, b"phone@example.test"),
                src=PHONE, now=0.0, psk=PSK, extra_init=()) -> tuple[Client, list]:  # fmt: skip
    """IKE_SA_INIT, then IKE_AUTH { IDi, AUTH(psk), CP, SAi2, TSi, TSr }: (client, reply)."""
    client = Client(identity=identity, address=src, psk=psk.encode(), extra_init=extra_init)
    _init(r, client, src, now)
    (resp,) = roundtrip(r, client.auth_request(), src=src, now=now)
    return client, client.open(resp)[1]


def _eap(payload: EapPayload | bytes) -> EapPayload:
    raw = payload if isinstance(payload, bytes) else None
    if raw is None:
        return payload
    return EapPayload(raw[0], raw[1], raw[4] if len(raw) > 4 else None, raw[5:])


def connect_eap(r: Responder, name: str, password: str, src=PHONE, now=0.0,
                idi=(IdType.RFC822_ADDR, b"someone@phone"),
                extra_init=()) -> tuple[Client, list]:  # fmt: skip
    """IKE_AUTH without AUTH, EAP-Identity, MSCHAPv2 rounds, AUTH(MSK): (client, last reply)."""
    client = Client(identity=idi, address=src, extra_init=extra_init)
    _init(r, client, src, now)
    client.idi = IdiPayload(*idi)

    def send(payloads) -> list:
        (resp,) = roundtrip(r, client._protect(ExchangeType.IKE_AUTH, payloads), src=src, now=now)
        client.mid += 1
        return client.open(resp)[1]

    inner = send([client.idi, *_child_request(client)])
    eap = next((p for p in inner if isinstance(p, EapPayload)), None)
    if eap is None:
        return client, inner
    inner = send([EapPayload(2, eap.identifier, 1, name.encode())])
    peer = MschapV2Peer(name, password)
    for _ in range(3):  # Challenge, then Success (or Failure)
        eap = next((p for p in inner if isinstance(p, EapPayload)), None)
        if eap is None or eap.code != 1:
            break
        inner = send([_eap(peer.answer(eap.message()))])
    if any(isinstance(p, EapPayload) and p.code == 3 for p in inner):
        octets = initiator_signed_octets(
            client.prf, client.message1, client.nonce_r, client.keys.sk_pi, client.idi.body()
        )
        inner = send([AuthPayload(AuthMethod.SHARED_KEY_MIC, psk_auth(client.prf, peer.msk(),
                                                                      octets))])  # fmt: skip
    client.mid -= 1  # the next request of the client uses the ID after its last one
    return client, inner


def connect_cert(r: Responder, issued, name: bytes, src=PHONE, now=0.0,
                 cert_der: bytes | None = None, extra_init=()) -> tuple[Client, list]:  # fmt: skip
    """IKE_AUTH { IDi(FQDN), CERT, AUTH(signature), CP, SAi2, TSi, TSr }: (client, reply)."""
    client = Client(identity=(IdType.FQDN, name), address=src, extra_init=extra_init)
    _init(r, client, src, now)
    idi = IdiPayload(IdType.FQDN, name)
    octets = initiator_signed_octets(
        client.prf, client.message1, client.nonce_r, client.keys.sk_pi, idi.body()
    )
    der = cert_der if cert_der is not None else issued.certificate.public_bytes(Encoding.DER)
    payloads = [
        idi,
        CertPayload(CertEncoding.X509_CERT_SIGNATURE, der),
        AuthPayload(AuthMethod.DIGITAL_SIGNATURE,
                    sign_auth(issued.private_key, octets, AuthMethod.DIGITAL_SIGNATURE, 2)),
        *_child_request(client),
    ]  # fmt: skip
    (resp,) = roundtrip(r, client._protect(ExchangeType.IKE_AUTH, payloads), src=src, now=now)
    return client, client.open(resp)[1]


def established(r: Responder) -> list[ev.IkeSaEstablished]:
    return [e for e in events(r) if isinstance(e, ev.IkeSaEstablished)]


__all__ += ["IOS_LIKE_INIT", "credentials", "established"]
