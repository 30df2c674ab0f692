"""MS-CHAPv2 computations (RFC 2759 §8) and its MPPE keys (RFC 3079 §3).

Function names follow the RFCs' pseudo-code so each can be checked against the text and the
RFCs' sample values. The MSK handed to IKE (RFC 7296 §2.16) is laid out as strongSwan's
eap-mschapv2 and Windows build it: MasterReceiveKey | MasterSendKey | 32 zero octets, both keys
16 octets seen from the authenticator (server) side.
"""

from ikev2d.crypto.digests import digest

from .des import des_encrypt_block
from .md4 import md4

__all__ = [
    "MAX_PASSWORD_CHARS",
    "MSK_LENGTH",
    "authenticator_response",
    "challenge_hash",
    "challenge_response",
    "generate_authenticator_response",
    "generate_nt_response",
    "master_key",
    "master_session_keys",
    "msk",
    "nt_password_hash",
    "strip_domain",
]

MSK_LENGTH = 64
MAX_PASSWORD_CHARS = 256  # RFC 2759 §8.1 "0-to-256-unicode-char Password"

_MAGIC1 = b"Magic server to client signing constant"
_MAGIC2 = b"Pad to make it do more than one iteration"
_MPPE_MAGIC1 = b"This is the MPPE Master Key"
_MPPE_MAGIC2 = (
    b"On the client side, this is the send key; on the server side, it is the receive key."
)
_MPPE_MAGIC3 = (
    b"On the client side, this is the receive key; on the server side, it is the send key."
)
_SHS_PAD1 = b"\x00" * 40
_SHS_PAD2 = b"\xf2" * 40


def _sha1(*parts: bytes) -> bytes:
    return digest("sha1", b"".join(parts))  # SHA-1 is what MS-CHAPv2 specifies


def strip_domain(user_name: str) -> str:
    """The user name without a leading "DOMAIN\\" (RFC 2759 §8.2: ChallengeHash uses this)."""
    return user_name.rpartition("\\")[2]


def nt_password_hash(password: str) -> bytes:
    """MD4 of the password in UTF-16LE (RFC 2759 §8.3)."""
    return md4(password.encode("utf-16-le"))


def challenge_hash(peer_challenge: bytes, authenticator_challenge: bytes, user_name: str) -> bytes:
    """First 8 octets of SHA1(PeerChallenge | AuthenticatorChallenge | UserName) (§8.2)."""
    name = strip_domain(user_name).encode("utf-8")
    return _sha1(peer_challenge, authenticator_challenge, name)[:8]


def challenge_response(challenge: bytes, password_hash: bytes) -> bytes:
    """Three DES encryptions of the challenge under the zero-padded hash split in 7s (§8.5)."""
    z = password_hash.ljust(21, b"\x00")
    return b"".join(des_encrypt_block(z[i : i + 7], challenge) for i in (0, 7, 14))


def generate_nt_response(
    authenticator_challenge: bytes, peer_challenge: bytes, user_name: str, password: str
) -> bytes:
    """The 24-octet NT-Response the peer sends (RFC 2759 §8.1)."""
    chal = challenge_hash(peer_challenge, authenticator_challenge, user_name)
    return challenge_response(chal, nt_password_hash(password))


def authenticator_response(
    password_hash_hash: bytes, nt_response: bytes, challenge_8: bytes
) -> bytes:
    """The 20-octet authenticator response digest (RFC 2759 §8.7, before hex encoding)."""
    digest = _sha1(password_hash_hash, nt_response, _MAGIC1)
    return _sha1(digest, challenge_8, _MAGIC2)


def generate_authenticator_response(
    password: str,
    nt_response: bytes,
    peer_challenge: bytes,
    authenticator_challenge: bytes,
    user_name: str,
) -> str:
    """The "S=<40 upper-case hex digits>" string of RFC 2759 §8.7."""
    hash_hash = md4(nt_password_hash(password))
    chal = challenge_hash(peer_challenge, authenticator_challenge, user_name)
    return "S=" + authenticator_response(hash_hash, nt_response, chal).hex().upper()


def master_key(password_hash_hash: bytes, nt_response: bytes) -> bytes:
    """GetMasterKey (RFC 3079 §3.4): 16 octets."""
    return _sha1(password_hash_hash, nt_response, _MPPE_MAGIC1)[:16]


def _asymmetric_start_key(master: bytes, magic: bytes) -> bytes:
    return _sha1(master, _SHS_PAD1, magic, _SHS_PAD2)[:16]


def master_session_keys(password_hash_hash: bytes, nt_response: bytes) -> tuple[bytes, bytes]:
    """(MasterReceiveKey, MasterSendKey) of the server, 128-bit keys (RFC 3079 §3.4)."""
    master = master_key(password_hash_hash, nt_response)
    # Server side: receive key uses Magic2, send key Magic3 (GetAsymetricStartKey).
    return _asymmetric_start_key(master, _MPPE_MAGIC2), _asymmetric_start_key(master, _MPPE_MAGIC3)


def msk(password_hash_hash: bytes, nt_response: bytes) -> bytes:
    """The 64-octet EAP-MSCHAPv2 MSK: receive key | send key | 32 zero octets (strongSwan)."""
    receive, send = master_session_keys(password_hash_hash, nt_response)
    return receive + send + b"\x00" * 32
