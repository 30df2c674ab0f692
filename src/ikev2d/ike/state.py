"""The IKE SA lifecycle: its states and which may follow which.

Apart from `sa` (the SA's data, ~10 dataclasses built at import) so that the responder,
which tests states at start, does not build those before its first client (issue 17).
"""

from __future__ import annotations

import enum

__all__ = ["TRANSITIONS", "SaState"]


class SaState(enum.Enum):
    HALF_OPEN = "half-open"  # IKE_SA_INIT answered, waiting for IKE_AUTH
    ESTABLISHED = "established"
    REKEYED = "rekeyed"  # replaced by a new IKE SA; waits for its Delete
    DELETING = "deleting"  # ended; our Delete is in flight
    DEAD = "dead"


# Which states may follow which: anything else is a bug in the responder.
TRANSITIONS = {
    SaState.HALF_OPEN: {SaState.ESTABLISHED, SaState.DEAD},
    SaState.ESTABLISHED: {SaState.REKEYED, SaState.DELETING, SaState.DEAD},
    SaState.REKEYED: {SaState.DELETING, SaState.DEAD},
    SaState.DELETING: {SaState.DEAD},
    SaState.DEAD: set(),
}
