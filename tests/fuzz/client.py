"""The client side of a seed, played against a responder with this session's keys.

A recorded client message cannot be replayed byte for byte: the responder's nonce, SPI and
key-exchange value are new each time, so every key differs. `SeedClient` is an initiator that
keeps what the real client sent (payload order, notifies, proposals, nonces, certificate
requests, vendor quirks) and redoes only what depends on the session: its own KE values (it
knows the private keys; ML-KEM too), the COOKIE and the RFC 9370 link it was given, AUTH (PSK,
the EAP MSK or a signature with the client key of the seed, over IntAuth after
IKE_INTERMEDIATE), the EAP-MSCHAPv2 response to this server's challenge, and NAT-D hashes that
cover the responder's SPI. It follows the responder's answers far enough to know the keys of
every IKE SA (IKE_SA_INIT, IKE_INTERMEDIATE, IKE rekeys both ways, with follow-up key
exchanges) and seals each message as the client did (SK, or SKF in as many fragments).
"""

from __future__ import annotations

import contextlib
import struct
from collections.abc import Callable

from ikev2d.auth.signatures import ALGORITHM_IDENTIFIERS, SigScheme, sign_auth
from ikev2d.crypto import mlkem
from ikev2d.crypto.auth import (
    initiator_signed_octets,
    intermediate_auth,
    psk_auth,
    unprotected_octets,
)
from ikev2d.crypto.encr import new_cipher
from ikev2d.crypto.keys import (
    derive_ike_keys,
    derive_intermediate_ike_keys,
    derive_rekeyed_ike_keys,
)
from ikev2d.crypto.mlkem import MlKemInitiator
from ikev2d.crypto.prf import Prf, shared_integ
from ikev2d.crypto.sk import SkCodec
from ikev2d.wire.eap import EapPayload
from ikev2d.wire.enums import AuthMethod, EapType, ExchangeType, NotifyType, ProtocolId
from ikev2d.wire.errors import ParseError
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
    EncryptedFragmentPayload,
    EncryptedPayload,
    IdiPayload,
    KePayload,
    NoncePayload,
    NotifyPayload,
    Payload,
)
from ikev2d.wire.sa import SaPayload
from testbed.mschapv2_peer import MschapV2Peer

from .client_sa import ClientSa, natd_hash, new_sa, our_kex, private_key, transforms_of
from .seeds import PLAIN, RETRANSMIT, SEALED, Seed, Step

__all__ = ["SeedClient"]

Rng = Callable[[int], bytes]
_SIGNATURE_METHODS = (AuthMethod.RSA_SIG, AuthMethod.ECDSA_256, AuthMethod.ECDSA_384,
                      AuthMethod.ECDSA_521, AuthMethod.DIGITAL_SIGNATURE)  # fmt: skip
_NATD = (NotifyType.NAT_DETECTION_SOURCE_IP, NotifyType.NAT_DETECTION_DESTINATION_IP)
_LINK = NotifyType.ADDITIONAL_KEY_EXCHANGE


class SeedClient:
    """Plays `seed`'s client; `rng` gives its IVs and ML-KEM seeds (a fuzzer needs no
    secrecy, only replays that come out the same)."""

    def __init__(self, seed: Seed, rng: Rng) -> None:
        self.seed = seed
        self.rng = rng
        self.sas: list[ClientSa] = []
        self.message1 = self.nonce_i = self.nonce_r = b""
        self.cookie: bytes | None = None
        self.idi_body = b""
        self.msk: bytes | None = None
        self.eap_request: EapPayload | None = None
        self.rekey_request: tuple | None = None  # our IKE rekey in flight: (nonce, group)
        self.server_rekey: tuple | None = None  # the server's: (its SPI, nonce, KE)
        self.last_sent: list[bytes] = []
        self.next_mid: dict[int, int] = {}  # IKE SA index -> our next request's message ID
        # RFC 9370/9242: our last ML-KEM key pair, the server's last link, IntAuth so far,
        # the IKE_INTERMEDIATE request in flight, an IKE rekey waiting for its follow-ups
        self.kem = None
        self.link: bytes | None = None
        self.int_auth = b""
        self.intermediate_request = b""
        self.pending_ike: tuple | None = None
        self._parts: dict[tuple, dict[int, bytes]] = {}

    # -- building what a step sends ------------------------------------------------------------
    def datagrams(self, step: Step) -> list[bytes]:
        """The step's message(s) for this session (unmutated)."""
        if step.kind == RETRANSMIT:
            return list(self.last_sent)
        if step.kind == PLAIN:
            return [self.init_bytes(self.init_payloads(step), step)]
        if step.kind == SEALED:
            first, body = encode_payloads(self.inner(step))
            return self.seal(step, first, body)
        return []

    def init_payloads(self, step: Step) -> list[Payload]:
        msg = decode_message(step.data)
        return [self._fix_init(p) for p in msg.payloads]

    def init_bytes(self, payloads: list[Payload], step: Step) -> bytes:
        header = decode_message(step.data).header
        data = encode_message(Message(header, tuple(payloads)))
        self.note_init(data)
        return data

    def note_init(self, data: bytes) -> None:
        """We sent this IKE_SA_INIT request: its bytes and nonce go into the keys and AUTH."""
        self.last_sent = [data]
        try:
            nonce = decode_message(data).get(NoncePayload)
        except ParseError:
            return
        self.message1, self.nonce_i = data, nonce.data if nonce else b""

    def inner(self, step: Step) -> list[Payload]:
        """The step's decrypted payloads, fixed up for this session."""
        payloads = decode_payloads(step.first, step.data)
        return [self._fix(p, step) for p in payloads]

    def sa_for(self, step: Step) -> ClientSa | None:
        return self.sas[step.sa] if step.sa < len(self.sas) else None

    def message_id(self, step: Step) -> int:
        """The step's message ID now: a request comes after every request the responder
        answered (fuzz inputs take message IDs too), a response answers the recorded one."""
        if step.response:
            return step.message_id
        return max(step.message_id, self.next_mid.get(step.sa, 0))

    def header(self, step: Step, **change) -> bytes:
        sa = self.sa_for(step)
        fields = dict(exchange=step.exchange, message_id=self.message_id(step),
                      initiator=step.initiator, response=step.response)  # fmt: skip
        fields.update(change)
        ex, mid = fields["exchange"], fields["message_id"]
        i, r = fields["initiator"], fields["response"]
        return Header(sa.spi_i, sa.spi_r, ex, mid, initiator=i, response=r).encode()

    def seal(self, step: Step, first: int, body: bytes, fragments: int | None = None,
             header: bytes | None = None) -> list[bytes]:  # fmt: skip
        """`body` sealed on the step's IKE SA, as SK or in `fragments` SKF pieces."""
        sa = self.sa_for(step)
        if sa is None:
            return []
        header = header or self.header(step)
        n = step.fragments if fragments is None else fragments
        if n <= 0:
            out = [sa.out.seal(header, first, body, self.rng)]
        else:
            size = -(-len(body) // n) or 1
            pieces = [body[i * size : (i + 1) * size] for i in range(n)]
            out = [sa.out.seal(header, first if k == 1 else 0, piece, self.rng, fragment=(k, n))
                   for k, piece in enumerate(pieces, 1)]  # fmt: skip
        self.last_sent = out
        if step.exchange == ExchangeType.IKE_INTERMEDIATE and not step.response:
            self.intermediate_request = unprotected_octets(header, first, body)
        with contextlib.suppress(Exception):  # following the keys is best effort, as observe
            self._after_sending(step, first, body)
        return out

    def seal_envelope(self, step: Step, first: int, padded: bytes, *, header: bytes,
                      numbers: tuple[int, int] | None, flags: int = 0,
                      length_delta: int = 0) -> list[bytes]:  # fmt: skip
        """A correctly authenticated SK/SKF whose envelope is wrong on purpose: `padded` is
        encrypted as given (its last octet is the Pad Length), SKF numbers need not make
        sense, the generic header's flag octet and length may lie."""
        sa = self.sa_for(step)
        if sa is None:
            return []
        cipher = new_cipher(sa.encr, sa.out_keys.encr_key)
        iv = self.rng(sa.encr.iv_len)
        icv_len = sa.encr.icv_len if sa.encr.is_aead else sa.integ.icv_len
        sk_len = (8 if numbers else 4) + len(iv) + len(padded) + icv_len
        out = bytearray(header)
        out[16] = 53 if numbers else 46
        struct.pack_into("!I", out, 24, len(header) + sk_len)
        out += struct.pack("!BBH", first, flags & 0xFF, (sk_len + length_delta) & 0xFFFF)
        if numbers:
            out += struct.pack("!HH", numbers[0] & 0xFFFF, numbers[1] & 0xFFFF)
        if sa.encr.is_aead:
            aad = bytes(out)
            out += iv + cipher.encrypt(iv, padded, aad)
        else:
            whole = len(padded) - len(padded) % sa.encr.block_size
            # a ragged end cannot be CBC-encrypted: it goes out as it is (the ICV is right)
            out += iv + cipher.encrypt(iv, padded[:whole]) + padded[whole:]
            out += shared_integ(sa.integ).compute(sa.out_keys.integ_key, bytes(out))
        data = bytes(out)
        self.last_sent = [data]
        return [data]

    # -- fix-ups ---------------------------------------------------------------------------------
    def _fix_init(self, p: Payload) -> Payload:
        if isinstance(p, KePayload):
            return self._fix_ke(p)
        if isinstance(p, NotifyPayload) and p.notify_type == NotifyType.COOKIE and self.cookie:
            return NotifyPayload.cookie(self.cookie)
        return p

    def _fix_ke(self, p: KePayload, response: bool = False) -> KePayload:
        try:
            if p.group in mlkem.available_methods():
                if response:  # we would have to encapsulate to the server's key: not needed
                    return p
                self.kem = MlKemInitiator(p.group, rng=self.rng)
                return KePayload(p.group, self.kem.public_bytes())
            return KePayload(p.group, our_kex(p.group).public_bytes())
        except Exception:  # a group we do not implement: leave the value as recorded
            return p

    def _fix(self, p: Payload, step: Step) -> Payload:
        if isinstance(p, KePayload):
            return self._fix_ke(p, step.response)
        if isinstance(p, IdiPayload):
            self.idi_body = p.body()
        elif isinstance(p, AuthPayload):
            return self._fix_auth(p)
        elif isinstance(p, EapPayload):
            return self._fix_eap(p)
        elif isinstance(p, NotifyPayload) and p.notify_type in _NATD:
            return self._fix_natd(p, step)
        elif isinstance(p, NotifyPayload) and p.notify_type == _LINK and self.link is not None:
            return NotifyPayload.of(_LINK, self.link)
        return p

    def _fix_auth(self, p: AuthPayload) -> AuthPayload:
        sa = self.sas[0] if self.sas else None
        if sa is None:
            return p
        octets = initiator_signed_octets(sa.prf, self.message1, self.nonce_r, sa.keys.sk_pi,
                                         self.idi_body, self.int_auth)  # fmt: skip
        if p.method == AuthMethod.SHARED_KEY_MIC:
            key = self.msk if self.msk is not None else self.seed.psk.encode()
            return AuthPayload(p.method, psk_auth(sa.prf, key, octets))
        if p.method in _SIGNATURE_METHODS and self.seed.pem.get("client_key"):
            hash_alg, pss = None, False
            if p.method == AuthMethod.DIGITAL_SIGNATURE and p.data:
                algorithm = ALGORITHM_IDENTIFIERS.get(p.data[1 : 1 + p.data[0]])
                if algorithm is not None:
                    hash_alg, pss = algorithm.hash_alg, algorithm.scheme == SigScheme.RSA_PSS
            return AuthPayload(p.method, sign_auth(self.client_key(), octets, p.method,
                                                   hash_alg, pss=pss))  # fmt: skip
        return p

    def client_key(self):
        return private_key(self.seed.pem["client_key"])

    def _fix_eap(self, p: EapPayload) -> EapPayload:
        req = self.eap_request
        if req is None or p.code != 2:
            return p
        challenge = req.eap_type == EapType.MSCHAPV2 and req.type_data[:1] in (b"\x01", b"\x04")
        if p.eap_type == EapType.MSCHAPV2 and p.type_data[:1] == b"\x02" and challenge:
            # Response: peer challenge (16) and name as recorded, NT-Response for this challenge
            value = p.type_data[5:54]
            name = p.type_data[54:].decode("utf-8", "replace")
            peer = MschapV2Peer(name, self.seed.password, value[:16])
            try:
                raw = peer.answer(req.message())
            except (AssertionError, struct.error, ValueError):  # not a challenge we can answer
                return EapPayload(p.code, req.identifier, p.eap_type, p.type_data)
            self.msk = peer.msk()
            return EapPayload(raw[0], raw[1], raw[4], raw[5:])
        return EapPayload(p.code, req.identifier, p.eap_type, p.type_data)

    def _fix_natd(self, p: NotifyPayload, step: Step) -> NotifyPayload:
        sa = self.sa_for(step)
        if sa is None or step.sa >= len(self.seed.spis):
            return p
        where = step.src if p.notify_type == NotifyType.NAT_DETECTION_SOURCE_IP else step.dst
        rec_i, rec_r = self.seed.spis[step.sa]
        if p.data != natd_hash(rec_i, rec_r, where):
            return p  # the client lied on purpose (a faked NAT): keep lying
        return NotifyPayload.of(p.notify_type, natd_hash(sa.spi_i, sa.spi_r, where))

    # -- following the responder -------------------------------------------------------------------
    def _after_sending(self, step: Step, first: int, body: bytes) -> None:
        if step.exchange != ExchangeType.CREATE_CHILD_SA:
            return
        try:
            payloads = decode_payloads(first, body)
        except ParseError:
            return
        sa_payload = next((p for p in payloads if isinstance(p, SaPayload)), None)
        if sa_payload is None or not sa_payload.proposals:
            return
        if sa_payload.proposals[0].protocol != ProtocolId.IKE:
            return
        nonce = next((p for p in payloads if isinstance(p, NoncePayload)), None)
        ke = next((p for p in payloads if isinstance(p, KePayload)), None)
        if nonce is None or ke is None:
            return
        if not step.response:
            self.rekey_request = (sa_payload.proposals[0].spi, nonce.data, ke.group)
        elif self.server_rekey is not None:  # our answer to the server's IKE rekey
            their_spi, their_nonce, their_ke, proposal = self.server_rekey
            self.server_rekey = None
            self._rekeyed(self.sa_for(step), proposal, their_spi, sa_payload.proposals[0].spi,
                          their_nonce, nonce.data, ke.group, their_ke, initiator=False)  # fmt: skip

    def observe(self, datagrams) -> None:
        """Follow the responder's output (datagram, local, remote) far enough to stay keyed."""
        for data, _local, _remote in datagrams:
            # a client out of step just stops following: judging the output is the target's job
            with contextlib.suppress(Exception):
                self._observe(data)

    def _observe(self, data: bytes) -> None:
        msg = decode_message(data)
        h = msg.header
        if h.exchange == ExchangeType.IKE_SA_INIT:
            self._init_response(msg)
            return
        sa = next((s for s in self.sas if (s.spi_i, s.spi_r) == (h.spi_i, h.spi_r)), None)
        if sa is None or len(msg.payloads) != 1:
            return
        if h.response:
            index = self.sas.index(sa)
            self.next_mid[index] = max(self.next_mid.get(index, 0), h.message_id + 1)
        opened = self._open(sa, h, msg.payloads[0], data)
        if opened is None:
            return
        first, plain = opened
        inner = decode_payloads(first, plain)
        link = next((p for p in inner if isinstance(p, NotifyPayload) and p.notify_type == _LINK),
                    None)  # fmt: skip
        self.link = link.data if link is not None else self.link
        if h.exchange == ExchangeType.IKE_INTERMEDIATE and h.response:
            self._intermediate(sa, data[:28], first, plain, inner)
        elif h.exchange == ExchangeType.IKE_FOLLOWUP_KE and h.response:
            self._followup(inner, link is not None)
        elif h.exchange == ExchangeType.IKE_AUTH:
            self.eap_request = next((p for p in inner if isinstance(p, EapPayload)),
                                    self.eap_request)  # fmt: skip
        elif h.exchange == ExchangeType.CREATE_CHILD_SA:
            self._create_child(sa, h, inner)

    def _open(self, sa: ClientSa, h: Header, sk, data: bytes) -> tuple[int, bytes] | None:
        """(first inner payload type, plaintext) of a message, its fragments joined."""
        if isinstance(sk, EncryptedPayload):
            return sk.first_inner_type, sa.inp.open(data, len(data) - len(sk.data))
        if not isinstance(sk, EncryptedFragmentPayload):
            return None
        parts = self._parts.setdefault((sa.spi_r, h.message_id, h.response), {})
        parts[sk.number] = (sk.first_inner_type, sa.inp.open(data, len(data) - len(sk.data)))
        if len(parts) < sk.total:
            return None
        first = parts[1][0]
        whole = b"".join(parts[n][1] for n in range(1, sk.total + 1))
        del self._parts[(sa.spi_r, h.message_id, h.response)]
        return first, whole

    def _init_response(self, msg: Message) -> None:
        cookie = msg.notify(NotifyType.COOKIE)
        if cookie is not None:
            self.cookie = cookie.data
            return
        sa_payload, ke = msg.get(SaPayload), msg.get(KePayload)
        if sa_payload is None or ke is None or self.sas:
            return
        encr, integ, prf_t, _ = transforms_of(sa_payload.proposals[0])
        self.nonce_r = msg.get(NoncePayload).data
        shared = our_kex(ke.group).shared_secret(ke.data)
        h = msg.header
        prf = Prf(prf_t)
        keys = derive_ike_keys(prf, encr, integ, self.nonce_i, self.nonce_r, h.spi_i, h.spi_r,
                               shared)  # fmt: skip
        self.sas.append(new_sa(prf_t, encr, integ, keys, h.spi_i, h.spi_r, initiator=True))

    def _create_child(self, sa: ClientSa, h: Header, inner) -> None:
        sa_payload = next((p for p in inner if isinstance(p, SaPayload)), None)
        nonce = next((p for p in inner if isinstance(p, NoncePayload)), None)
        ke = next((p for p in inner if isinstance(p, KePayload)), None)
        if sa_payload is None or nonce is None or ke is None or not sa_payload.proposals:
            return
        proposal = sa_payload.proposals[0]
        if proposal.protocol != ProtocolId.IKE:
            return
        if not h.response:  # the server rekeys: we answer with our SPI (see _after_sending)
            self.server_rekey = (proposal.spi, nonce.data, ke.data, proposal)
            return
        if self.rekey_request is None:
            return
        our_spi, our_nonce, group = self.rekey_request
        self.rekey_request = None
        args = (sa, proposal, our_spi, proposal.spi, our_nonce, nonce.data, group, ke.data)
        if any(isinstance(p, NotifyPayload) and p.notify_type == _LINK for p in inner):
            self.pending_ike = (args, [])  # the new SA's keys wait for the follow-ups
            return
        self._rekeyed(*args, initiator=True)

    def _followup(self, inner, more: bool) -> None:
        """An IKE_FOLLOWUP_KE answered: its secret counts for a pending IKE rekey."""
        if self.pending_ike is None or self.kem is None:
            return
        ke = next((p for p in inner if isinstance(p, KePayload)), None)
        args, secrets = self.pending_ike
        secrets.append(self.kem.shared_secret(ke.data))
        if not more:
            self.pending_ike = None
            self._rekeyed(*args, initiator=True, additional=b"".join(secrets))

    def _intermediate(self, sa: ClientSa, header: bytes, first: int, plain: bytes, inner) -> None:
        """<-- IKE_INTERMEDIATE { KEr(n) }: IntAuth over both messages, then the new keys."""
        ke = next((p for p in inner if isinstance(p, KePayload)), None)
        if ke is None or self.kem is None:
            return
        shared = self.kem.shared_secret(ke.data)
        n = sa.prf.output_len
        before_i, before_r = self.int_auth[:n], self.int_auth[n : 2 * n]
        auth_i = intermediate_auth(sa.prf, sa.keys.sk_pi, before_i, self.intermediate_request)
        ours = unprotected_octets(header, first, plain)
        auth_r = intermediate_auth(sa.prf, sa.keys.sk_pr, before_r, ours)
        mid = int.from_bytes(header[20:24], "big")
        self.int_auth = auth_i + auth_r + (mid + 1).to_bytes(4, "big")
        keys = derive_intermediate_ike_keys(sa.prf, sa.keys, sa.encr, sa.integ, self.nonce_i,
                                            self.nonce_r, sa.spi_i, sa.spi_r, shared)  # fmt: skip
        sa.keys, sa.out_keys = keys, keys.i_to_r
        sa.out = SkCodec(sa.encr, sa.integ, keys.i_to_r)
        sa.inp = SkCodec(sa.encr, sa.integ, keys.r_to_i)

    def _rekeyed(self, old: ClientSa | None, proposal, spi_i, spi_r, nonce_i, nonce_r, group,
                 peer_ke, *, initiator: bool, additional: bytes = b"") -> None:  # fmt: skip
        if old is None:
            return
        encr, integ, prf_t, _ = transforms_of(proposal)
        shared = our_kex(group).shared_secret(peer_ke)
        keys = derive_rekeyed_ike_keys(old.prf, old.keys.sk_d, Prf(prf_t), encr, integ, nonce_i,
                                       nonce_r, spi_i, spi_r, shared, additional)  # fmt: skip
        self.sas.append(new_sa(prf_t, encr, integ, keys, spi_i, spi_r, initiator))
