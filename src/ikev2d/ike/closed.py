"""IKE SAs their client deleted, kept a while only to answer that Delete again.

The answer to a Delete may be lost; the client then retransmits it (strongSwan after 4, 11,
24 s; Apple's clients after 1, 2, 4 s). The SA's lease, Child SAs and status entry end at once;
its keys (to recognise the retransmission) and sealed answer stay for CLOSED_SA_LINGER seconds,
for at most CLOSED_SA_LIMIT SAs at a time: a key holder connecting and deleting in a loop makes
the oldest go first, never more memory.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .sa import IkeSa

__all__ = ["CLOSED_SA_LIMIT", "CLOSED_SA_LINGER", "ClosedSas"]

CLOSED_SA_LINGER = 30.0
CLOSED_SA_LIMIT = 64


class ClosedSas:
    def __init__(self) -> None:
        self._sas: deque[IkeSa] = deque()  # oldest first

    def add(self, sa: IkeSa, now: float) -> IkeSa | None:
        """Keep `sa` until now + CLOSED_SA_LINGER; returns the oldest one to forget now when
        the limit is passed."""
        sa.window.drop_requests()  # nobody will answer ours
        sa.closed_until = now + CLOSED_SA_LINGER
        self._sas.append(sa)
        return self._sas[0] if len(self._sas) > CLOSED_SA_LIMIT else None

    def discard(self, sa: IkeSa) -> None:
        """`sa` is forgotten (its time ran out, or it was evicted)."""
        if sa.closed_until is not None and sa in self._sas:
            self._sas.remove(sa)
