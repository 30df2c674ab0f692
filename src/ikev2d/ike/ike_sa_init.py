"""IKE_SA_INIT (RFC 7296 §1.2): choose the suite, run the key exchange, derive the keys.

HDR, SAi1, KEi, Ni, [N(NAT_DETECTION_*)] -->
                                <-- HDR, SAr1, KEr, Nr, N(NAT_DETECTION_*)
"""

from __future__ import annotations

from collections.abc import Callable

from ikev2d.crypto import errors as crypto_errors
from ikev2d.crypto.dh import respond_key_exchange
from ikev2d.crypto.keys import derive_ike_keys
from ikev2d.crypto.prf import shared_prf
from ikev2d.crypto.sk import SkCodec
from ikev2d.policy.config import ServerConfig
from ikev2d.wire.enums import CertEncoding, ExchangeType, NotifyType
from ikev2d.wire.message import Header, Message, encode_message
from ikev2d.wire.payloads import CertReqPayload, KePayload, NoncePayload, NotifyPayload
from ikev2d.wire.sa import SaPayload

from .credentials import Credentials
from .errors import InvalidSyntax
from .events import Address
from .nat import nat_detected, nat_detection_hash
from .negotiate import additional_ke_policy, choose_ike_proposal
from .rules import check_request
from .sa import Client, Handshake, IkeSa

__all__ = ["HALF_OPEN_TIMEOUT", "NONCE_LEN", "handle_ike_sa_init", "run_key_exchange"]

NONCE_LEN = 32
HALF_OPEN_TIMEOUT = 30.0  # seconds an IKE SA may wait for its IKE_AUTH
_ZERO_SPI = bytes(8)


def run_key_exchange(
    group: int, peer_public: bytes, rng: Callable[[int], bytes]
) -> tuple[bytes, bytes]:
    """(our KE data, the shared secret) for the peer's KE data; a bad value is INVALID_SYNTAX."""
    try:
        return respond_key_exchange(group, peer_public, rng)
    except crypto_errors.InvalidKeData as e:
        raise InvalidSyntax(f"bad KE data: {e}") from None


def _hash_list(notify: NotifyPayload | None) -> tuple[int, ...]:
    """The client's SIGNATURE_HASH_ALGORITHMS (RFC 7427), bounded; junk reads as none."""
    if notify is None or len(notify.data) % 2:
        return ()
    return notify.uint16_list()[:64]


def handle_ike_sa_init(
    msg: Message,
    raw: bytes,
    src: Address,
    dst: Address,
    now: float,
    config: ServerConfig,
    rng: Callable[[int], bytes],
    spi_r: bytes,
    credentials: Credentials | None = None,
) -> tuple[IkeSa, bytes]:
    """A new half-open IKE SA and the response to send; IkeError for a refusal."""
    check_request(ExchangeType.IKE_SA_INIT, msg.payloads)
    sa_payload, ke, nonce = msg.get(SaPayload), msg.get(KePayload), msg.get(NoncePayload)
    if sa_payload is None or ke is None or nonce is None:  # counted by check_request
        raise InvalidSyntax("IKE_SA_INIT without SA, KE or Nonce")
    nonce_i = nonce.data
    # RFC 9242: additional key exchanges need IKE_INTERMEDIATE, which the client must announce
    intermediate = msg.notify(NotifyType.INTERMEDIATE_EXCHANGE_SUPPORTED) is not None
    additional = additional_ke_policy(config.post_quantum, new_ike_sa=True, possible=intermediate)
    chosen = choose_ike_proposal(config.ike_proposal, sa_payload, ke.group, additional)
    conf = chosen.configured
    our_public, shared = run_key_exchange(conf.group, ke.data, rng)
    spi_i = msg.header.spi_i
    nonce_r = rng(NONCE_LEN)
    nat_remote, nat_local = nat_detected(msg.payloads, spi_i, _ZERO_SPI, src, dst) or (
        False,
        False,
    )
    payloads = [
        SaPayload((chosen.reply_proposal(),)),
        KePayload(conf.group, our_public),
        NoncePayload(nonce_r),
        NotifyPayload.of(NotifyType.NAT_DETECTION_SOURCE_IP, nat_detection_hash(spi_i, spi_r, dst)),
        NotifyPayload.of(
            NotifyType.NAT_DETECTION_DESTINATION_IP, nat_detection_hash(spi_i, spi_r, src)
        ),
    ]
    fragmentation = config.fragmentation and (
        msg.notify(NotifyType.IKEV2_FRAGMENTATION_SUPPORTED) is not None
    )
    if fragmentation:
        payloads.append(NotifyPayload.of(NotifyType.IKEV2_FRAGMENTATION_SUPPORTED))
    if chosen.additional:
        payloads.append(NotifyPayload.of(NotifyType.INTERMEDIATE_EXCHANGE_SUPPORTED))
    hashes = msg.notify(NotifyType.SIGNATURE_HASH_ALGORITHMS)
    if credentials is not None and credentials.can_sign:
        from ikev2d.auth.signatures import OUR_HASH_ALGORITHMS  # only with certificates

        payloads.append(NotifyPayload.signature_hash_algorithms(list(OUR_HASH_ALGORITHMS)))
        if credentials.ca is not None:
            # strongSwan clients send their certificate only when asked (send_cert=ifasked)
            payloads.append(
                CertReqPayload(CertEncoding.X509_CERT_SIGNATURE, credentials.certreq_data())
            )
    header = Header(spi_i, spi_r, ExchangeType.IKE_SA_INIT, 0, response=True)
    response = encode_message(Message(header, tuple(payloads)))
    prf = shared_prf(conf.prf)
    keys = derive_ike_keys(prf, conf.encr, conf.integ, nonce_i, nonce_r, spi_i, spi_r, shared)
    sa = IkeSa(
        spi_i=spi_i,
        spi_r=spi_r,
        local=dst,
        remote=src,
        proposal=conf,
        prf=prf,
        keys=keys,
        codec_in=SkCodec(conf.encr, conf.integ, keys.i_to_r),
        codec_out=SkCodec(conf.encr, conf.integ, keys.r_to_i),
        created=now,
        handshake=Handshake(
            nonce_i, nonce_r, bytes(raw), response, expires=now + HALF_OPEN_TIMEOUT,
            init_from=src, resent_at=now, pending_ke=chosen.additional_methods,
        ),
        client=Client(fragmentation=fragmentation, peer_hashes=_hash_list(hashes)),
        nat_remote=nat_remote,
        nat_local=nat_local,
        last_inbound=now,
        additional_ke=chosen.additional,
    )  # fmt: skip
    sa.window.answered(0, [response], dst, src, now)
    return sa, response
