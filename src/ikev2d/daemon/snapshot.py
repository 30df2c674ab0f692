"""When the status snapshot (``state_dir/status.json``, what LuCI polls) is rewritten.

A change (a client connected or left, a failed attempt) is written at once, but changes within
a gap of each other are written as one: a storm of connects must not rewrite an O(clients)
file per connect. While clients are connected the file is also refreshed every
``SNAPSHOT_REFRESH`` seconds. The counters (their bytes) are read from the kernel, one dump of
every SA, only when those last read are ``SNAPSHOT_REFRESH`` old; other writes show them as
last read, so a storm of connects costs one kernel dump per ``SNAPSHOT_REFRESH``, not one per
write.
"""

from __future__ import annotations

from collections.abc import Callable

from ikev2d.compat import Logger

from .actions import Actions
from .status import StatusReport, write_snapshot

__all__ = ["SNAPSHOT_MIN_GAP", "SNAPSHOT_REFRESH", "SnapshotSchedule", "snapshot_gap"]

SNAPSHOT_REFRESH = 5.0  # seconds between snapshot rewrites while clients are connected (bytes)
SNAPSHOT_MIN_GAP = 1.0  # connects and disconnects within this are written as one snapshot
# A snapshot costs ~12 µs per client (view + JSON, on a PC): with many clients connecting at
# once, the gap grows with their number so the cost per connect stays flat (4 s at 1000).
SNAPSHOT_GAP_PER_CLIENT = 0.004


def snapshot_gap(clients: int) -> float:
    """Seconds between two snapshots written for connects/disconnects (never above the
    periodic refresh)."""
    return min(SNAPSHOT_REFRESH, max(SNAPSHOT_MIN_GAP, clients * SNAPSHOT_GAP_PER_CLIENT))


class SnapshotSchedule:
    """Writes the snapshot when it is due (``write``) and says when that is (``next_refresh``)."""

    def __init__(
        self,
        state_dir: str,
        report: StatusReport,
        actions: Actions,
        clock: Callable[[], float],
        log: Logger,
    ) -> None:
        self._state_dir = state_dir  # a restart option: fixed while the daemon runs
        self._report = report
        self._actions = actions  # its `changed` flag says a client or failure changed
        self._clock = clock
        self._log = log
        self.next_refresh: float | None = None
        self._last = float("-inf")  # the last write
        self._read = float("-inf")  # the last write that read the kernel's counters

    def due(self, now: float) -> bool:
        return self._actions.changed or (self.next_refresh is not None and now >= self.next_refresh)

    def write(self, now: float | None = None, *, running: bool = True) -> None:
        """Rewrite status.json, unless this change falls within the gap after the last one
        (then it is written when the gap ends). `now`: the loop's clock of this turn."""
        if now is None:
            now = self._clock()
        gap = snapshot_gap(len(self._actions.clients))
        if running and self._actions.changed and now < self._last + gap:
            self.next_refresh = self._last + gap  # coalesce the burst
            return
        connected = running and bool(self._actions.clients)
        fresh = connected and now >= self._read + SNAPSHOT_REFRESH
        if fresh:
            self._read = now
        self._actions.changed = False
        self._last = now
        # the next write: when the counters it shows are SNAPSHOT_REFRESH old
        self.next_refresh = self._read + SNAPSHOT_REFRESH if connected else None
        try:
            status = self._report.status(running=running, fresh=fresh, stream=True)
            write_snapshot(self._state_dir, status)
        except OSError as exc:
            self._log.error(f"cannot write the status snapshot: {exc}")
