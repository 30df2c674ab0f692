"""The in-memory test initiator with RFC 9370 additional key exchanges: ADDKE transforms in its
IKE proposals, IKE_INTERMEDIATE rounds with ML-KEM (optionally in RFC 7383 fragments) and the
RFC 9242 IntAuth its AUTH covers. A fixture of the unit tests; interop uses strongSwan 6."""

from __future__ import annotations

import os

from ikev2d.crypto.auth import intermediate_auth, unprotected_octets
from ikev2d.crypto.dh import new_key_exchange
from ikev2d.crypto.keys import derive_child_keys, derive_intermediate_ike_keys
from ikev2d.crypto.mlkem import MlKemInitiator
from ikev2d.crypto.sk import SkCodec
from ikev2d.ike.fragments import seal_fragments
from ikev2d.policy.proposals import parse_proposal
from ikev2d.wire.enums import ExchangeType, NotifyType, ProtocolId
from ikev2d.wire.message import (
    Header,
    Message,
    decode_message,
    decode_payloads,
    encode_message,
    encode_payloads,
)
from ikev2d.wire.payloads import (
    EncryptedFragmentPayload,
    EncryptedPayload,
    KePayload,
    NoncePayload,
    NotifyPayload,
)
from ikev2d.wire.sa import Proposal, SaPayload, Transform
from ikev2d.wire.ts import TrafficSelector, TsiPayload, TsrPayload

from .ike_initiator import RekeyingInitiator, wire_proposal

ADDKE1 = 6


class PqInitiator(RekeyingInitiator):
    def __init__(
        self,
        *,
        addke: tuple[tuple[int, tuple[int, ...]], ...] = ((ADDKE1, (36,)),),
        intermediate: bool = True,
        fragments: bool = False,
        child_addke: tuple[tuple[int, int], ...] = (),
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.addke, self.intermediate, self.fragments = addke, intermediate, fragments
        self.child_addke = child_addke  # (type, id) added to IKE_AUTH's ESP proposals
        self.pending: list[int] = []
        self.rounds = 0

    def _extra(self) -> tuple[Transform, ...]:
        return tuple(Transform(t, m) for t, methods in self.addke for m in methods)

    # IKE_SA_INIT { SAi1 (with ADDKE), KEi, Ni, N(NAT_D), N(INTERMEDIATE_EXCHANGE_SUPPORTED) } -->
    def init_request(self) -> bytes:
        msg = decode_message(super().init_request())
        payloads = []
        for p in msg.payloads:
            if isinstance(p, SaPayload):
                p = SaPayload(tuple(
                    Proposal(o.number, o.protocol, o.spi, o.transforms + self._extra())
                    for o in p.proposals
                ))  # fmt: skip
            payloads.append(p)
        if self.intermediate:
            payloads.append(NotifyPayload.of(NotifyType.INTERMEDIATE_EXCHANGE_SUPPORTED))
        if self.fragments:
            payloads.append(NotifyPayload.of(NotifyType.IKEV2_FRAGMENTATION_SUPPORTED))
        self.message1 = encode_message(Message(msg.header, tuple(payloads)))
        return self.message1

    # IKE_AUTH { ..., SAi2 (with KE/ADDKE for later rekeys), ... } -->
    def auth_request(self, **kwargs) -> bytes:
        super().auth_request(**kwargs)
        extra = tuple(Transform(t, m) for t, m in self.child_addke)
        self.auth_payloads = [
            SaPayload(tuple(Proposal(o.number, o.protocol, o.spi, o.transforms + extra)
                            for o in p.proposals)) if isinstance(p, SaPayload) else p
            for p in self.auth_payloads
        ]  # fmt: skip
        return self._protect(ExchangeType.IKE_AUTH, self.auth_payloads)

    def init_response(self, data: bytes) -> Message:
        msg = super().init_response(data)
        sa = msg.get(SaPayload)
        if sa is not None:
            chosen = sa.proposals[0].transforms
            self.chosen_addke = [(t.transform_type, t.transform_id) for t in chosen
                                 if t.transform_type >= ADDKE1]  # fmt: skip
            self.pending = [m for _, m in self.chosen_addke]
        return msg

    # IKE_INTERMEDIATE { KEi(n) } -->  (a list: one datagram, or its fragments)
    def intermediate_request(self, ke: KePayload | None = None, limit: int = 1252) -> list[bytes]:
        if ke is None:
            self.kem = MlKemInitiator(self.pending[0], rng=os.urandom)
            ke = KePayload(self.pending[0], self.kem.public_bytes())
        header = Header(self.spi_i, self.spi_r, ExchangeType.IKE_INTERMEDIATE, self.mid,
                        initiator=True).encode()  # fmt: skip
        first, body = encode_payloads([ke])
        self.request_octets = unprotected_octets(header, first, body)
        if not self.fragments:
            limit = 1 << 16
        self.last_request = seal_fragments(self.out, header, first, body, os.urandom, limit)
        return self.last_request

    def open_all(self, datagrams: list[bytes]) -> tuple[bytes, int, bytes]:
        """(IKE header, first inner type, plaintext) of a response, its fragments joined."""
        parts: dict[int, tuple[int, bytes]] = {}
        for data in datagrams:
            sk = decode_message(data).payloads[0]
            plain = self.inp.open(data, len(data) - len(sk.data))
            if isinstance(sk, EncryptedPayload):
                return data[:28], sk.first_inner_type, plain
            assert isinstance(sk, EncryptedFragmentPayload)
            parts[sk.number] = (sk.first_inner_type, plain)
            total = sk.total
        assert sorted(parts) == list(range(1, total + 1)), sorted(parts)
        return datagrams[0][:28], parts[1][0], b"".join(parts[n][1] for n in sorted(parts))

    # <-- { KEr(n) }: IntAuth over both messages with the current SK_p, then the new keys
    def intermediate_response(self, datagrams: list[bytes]) -> list:
        header, first, plain = self.open_all(datagrams)
        inner = decode_payloads(first, plain)
        ke = next(p for p in inner if isinstance(p, KePayload))
        shared = self.kem.shared_secret(ke.data)
        n = self.prf.output_len
        before_i, before_r = self.int_auth[:n], self.int_auth[n : 2 * n]
        auth_i = intermediate_auth(self.prf, self.keys.sk_pi, before_i, self.request_octets)
        ours = unprotected_octets(header, first, plain)
        auth_r = intermediate_auth(self.prf, self.keys.sk_pr, before_r, ours)
        self.int_auth = auth_i + auth_r + (self.mid + 1).to_bytes(4, "big")
        self.keys = derive_intermediate_ike_keys(
            self.prf, self.keys, self.encr, self.integ, self.nonce_i, self.nonce_r,
            self.spi_i, self.spi_r, shared,
        )  # fmt: skip
        self.out = SkCodec(self.encr, self.integ, self.keys.i_to_r)
        self.inp = SkCodec(self.encr, self.integ, self.keys.r_to_i)
        self.pending.pop(0)
        self.mid += 1
        self.rounds += 1
        return inner

    # -- CREATE_CHILD_SA with additional key exchanges, and IKE_FOLLOWUP_KE (RFC 9370 §2.2.4)
    def _with_addke(self, proposal: Proposal, addke) -> SaPayload:
        extra = tuple(Transform(t, m) for t, m in addke)
        return SaPayload((Proposal(1, proposal.protocol, proposal.spi,
                                   proposal.transforms + extra),))  # fmt: skip

    # CREATE_CHILD_SA { N(REKEY_SA), SA(+KE+ADDKE), Ni, KEi, TSi, TSr } -->
    def rekey_child_pq_request(self, old_spi: int, group: int = 31, addke=((ADDKE1, 36),)):
        self.new_child_spi = int.from_bytes(os.urandom(4), "big") | 0x100
        self.rekey_nonce = os.urandom(32)
        self.rekey_kex = new_key_exchange(group)
        proposal = self.child_proposal(self.new_child_spi, group).proposals[0]
        any_ts = (TrafficSelector.from_network("0.0.0.0/0"),)
        return self.request(ExchangeType.CREATE_CHILD_SA, [
            NotifyPayload.rekey_sa(ProtocolId.ESP, old_spi),
            self._with_addke(proposal, addke),
            NoncePayload(self.rekey_nonce),
            KePayload(group, self.rekey_kex.public_bytes()),
            TsiPayload(any_ts),
            TsrPayload(any_ts),
        ])  # fmt: skip

    # CREATE_CHILD_SA { SA(IKE, +ADDKE), Ni, KEi } -->
    def rekey_ike_pq_request(self, addke=((ADDKE1, 36),)):
        self.new_spi_i = os.urandom(8)
        self.rekey_nonce = os.urandom(32)
        self.rekey_kex = new_key_exchange(self.ke_group)
        proposal = wire_proposal(self.ike[0], "ike", 1, self.new_spi_i)
        return self.request(ExchangeType.CREATE_CHILD_SA, [
            self._with_addke(proposal, addke),
            NoncePayload(self.rekey_nonce),
            KePayload(self.ke_group, self.rekey_kex.public_bytes()),
        ])  # fmt: skip

    # IKE_FOLLOWUP_KE { KEi(n), N(ADDITIONAL_KEY_EXCHANGE)(link) } -->
    def followup_request(self, response: list, method: int = 36, link: bytes | None = None):
        if link is None:
            link = link_of(response)
        self.followup_kem = MlKemInitiator(method, rng=os.urandom)
        return self.request(ExchangeType.IKE_FOLLOWUP_KE, [
            KePayload(method, self.followup_kem.public_bytes()),
            NotifyPayload.of(NotifyType.ADDITIONAL_KEY_EXCHANGE, link),
        ])  # fmt: skip

    def followup_secret(self, response: list) -> bytes:
        ke = next(p for p in response if isinstance(p, KePayload))
        return self.followup_kem.shared_secret(ke.data)

    def rekey_child_pq_keys(self, inner, additional: bytes):
        nonce_r = next(p for p in inner if isinstance(p, NoncePayload)).data
        ke = next(p for p in inner if isinstance(p, KePayload))
        shared = self.rekey_kex.shared_secret(ke.data)
        c = parse_proposal(self.esp[0], "esp")
        return derive_child_keys(
            self.prf, self.keys.sk_d, c.encr, c.integ, self.rekey_nonce, nonce_r, shared,
            additional,
        )  # fmt: skip


def link_of(payloads) -> bytes | None:
    notify = next((p for p in payloads if isinstance(p, NotifyPayload)
                   and p.notify_type == NotifyType.ADDITIONAL_KEY_EXCHANGE), None)  # fmt: skip
    return None if notify is None else notify.data
