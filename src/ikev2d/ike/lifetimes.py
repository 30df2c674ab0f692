"""When SAs are rekeyed and when they die: configured lifetimes with random jitter.

Rekeying a little before the configured lifetime, by a random amount, keeps the two ends (and
many clients) from rekeying in lockstep; the hard lifetime sits 10 % after the configured one
so a rekey that needs retransmissions still finishes in time.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ikev2d.policy.config import ServerConfig

    from .sa import IkeSa

__all__ = ["HARD_FACTOR", "JITTER", "due_times", "hard_lifetime", "rekey_delay"]

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


def due_times(sa: IkeSa, config: ServerConfig) -> list[float | None]:
    """An established SA's own deadlines: its lifetime, our rekeys, a liveness check."""
    times: list[float | None] = [sa.hard_expiry]
    if not sa.rekeying:
        times.append(sa.rekey_at)
    if config.dpd_delay and not sa.window.busy:
        times.append(sa.last_inbound + config.dpd_delay)
    times += [c.rekey_at for c in sa.children if not (c.rekeying or c.replaced)]
    return times
