"""Staying up under floods (RFC 7296 §2.6, RFC 8019 ideas): cookies, half-open limits and
slowing down repeated authentication failures. All state here is bounded.

Unauthenticated input must cost little, in this order: an IKE_SA_INIT above MAX_IKE_SA_INIT
bytes is dropped unread; the half-open limits are checked before the message is decoded; a
cookie is demanded when half-open SAs pile up in all (cookie_threshold) or from the sender's
address (cookie_threshold_per_ip: by default any, so a spoofed address gets one answer and then
only 21-byte COOKIE notifies); a retransmitted IKE_SA_INIT is answered at most MAX_RESENDS
times, RESEND_GAP apart. Unset limits are derived from the router's memory (HalfOpenLimits).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING

from ikev2d.crypto.digests import constant_time_equal, digest
from ikev2d.wire.enums import NotifyType

from .state import SaState

if TYPE_CHECKING:
    from ikev2d.policy.config import ServerConfig
    from ikev2d.wire.message import Header, Message

    from .events import Address
    from .sa import IkeSa

__all__ = [
    "MAX_IKE_SA_INIT",
    "MAX_RESENDS",
    "RESEND_GAP",
    "WORST_HALF_OPEN_BYTES",
    "AuthThrottle",
    "CookieJar",
    "HalfOpenCounter",
    "HalfOpenLimits",
    "InitGate",
]

COOKIE_SECRET_LIFETIME = 300.0  # seconds a secret signs new cookies (the previous one verifies)
_COOKIE_LEN = 1 + 16  # version octet + truncated SHA-256
# Real clients' IKE_SA_INIT: 0.3-1.5 kB (MODP8192's KE is 1 kB, ML-KEM-1024's 1.6 kB).
MAX_IKE_SA_INIT = 4096
RESEND_GAP = 1.0  # seconds between two answers to the same IKE_SA_INIT
MAX_RESENDS = 4  # answers to retransmissions of one IKE_SA_INIT (clients give up after ~5)
# What one half-open IKE SA can hold at most (a MAX_IKE_SA_INIT request kept for AUTH, our
# response, keys and codecs, a full MAX_REASSEMBLED_UNAUTHENTICATED reassembly), rounded up;
# tests/attack/test_06_half_open_memory.py measures it.
WORST_HALF_OPEN_BYTES = 32 * 1024
_BUDGET_SHARE = 128  # at most 1/128 of the router's memory for half-open SAs ...
_MIN_BUDGET, _MAX_BUDGET = 1 << 20, 4 << 20  # ... between 1 and 4 MiB
_UNKNOWN_MEMORY = 64 << 20  # when the daemon could not tell: assume a small router


class HalfOpenLimits:
    """The limits in force: configured values, or derived from the router's memory.
    (Not a dataclass: on the daemon's start path, see window.py.)"""

    __slots__ = ("cookie_threshold", "cookie_threshold_per_ip", "per_ip", "total")

    def __init__(
        self, total: int, per_ip: int, cookie_threshold: int, cookie_threshold_per_ip: int
    ) -> None:
        self.total = total
        self.per_ip = per_ip
        self.cookie_threshold = cookie_threshold
        self.cookie_threshold_per_ip = cookie_threshold_per_ip

    @classmethod
    def of(cls, config: ServerConfig, memory_bytes: int | None) -> HalfOpenLimits:
        """`config`'s max_half_open, max_half_open_per_ip and cookie_threshold, or when
        unset, what keeps the worst case within 1/128 of `memory_bytes` (1..4 MiB)."""
        memory = memory_bytes or _UNKNOWN_MEMORY
        budget = min(max(memory // _BUDGET_SHARE, _MIN_BUDGET), _MAX_BUDGET)
        total = config.max_half_open or budget // WORST_HALF_OPEN_BYTES
        per_ip = config.max_half_open_per_ip or max(2, total // 8)
        cookie = config.cookie_threshold
        if cookie is None:
            cookie = max(1, total // 4)
        return cls(total, per_ip, cookie, config.cookie_threshold_per_ip)


class CookieJar:
    """Cookie = <VersionIDofSecret> | Hash(Ni | IPi | SPIi | <secret>) with a rotating secret."""

    def __init__(self, rng: Callable[[int], bytes]) -> None:
        self._rng = rng
        self._version = 0
        self._secret = rng(32)
        self._previous: tuple[int, bytes] | None = None
        self._rotate_at: float | None = None

    def _rotate(self, now: float) -> None:
        if self._rotate_at is None:
            self._rotate_at = now + COOKIE_SECRET_LIFETIME
        elif now >= self._rotate_at:
            self._previous = (self._version, self._secret)
            self._version = (self._version + 1) & 0xFF
            self._secret = self._rng(32)
            self._rotate_at = now + COOKIE_SECRET_LIFETIME

    @staticmethod
    def _value(version: int, secret: bytes, ni: bytes, ip: str, spi_i: bytes) -> bytes:
        hashed = digest("sha256", b"|".join((ni, ip.encode(), spi_i, secret)))
        return bytes([version]) + hashed[:16]

    def make(self, ni: bytes, ip: str, spi_i: bytes, now: float) -> bytes:
        self._rotate(now)
        return self._value(self._version, self._secret, ni, ip, spi_i)

    def check(self, cookie: bytes, ni: bytes, ip: str, spi_i: bytes, now: float) -> bool:
        self._rotate(now)
        if len(cookie) != _COOKIE_LEN:
            return False
        for version, secret in ((self._version, self._secret), self._previous or (-1, b"")):
            if cookie[0] == version:
                return constant_time_equal(cookie, self._value(version, secret, ni, ip, spi_i))
        return False


class HalfOpenCounter:
    """Half-open IKE SAs in all and per client address."""

    def __init__(self) -> None:
        self.total = 0
        self._by_ip: dict[str, int] = {}

    def of(self, ip: str) -> int:
        return self._by_ip.get(ip, 0)

    def add(self, ip: str) -> None:
        self.total += 1
        self._by_ip[ip] = self._by_ip.get(ip, 0) + 1

    def remove(self, ip: str) -> None:
        n = self._by_ip.get(ip, 0)
        if n <= 0:
            return
        self.total -= 1
        if n == 1:
            del self._by_ip[ip]
        else:
            self._by_ip[ip] = n - 1


class AuthThrottle:
    """After `limit` failed authentications from one address within `window` seconds, new
    IKE_SA_INITs from it are ignored until the window has passed (bounded to `capacity`
    addresses, oldest forgotten first)."""

    def __init__(self, limit: int = 5, window: float = 60.0, capacity: int = 4096) -> None:
        self.limit, self.window, self.capacity = limit, window, capacity
        self._failures: OrderedDict[str, tuple[int, float]] = OrderedDict()

    def note_failure(self, ip: str, now: float) -> None:
        count, since = self._failures.pop(ip, (0, now))
        if now - since > self.window:
            count, since = 0, now
        self._failures[ip] = (count + 1, since)
        while len(self._failures) > self.capacity:
            self._failures.popitem(last=False)

    def blocked(self, ip: str, now: float) -> bool:
        entry = self._failures.get(ip)
        if entry is None:
            return False
        count, since = entry
        if now - since > self.window:
            del self._failures[ip]
            return False
        return count >= self.limit

    def __len__(self) -> int:
        return len(self._failures)


class InitGate:
    """What an IKE_SA_INIT must pass before it costs a key exchange: the throttle, the
    half-open limits, a cookie (§2.6); and the index that recognises its retransmissions."""

    def __init__(self, rng: Callable[[int], bytes]) -> None:
        self.cookies = CookieJar(rng)
        self.half_open = HalfOpenCounter()
        self.throttle = AuthThrottle()
        self._by_init: dict[tuple[bytes, Address], bytes] = {}  # (SPIi, sender) -> our SPI

    def made_by(self, spi_i: bytes, src: Address) -> bytes:
        """Our SPI of the half-open SA that an IKE_SA_INIT with `spi_i` from `src` made."""
        return self._by_init.get((spi_i, src), b"")

    def may_decode(self, header: Header, src: Address, now: float, limits: HalfOpenLimits) -> bool:
        """The checks before the message is even decoded."""
        if header.message_id != 0 or self.throttle.blocked(src[0], now):
            return False
        return self.half_open.total < limits.total

    def admit(self, msg: Message, src: Address, now: float, limits: HalfOpenLimits) -> bool | bytes:
        """Cookies (§2.6) and the per-address limit: True to go on, False to drop, or the
        cookie to demand in a COOKIE notify."""
        from ikev2d.wire.payloads import NoncePayload, NotifyPayload

        ip, spi_i = src[0], msg.header.spi_i
        from_ip = self.half_open.of(ip)
        if self.half_open.total >= limits.cookie_threshold or (
            from_ip >= limits.cookie_threshold_per_ip
        ):
            nonce = msg.get(NoncePayload)
            if nonce is None:
                return False
            first = msg.payloads[0]
            cookie = (
                first.data
                if isinstance(first, NotifyPayload) and first.notify_type == NotifyType.COOKIE
                else None
            )
            if cookie is None or not self.cookies.check(cookie, nonce.data, ip, spi_i, now):
                return self.cookies.make(nonce.data, ip, spi_i, now)
        return from_ip < limits.per_ip

    def opened(self, sa: IkeSa, src: Address) -> None:
        """`sa` is half-open, made by an IKE_SA_INIT from `src`."""
        self._by_init[(sa.spi_i, src)] = sa.spi_r
        self.half_open.add(src[0])

    def closed(self, sa: IkeSa) -> None:
        """`sa` is half-open no more (authenticated, failed or expired)."""
        src = sa.half_open.init_from
        self.half_open.remove(src[0])
        self._by_init.pop((sa.spi_i, src), None)

    @staticmethod
    def resend(sa: IkeSa, data: bytes, now: float) -> list[bytes]:
        """Our IKE_SA_INIT response again for an identical retransmission, at most
        MAX_RESENDS times RESEND_GAP apart: replays from a spoofed address are no reflector."""
        if sa.state != SaState.HALF_OPEN or sa.half_open.init_request != data:
            return []
        hs = sa.half_open
        if hs.resends >= MAX_RESENDS or now < hs.resent_at + RESEND_GAP:
            return []
        hs.resends += 1
        hs.resent_at = now
        return [hs.init_response]
