"""What ``status`` shows and the snapshot file the rpcd plugin serves without starting Python.

The snapshot ``state_dir/status.json`` is the ``status`` result, written atomically (a
temporary file in the same directory, then rename), so a reader sees the old or the new file,
never half of one. ``"running"`` and ``"pid"`` come first: the plugin reads the first
``"pid"`` of the file to check that the daemon is alive. Nothing secret is ever in it.

A server that is not running says why (``stopped_view``): ``reason`` is a code
(docs/interfaces.md), ``detail`` the error in words, ``problems`` a refused configuration's
lines. The daemon writes it when it stops or cannot start; ``ikev2d --check --refused-status
FILE`` writes it for the init script, which does not start a refused configuration.

A value given as an iterator (the client list) is written one item at a time: with a
thousand clients, the list of views and the whole JSON text would be a megabyte or more at
once, and such peaks stay in the RSS.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Iterator, Sequence

from .actions import Actions, Client, Failure
from .counters import COUNTER_NAMES, ClientCounters
from .udp import address_text

__all__ = [
    "SAVE_KEYS_WARNING",
    "SNAPSHOT_NAME",
    "StatusReport",
    "client_view",
    "failure_view",
    "stopped_view",
    "write_snapshot",
    "write_status",
]

SNAPSHOT_NAME = "status.json"
SAVE_KEYS_WARNING = (
    "WARNING: --save-keys is ON: IKE and ESP keys of every tunnel are written to {} "
    "- anyone who reads them can decrypt captured VPN traffic. Debugging only!"
)
_SEPARATORS = (", ", ": ")


class StatusReport:
    """The ``status`` and ``clients`` results of a running server."""

    def __init__(
        self,
        actions: Actions,
        counters: ClientCounters,
        wall_clock: Callable[[], float],
        save_keys: str | None = None,
    ) -> None:
        self._actions = actions
        self._counters = counters
        self._wall = wall_clock
        self._save_keys = save_keys
        self.started: float | None = None  # unix time the server started
        self.listen: list[str] = []  # "address:port" of each IKE socket

    def clients(self, *, fresh: bool = True) -> list[dict]:
        """Client views with kernel counters (read now, or as last read)."""
        return list(self._client_views(fresh))

    def _client_views(self, fresh: bool) -> Iterator[dict]:
        clients = self._actions.clients.values()
        if fresh:
            self._counters.update(clients)
        return (client_view(client, client.counters) for client in clients)

    def status(self, *, running: bool = True, fresh: bool = True, stream: bool = False) -> dict:
        """The ``status`` result; `stream`: the clients as an iterator, for write_snapshot."""
        now = self._wall()
        started = self.started if self.started is not None else now
        clients = self._client_views(fresh) if running else iter(())
        warning = SAVE_KEYS_WARNING.format(self._save_keys) if self._save_keys else None
        return {
            "running": running,
            "pid": os.getpid(),
            **({} if running else {"reason": "stopped"}),
            "started": int(started),
            "uptime": int(now - started),
            "listen": list(self.listen),
            "clients": clients if stream else list(clients),
            "failures": [failure_view(f) for f in self._actions.failures],
            **({"save_keys": warning} if warning else {}),
        }


def client_view(client: Client, counters: tuple[int, ...] | None) -> dict:
    """One client for status; ``counters`` (in COUNTER_NAMES order) summed over its tunnels,
    or None when the kernel had none to give."""
    view = {
        "id": client.id,
        "identity": client.identity,
        "virtual_ip": client.virtual_ip,
        "virtual_ip6": client.virtual_ip6,
        "remote": address_text(client.remote),
        "remote_ip": client.remote[0],
        "remote_port": client.remote[1],
        "nat": client.nat,
        "ike": client.ike_algorithms,
        "esp": client.esp_algorithms,
        "since": int(client.since),
    }
    view.update(zip(COUNTER_NAMES, counters or (0,) * len(COUNTER_NAMES), strict=True))
    return view


def failure_view(failure: Failure) -> dict:
    return {
        "time": int(failure.time),
        "remote": failure.remote,
        "identity": failure.identity,
        "reason": failure.reason,
        "code": failure.code,
    }


def stopped_view(reason: str, detail: str = "", problems: Sequence[str] = ()) -> dict:
    """The status of a server that is not running, and why."""
    view: dict = {"running": False, "reason": reason}
    if detail:
        view["detail"] = detail
    if problems:
        view["problems"] = list(problems)
    view.update(clients=[], failures=[])
    return view


def _json_chunks(status: dict) -> Iterator[str]:
    """The text of ``json.dumps(status)`` (one line), iterator values as arrays, piecewise."""
    yield "{"
    for i, (key, value) in enumerate(status.items()):
        yield f"{', ' if i else ''}{json.dumps(key)}: "
        if isinstance(value, Iterator):
            yield "["
            for j, item in enumerate(value):
                yield (", " if j else "") + json.dumps(item, separators=_SEPARATORS)
            yield "]"
        else:
            yield json.dumps(value, separators=_SEPARATORS)
    yield "}\n"


_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW


def _create(tmp: str) -> int:
    """A new file at ``tmp``, created here and now: whatever was left at that name (a crash's
    leftover, or a symlink someone planted) is removed, never written through."""
    try:
        return os.open(tmp, _NEW_FILE, 0o644)
    except FileExistsError:
        os.unlink(tmp)  # removes a symlink itself, not its target
        return os.open(tmp, _NEW_FILE, 0o644)


def write_snapshot(directory: str, status: dict) -> str:
    """Write ``status`` to ``directory/status.json`` atomically; returns the path."""
    return write_status(os.path.join(directory, SNAPSHOT_NAME), status)


def write_status(path: str, status: dict) -> str:
    """Write ``status`` to ``path`` atomically (its directory is created 0755)."""
    os.makedirs(os.path.dirname(path) or ".", mode=0o755, exist_ok=True)
    tmp = f"{path}.{os.getpid()}.tmp"
    fd = _create(tmp)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as f:  # json.dumps escapes non-ASCII
            f.writelines(_json_chunks(status))
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path
