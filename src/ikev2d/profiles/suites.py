"""Which of the server's proposals each client can be told to use, in that client's words.

A profile carries exactly one IKE and one ESP proposal (Apple and Windows take no list), so
the choice is the server's most preferred proposal that the platform can express. The tables
map our registry keywords to the names each platform's profile format uses (Apple's
com.apple.vpn.managed schema, Microsoft's Set-VpnConnectionIPsecConfiguration enums).
"""

from __future__ import annotations

from dataclasses import dataclass

from ikev2d.policy.config import ServerConfig
from ikev2d.policy.proposals import Proposal

from .common import ProfileError

__all__ = ["APPLE", "WINDOWS", "Choice", "PlatformSuite", "choose"]


@dataclass(frozen=True, slots=True)
class PlatformSuite:
    label: str
    encr: dict[str, str]  # keyword -> platform name (IKE)
    integ: dict[str, str]  # IKE integrity (non-AEAD) by hash keyword
    prf: dict[str, str]  # AEAD IKE: the PRF, named like an integrity algorithm
    ke: dict[str, object]  # KE keyword -> group name/number
    esp_encr: dict[str, str]
    esp_integ: dict[str, str]
    pfs: dict[str | None, object]  # ESP KE keyword (None: no PFS) -> platform name
    esp_aead_integ_is_encr: bool = False  # Windows: GCM ESP names the cipher as "integrity"

    def ike(self, p: Proposal) -> tuple[str, str, object] | None:
        """(encryption, integrity/PRF, group) or None when the platform cannot say it."""
        encr = self.encr.get(p.encr.keyword)
        ke = self.ke.get(p.ke.keyword) if p.ke else None
        if encr is None or ke is None or p.prf is None:
            return None
        if p.integ is None:
            integ = self.prf.get(p.prf.keyword)
        elif p.integ.hash_name != p.prf.hash_name:
            return None  # both platforms derive the PRF from the integrity algorithm
        else:
            integ = self.integ.get(p.integ.keyword)
        return None if integ is None else (encr, integ, ke)

    def esp(self, p: Proposal) -> tuple[str, str, object] | None:
        encr = self.esp_encr.get(p.encr.keyword)
        pfs_key = p.ke.keyword if p.ke else None
        if encr is None or pfs_key not in self.pfs:
            return None
        if p.esn.keyword == "esn":
            return None  # neither client negotiates extended sequence numbers from a profile
        if p.integ is None:
            integ = encr if self.esp_aead_integ_is_encr else self.esp_integ.get("sha256")
        else:
            integ = self.esp_integ.get(p.integ.keyword)
        return None if integ is None else (encr, integ, self.pfs[pfs_key])


_APPLE_ENCR = {
    "3des": "3DES",
    "aes128": "AES-128",
    "aes256": "AES-256",
    "aes128gcm16": "AES-128-GCM",
    "aes256gcm16": "AES-256-GCM",
    "chacha20poly1305": "ChaCha20Poly1305",
}
_APPLE_INTEG = {"sha1": "SHA1-96", "sha256": "SHA2-256", "sha384": "SHA2-384", "sha512": "SHA2-512"}
_APPLE_GROUPS = {
    "modp1024": 2, "modp1536": 5, "modp2048": 14, "modp3072": 15, "modp4096": 16,
    "ecp256": 19, "ecp384": 20, "ecp521": 21, "curve25519": 31,
}  # fmt: skip

APPLE = PlatformSuite(
    label="iOS/macOS",
    encr=_APPLE_ENCR,
    integ=_APPLE_INTEG,
    prf={"prf" + k: v for k, v in _APPLE_INTEG.items()},
    ke=_APPLE_GROUPS,
    esp_encr=_APPLE_ENCR,
    esp_integ=_APPLE_INTEG,
    pfs={None: None, **_APPLE_GROUPS},
)

_WIN_ENCR = {
    "3des": "DES3",
    "aes128": "AES128",
    "aes192": "AES192",
    "aes256": "AES256",
    "aes128gcm16": "GCMAES128",
    "aes256gcm16": "GCMAES256",
}
_WIN_INTEG = {"sha1": "SHA1", "sha256": "SHA256", "sha384": "SHA384"}

WINDOWS = PlatformSuite(
    label="Windows",
    encr=_WIN_ENCR,
    integ=_WIN_INTEG,
    prf={"prf" + k: v for k, v in _WIN_INTEG.items()},
    ke={"modp1024": "Group2", "modp2048": "Group14", "ecp256": "ECP256", "ecp384": "ECP384"},
    esp_encr=_WIN_ENCR,
    esp_integ={"sha1": "SHA196", "sha256": "SHA256128"},
    pfs={
        None: "None",
        "modp1024": "PFS2",
        "modp2048": "PFS2048",
        "ecp256": "ECP256",
        "ecp384": "ECP384",
    },
    esp_aead_integ_is_encr=True,
)


@dataclass(frozen=True, slots=True)
class Choice:
    ike: Proposal
    esp: Proposal
    ike_names: tuple[str, str, object]
    esp_names: tuple[str, str, object]


def choose(config: ServerConfig, suite: PlatformSuite) -> Choice:
    """The first IKE and ESP proposals of the server that ``suite`` can express."""
    ike = next(((p, n) for p in config.ike_proposal if (n := suite.ike(p))), None)
    if ike is None:
        raise ProfileError(
            f"none of the IKE proposals ({_texts(config.ike_proposal)}) can be used by "
            f"{suite.label}: add e.g. aes256-sha256-modp2048 to ike_proposal"
        )
    esp = next(((p, n) for p in config.esp_proposal if (n := suite.esp(p))), None)
    if esp is None:
        raise ProfileError(
            f"none of the ESP proposals ({_texts(config.esp_proposal)}) can be used by "
            f"{suite.label}: add e.g. aes256-sha256 to esp_proposal"
        )
    return Choice(ike[0], esp[0], ike[1], esp[1])


def _texts(proposals) -> str:
    return ", ".join(p.text for p in proposals) or "none"
