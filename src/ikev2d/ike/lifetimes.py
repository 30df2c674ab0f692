"""When SAs are rekeyed and when they die: configured lifetimes with random jitter.

Rekeying a little before the configured lifetime, by a random amount, keeps the two ends (and
many clients) from rekeying in lockstep; the hard lifetime sits 10 % after the configured one
so a rekey that needs retransmissions still finishes in time.
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["HARD_FACTOR", "JITTER", "hard_lifetime", "rekey_delay"]

JITTER = 0.1  # up to 10 % earlier than configured
HARD_FACTOR = 1.1


def rekey_delay(lifetime: int, rng: Callable[[int], bytes]) -> int:
    """Seconds until a rekey: `lifetime` minus a random 0..10 %."""
    spread = int(lifetime * JITTER)
    if spread <= 0:
        return lifetime
    return lifetime - int.from_bytes(rng(4), "big") % (spread + 1)


def hard_lifetime(lifetime: int) -> int:
    return int(lifetime * HARD_FACTOR) + 1
