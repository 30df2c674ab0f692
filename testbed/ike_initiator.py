"""An in-memory IKEv2 initiator for unit tests of the responder, built from our own codec and
crypto. It is a test fixture: interop tests use real strongSwan clients, never this."""

from __future__ import annotations

import ipaddress
import os

from ikev2d.crypto.auth import initiator_signed_octets, psk_auth, responder_signed_octets
from ikev2d.crypto.dh import new_key_exchange
from ikev2d.crypto.keys import derive_child_keys, derive_ike_keys
from ikev2d.crypto.prf import Prf
from ikev2d.crypto.sk import SkCodec
from ikev2d.ike.nat import nat_detection_hash
from ikev2d.policy.proposals import parse_proposal
from ikev2d.wire.cp import CfgAttribute, CpPayload
from ikev2d.wire.enums import (
    AuthMethod,
    CfgAttr,
    CfgType,
    ExchangeType,
    IdType,
    NotifyType,
    ProtocolId,
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
    DeletePayload,
    EncryptedPayload,
    IdiPayload,
    IdrPayload,
    KePayload,
    NoncePayload,
    NotifyPayload,
)
from ikev2d.wire.sa import Proposal, SaPayload, Transform
from ikev2d.wire.ts import TrafficSelector, TsiPayload, TsrPayload


def wire_proposal(text: str, protocol: str, number: int = 1, spi: bytes = b"") -> Proposal:
    p = parse_proposal(text, protocol)
    ts = tuple(Transform(int(t.type), int(t.id), t.key_bits) for t in p.transforms)
    proto = ProtocolId.IKE if protocol == "ike" else ProtocolId.ESP
    return Proposal(number, proto, spi, ts)


class Initiator:
    def __init__(
        self,
        *,
        ike: tuple[str, ...] = ("aes256-sha256-modp2048",),
        esp: tuple[str, ...] = ("aes256-sha256",),
        ke_group: int | None = None,
        psk: bytes = b"correct horse battery staple 42",
        identity: tuple[int, bytes] = (IdType.RFC822_ADDR, b"phone@example.test"),
        address: tuple[str, int] = ("192.0.2.10", 500),
        server: tuple[str, int] = ("198.51.100.1", 500),
        nat: bool = False,
    ) -> None:
        self.ike, self.esp, self.psk, self.identity = ike, esp, psk, identity
        self.address, self.server, self.nat = address, server, nat
        self.spi_i = os.urandom(8)
        self.spi_r = bytes(8)
        first = parse_proposal(ike[0], "ike")
        self.ke_group = ke_group if ke_group is not None else int(first.ke.id)
        self.mid = 0
        self.child_spi = int.from_bytes(os.urandom(4), "big") | 0x100
        self.int_auth = b""  # IntAuth_i | IntAuth_r | IKE_AUTH MID after IKE_INTERMEDIATE

    # IKE_SA_INIT { SAi1, KEi, Ni, N(NAT_D) } -->
    def init_request(self) -> bytes:
        self.kex = new_key_exchange(self.ke_group)
        self.nonce_i = os.urandom(32)
        sa = SaPayload(tuple(wire_proposal(t, "ike", i + 1) for i, t in enumerate(self.ike)))
        src = self.address  # behind a NAT, packets arrive from another address than this
        payloads = (
            sa,
            KePayload(self.ke_group, self.kex.public_bytes()),
            NoncePayload(self.nonce_i),
            NotifyPayload.of(
                NotifyType.NAT_DETECTION_SOURCE_IP, nat_detection_hash(self.spi_i, bytes(8), src)
            ),
            NotifyPayload.of(
                NotifyType.NAT_DETECTION_DESTINATION_IP,
                nat_detection_hash(self.spi_i, bytes(8), self.server),
            ),
        )
        header = Header(self.spi_i, bytes(8), ExchangeType.IKE_SA_INIT, 0, initiator=True)
        self.message1 = encode_message(Message(header, payloads))
        return self.message1

    # <-- { SAr1, KEr, Nr, N(NAT_D) }
    def init_response(self, data: bytes) -> Message:
        msg = decode_message(data)
        assert msg.header.response and not msg.header.initiator
        if msg.notify(NotifyType.INVALID_KE_PAYLOAD) or msg.get(SaPayload) is None:
            return msg
        self.spi_r = msg.header.spi_r
        chosen = msg.get(SaPayload).proposals[0]
        from ikev2d.crypto.transforms import lookup

        found = {
            t.transform_type: lookup(t.transform_type, t.transform_id, t.key_length)
            for t in chosen.transforms
            if t.transform_type < 6  # ADDKE (RFC 9370): pq_initiator.py
        }
        self.encr, self.integ, self.prf_t = found[1], found.get(3), found[2]
        self.prf = Prf(self.prf_t)
        self.nonce_r = msg.get(NoncePayload).data
        shared = self.kex.shared_secret(msg.get(KePayload).data)
        self.keys = derive_ike_keys(
            self.prf,
            self.encr,
            self.integ,
            self.nonce_i,
            self.nonce_r,
            self.spi_i,
            self.spi_r,
            shared,
        )
        self.out = SkCodec(self.encr, self.integ, self.keys.i_to_r)
        self.inp = SkCodec(self.encr, self.integ, self.keys.r_to_i)
        self.message2 = data
        self.mid = 1
        return msg

    def _protect(self, exchange: int, payloads, mid: int | None = None, response=False) -> bytes:
        header = Header(
            self.spi_i,
            self.spi_r,
            exchange,
            self.mid if mid is None else mid,
            initiator=True,
            response=response,
        ).encode()
        first, body = encode_payloads(list(payloads))
        return self.out.seal(header, first, body, os.urandom)

    def open(self, data: bytes) -> tuple[Header, list]:
        msg = decode_message(data)
        sk = msg.payloads[0]
        assert isinstance(sk, EncryptedPayload)
        plain = self.inp.open(data, len(data) - len(sk.data))
        return msg.header, decode_payloads(sk.first_inner_type, plain)

    # IKE_AUTH { IDi, AUTH, CP(CFG_REQUEST), SAi2, TSi, TSr } -->
    def auth_request(
        self, *, psk: bytes | None = None, cp: bool = True, extra=(), idr=None,
        cp_attrs=(CfgAttr.INTERNAL_IP4_ADDRESS, CfgAttr.INTERNAL_IP4_DNS),
        ts=("0.0.0.0/0",),
    ) -> bytes:  # fmt: skip
        """``idr``: (type, data) of the server identity to ask for (RFC 7296 §2.15 IDr);
        ``cp_attrs`` the attributes asked for, ``ts`` the networks of TSi and TSr."""
        idi = IdiPayload(*self.identity)
        octets = initiator_signed_octets(
            self.prf, self.message1, self.nonce_r, self.keys.sk_pi, idi.body(), self.int_auth
        )
        auth = AuthPayload(AuthMethod.SHARED_KEY_MIC, psk_auth(self.prf, psk or self.psk, octets))
        payloads = [idi, *([IdrPayload(*idr)] if idr else []), auth]
        if cp:
            payloads.append(CpPayload(CfgType.REQUEST, tuple(CfgAttribute(a) for a in cp_attrs)))
        spi = self.child_spi.to_bytes(4, "big")
        selectors = tuple(TrafficSelector.from_network(n) for n in ts)
        payloads += [
            SaPayload(tuple(wire_proposal(t, "esp", i + 1, spi) for i, t in enumerate(self.esp))),
            TsiPayload(selectors),
            TsrPayload(selectors),
            *extra,
        ]
        self.auth_payloads = payloads
        return self._protect(ExchangeType.IKE_AUTH, payloads)

    def verify_responder_auth(self, inner) -> bool:
        idr = next(p for p in inner if p.payload_type == 36)
        auth = next(p for p in inner if isinstance(p, AuthPayload))
        octets = responder_signed_octets(
            self.prf, self.message2, self.nonce_i, self.keys.sk_pr, idr.body(), self.int_auth
        )
        return psk_auth(self.prf, self.psk, octets) == auth.data

    def child_keys(self, nonce_i=None, nonce_r=None):
        c = parse_proposal(self.esp[0], "esp")
        return derive_child_keys(
            self.prf,
            self.keys.sk_d,
            c.encr,
            c.integ,
            nonce_i or self.nonce_i,
            nonce_r or self.nonce_r,
        )

    def informational(self, payloads=()) -> bytes:
        self.mid += 1
        return self._protect(ExchangeType.INFORMATIONAL, payloads)

    def delete_ike(self) -> bytes:
        return self.informational([DeletePayload.ike()])

    def ack(self, header: Header) -> bytes:
        """The (empty) response to a request the responder sent."""
        return self._protect(header.exchange, [], mid=header.message_id, response=True)


def vip(inner) -> ipaddress.IPv4Address:
    cp = next(p for p in inner if isinstance(p, CpPayload))
    return cp.values(CfgAttr.INTERNAL_IP4_ADDRESS)[0]


class RekeyingInitiator(Initiator):
    """Adds CREATE_CHILD_SA both ways and answers to the server's own requests."""

    def child_proposal(self, spi: int, ke_group: int | None = None) -> SaPayload:
        prop = wire_proposal(self.esp[0], "esp", 1, spi.to_bytes(4, "big"))
        if ke_group is not None:
            prop = Proposal(1, prop.protocol, prop.spi, (*prop.transforms, Transform(4, ke_group)))
        return SaPayload((prop,))

    # CREATE_CHILD_SA { N(REKEY_SA), SA, Ni, [KEi], TSi, TSr } -->
    def rekey_child_request(
        self, old_spi: int, ke_group: int | None = None, ts=(("0.0.0.0/0",), ("0.0.0.0/0",))
    ) -> bytes:
        self.mid += 1
        self.new_child_spi = int.from_bytes(os.urandom(4), "big") | 0x100
        self.rekey_nonce = os.urandom(32)
        payloads = [
            NotifyPayload.rekey_sa(ProtocolId.ESP, old_spi),
            self.child_proposal(self.new_child_spi, ke_group),
            NoncePayload(self.rekey_nonce),
        ]
        self.rekey_kex = None
        if ke_group is not None:
            self.rekey_kex = new_key_exchange(ke_group)
            payloads.append(KePayload(ke_group, self.rekey_kex.public_bytes()))
        payloads += [
            TsiPayload(tuple(TrafficSelector.from_network(n) for n in ts[0])),
            TsrPayload(tuple(TrafficSelector.from_network(n) for n in ts[1])),
        ]
        return self._protect(ExchangeType.CREATE_CHILD_SA, payloads)

    def rekey_child_keys(self, inner):
        nonce_r = next(p for p in inner if isinstance(p, NoncePayload)).data
        ke = next((p for p in inner if isinstance(p, KePayload)), None)
        shared = self.rekey_kex.shared_secret(ke.data) if self.rekey_kex else None
        c = parse_proposal(self.esp[0], "esp")
        return derive_child_keys(
            self.prf, self.keys.sk_d, c.encr, c.integ, self.rekey_nonce, nonce_r, shared
        )

    # CREATE_CHILD_SA { SA(IKE, new SPIi), Ni, KEi } -->
    def rekey_ike_request(self) -> bytes:
        self.mid += 1
        self.new_spi_i = os.urandom(8)
        self.rekey_nonce = os.urandom(32)
        self.rekey_kex = new_key_exchange(self.ke_group)
        prop = wire_proposal(self.ike[0], "ike", 1, self.new_spi_i)
        payloads = [
            SaPayload((prop,)),
            NoncePayload(self.rekey_nonce),
            KePayload(self.ke_group, self.rekey_kex.public_bytes()),
        ]
        return self._protect(ExchangeType.CREATE_CHILD_SA, payloads)

    def switch_to_rekeyed(
        self, inner, *, we_initiated: bool = True, peer_nonce=None, peer_spi=None, kex=None,
        additional: bytes = b"",
    ) -> None:  # fmt: skip
        """Become the new IKE SA after a rekey (ours, or the server's when we_initiated=False)."""
        from ikev2d.crypto.keys import derive_rekeyed_ike_keys

        sa = next(p for p in inner if isinstance(p, SaPayload))
        nonce = next(p for p in inner if isinstance(p, NoncePayload)).data
        ke = next(p for p in inner if isinstance(p, KePayload))
        if we_initiated:
            spi_i, spi_r = self.new_spi_i, sa.proposals[0].spi
            ni, nr = self.rekey_nonce, nonce
            shared = self.rekey_kex.shared_secret(ke.data)
        else:
            spi_i, spi_r = sa.proposals[0].spi, peer_spi
            ni, nr = nonce, peer_nonce
            shared = kex.shared_secret(ke.data)
        keys = derive_rekeyed_ike_keys(
            self.prf,
            self.keys.sk_d,
            self.prf,
            self.encr,
            self.integ,
            ni,
            nr,
            spi_i,
            spi_r,
            shared,
            additional,
        )
        self.keys = keys
        self.spi_i, self.spi_r = spi_i, spi_r
        self.is_original_initiator = we_initiated
        if we_initiated:
            self.out = SkCodec(self.encr, self.integ, keys.i_to_r)
            self.inp = SkCodec(self.encr, self.integ, keys.r_to_i)
        else:
            self.out = SkCodec(self.encr, self.integ, keys.r_to_i)
            self.inp = SkCodec(self.encr, self.integ, keys.i_to_r)
        self.mid = -1  # the new IKE SA starts at message ID 0

    def answer(self, data: bytes, payloads=()) -> bytes:
        """A response to the server's request `data` carrying `payloads`."""
        header, _ = self.open(data)
        initiator = getattr(self, "is_original_initiator", True)
        h = Header(
            self.spi_i,
            self.spi_r,
            header.exchange,
            header.message_id,
            initiator=initiator,
            response=True,
        ).encode()
        first, body = encode_payloads(list(payloads))
        return self.out.seal(h, first, body, os.urandom)

    def request(self, exchange: int, payloads) -> bytes:
        self.mid += 1
        initiator = getattr(self, "is_original_initiator", True)
        h = Header(self.spi_i, self.spi_r, exchange, self.mid, initiator=initiator).encode()
        first, body = encode_payloads(list(payloads))
        return self.out.seal(h, first, body, os.urandom)
