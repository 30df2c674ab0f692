"""Staying up under floods (RFC 7296 §2.6, RFC 8019 ideas): cookies, half-open limits and
slowing down repeated authentication failures. All state here is bounded."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

from ikev2d.crypto.digests import constant_time_equal, digest

__all__ = ["AuthThrottle", "CookieJar", "HalfOpenCounter"]

COOKIE_SECRET_LIFETIME = 300.0  # seconds a secret signs new cookies (the previous one verifies)
_COOKIE_LEN = 1 + 16  # version octet + truncated SHA-256


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
