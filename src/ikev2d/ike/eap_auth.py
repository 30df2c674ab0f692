"""The EAP rounds of IKE_AUTH (RFC 7296 §2.16): EAP-Identity, then EAP-MSCHAPv2, then AUTH
computed from the EAP MSK on both sides.

What the first IKE_AUTH message asks for (its SA, TSi, TSr, CP and a few status notifies) is
kept until EAP succeeds, because the Child SA it asked for is only answered in the last round;
nothing else of it (certificate requests, vendor IDs, unknown payloads) stays with a client
that has not authenticated yet.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ikev2d.crypto.auth import psk_auth, verify_psk_auth
from ikev2d.wire.cp import CpPayload
from ikev2d.wire.eap import EapPayload
from ikev2d.wire.enums import AuthMethod, EapCode, ExchangeType, NotifyType, ProtocolId
from ikev2d.wire.payloads import (
    AuthPayload,
    DeletePayload,
    IdiPayload,
    IdrPayload,
    NotifyPayload,
    Payload,
)
from ikev2d.wire.sa import SaPayload
from ikev2d.wire.ts import TsiPayload, TsrPayload

from .auth_octets import initiator_octets, responder_octets
from .context import Context
from .errors import AuthenticationFailed, InvalidSyntax
from .informational import refusal_reason
from .rules import EAP_ROUND_RULES, check_request
from .sa import EapSession, IkeSa

__all__ = ["EapOutcome", "abandoned_failure", "continue_eap", "start_eap"]

MAX_EAP_ROUNDS = 8  # Identity, Challenge, a retry, Success: far fewer than this


@dataclass(slots=True)
class EapOutcome:
    payloads: list[Payload]
    done: bool = False
    delay: float = 0.0
    wrong_password: bool = False  # this round refused a password and offers a retry


def _eap_payload(raw: bytes) -> EapPayload:
    """Our EAP packet (from the auth room) as the payload that carries it."""
    if raw[0] in (EapCode.SUCCESS, EapCode.FAILURE):
        return EapPayload(raw[0], raw[1])
    return EapPayload(raw[0], raw[1], raw[4], raw[5:])


def _password_lookup(ctx: Context) -> Callable[[str], str | None]:
    def password_for(name: str) -> str | None:
        user = ctx.config.find_user(name)
        return user.password if user is not None and user.enabled else None

    return password_for


def start_eap(
    ctx: Context, sa: IkeSa, inner: list[Payload], idi: IdiPayload, idr: IdrPayload,
    payloads: list[Payload],
) -> list[Payload]:  # fmt: skip
    from ikev2d.auth.eap import identity_request  # EAP code loads only when a client uses it

    if not any(u.enabled and u.password for u in ctx.config.users):
        raise AuthenticationFailed(
            "EAP was asked for but no user is configured", code="eap_not_set"
        )
    identifier = ctx.rng(1)[0]
    sa.half_open.eap = EapSession(_kept_for_the_child(inner), idi, idr, identifier)
    return [*payloads, _eap_payload(identity_request(identifier))]


# Notifies of the first message that the last round still needs (MOBIKE; the first Child SA).
KEPT_NOTIFIES = frozenset({NotifyType.MOBIKE_SUPPORTED, NotifyType.INITIAL_CONTACT})


def _kept_for_the_child(inner: list[Payload]) -> list[Payload]:
    return [
        p for p in inner
        if isinstance(p, SaPayload | TsiPayload | TsrPayload | CpPayload)
        or (isinstance(p, NotifyPayload) and p.notify_type in KEPT_NOTIFIES)
    ]  # fmt: skip


def _msk_auth(sa: IkeSa, session: EapSession, msk: bytes, inner: list[Payload]) -> EapOutcome:
    """The last round: the client's AUTH from the MSK, and ours (§2.16)."""
    auth = next((p for p in inner if isinstance(p, AuthPayload)), None)
    if auth is None or auth.method != AuthMethod.SHARED_KEY_MIC:
        raise AuthenticationFailed("no MSK-based AUTH after EAP", code="eap_failed")
    octets = initiator_octets(sa, session.idi.body())
    if not verify_psk_auth(sa.prf, msk, octets, auth.data):
        raise AuthenticationFailed(
            "the client's AUTH does not match the EAP key", code="eap_failed"
        )
    ours = responder_octets(sa, session.idr.body())
    payload = AuthPayload(AuthMethod.SHARED_KEY_MIC, psk_auth(sa.prf, msk, ours))
    return EapOutcome([payload], done=True)


def continue_eap(ctx: Context, sa: IkeSa, inner: list[Payload]) -> EapOutcome:
    session = sa.half_open.eap
    if session is None:
        raise InvalidSyntax("an EAP round without an EAP conversation")
    check_request(ExchangeType.IKE_AUTH, inner, EAP_ROUND_RULES)
    session.rounds += 1
    if session.rounds > MAX_EAP_ROUNDS:
        raise AuthenticationFailed("too many EAP rounds", code="eap_failed")
    if session.msk is not None:
        return _msk_auth(sa, session, session.msk, inner)
    eap = next((p for p in inner if isinstance(p, EapPayload)), None)
    if eap is None:
        raise InvalidSyntax("an EAP round without an EAP payload")
    raw = eap.message()
    if session.method is None:
        from ikev2d.auth.eap import parse_identity_response
        from ikev2d.auth.eap_mschapv2 import EapMschapv2Server

        name = parse_identity_response(raw, session.identifier)
        if name is None:
            raise AuthenticationFailed("bad EAP-Identity response", code="eap_failed")
        session.method = EapMschapv2Server(_password_lookup(ctx), server_name="ikev2d")
        session.identifier = (session.identifier + 1) & 0xFF
        return EapOutcome([_eap_payload(session.method.start(session.identifier, ctx.rng))])
    result = session.method.process(raw)
    if result.success is False:
        reply = _eap_payload(result.send) if result.send else None
        # after a refused password (retries are offered), the end is the password's fault too
        code = "password_wrong" if session.wrong_passwords else "eap_failed"
        raise AuthenticationFailed(f"EAP-MSCHAPv2: {result.reason}", eap_reply=reply, code=code)
    if result.success:
        session.msk, sa.client.user = result.msk, result.user
    retry = result.success is None and bool(result.reason)  # a Failure request, R=1
    session.wrong_passwords += retry
    if result.send is None:  # never while the conversation lives (EapResult)
        raise AuthenticationFailed("EAP-MSCHAPv2 sent nothing", code="eap_failed")
    return EapOutcome([_eap_payload(result.send)], delay=result.delay, wrong_password=retry)


def abandoned_failure(sa: IkeSa, inner: list[Payload]) -> AuthenticationFailed | None:
    """Why the client ends an unfinished IKE_AUTH with an INFORMATIONAL request, or None
    when the request does not end it. strongSwan gives up after one refused MSCHAPv2
    password, and after refusing our certificate or AUTH, by sending { N(AUTHENTICATION_
    FAILED) } (RFC 7296 §2.21.2) instead of retrying; a Delete of the IKE SA also ends it."""
    refused = any(
        isinstance(p, NotifyPayload) and p.notify_type == NotifyType.AUTHENTICATION_FAILED
        for p in inner
    )
    deleted = any(isinstance(p, DeletePayload) and p.protocol == ProtocolId.IKE for p in inner)
    if not (refused or deleted):
        return None
    eap = sa.half_open.eap
    wrong = eap.wrong_passwords if eap is not None else 0
    if wrong:
        return AuthenticationFailed(
            f"EAP-MSCHAPv2: wrong password ({wrong} tries), the client gave up",
            code="password_wrong",
        )
    if refused:
        return AuthenticationFailed(refusal_reason(sa.client.auth_method), code="server_refused")
    return AuthenticationFailed("the client abandoned the authentication", code="abandoned")
