"""Choosing transforms from what the client offers, by the server's order of preference.

Our configured proposals (policy.proposals.Proposal) are tried in order; for each, every client
proposal that offers all of its transforms (and nothing of a type we would have to leave out)
matches. The first match wins, with one refinement for IKE: if the client's KE payload already
uses the group of some acceptable match, the best such match is taken, so a client that guessed
an acceptable group is not sent round an extra INVALID_KE_PAYLOAD trip (RFC 7296 §1.2 allows
the responder to accept any group the initiator proposed). Otherwise INVALID_KE_PAYLOAD names
the group of the best match.

Additional key exchanges (RFC 9370 §2.2.1): a client proposal may carry transform types
ADDKE1..ADDKE7, each with alternatives, NONE among them when that exchange is optional. For every
type present we pick our most preferred ML-KEM that the client lists (never one twice), else NONE
if listed, else the proposal does not match; NONE is left out of the reply, as strongSwan does.
`AdditionalKe` says which methods we run (none with post_quantum off or without ML-KEM) and
whether at least one must be chosen (post_quantum required, for new IKE SAs).
"""

from __future__ import annotations

from dataclasses import dataclass

from ikev2d.crypto.dh import supported_groups
from ikev2d.crypto.transforms import Transform as TransformInfo
from ikev2d.crypto.transforms import UnknownTransform, additional_ke_keyword, lookup
from ikev2d.policy.proposals import Proposal as Configured
from ikev2d.wire.enums import EsnId, ProtocolId, TransformType
from ikev2d.wire.sa import Proposal as Offered
from ikev2d.wire.sa import SaPayload, Transform

from .errors import InvalidKePayload, InvalidSyntax, NoProposalChosen

__all__ = [
    "ADDKE_TYPES",
    "SUPPORTED_GROUPS",
    "AdditionalKe",
    "Chosen",
    "additional_ke_policy",
    "choose_child_proposal",
    "choose_ike_proposal",
    "choose_rekey_child_proposal",
    "describe_offer",
    "rekey_key_exchanges",
]

_ENCR, _PRF, _INTEG, _KE, _ESN = (
    TransformType.ENCR,
    TransformType.PRF,
    TransformType.INTEG,
    TransformType.KE,
    TransformType.ESN,
)
ADDKE_TYPES = tuple(range(TransformType.ADDKE1, TransformType.ADDKE7 + 1))
SUPPORTED_GROUPS = frozenset(int(g) for g in supported_groups())  # classic (EC)DH groups
_ADDKE = frozenset(ADDKE_TYPES)
_NONE = 0


@dataclass(frozen=True, slots=True)
class AdditionalKe:
    """Which additional key exchanges we agree to, by our preference, and whether one must be."""

    methods: tuple[int, ...] = ()
    required: bool = False

    def choose(self, offered: Offered) -> tuple[tuple[int, int], ...] | None:
        """((ADDKE type, method), ...) for the client proposal, or None if it does not match."""
        chosen: list[tuple[int, int]] = []
        for ttype in sorted({t.transform_type for t in offered.transforms} & _ADDKE):
            ids = {t.transform_id for t in offered.transforms if t.transform_type == ttype}
            used = {m for _, m in chosen}
            pick = next((m for m in self.methods if m in ids and m not in used), None)
            if pick is not None:
                chosen.append((ttype, pick))
            elif _NONE not in ids:
                return None
        if self.required and not chosen:
            return None
        return tuple(chosen)


NO_ADDITIONAL_KE = AdditionalKe()


def additional_ke_policy(
    post_quantum: str, *, new_ike_sa: bool = False, possible: bool = True
) -> AdditionalKe:
    """The ML-KEM methods post_quantum lets us run (none when the exchange cannot carry them:
    `possible` False); `required` binds only new IKE SAs, since the keys of rekeyed SAs derive
    from SK_d, which the first exchanges already protected."""
    required = post_quantum == "required" and new_ike_sa
    if post_quantum == "off" or not possible:
        return AdditionalKe((), required)
    from ikev2d.crypto.mlkem import available_methods

    return AdditionalKe(tuple(int(m) for m in available_methods()), required)


@dataclass(frozen=True, slots=True)
class Chosen:
    """A configured proposal and the client proposal it matched (for the reply)."""

    configured: Configured
    offered: Offered
    ke_group: int | None = None  # a Child SA's PFS group (CREATE_CHILD_SA)
    additional: tuple[tuple[int, int], ...] = ()  # (ADDKE type, method), RFC 9370

    @property
    def additional_methods(self) -> tuple[int, ...]:
        """The additional key exchanges to run, in order."""
        return tuple(m for _, m in self.additional)

    @property
    def key_exchanges(self) -> tuple[tuple[int, int], ...]:
        """A Child SA's (transform type, id) of KE and ADDKE, for rekeying it the same way."""
        return ((_KE, self.ke_group), *self.additional) if self.ke_group is not None else ()

    def reply_proposal(self, spi: bytes = b"", number: int | None = None) -> Offered:
        """The one proposal we send: the client's number (or `number`), our transforms."""
        protocol = self.offered.protocol
        wanted = _wanted(self.configured, protocol == ProtocolId.IKE)
        transforms = [
            Transform(int(t.type), int(t.id), t.key_bits) for t in wanted if t is not None
        ]
        if self.ke_group is not None and protocol != ProtocolId.IKE:
            transforms.append(Transform(_KE, self.ke_group))
        transforms += [Transform(ttype, method) for ttype, method in self.additional]
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
        allowed = required | {_INTEG} | _ADDKE  # an AEAD offer may carry INTEG NONE
    else:
        required = {_ENCR} | ({_INTEG} if c.integ is not None else set())
        allowed = required | {_INTEG, _ESN, _KE} | _ADDKE  # KE in IKE_AUTH's SA is ignored
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


def choose_ike_proposal(
    configured: tuple[Configured, ...],
    sa: SaPayload,
    ke_group: int,
    additional: AdditionalKe = NO_ADDITIONAL_KE,
) -> Chosen:
    """The IKE proposal to use; raises NoProposalChosen or InvalidKePayload."""
    offered = _proposals(sa, ProtocolId.IKE)
    matches = []
    for c in configured:
        for o in offered:
            if _matches(c, o, True) and (addke := additional.choose(o)) is not None:
                matches.append(Chosen(c, o, additional=addke))
    if not matches:
        if additional.required and any(_matches(c, o, True) for c in configured for o in offered):
            raise NoProposalChosen(
                f"no proposal with ML-KEM (post_quantum is required) in {describe_offer(sa)}",
                code="ike_proposal_pq",
            )
        raise _no_proposal("ike", sa, offered)
    for m in matches:
        if m.configured.group == ke_group:
            return m
    best = matches[0].configured
    raise InvalidKePayload(best.group, f"KE group {ke_group} sent, {best.group} wanted")


def choose_child_proposal(configured: tuple[Configured, ...], sa: SaPayload) -> Chosen:
    """The ESP proposal for a Child SA created without a new KE (IKE_AUTH)."""
    offered = _proposals(sa, ProtocolId.ESP)
    for c in configured:
        for o in offered:
            if len(o.spi) == 4 and _matches(c, o, False):
                return Chosen(c, o)
    raise _no_proposal("esp", sa, offered)


_DESCRIBE_ORDER = {_ENCR: 0, _INTEG: 1, _PRF: 2, _KE: 3, **dict.fromkeys(ADDKE_TYPES, 4), _ESN: 5}


def _describe_proposal(p: Offered) -> str:
    known, unknown = [], []
    addke: list[str] = []
    for t in sorted(p.transforms, key=lambda t: _DESCRIBE_ORDER.get(t.transform_type, 9)):
        if t.transform_type == _INTEG and t.transform_id == 0:
            continue
        if t.transform_type in _ADDKE:
            addke.append(additional_ke_keyword(t.transform_type, t.transform_id))
            continue
        try:
            known.append(lookup(t.transform_type, t.transform_id, t.key_length))
        except UnknownTransform:
            unknown.append(f"type{t.transform_type}#{t.transform_id}")
    hashes = {t.hash_name for t in known if t.type == _INTEG}
    # strongSwan's shorthand: sha256 stands for INTEG and PRF of the same hash
    words = [t.keyword for t in known if not (t.type == _PRF and t.hash_name in hashes)]
    return "-".join(words + addke + unknown)


def _ke_ids(offered: Offered) -> set[int]:
    return {t.transform_id for t in offered.transforms if t.transform_type == _KE}


def choose_rekey_child_proposal(
    configured: tuple[Configured, ...],
    sa: SaPayload,
    ke_group: int | None,
    supported_groups: frozenset[int],
    additional: AdditionalKe = NO_ADDITIONAL_KE,
) -> Chosen:
    """The ESP proposal for a Child SA made by CREATE_CHILD_SA, where a KE (PFS) may come.

    A configured proposal with a KE group insists on it (INVALID_KE_PAYLOAD names it when the
    client offered it but sent another); one without takes no KE, or the client's own group
    when the client asks for PFS with a group we support (iOS offers MODP2048 on rekey).
    Additional key exchanges ride on a main one: without KE none is chosen.
    """
    offered = _proposals(sa, ProtocolId.ESP)
    wrong_ke: int | None = None
    for c in configured:
        for o in offered:
            if len(o.spi) != 4 or not _matches(c, o, False):
                continue
            groups = _ke_ids(o)
            group: int | None = None
            if c.ke is not None:
                if c.group not in groups:
                    continue
                if ke_group != c.group:
                    wrong_ke = wrong_ke or c.group
                    continue
                group = ke_group
            elif ke_group is None:
                if groups and 0 not in groups:
                    continue
            elif ke_group not in groups or ke_group not in supported_groups:
                continue
            else:
                group = ke_group
            addke = (additional if group is not None else NO_ADDITIONAL_KE).choose(o)
            if addke is not None:
                return Chosen(c, o, group, addke)
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


def rekey_key_exchanges(
    configured: tuple[Configured, ...], sa: SaPayload, additional: AdditionalKe
) -> tuple[tuple[int, int], ...]:
    """What our rekey of the first Child SA offers: IKE_AUTH's SA may list the client's KE and
    ADDKE choices for later rekeys (strongSwan sends its esp_proposals' groups there, RFC 7296
    §1.2); we take what we would choose had the client rekeyed with its first group. Empty
    when it lists none we take (then the configured proposal's group, if any)."""
    supported = SUPPORTED_GROUPS
    for offered in _proposals(sa, ProtocolId.ESP):
        for group in (t.transform_id for t in offered.transforms if t.transform_type == _KE):
            if group in supported:
                one = SaPayload((offered,))
                try:
                    chosen = choose_rekey_child_proposal(
                        configured, one, group, supported, additional
                    )
                except (NoProposalChosen, InvalidKePayload):
                    continue
                return chosen.key_exchanges
    return ()
