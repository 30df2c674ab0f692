"""IKE_FOLLOWUP_KE (RFC 9370 §2.2.4): the additional key exchanges of a CREATE_CHILD_SA, one
exchange each, after it. The new Child or IKE SA exists only once the last one is done.

   CREATE_CHILD_SA { SA, Ni, KEi, [N(REKEY_SA)], [TSi, TSr] } -->
                   <-- { SA, Nr, N(ADDITIONAL_KEY_EXCHANGE)(link), KEr, [TSi, TSr] }
   IKE_FOLLOWUP_KE { KEi(1), N(ADDITIONAL_KEY_EXCHANGE)(link) } -->
                   <-- { KEr(1), [N(ADDITIONAL_KEY_EXCHANGE)(link2)] }      (... up to KE(n))

The link is opaque to the initiator; as responder ours is a random handle into the IKE SA's
table of unfinished exchanges (bounded in number and age). An unknown link is STATE_NOT_FOUND.
Their secrets SK(1)..SK(n) follow Ni | Nr in the keys (crypto.keys).

Both roles live here: `handle_followup_ke` answers the client's; `run_followups` drives ours
when the server rekeys an SA that has additional key exchanges.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ikev2d.crypto import errors as crypto_errors
from ikev2d.crypto.dh import ephemeral_key_exchange
from ikev2d.wire.enums import ExchangeType, NotifyType
from ikev2d.wire.payloads import KePayload, NotifyPayload, Payload

from .context import Context, Rng
from .errors import InvalidSyntax, StateNotFound, TemporaryFailure
from .ike_sa_init import run_key_exchange
from .rules import check_request
from .sa import Answer, Finish, Followup, IkeSa

__all__ = [
    "FollowupsPending",
    "handle_followup_ke",
    "run_followups",
    "start_followups",
]

MAX_PENDING = 2  # unfinished CREATE_CHILD_SA per IKE SA (a rekey of each kind at once)
PENDING_TIMEOUT = 30.0  # seconds an unfinished one is kept
_LINK_LEN = 8


@dataclass(slots=True)
class FollowupsPending:
    """An answer that asks for (more) IKE_FOLLOWUP_KE exchanges: nothing is created yet."""

    payloads: list[Payload]


def _link_notify(link: bytes) -> NotifyPayload:
    return NotifyPayload.of(NotifyType.ADDITIONAL_KEY_EXCHANGE, link)


def _link_of(inner: list[Payload]) -> bytes | None:
    notify = next((p for p in inner if isinstance(p, NotifyPayload)
                   and p.notify_type == NotifyType.ADDITIONAL_KEY_EXCHANGE), None)  # fmt: skip
    return None if notify is None else notify.data


def _keep(sa: IkeSa, followup: Followup, now: float, rng: Rng) -> bytes:
    """Store `followup` under a fresh link; TemporaryFailure when too many are unfinished."""
    table = sa.followups
    if table is None:
        table = sa.followups = {}
    for link in [k for k, f in table.items() if now - f.started > PENDING_TIMEOUT]:
        del table[link]
    if len(table) >= MAX_PENDING:
        raise TemporaryFailure("too many unfinished additional key exchanges")
    link = bytes(rng(_LINK_LEN))
    table[link] = followup
    return link


def start_followups(
    sa: IkeSa,
    methods: tuple[int, ...],
    finish: Finish,
    payloads: list[Payload],
    now: float,
    rng: Rng,
) -> FollowupsPending:
    """Our CREATE_CHILD_SA response `payloads` (SA, Nr, KEr, ...) announcing the additional
    key exchanges `methods`; `finish` makes the SA when they are done."""
    link = _keep(sa, Followup(methods, finish, now), now, rng)
    at = next((i for i, p in enumerate(payloads) if isinstance(p, KePayload)), 2)
    return FollowupsPending([*payloads[:at], _link_notify(link), *payloads[at:]])


def handle_followup_ke(sa: IkeSa, inner: list[Payload], now: float, rng: Rng) -> Answer:
    """The client's IKE_FOLLOWUP_KE: FollowupsPending while exchanges remain, else what the
    Followup's `finish` makes (a Child SA or a rekeyed IKE SA)."""
    link = _link_of(inner)
    followup = sa.followups.pop(link, None) if sa.followups and link is not None else None
    if followup is None or now - followup.started > PENDING_TIMEOUT:
        raise StateNotFound("IKE_FOLLOWUP_KE for no unfinished CREATE_CHILD_SA")
    check_request(ExchangeType.IKE_FOLLOWUP_KE, inner)
    method = followup.methods[0]
    ke = next(p for p in inner if isinstance(p, KePayload))
    if ke.group != method:
        raise InvalidSyntax(f"KE method {ke.group} in IKE_FOLLOWUP_KE, {method} due")
    ours, secret = run_key_exchange(method, ke.data, rng)
    followup.secrets.append(secret)
    followup.methods = followup.methods[1:]
    reply: list[Payload] = [KePayload(method, ours)]
    if followup.methods:
        return FollowupsPending([*reply, _link_notify(_keep(sa, followup, now, rng))])
    if not sa.followups:
        sa.followups = None
    return followup.finish(b"".join(followup.secrets), reply, now)


def run_followups(
    ctx: Context,
    sa: IkeSa,
    methods: tuple[int, ...],
    inner: list[Payload],
    finish: Callable[[bytes, float], None],
    fail: Callable[[str, float], None],
    now: float,
) -> None:
    """Drive the IKE_FOLLOWUP_KE exchanges of a CREATE_CHILD_SA of ours whose response
    (`inner`) chose `methods`; then `finish(SK(1) | ... | SK(n), now)`, or `fail(why, now)`."""
    secrets: list[bytes] = []

    def step(remaining: tuple[int, ...], response: list[Payload], t: float) -> None:
        link = _link_of(response)
        if link is None:
            fail("no ADDITIONAL_KEY_EXCHANGE notify for the additional key exchange", t)
            return
        method = remaining[0]
        kex = ephemeral_key_exchange(method, ctx.rng)

        def done(reply: list[Payload], t2: float) -> None:
            error = next((p for p in reply if isinstance(p, NotifyPayload) and p.is_error), None)
            ke = next((p for p in reply if isinstance(p, KePayload)), None)
            if error is not None or ke is None or ke.group != method:
                why = f"notify {error.notify_type}" if error is not None else "no fitting KE"
                fail(f"IKE_FOLLOWUP_KE refused: {why}", t2)
                return
            try:
                secrets.append(kex.shared_secret(ke.data))
            except crypto_errors.CryptoError as e:
                fail(f"IKE_FOLLOWUP_KE: {e}", t2)
                return
            if remaining[1:]:
                step(remaining[1:], reply, t2)
            else:
                finish(b"".join(secrets), t2)

        payloads = [KePayload(method, kex.public_bytes()), _link_notify(link)]
        ctx.send_request(sa, ExchangeType.IKE_FOLLOWUP_KE, payloads, t, "followup-ke", done)

    step(methods, inner, now)
