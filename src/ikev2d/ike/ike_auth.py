"""IKE_AUTH (RFC 7296 §1.2, §2.15, §2.16): pre-shared key, certificates, or EAP.

PSK:   { IDi, [IDr], AUTH(psk), CP, SAi2, TSi, TSr } -->
                               <-- { IDr, AUTH(psk), CP, SAr2, TSi, TSr }
Cert:  { IDi, CERT, [CERTREQ], AUTH(sig), CP, SAi2, TSi, TSr } -->
                               <-- { IDr, CERT, AUTH(sig), CP, SAr2, TSi, TSr }
EAP:   { IDi, [IDr], CP, SAi2, TSi, TSr } -->  <-- { IDr, CERT, AUTH(sig), EAP(Identity) }
       { EAP } -->                               <-- { EAP(MSCHAPv2 …) }     (a few rounds)
       { AUTH(msk) } -->                         <-- { AUTH(msk), CP, SAr2, TSi, TSr }

The client's first message says which method it uses (AUTH method, or no AUTH for EAP); the
server accepts only the one the owner chose (auth_mode), so moving away from a leaked PSK
closes it. Authentication failure answers AUTHENTICATION_FAILED and keeps nothing.
A Child SA that cannot be made leaves the IKE SA up and answers the Child error notify in
place of SAr2/TSi/TSr (§1.2).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ikev2d.crypto.auth import psk_auth, verify_psk_auth
from ikev2d.policy.identity import Identity, IdentityError
from ikev2d.wire.enums import AuthMethod, CertEncoding, ExchangeType, NotifyType
from ikev2d.wire.payloads import (
    AuthPayload,
    CertPayload,
    IdiPayload,
    IdrPayload,
    NotifyPayload,
    Payload,
)

from .auth_octets import initiator_octets, responder_octets
from .child import FirstChild, create_first_child
from .context import Context
from .eap_auth import continue_eap, start_eap
from .errors import AuthenticationFailed, IkeError
from .rules import check_request
from .sa import IkeSa

if TYPE_CHECKING:
    from cryptography import x509

    from ikev2d.policy.config import ServerConfig

    from .credentials import Credentials

__all__ = ["AuthResult", "handle_ike_auth", "local_identity"]

_SIGNATURE_METHODS = frozenset(
    {AuthMethod.RSA_SIG, AuthMethod.ECDSA_256, AuthMethod.ECDSA_384, AuthMethod.ECDSA_521,
     AuthMethod.DIGITAL_SIGNATURE}
)  # fmt: skip


@dataclass(slots=True)
class AuthResult:
    payloads: list[Payload]
    done: bool = True  # False while EAP rounds follow
    child: FirstChild | None = None
    child_error: IkeError | None = None
    delay: float = 0.0  # hold the response back this long (EAP retry after a failure)
    wrong_password: bool = False  # an EAP round refused a password (a retry is offered)
    failed: AuthenticationFailed | None = None  # answered, then the SA is forgotten
    notes: list[str] = field(default_factory=list)


def local_identity(config: ServerConfig, sa: IkeSa, inner: list[Payload]) -> Identity:
    """Our ID (§3.5): the one the client's IDr names when it is one of ours, else our first."""
    return config.answer_identity(_requested(inner), ipaddress.ip_address(sa.local[0]))


def _requested(inner: list[Payload]) -> Identity | None:
    asked = next((p for p in inner if isinstance(p, IdrPayload)), None)
    if asked is None:
        return None
    try:
        return Identity.from_payload(asked.id_type, asked.data)
    except IdentityError:
        return None  # not a usable identity, so not one of ours: the default answers


def _idr(ctx: Context, sa: IkeSa, inner: list[Payload]) -> IdrPayload:
    sa.client.local_identity = me = local_identity(ctx.config, sa, inner)
    return IdrPayload(me.id_type, me.data)


def _signed_by_us(ctx: Context, sa: IkeSa, idr: IdrPayload) -> list[Payload]:
    """CERT payloads of our chain and our signature AUTH over ResponderSignedOctets."""
    from ikev2d.auth.signatures import choose_auth, sign_auth  # certificates only

    creds = ctx.credentials
    if creds is None or creds.key is None:  # callers checked can_sign
        raise AuthenticationFailed("the server certificate is not set up", code="cert_not_set")
    octets = responder_octets(sa, idr.body())
    method, hash_alg = choose_auth(creds.key, sa.client.peer_hashes)
    certs: list[Payload] = [
        CertPayload(CertEncoding.X509_CERT_SIGNATURE, der) for der in creds.der_chain()
    ]
    return [*certs, AuthPayload(method, sign_auth(creds.key, octets, method, hash_alg))]


def _psk(
    ctx: Context, sa: IkeSa, idi: IdiPayload, auth: AuthPayload, idr: IdrPayload
) -> list[Payload]:
    psk = ctx.config.psk_bytes
    if psk is None:
        raise AuthenticationFailed(
            "a pre-shared key was used but none is configured", code="psk_not_set"
        )
    octets = initiator_octets(sa, idi.body())
    if not verify_psk_auth(sa.prf, psk, octets, auth.data):
        raise AuthenticationFailed("wrong pre-shared key", code="psk_wrong")
    ours = responder_octets(sa, idr.body())
    return [AuthPayload(AuthMethod.SHARED_KEY_MIC, psk_auth(sa.prf, psk, ours))]


def _certificate(
    ctx: Context, sa: IkeSa, inner: list[Payload], idi: IdiPayload, auth: AuthPayload,
    idr: IdrPayload,
) -> list[Payload]:  # fmt: skip
    from ikev2d.auth.certs import UNPARSABLE, CertificateRejected

    creds = ctx.credentials
    if creds is None or creds.ca is None or not creds.can_sign:
        raise AuthenticationFailed(
            "a certificate was used but certificate login is not set up", code="cert_not_set"
        )
    certs = [p for p in inner if type(p) is CertPayload]
    if not certs or certs[0].encoding != CertEncoding.X509_CERT_SIGNATURE:
        raise AuthenticationFailed(
            "signature authentication without an X.509 certificate", code="cert_missing"
        )
    try:
        _check_certificate(creds, creds.ca, ctx, sa, certs[0].data, idi, auth)
    except CertificateRejected as e:
        raise AuthenticationFailed(
            f"client certificate refused: {e.reason}", code="cert_refused"
        ) from None
    except UNPARSABLE as e:  # a part of the certificate parsed only when first read
        reason = f"client certificate does not parse ({type(e).__name__})"
        raise AuthenticationFailed(reason, code="cert_refused") from None
    return _signed_by_us(ctx, sa, idr)


def _check_certificate(
    creds: Credentials, ca: x509.Certificate, ctx: Context, sa: IkeSa, der: bytes,
    idi: IdiPayload, auth: AuthPayload,
) -> None:  # fmt: skip
    from ikev2d.auth.certs import identity_matches_cert, validate_client_cert
    from ikev2d.auth.signatures import verify_auth

    now = dt.datetime.fromtimestamp(ctx.wall_clock(), dt.UTC)
    cert, name = validate_client_cert(der, ca, now, creds.revoked)
    if not identity_matches_cert(cert, idi.id_type, idi.data):
        raise AuthenticationFailed(
            "the client's identity is not in its certificate", code="cert_identity"
        )
    octets = initiator_octets(sa, idi.body())
    if not verify_auth(cert, octets, auth.method, auth.data):
        raise AuthenticationFailed("the client's signature does not verify", code="signature_wrong")
    sa.client.user, sa.client.cert_serial = name.common_name or None, cert.serial_number


def _finish(
    ctx: Context, sa: IkeSa, inner: list[Payload], now: float, payloads: list[Payload]
) -> AuthResult:
    """Authenticated: the first Child SA (from the first IKE_AUTH message) and MOBIKE."""
    if _notified(inner, NotifyType.INITIAL_CONTACT):  # before leasing: the old address frees
        ctx.replace_older_sessions(sa)
    result = AuthResult(payloads)
    try:
        result.child = create_first_child(
            sa, inner, now, ctx.config, ctx.pool, ctx.allocate_spi, ctx.rng
        )
    except IkeError as e:
        result.child_error = e
        payloads.append(NotifyPayload.of(e.notify, e.data))
    if result.child is not None:
        payloads += result.child.payloads
    if ctx.config.mobike and _notified(inner, NotifyType.MOBIKE_SUPPORTED):
        sa.client.mobike = True
        payloads.append(NotifyPayload.of(NotifyType.MOBIKE_SUPPORTED))
        payloads += _additional_addresses(ctx.other_addresses(sa.local[0]))
    return result


_MAX_ADDITIONAL = 8  # a handful is all a client tries (strongSwan reads at most 8)


def _additional_addresses(addresses: Sequence[str]) -> list[Payload]:
    """N(ADDITIONAL_IP4/6_ADDRESS) for our other addresses (RFC 4555 §3.4): a MOBIKE client
    can only move to an address of ours it knows, e.g. to IPv6 when its IPv4 network goes."""
    out: list[Payload] = []
    for text in list(addresses)[:_MAX_ADDITIONAL]:
        address = ipaddress.ip_address(text)
        kind = (NotifyType.ADDITIONAL_IP4_ADDRESS if address.version == 4
                else NotifyType.ADDITIONAL_IP6_ADDRESS)  # fmt: skip
        out.append(NotifyPayload.of(kind, address.packed))
    return out


def _notified(inner: list[Payload], notify_type: int) -> bool:
    return any(isinstance(p, NotifyPayload) and p.notify_type == notify_type for p in inner)


def handle_ike_auth(ctx: Context, sa: IkeSa, inner: list[Payload], now: float) -> AuthResult:
    session = sa.half_open.eap
    if session is not None:
        outcome = continue_eap(ctx, sa, inner)
        if not outcome.done:
            return AuthResult(outcome.payloads, done=False, delay=outcome.delay,
                              wrong_password=outcome.wrong_password)  # fmt: skip
        return _finish(ctx, sa, session.first_message, now, outcome.payloads)
    check_request(ExchangeType.IKE_AUTH, inner)
    idi = next(p for p in inner if isinstance(p, IdiPayload))
    auth = next((p for p in inner if isinstance(p, AuthPayload)), None)
    try:
        sa.client.identity = Identity.from_payload(idi.id_type, idi.data)
    except IdentityError as e:
        raise AuthenticationFailed(f"bad IDi: {e}", code="identity_invalid") from None
    if not ctx.config.remote_id_accepted(sa.client.identity):
        raise AuthenticationFailed("identity not accepted by remote_id", code="identity_refused")
    sa.client.auth_method = _method_of(auth)
    mode = ctx.config.auth_mode
    if sa.client.auth_method != mode:
        raise AuthenticationFailed(
            f"{_METHOD_NAMES[sa.client.auth_method]} is not accepted (auth_mode {mode})",
            code="method_refused",
        )
    idr = _idr(ctx, sa, inner)
    if auth is None:
        if ctx.credentials is None or not ctx.credentials.can_sign:
            raise AuthenticationFailed(
                "EAP needs the server certificate, which is not set up", code="eap_not_set"
            )
        payloads = [idr, *_signed_by_us(ctx, sa, idr)]
        return AuthResult(start_eap(ctx, sa, inner, idi, idr, payloads), done=False)
    if sa.client.auth_method == "psk":
        payloads = [idr, *_psk(ctx, sa, idi, auth, idr)]
    else:
        payloads = [idr, *_certificate(ctx, sa, inner, idi, auth, idr)]
    return _finish(ctx, sa, inner, now, payloads)


_METHOD_NAMES = {"psk": "a pre-shared key", "eap": "EAP", "cert": "a certificate"}


def _method_of(auth: AuthPayload | None) -> str:
    """The auth_mode value of what the client uses: no AUTH asks for EAP (§2.16)."""
    if auth is None:
        return "eap"
    if auth.method == AuthMethod.SHARED_KEY_MIC:
        return "psk"
    if auth.method in _SIGNATURE_METHODS:
        return "cert"
    raise AuthenticationFailed(
        f"authentication method {auth.method} is not supported", code="method_unsupported"
    )
