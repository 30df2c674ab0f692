"""Key derivation: SKEYSEED and the IKE SA keys (RFC 7296 §2.14), IKE SA rekey (§2.18) and
Child SA KEYMAT (§2.17).

Key lengths come from the transform registry: for AEAD the ENCR key includes its salt and there is
no INTEG key; SK_d, SK_pi and SK_pr are the PRF's preferred key length.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ikev2d.crypto.prf import Prf
from ikev2d.crypto.transforms import Transform

__all__ = [
    "ChildKeys",
    "DirectionKeys",
    "IkeKeys",
    "derive_child_keys",
    "derive_ike_keys",
    "derive_intermediate_ike_keys",
    "derive_rekeyed_ike_keys",
    "ike_keys_from_skeyseed",
    "rekey_skeyseed",
    "skeyseed",
]


@dataclass(frozen=True, slots=True)
class DirectionKeys:
    """ENCR and INTEG keys protecting one direction (integ_key is b"" for AEAD)."""

    encr_key: bytes = field(repr=False)
    integ_key: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class IkeKeys:
    sk_d: bytes = field(repr=False)
    sk_ai: bytes = field(repr=False)
    sk_ar: bytes = field(repr=False)
    sk_ei: bytes = field(repr=False)
    sk_er: bytes = field(repr=False)
    sk_pi: bytes = field(repr=False)
    sk_pr: bytes = field(repr=False)

    @property
    def i_to_r(self) -> DirectionKeys:
        """Keys of messages the original initiator sends."""
        return DirectionKeys(self.sk_ei, self.sk_ai)

    @property
    def r_to_i(self) -> DirectionKeys:
        """Keys of messages the original responder sends."""
        return DirectionKeys(self.sk_er, self.sk_ar)


@dataclass(frozen=True, slots=True)
class ChildKeys:
    """Child SA keys: `_i` protect initiator->responder traffic, `_r` the reverse (§2.17)."""

    encr_i: bytes = field(repr=False)
    integ_i: bytes = field(repr=False)
    encr_r: bytes = field(repr=False)
    integ_r: bytes = field(repr=False)

    @property
    def i_to_r(self) -> DirectionKeys:
        return DirectionKeys(self.encr_i, self.integ_i)

    @property
    def r_to_i(self) -> DirectionKeys:
        return DirectionKeys(self.encr_r, self.integ_r)


def _integ_len(integ: Transform | None) -> int:
    return integ.key_len if integ is not None else 0


def skeyseed(prf: Prf, nonce_i: bytes, nonce_r: bytes, shared_secret: bytes) -> bytes:
    """SKEYSEED = prf(Ni | Nr, g^ir).

    §2.14: a PRF that takes a fixed-length key (AES-XCBC/CMAC-PRF-128) gets the first half of
    its key from the start of Ni and the second half from the start of Nr.
    """
    fixed = prf.fixed_key_len
    if fixed:
        half = fixed // 2
        key = nonce_i[:half] + nonce_r[:half]
    else:
        key = nonce_i + nonce_r
    return prf.compute(key, shared_secret)


def rekey_skeyseed(
    old_prf: Prf,
    old_sk_d: bytes,
    shared_secret: bytes,
    nonce_i: bytes,
    nonce_r: bytes,
    additional: bytes = b"",
) -> bytes:
    """IKE SA rekey (§2.18): SKEYSEED = prf(SK_d (old), g^ir (new) | Ni | Nr), with the OLD
    IKE SA's PRF (the rekey exchange belongs to the old SA).

    RFC 9370 §2.2.4: with additional key exchanges (IKE_FOLLOWUP_KE) their secrets follow the
    nonces, `additional` = SK(1) | ... | SK(n): prf(SK_d, SK(0) | Ni | Nr | SK(1) | ... | SK(n)).
    """
    return old_prf.compute(old_sk_d, b"".join((shared_secret, nonce_i, nonce_r, additional)))


def ike_keys_from_skeyseed(
    prf: Prf,
    encr: Transform,
    integ: Transform | None,
    seed: bytes,
    nonce_i: bytes,
    nonce_r: bytes,
    spi_i: bytes,
    spi_r: bytes,
) -> IkeKeys:
    """{SK_d | SK_ai | SK_ar | SK_ei | SK_er | SK_pi | SK_pr} = prf+(SKEYSEED, Ni|Nr|SPIi|SPIr)."""
    if len(spi_i) != 8 or len(spi_r) != 8:
        raise ValueError("IKE SPIs are 8 bytes")
    lengths = (
        prf.key_len,
        _integ_len(integ),
        _integ_len(integ),
        encr.key_len,
        encr.key_len,
        prf.key_len,
        prf.key_len,
    )
    stream = prf.plus(seed, nonce_i + nonce_r + spi_i + spi_r, sum(lengths))
    parts = []
    pos = 0
    for n in lengths:
        parts.append(stream[pos : pos + n])
        pos += n
    return IkeKeys(*parts)


def derive_ike_keys(
    prf: Prf,
    encr: Transform,
    integ: Transform | None,
    nonce_i: bytes,
    nonce_r: bytes,
    spi_i: bytes,
    spi_r: bytes,
    shared_secret: bytes,
) -> IkeKeys:
    """Keys of a new IKE SA from IKE_SA_INIT (§2.14)."""
    seed = skeyseed(prf, nonce_i, nonce_r, shared_secret)
    return ike_keys_from_skeyseed(prf, encr, integ, seed, nonce_i, nonce_r, spi_i, spi_r)


def derive_rekeyed_ike_keys(
    old_prf: Prf,
    old_sk_d: bytes,
    prf: Prf,
    encr: Transform,
    integ: Transform | None,
    nonce_i: bytes,
    nonce_r: bytes,
    spi_i: bytes,
    spi_r: bytes,
    shared_secret: bytes,
    additional: bytes = b"",
) -> IkeKeys:
    """Keys of the new IKE SA after a CREATE_CHILD_SA rekey (§2.18); SPIs are the new SA's.
    `additional`: the secrets of RFC 9370 additional key exchanges, in order."""
    seed = rekey_skeyseed(old_prf, old_sk_d, shared_secret, nonce_i, nonce_r, additional)
    return ike_keys_from_skeyseed(prf, encr, integ, seed, nonce_i, nonce_r, spi_i, spi_r)


def derive_intermediate_ike_keys(
    prf: Prf,
    keys: IkeKeys,
    encr: Transform,
    integ: Transform | None,
    nonce_i: bytes,
    nonce_r: bytes,
    spi_i: bytes,
    spi_r: bytes,
    shared_secret: bytes,
) -> IkeKeys:
    """The IKE SA's keys after its n-th additional key exchange in IKE_INTERMEDIATE (RFC 9370
    §2.2.2): SKEYSEED(n) = prf(SK_d(n-1), SK(n) | Ni | Nr), then prf+ as in §2.14 with the
    IKE_SA_INIT nonces and SPIs."""
    return derive_rekeyed_ike_keys(
        prf, keys.sk_d, prf, encr, integ, nonce_i, nonce_r, spi_i, spi_r, shared_secret
    )


def derive_child_keys(
    prf: Prf,
    sk_d: bytes,
    encr: Transform,
    integ: Transform | None,
    nonce_i: bytes,
    nonce_r: bytes,
    shared_secret: bytes | None = None,
    additional: bytes = b"",
) -> ChildKeys:
    """KEYMAT = prf+(SK_d, [g^ir (new) |] Ni | Nr) (§2.17).

    Taken in order: initiator->responder ENCR then INTEG key, then responder->initiator.
    Ni and Nr are those of the exchange creating the Child SA (IKE_SA_INIT's for the first one).
    RFC 9370 §2.2.4: the secrets of additional key exchanges follow the nonces,
    prf+(SK_d, SK(0) | Ni | Nr | SK(1) | ... | SK(n)).
    """
    seed = b"".join((shared_secret or b"", nonce_i, nonce_r, additional))
    e, a = encr.key_len, _integ_len(integ)
    keymat = prf.plus(sk_d, seed, 2 * (e + a))
    return ChildKeys(
        keymat[:e],
        keymat[e : e + a],
        keymat[e + a : 2 * e + a],
        keymat[2 * e + a :],
    )
