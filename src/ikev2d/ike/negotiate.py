"""Choosing transforms from what the client offers, by the server's order of preference.

Our configured proposals (policy.proposals.Proposal) are tried in order; for each, every client
proposal that offers all of its transforms (and nothing of a type we would have to leave out)
matches. The first match wins, with one refinement for IKE: if the client's KE payload already
uses the group of some acceptable match, the best such match is taken, so a client that guessed
an acceptable group is not sent round an extra INVALID_KE_PAYLOAD trip (RFC 7296 §1.2 allows
the responder to accept any group the initiator proposed). Otherwise INVALID_KE_PAYLOAD names
the group of the best match.
"""

from __future__ import annotations

from dataclasses import dataclass

from ikev2d.crypto.transforms import Transform as TransformInfo
from ikev2d.crypto.transforms import UnknownTransform, lookup
from ikev2d.policy.proposals import Proposal as Configured
from ikev2d.wire.enums import EsnId, ProtocolId, TransformType
from ikev2d.wire.sa import Proposal as Offered
from ikev2d.wire.sa import SaPayload, Transform

from .errors import InvalidKePayload, InvalidSyntax, NoProposalChosen

__all__ = [
    "Chosen",
    "choose_child_proposal",
    "choose_ike_proposal",
    "choose_rekey_child_proposal",
    "describe_offer",
]

_ENCR, _PRF, _INTEG, _KE, _ESN = (
    TransformType.ENCR,
    TransformType.PRF,
    TransformType.INTEG,
    TransformType.KE,
    TransformType.ESN,
)


@dataclass(frozen=True, slots=True)
class Chosen:
    """A configured proposal and the client proposal it matched (for the reply)."""

    configured: Configured
    offered: Offered
    ke_group: int | None = None  # a Child SA's PFS group (CREATE_CHILD_SA)

    def reply_proposal(self, spi: bytes = b"", number: int | None = None) -> Offered:
        """The one proposal we send: the client's number (or `number`), our transforms."""
        protocol = self.offered.protocol
        wanted = _wanted(self.configured, protocol == ProtocolId.IKE)
        transforms = [
            Transform(int(t.type), int(t.id), t.key_bits) for t in wanted if t is not None
        ]
        if self.ke_group is not None and protocol != ProtocolId.IKE:
            transforms.append(Transform(_KE, self.ke_group))
        return Offered(
            self.offered.number if number is None else number, protocol, spi, tuple(transforms)
        )


def _wanted(c: Configured, ike: bool) -> list[TransformInfo | None]:
    if ike:
        return [c.encr, c.prf, c.integ, c.ke]
    return [c.encr, c.integ, c.esn]


def _offers(offered: Offered, t: TransformInfo) -> bool:
    return any(
        o.transform_type == t.type and o.transform_id == t.id and o.key_length == t.key_bits
        for o in offered.transforms
    )


def _matches(c: Configured, offered: Offered, ike: bool) -> bool:
    if any(o.attributes for o in offered.transforms):
        return False  # attributes other than KEY_LENGTH: we cannot honour them
    types = {o.transform_type for o in offered.transforms}
    if ike:
        required = {_ENCR, _PRF, _KE} | ({_INTEG} if c.integ is not None else set())
        allowed = required | {_INTEG}  # an AEAD offer may carry INTEG NONE
    else:
        required = {_ENCR} | ({_INTEG} if c.integ is not None else set())
        allowed = required | {_INTEG, _ESN, _KE}  # KE in IKE_AUTH's SA is ignored
    if not required <= types or not types <= allowed:
        return False
    if c.integ is None and any(
        o.transform_type == _INTEG and o.transform_id != 0 for o in offered.transforms
    ):
        return False  # RFC 5282 §8: an AEAD cipher with a real INTEG is not what we offer
    if not ike and _ESN in types and not _offers(offered, c.esn):
        return False
    if not ike and _ESN not in types and c.esn.id != EsnId.NO_ESN:
        return False
    return all(_offers(offered, t) for t in _wanted(c, ike) if t is not None and _usable(t, types))


def _usable(t: TransformInfo, offered_types: set[int]) -> bool:
    # An ESP offer without any ESN transform is taken as "no ESN"; our NO_ESN is then implied.
    return not (t.type == _ESN and _ESN not in offered_types)


def _proposals(sa: SaPayload, protocol: int) -> list[Offered]:
    out = [p for p in sa.proposals if p.protocol == protocol]
    if not out:
        raise InvalidSyntax(f"SA payload has no proposal for protocol {protocol}")
    return out


def choose_ike_proposal(configured: tuple[Configured, ...], sa: SaPayload, ke_group: int) -> Chosen:
    """The IKE proposal to use; raises NoProposalChosen or InvalidKePayload."""
    offered = _proposals(sa, ProtocolId.IKE)
    matches = [Chosen(c, o) for c in configured for o in offered if _matches(c, o, True)]
    if not matches:
        raise _no_proposal("ike", sa, offered)
    for m in matches:
        if m.configured.ke.id == ke_group:
            return m
    best = matches[0].configured.ke
    raise InvalidKePayload(int(best.id), f"KE group {ke_group} sent, {best.keyword} wanted")


def choose_child_proposal(configured: tuple[Configured, ...], sa: SaPayload) -> Chosen:
    """The ESP proposal for a Child SA created without a new KE (IKE_AUTH)."""
    offered = _proposals(sa, ProtocolId.ESP)
    for c in configured:
        for o in offered:
            if len(o.spi) == 4 and _matches(c, o, False):
                return Chosen(c, o)
    raise _no_proposal("esp", sa, offered)


_DESCRIBE_ORDER = {_ENCR: 0, _INTEG: 1, _PRF: 2, _KE: 3, _ESN: 4}


def _describe_proposal(p: Offered) -> str:
    known, unknown = [], []
    for t in sorted(p.transforms, key=lambda t: _DESCRIBE_ORDER.get(t.transform_type, 9)):
        if t.transform_type == _INTEG and t.transform_id == 0:
            continue
        try:
            known.append(lookup(t.transform_type, t.transform_id, t.key_length))
        except UnknownTransform:
            unknown.append(f"type{t.transform_type}#{t.transform_id}")
    hashes = {t.hash_name for t in known if t.type == _INTEG}
    # strongSwan's shorthand: sha256 stands for INTEG and PRF of the same hash
    words = [t.keyword for t in known if not (t.type == _PRF and t.hash_name in hashes)]
    return "-".join(words + unknown)


def _ke_ids(offered: Offered) -> set[int]:
    return {t.transform_id for t in offered.transforms if t.transform_type == _KE}


def choose_rekey_child_proposal(
    configured: tuple[Configured, ...],
    sa: SaPayload,
    ke_group: int | None,
    supported_groups: frozenset[int],
) -> Chosen:
    """The ESP proposal for a Child SA made by CREATE_CHILD_SA, where a KE (PFS) may come.

    A configured proposal with a KE group insists on it (INVALID_KE_PAYLOAD names it when the
    client offered it but sent another); one without takes no KE, or the client's own group
    when the client asks for PFS with a group we support (iOS offers MODP2048 on rekey).
    """
    offered = _proposals(sa, ProtocolId.ESP)
    wrong_ke: int | None = None
    for c in configured:
        for o in offered:
            if len(o.spi) != 4 or not _matches(c, o, False):
                continue
            groups = _ke_ids(o)
            if c.ke is not None:
                if int(c.ke.id) in groups:
                    if ke_group == int(c.ke.id):
                        return Chosen(c, o, ke_group)
                    wrong_ke = wrong_ke or int(c.ke.id)
            elif ke_group is None:
                if not groups or 0 in groups:
                    return Chosen(c, o)
            elif ke_group in groups and ke_group in supported_groups:
                return Chosen(c, o, ke_group)
    if wrong_ke is not None:
        raise InvalidKePayload(wrong_ke, f"KE group {ke_group} sent, {wrong_ke} wanted")
    raise _no_proposal("esp", sa, offered)


def _no_proposal(kind: str, sa: SaPayload, offered: list[Offered]) -> NoProposalChosen:
    """The refusal; its code ends in ``_weak`` when every proposal the client offered uses a
    weak algorithm (what legacy_proposals allows: Windows' defaults), so the owner learns
    what would let it in."""
    weak = all(_uses_legacy(o) for o in offered)
    return NoProposalChosen(
        f"no acceptable {kind.upper()} proposal in {describe_offer(sa)}",
        code=f"{kind}_proposal_weak" if weak else f"{kind}_proposal",
    )


def _uses_legacy(offered: Offered) -> bool:
    for t in offered.transforms:
        try:
            if lookup(t.transform_type, t.transform_id, t.key_length).legacy:
                return True
        except UnknownTransform:
            continue
    return False


def describe_offer(sa: SaPayload) -> str:
    """What a client offered, in strongSwan's words, for logs and the status page."""
    return ", ".join(_describe_proposal(p) for p in sa.proposals[:8]) or "nothing"
