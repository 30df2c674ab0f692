"""The transform registry: the one place the facts about each offered transform live.

Every transform we implement has one frozen `Transform` descriptor: its IANA type and id (and
the Key Length attribute for AES variants), the strongSwan-style proposal keyword, the Linux XFRM
algorithm name used when the kernel runs it for ESP, and its sizes. The negotiation code, the
crypto objects, the kernel room and the client profiles all read this table; nothing else should
hard-code a key length or an XFRM name.

Sizes are in bytes except where a name says `_bits`. For AEAD ciphers `key_len` includes the
4-byte salt taken from the keying material (RFC 5282 §7.1, RFC 7634 §2), which is also what XFRM
expects for `rfc4106(gcm(aes))` and `rfc7539esp(chacha20,poly1305)`.
"""

from __future__ import annotations

from ikev2d.wire.enums import DhId, EncrId, EsnId, IntegId, PrfId, TransformType
from ikev2d.wire.frozen import Frozen

__all__ = [
    "ALL_TRANSFORMS",
    "Transform",
    "UnknownTransform",
    "additional_ke_keyword",
    "by_keyword",
    "ike_transforms_for_keyword",
    "integ_for_prf",
    "lookup",
    "prf_for_integ",
]


class UnknownTransform(LookupError):
    """No transform with that keyword or (type, id, key bits) is implemented."""


class Transform(Frozen):
    """One implemented transform (see the module docstring for units)."""

    __slots__ = (
        "aliases",
        "block_size",
        "ciphertext_len",
        "hash_name",
        "iana_name",
        "icv_len",
        "id",
        "iv_len",
        "key_bits",
        "key_len",
        "keyword",
        "legacy",
        "output_len",
        "public_len",
        "salt_len",
        "type",
        "xfrm_name",
    )
    type: TransformType
    id: int
    keyword: str
    iana_name: str
    #: Value of the Key Length attribute (RFC 7296 §3.3.5); None for fixed-key transforms,
    #: which must be sent without the attribute.
    key_bits: int | None
    #: Linux XFRM algorithm name for ESP (None where XFRM has no such name: PRF, KE, ESN).
    xfrm_name: str | None
    #: Keying material consumed from KEYMAT / prf+ (ENCR: key + salt; INTEG: HMAC key;
    #: PRF: preferred key length = output length for HMAC).
    key_len: int
    salt_len: int
    #: ENCR: AEAD ICV length; INTEG: truncated output length.
    icv_len: int
    iv_len: int
    block_size: int
    #: PRF: output length; INTEG: full (untruncated) hash length.
    output_len: int
    #: KE: length of the public value in the KE payload and of the shared secret g^ir; for a
    #: KEM the initiator's public (encapsulation) key, and `ciphertext_len` the responder's.
    public_len: int
    ciphertext_len: int
    #: Hash name for HMAC-based PRF/INTEG ("sha256" ...).
    hash_name: str | None
    #: Weak transforms: offered and accepted only when the operator enables legacy suites.
    legacy: bool
    aliases: tuple[str, ...]

    def __init__(
        self,
        type: TransformType,
        id: int,
        keyword: str,
        iana_name: str,
        key_bits: int | None = None,
        xfrm_name: str | None = None,
        key_len: int = 0,
        salt_len: int = 0,
        icv_len: int = 0,
        iv_len: int = 0,
        block_size: int = 0,
        output_len: int = 0,
        public_len: int = 0,
        ciphertext_len: int = 0,
        hash_name: str | None = None,
        legacy: bool = False,
        aliases: tuple[str, ...] = (),
    ) -> None:
        self._set(
            type=type,
            id=id,
            keyword=keyword,
            iana_name=iana_name,
            key_bits=key_bits,
            xfrm_name=xfrm_name,
            key_len=key_len,
            salt_len=salt_len,
            icv_len=icv_len,
            iv_len=iv_len,
            block_size=block_size,
            output_len=output_len,
            public_len=public_len,
            ciphertext_len=ciphertext_len,
            hash_name=hash_name,
            legacy=legacy,
            aliases=aliases,
        )

    @property
    def is_aead(self) -> bool:
        return self.type == TransformType.ENCR and self.icv_len > 0

    @property
    def is_kem(self) -> bool:
        """A key encapsulation method (ML-KEM): usable only as an additional key exchange."""
        return self.ciphertext_len > 0

    @property
    def xfrm_key_bits(self) -> int:
        """Key length XFRM wants (alg_key_len): includes the salt for AEAD."""
        return self.key_len * 8

    @property
    def icv_bits(self) -> int:
        """AEAD ICV length or INTEG truncation length in bits (XFRM alg_icv_len/alg_trunc_len)."""
        return self.icv_len * 8

    @property
    def registry_key(self) -> tuple[TransformType, int, int | None]:
        return (self.type, self.id, self.key_bits)


def _aes_cbc(bits: int) -> Transform:
    return Transform(
        TransformType.ENCR,
        EncrId.AES_CBC,
        f"aes{bits}",
        "ENCR_AES_CBC",
        key_bits=bits,
        xfrm_name="cbc(aes)",
        key_len=bits // 8,
        iv_len=16,
        block_size=16,
    )


def _aes_gcm16(bits: int) -> Transform:
    # RFC 5282 §7.1 / RFC 4106 §8.1: 4 salt octets follow the AES key; 8-octet explicit IV.
    return Transform(
        TransformType.ENCR,
        EncrId.AES_GCM_16,
        f"aes{bits}gcm16",
        "ENCR_AES_GCM_16",
        key_bits=bits,
        xfrm_name="rfc4106(gcm(aes))",
        key_len=bits // 8 + 4,
        salt_len=4,
        icv_len=16,
        iv_len=8,
        block_size=1,
        aliases=(f"aes{bits}gcm128",),
    )


def _hmac_integ(ident: IntegId, hash_name: str, full: int, trunc: int, kw: str) -> Transform:
    return Transform(
        TransformType.INTEG,
        ident,
        kw,
        "AUTH_" + ident.name,
        xfrm_name=f"hmac({hash_name})",
        key_len=full,  # RFC 2404 / RFC 4868: the HMAC key is the hash output size
        icv_len=trunc,
        output_len=full,
        hash_name=hash_name,
    )


def _hmac_prf(ident: PrfId, hash_name: str, out: int, kw: str) -> Transform:
    return Transform(
        TransformType.PRF,
        ident,
        kw,
        "PRF_" + ident.name,
        key_len=out,  # RFC 7296 §2.13: preferred key size of an HMAC PRF is its output size
        output_len=out,
        hash_name=hash_name,
    )


def _ke(
    ident: DhId, kw: str, public_len: int, *, legacy: bool = False, aliases: tuple[str, ...] = ()
) -> Transform:
    return Transform(
        TransformType.KE,
        ident,
        kw,
        ident.name,
        public_len=public_len,
        legacy=legacy,
        aliases=tuple(aliases),
    )


def _kem(ident: DhId, kw: str, public_len: int, ciphertext_len: int) -> Transform:
    return Transform(
        TransformType.KE, ident, kw, ident.name, public_len=public_len,
        ciphertext_len=ciphertext_len,
    )  # fmt: skip


ALL_TRANSFORMS: tuple[Transform, ...] = (
    # --- ENCR ---
    _aes_cbc(128),
    _aes_cbc(192),
    _aes_cbc(256),
    _aes_gcm16(128),
    _aes_gcm16(256),
    Transform(
        TransformType.ENCR,
        EncrId.CHACHA20_POLY1305,
        "chacha20poly1305",
        "ENCR_CHACHA20_POLY1305",
        xfrm_name="rfc7539esp(chacha20,poly1305)",
        key_len=36,  # RFC 7634 §2: 32-byte key + 4-byte salt
        salt_len=4,
        icv_len=16,
        iv_len=8,
        block_size=1,
    ),
    Transform(
        TransformType.ENCR,
        EncrId.TRIPLE_DES,
        "3des",
        "ENCR_3DES",
        xfrm_name="cbc(des3_ede)",
        key_len=24,
        iv_len=8,
        block_size=8,
        legacy=True,
    ),
    # --- INTEG ---
    _hmac_integ(IntegId.HMAC_SHA1_96, "sha1", 20, 12, "sha1"),
    _hmac_integ(IntegId.HMAC_SHA2_256_128, "sha256", 32, 16, "sha256"),
    _hmac_integ(IntegId.HMAC_SHA2_384_192, "sha384", 48, 24, "sha384"),
    _hmac_integ(IntegId.HMAC_SHA2_512_256, "sha512", 64, 32, "sha512"),
    # --- PRF ---
    _hmac_prf(PrfId.HMAC_SHA1, "sha1", 20, "prfsha1"),
    _hmac_prf(PrfId.HMAC_SHA2_256, "sha256", 32, "prfsha256"),
    _hmac_prf(PrfId.HMAC_SHA2_384, "sha384", 48, "prfsha384"),
    _hmac_prf(PrfId.HMAC_SHA2_512, "sha512", 64, "prfsha512"),
    # --- KE (public_len: RFC 7296 §3.4 MODP = prime size; RFC 5903 ECP = 2 coordinates) ---
    _ke(DhId.MODP1024, "modp1024", 128, legacy=True),
    _ke(DhId.MODP1536, "modp1536", 192),
    _ke(DhId.MODP2048, "modp2048", 256),
    _ke(DhId.MODP3072, "modp3072", 384),
    _ke(DhId.MODP4096, "modp4096", 512),
    _ke(DhId.ECP256, "ecp256", 64),
    _ke(DhId.ECP384, "ecp384", 96),
    _ke(DhId.ECP521, "ecp521", 132),
    _ke(DhId.CURVE25519, "curve25519", 32, aliases=("x25519",)),
    # ML-KEM (FIPS 203): the initiator's encapsulation key out, a ciphertext back (crypto.mlkem)
    _kem(DhId.ML_KEM_512, "mlkem512", 800, 768),
    _kem(DhId.ML_KEM_768, "mlkem768", 1184, 1088),
    _kem(DhId.ML_KEM_1024, "mlkem1024", 1568, 1568),
    # --- ESN ---
    Transform(TransformType.ESN, EsnId.ESN, "esn", "ESN"),
    Transform(TransformType.ESN, EsnId.NO_ESN, "noesn", "NO_ESN"),
)

_BY_KEY: dict[tuple[int, int, int | None], Transform] = {
    (int(t.type), int(t.id), t.key_bits): t for t in ALL_TRANSFORMS
}
_BY_KEYWORD: dict[str, Transform] = {}
for _t in ALL_TRANSFORMS:
    for _kw in (_t.keyword, *_t.aliases):
        assert _kw not in _BY_KEYWORD, _kw
        _BY_KEYWORD[_kw] = _t
del _t, _kw

_PRF_BY_HASH = {t.hash_name: t for t in ALL_TRANSFORMS if t.type == TransformType.PRF}
_INTEG_BY_HASH = {t.hash_name: t for t in ALL_TRANSFORMS if t.type == TransformType.INTEG}


def lookup(transform_type: int, transform_id: int, key_bits: int | None = None) -> Transform:
    """The descriptor for a transform as it appears on the wire.

    `key_bits` is the Key Length attribute: required for AES variants, absent otherwise.
    Raises UnknownTransform for anything not implemented (including a missing or unexpected
    Key Length), so a proposal parser can skip the transform.
    """
    try:
        return _BY_KEY[(transform_type, transform_id, key_bits)]
    except KeyError:
        raise UnknownTransform((transform_type, transform_id, key_bits)) from None


def by_keyword(keyword: str) -> Transform:
    """The descriptor for a strongSwan-style keyword (`aes256`, `sha256`, `modp2048`, ...).

    A bare hash keyword (`sha256`) is the INTEG transform; see ike_transforms_for_keyword for
    the IKE meaning.
    """
    try:
        return _BY_KEYWORD[keyword.lower()]
    except KeyError:
        raise UnknownTransform(keyword) from None


def prf_for_integ(integ: Transform) -> Transform:
    """The PRF of the same hash as an HMAC integrity transform (sha256 -> prfsha256)."""
    return _PRF_BY_HASH[integ.hash_name]


def integ_for_prf(prf: Transform) -> Transform:
    """The HMAC integrity transform of the same hash as a PRF (prfsha256 -> sha256)."""
    return _INTEG_BY_HASH[prf.hash_name]


def ike_transforms_for_keyword(keyword: str) -> tuple[Transform, ...]:
    """What a keyword means in an IKE proposal string.

    As in strongSwan, a bare integrity keyword (`sha256`) in an IKE proposal stands for both
    the INTEG and the PRF transform of that hash. (In an AEAD proposal the caller drops INTEG,
    as strongSwan does, since RFC 5282 forbids it there.)
    """
    t = by_keyword(keyword)
    if t.type == TransformType.INTEG:
        return (t, prf_for_integ(t))
    return (t,)


def additional_ke_keyword(transform_type: int, method: int) -> str:
    """strongSwan's word for an RFC 9370 additional key exchange: ke1_mlkem768, ke2_none ..."""
    if method == 0:
        name = "none"
    else:
        try:
            name = lookup(TransformType.KE, method).keyword
        except UnknownTransform:
            name = f"#{method}"
    return f"ke{transform_type - TransformType.ADDKE1 + 1}_{name}"
