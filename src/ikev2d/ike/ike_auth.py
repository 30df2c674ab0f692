"""IKE_AUTH with a pre-shared key (RFC 7296 §1.2, §2.15).

   { IDi, [IDr], AUTH, CP(CFG_REQUEST), SAi2, TSi, TSr } -->
                          <-- { IDr, AUTH, CP(CFG_REPLY), SAr2, TSi, TSr }

Authentication failure answers AUTHENTICATION_FAILED and keeps nothing. A Child SA that cannot
be made (no address, no proposal, selectors) leaves the IKE SA up and answers the Child error
notify in place of SAr2/TSi/TSr (§1.2).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass

from ikev2d.crypto.auth import (
    initiator_signed_octets,
    psk_auth,
    responder_signed_octets,
    verify_psk_auth,
)
from ikev2d.policy.config import ServerConfig
from ikev2d.policy.identity import Identity, IdentityError
from ikev2d.policy.pool import AddressPool
from ikev2d.wire.enums import AuthMethod, ExchangeType, NotifyType
from ikev2d.wire.payloads import AuthPayload, IdiPayload, IdrPayload, NotifyPayload, Payload

from .child import FirstChild, create_first_child
from .errors import AuthenticationFailed, IkeError
from .rules import check_request
from .sa import IkeSa

__all__ = ["AuthResult", "handle_ike_auth", "local_identity"]


@dataclass(slots=True)
class AuthResult:
    payloads: list[Payload]
    child: FirstChild | None
    child_error: IkeError | None


def local_identity(config: ServerConfig, sa: IkeSa) -> Identity:
    """Our ID: the configured one, else the address the client contacted (§3.5)."""
    if config.local_id is not None:
        return config.local_id
    return Identity.from_address(ipaddress.ip_address(sa.local[0]))


def _authenticate_psk(sa: IkeSa, idi: IdiPayload, auth: AuthPayload, psk: bytes) -> None:
    if auth.method != AuthMethod.SHARED_KEY_MIC:
        raise AuthenticationFailed(f"auth method {auth.method}, a pre-shared key was expected")
    octets = initiator_signed_octets(sa.prf, sa.init_request, sa.nonce_r, sa.keys.sk_pi, idi.body())
    if not verify_psk_auth(sa.prf, psk, octets, auth.data):
        raise AuthenticationFailed("wrong pre-shared key")


def handle_ike_auth(
    sa: IkeSa,
    inner: list[Payload],
    now: float,
    config: ServerConfig,
    pool: AddressPool,
    allocate_spi: Callable[[str, str], int],
    rng: Callable[[int], bytes],
) -> AuthResult:
    check_request(ExchangeType.IKE_AUTH, inner)
    idi = next(p for p in inner if isinstance(p, IdiPayload))
    auth = next((p for p in inner if isinstance(p, AuthPayload)), None)
    try:
        identity = Identity.from_payload(idi.id_type, idi.data)
    except IdentityError as e:
        raise AuthenticationFailed(f"bad IDi: {e}") from None
    sa.identity = identity
    if auth is None:
        raise AuthenticationFailed("EAP authentication is not enabled")
    if not config.remote_id_accepted(identity):
        raise AuthenticationFailed("identity not accepted by remote_id")
    psk = config.psk_bytes
    if psk is None:
        raise AuthenticationFailed("no pre-shared key is configured")
    _authenticate_psk(sa, idi, auth, psk)

    me = local_identity(config, sa)
    idr = IdrPayload(me.id_type, me.data)
    octets = responder_signed_octets(
        sa.prf, sa.init_response, sa.nonce_i, sa.keys.sk_pr, idr.body()
    )
    payloads: list[Payload] = [
        idr,
        AuthPayload(AuthMethod.SHARED_KEY_MIC, psk_auth(sa.prf, psk, octets)),
    ]
    child, child_error = None, None
    try:
        child = create_first_child(sa, inner, now, config, pool, allocate_spi, rng)
    except IkeError as e:
        child_error = e
        payloads.append(NotifyPayload.of(e.notify, e.data))
    if child is not None:
        payloads += child.payloads
    if config.mobike and any(
        isinstance(p, NotifyPayload) and p.notify_type == NotifyType.MOBIKE_SUPPORTED for p in inner
    ):
        sa.mobike = True
        payloads.append(NotifyPayload.of(NotifyType.MOBIKE_SUPPORTED))
    return AuthResult(payloads, child, child_error)
