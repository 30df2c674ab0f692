"""EAP-MSCHAPv2 authenticator (server side), sans-IO.

Packet formats follow draft-kamath-pppext-eap-mschapv2 as strongSwan and Windows use them:
after the EAP type octet come OpCode, MS-CHAPv2-ID, MS-Length (= EAP length - 5) and the
opcode's data. Success/Failure *responses* from the peer carry the OpCode alone.

    Request  Challenge (1): Value-Size=16 | Challenge(16) | Name
    Response Response  (2): Value-Size=49 | PeerChallenge(16) | Reserved(8) | NT-Response(24)
                            | Flags(1) | Name
    Request  Success   (3): "S=<40 hex> M=<message>"      Response: OpCode 3 -> EAP-Success
    Request  Failure   (4): "E=691 R=1 C=<32 hex> V=3 M=<message>" (retry with the new challenge)
                                                          Response: OpCode 4 -> EAP-Failure

A wrong password earns a bounded number of retries (Windows asks the user again); an unknown
user and a wrong password look identical to the peer. The caller should hold back a retry
request by `EapResult.delay` seconds to slow password guessing (strongSwan sleeps 2 s).
"""

import enum
import struct
from collections.abc import Callable
from dataclasses import dataclass, field

from ikev2d.crypto.digests import constant_time_equal
from ikev2d.wire.enums import EapCode, EapType

from . import mschapv2 as ms
from .eap import eap_failure, eap_request, eap_success, parse_eap
from .md4 import md4

__all__ = ["EapMschapv2Server", "EapResult", "MsChapV2OpCode"]

CHALLENGE_LEN = 16
RESPONSE_VALUE_SIZE = 49
MAX_NAME_OCTETS = 255
_MS_HEAD = struct.Struct("!BBH")  # OpCode, MS-CHAPv2-ID, MS-Length
_RESPONSE = struct.Struct("!BBHB16s8s24sB")  # ... Value-Size, PeerChallenge, Reserved, NT, Flags
# A password that cannot match any NT-Response we compare against is still hashed for an
# unknown user, so both cases cost the same work.
_NO_USER_PASSWORD = "\x00unknown-user\x00"  # noqa: S105 - never accepted


class MsChapV2OpCode(enum.IntEnum):
    CHALLENGE = 1
    RESPONSE = 2
    SUCCESS = 3
    FAILURE = 4
    CHANGE_PASSWORD = 7


class _State(enum.Enum):
    IDLE = enum.auto()
    CHALLENGE_SENT = enum.auto()
    SUCCESS_SENT = enum.auto()
    DONE = enum.auto()


@dataclass(slots=True, frozen=True)
class EapResult:
    """What to do after one peer packet.

    `send` is always set while the conversation lives: the next request, or the final
    EAP-Success / EAP-Failure. `success` is None while more rounds follow, then True/False.
    `msk` (64 octets) and `user` are set only on success.
    """

    send: bytes | None
    success: bool | None
    msk: bytes | None = field(default=None, repr=False)
    user: str | None = None
    reason: str = ""
    delay: float = 0.0


class EapMschapv2Server:
    """One EAP-MSCHAPv2 conversation. `password_for(name)` returns the password of an enabled
    user or None; `name` is the MS-CHAPv2 user name without any "DOMAIN\\" prefix."""

    __slots__ = (
        "_challenge",
        "_identifier",
        "_ms_id",
        "_msk",
        "_password_for",
        "_retries_left",
        "_rng",
        "_server_name",
        "_state",
        "_user",
        "retry_delay",
    )

    def __init__(
        self,
        password_for: Callable[[str], str | None],
        *,
        server_name: str = "ikev2d",
        max_retries: int = 1,
        retry_delay: float = 2.0,
    ) -> None:
        self._password_for = password_for
        self._server_name = server_name.encode("utf-8")[:MAX_NAME_OCTETS]
        self._retries_left = max(0, max_retries)
        self.retry_delay = retry_delay
        self._state = _State.IDLE
        self._identifier = 0
        self._ms_id = 0
        self._challenge = b""
        self._msk: bytes | None = None
        self._user: str | None = None
        self._rng: Callable[[int], bytes] | None = None

    def __repr__(self) -> str:
        return f"EapMschapv2Server(state={self._state.name}, user={self._user!r})"

    @property
    def finished(self) -> bool:
        return self._state is _State.DONE

    def start(self, identifier: int, rng: Callable[[int], bytes]) -> bytes:
        """The first EAP-Request (Challenge) with EAP identifier `identifier`."""
        if self._state is not _State.IDLE:
            raise RuntimeError("EAP-MSCHAPv2 conversation already started")
        self._rng = rng
        self._identifier = identifier & 0xFF
        self._ms_id = self._identifier
        self._state = _State.CHALLENGE_SENT
        return self._challenge_request()

    def process(self, data: bytes) -> EapResult:
        """Handle one EAP-Response from the peer. Never raises on any input."""
        if self._state in (_State.IDLE, _State.DONE):
            return EapResult(None, False, reason="no EAP-MSCHAPv2 request outstanding")
        packet = parse_eap(data)
        if packet is None or packet.code != EapCode.RESPONSE:
            return self._fail("malformed EAP packet or not a Response")
        if packet.identifier != self._identifier:
            return self._fail("EAP identifier does not match our request")
        if packet.eap_type == EapType.NAK:
            return self._fail("peer declined EAP-MSCHAPv2 (Nak)")
        if packet.eap_type != EapType.MSCHAPV2 or not packet.type_data:
            return self._fail("not an EAP-MSCHAPv2 response")
        opcode = packet.type_data[0]
        if self._state is _State.SUCCESS_SENT:
            if opcode == MsChapV2OpCode.SUCCESS:
                self._state = _State.DONE
                return EapResult(eap_success(self._identifier), True, self._msk, self._user)
            return self._fail("peer did not acknowledge our Success request")
        if opcode == MsChapV2OpCode.RESPONSE:
            return self._on_response(packet.type_data)
        if opcode == MsChapV2OpCode.FAILURE:
            return self._fail("peer gave up after a failure")
        return self._fail(f"unexpected MS-CHAPv2 opcode {opcode}")

    # -- internals -------------------------------------------------------------------------

    def _on_response(self, body: bytes) -> EapResult:
        if len(body) < _RESPONSE.size or len(body) > _RESPONSE.size + MAX_NAME_OCTETS:
            return self._fail("MS-CHAPv2 Response of invalid length")
        _op, _ms_id, ms_length, value_size, peer_chal, _reserved, nt_response, _flags = (
            _RESPONSE.unpack_from(body, 0)
        )
        if ms_length != len(body) or value_size != RESPONSE_VALUE_SIZE:
            return self._fail("MS-CHAPv2 Response with inconsistent lengths")
        try:
            name = body[_RESPONSE.size :].decode("utf-8")
        except UnicodeDecodeError:
            return self._fail("MS-CHAPv2 user name is not UTF-8")
        user = ms.strip_domain(name)
        password = self._password_for(user) if user and user.isprintable() else None
        secret = password if password is not None else _NO_USER_PASSWORD
        pw_hash = ms.nt_password_hash(secret[: ms.MAX_PASSWORD_CHARS])
        chal8 = ms.challenge_hash(peer_chal, self._challenge, name)
        expected = ms.challenge_response(chal8, pw_hash)
        if not constant_time_equal(expected, nt_response) or password is None:
            return self._retry_or_fail()
        hash_hash = md4(pw_hash)
        auth = ms.authenticator_response(hash_hash, nt_response, chal8).hex().upper()
        self._msk = ms.msk(hash_hash, nt_response)
        self._user = user
        self._state = _State.SUCCESS_SENT
        self._identifier = (self._identifier + 1) & 0xFF
        message = f"S={auth} M=Welcome".encode("ascii")
        return EapResult(self._ms_request(MsChapV2OpCode.SUCCESS, message), None, user=user)

    def _retry_or_fail(self) -> EapResult:
        if self._retries_left <= 0:
            # Like strongSwan: a Failure request with R=0 confuses Windows; end with EAP-Failure.
            return self._fail("authentication failed, no retries left")
        self._retries_left -= 1
        self._identifier = (self._identifier + 1) & 0xFF
        self._new_challenge()
        text = f"E=691 R=1 C={self._challenge.hex().upper()} V=3 M=Authentication failed"
        send = self._ms_request(MsChapV2OpCode.FAILURE, text.encode("ascii"))
        self._ms_id = (self._ms_id + 1) & 0xFF  # the retried Response carries the next ID
        return EapResult(send, None, reason="authentication failed, retry", delay=self.retry_delay)

    def _fail(self, reason: str) -> EapResult:
        self._state = _State.DONE
        self._msk = None
        return EapResult(eap_failure(self._identifier), False, reason=reason)

    def _new_challenge(self) -> None:
        assert self._rng is not None
        challenge = bytes(self._rng(CHALLENGE_LEN))
        if len(challenge) != CHALLENGE_LEN:
            raise ValueError("rng returned the wrong number of bytes")
        self._challenge = challenge

    def _challenge_request(self) -> bytes:
        self._new_challenge()
        data = bytes((CHALLENGE_LEN,)) + self._challenge + self._server_name
        return self._ms_request(MsChapV2OpCode.CHALLENGE, data)

    def _ms_request(self, opcode: int, data: bytes) -> bytes:
        head = _MS_HEAD.pack(opcode, self._ms_id, _MS_HEAD.size + len(data))
        return eap_request(self._identifier, EapType.MSCHAPV2, head + data)
