"""strongSwan-style proposal strings -> validated Proposal objects.

IKE: ``aes256-sha256-modp2048``, ``aes256gcm16-prfsha384-curve25519``,
``chacha20poly1305-prfsha256-curve25519``. ESP: ``aes256-sha256``, ``aes256gcm16``,
``chacha20poly1305``, each optionally ending in ``-esn`` or ``-noesn`` (default noesn), and
optionally carrying one KE group used for PFS when the Child SA is rekeyed (the first Child SA,
created in IKE_AUTH, never has a KE).

Rules: exactly one encryption algorithm; an AEAD cipher (GCM, ChaCha20-Poly1305) takes no
integrity algorithm; any other cipher needs exactly one. In IKE a bare hash (``sha256``) means
INTEG and PRF of that hash (as in strongSwan), ``prfsha384`` names the PRF alone, and exactly one
KE group is required. Keywords, ids and the ``legacy`` flag come from crypto.transforms.
"""

from __future__ import annotations

from ikev2d.crypto.transforms import (
    ALL_TRANSFORMS,
    Transform,
    UnknownTransform,
    by_keyword,
    prf_for_integ,
)
from ikev2d.wire.enums import EsnId, TransformType
from ikev2d.wire.frozen import Frozen

__all__ = [
    "Proposal",
    "ProposalError",
    "is_legacy",
    "known_keywords",
    "parse_proposal",
]

_NO_ESN = next(t for t in ALL_TRANSFORMS if t.type == TransformType.ESN and t.id == EsnId.NO_ESN)


class ProposalError(ValueError):
    """A proposal string that cannot be used; the message says why (without the string)."""


def is_legacy(t: Transform) -> bool:
    """Weak transforms, accepted only with legacy_proposals.

    The registry flags 3DES and MODP1024; SHA-1 (as INTEG or PRF) is added here because the
    configuration promises "modp1024/sha1/3des only when legacy_proposals is set": HMAC-SHA1 is
    not broken, but it is what only the Windows defaults need.
    """
    return t.legacy or t.hash_name == "sha1"


class Proposal(Frozen):
    """One proposal: transforms from the registry, in wire order by ``transforms``."""

    __slots__ = ("encr", "esn", "integ", "ke", "prf", "protocol", "text")
    protocol: str  # "ike" or "esp"
    text: str  # canonical (lower-case) proposal string
    encr: Transform
    prf: Transform | None  # IKE only
    integ: Transform | None  # None for AEAD
    ke: Transform | None  # IKE: required; ESP: optional PFS group for rekeying
    esn: Transform  # ESP only (ignored for IKE)

    def __init__(
        self,
        protocol: str,
        text: str,
        encr: Transform,
        prf: Transform | None = None,
        integ: Transform | None = None,
        ke: Transform | None = None,
        esn: Transform = _NO_ESN,
    ) -> None:
        self._set(protocol=protocol, text=text, encr=encr, prf=prf, integ=integ, ke=ke, esn=esn)

    @property
    def group(self) -> int:
        """An IKE proposal's KE method (parse_proposal gives every IKE proposal one)."""
        if self.ke is None:
            raise ValueError(f"proposal {self.text} has no key exchange")
        return int(self.ke.id)

    @property
    def aead(self) -> bool:
        return self.encr.is_aead

    @property
    def legacy(self) -> bool:
        return any(is_legacy(t) for t in self.transforms)

    @property
    def transforms(self) -> tuple[Transform, ...]:
        """ENCR, PRF, INTEG, KE, ESN as present (ESN for ESP only)."""
        out = [t for t in (self.encr, self.prf, self.integ, self.ke) if t is not None]
        if self.protocol == "esp":
            out.append(self.esn)
        return tuple(out)

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:  # the descriptors are long; the text says it all
        return f"Proposal({self.protocol!r}, {self.text!r})"


def _one(kind: str, current: Transform | None, new: Transform) -> Transform:
    if current is not None:
        raise ProposalError(f"has more than one {kind} ({current.keyword}, {new.keyword})")
    return new


def _collect(keywords: list[str], protocol: str) -> dict[str, Transform | None]:
    found: dict[str, Transform | None] = dict.fromkeys(("encr", "integ", "prf", "ke", "esn"))
    for kw in keywords:
        try:
            t = by_keyword(kw)
        except UnknownTransform:
            raise ProposalError(f"has an unknown algorithm {kw!r}") from None
        slot = {
            TransformType.ENCR: "encr",
            TransformType.INTEG: "integ",
            TransformType.PRF: "prf",
            TransformType.KE: "ke",
            TransformType.ESN: "esn",
        }[t.type]
        if slot == "prf" and protocol == "esp":
            raise ProposalError(f"has a PRF ({kw}), which ESP does not use")
        if slot == "esn" and protocol == "ike":
            raise ProposalError(f"has {kw}, which only ESP proposals take")
        found[slot] = _one({"ke": "key exchange group"}.get(slot, slot.upper()), found[slot], t)
    return found


def parse_proposal(text: str, protocol: str) -> Proposal:
    """Parse an ``ike`` or ``esp`` proposal string; raise ProposalError saying what is wrong.

    Legacy transforms parse fine (``Proposal.legacy`` tells); refusing them is the caller's
    decision, since it depends on legacy_proposals.
    """
    if protocol not in ("ike", "esp"):
        raise ValueError(f"protocol must be 'ike' or 'esp', not {protocol!r}")
    canonical = text.strip().lower()
    keywords = canonical.split("-")
    if not canonical or "" in keywords:
        raise ProposalError("is empty or has an empty part")
    found = _collect(keywords, protocol)
    encr, integ, prf, ke = found["encr"], found["integ"], found["prf"], found["ke"]
    if encr is None:
        raise ProposalError("has no encryption algorithm")
    if encr.is_aead and integ is not None:
        hint = f"; use prf{integ.keyword} for the PRF" if protocol == "ike" else ""
        raise ProposalError(f"combines AEAD {encr.keyword} with integrity {integ.keyword}{hint}")
    if not encr.is_aead and integ is None:
        raise ProposalError(f"needs an integrity algorithm with {encr.keyword}")
    if protocol == "ike":
        if prf is None:
            if integ is None:
                raise ProposalError("needs a PRF (e.g. prfsha256) with an AEAD cipher")
            prf = prf_for_integ(integ)  # bare sha256 = INTEG + PRF
        if ke is None:
            raise ProposalError("needs one key exchange group (e.g. modp2048, curve25519)")
        _classic_ke(ke)
        return Proposal("ike", canonical, encr, prf=prf, integ=integ, ke=ke)
    esn = found["esn"] or _NO_ESN
    if ke is not None:
        _classic_ke(ke)
    return Proposal("esp", canonical, encr, integ=integ, ke=ke, esn=esn)


def _classic_ke(ke: Transform) -> None:
    if ke.is_kem:
        raise ProposalError(
            f"names {ke.keyword}, which the server runs only as an additional key exchange "
            "next to a classic group: set post_quantum instead"
        )


def known_keywords() -> dict[str, list[str]]:
    """Keywords by transform type (for help text and the LuCI page); ML-KEM is not a proposal
    keyword (post_quantum adds it)."""
    out: dict[str, list[str]] = {}
    for t in ALL_TRANSFORMS:
        if t.is_kem:
            continue
        out.setdefault(t.type.name.lower(), []).append(t.keyword)
    return out
