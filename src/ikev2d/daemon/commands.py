"""The control socket's commands (docs/interfaces.md): each takes the request object and
returns its result, or raises ``CommandError`` (``{"ok": false, "error": ...}``).

``status``, ``clients`` (StatusReport), ``disconnect`` (here), ``reload`` and ``check``
(Reloader), ``profile`` (ikev2d.profiles, from the running configuration).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from .actions import Actions
from .control import CommandError
from .reload import Reloader
from .status import StatusReport

if TYPE_CHECKING:
    from ikev2d.ike.ike_sa import IkeSa
    from ikev2d.ike.responder import Responder

__all__ = ["ControlCommands"]

Command = Callable[[dict], object]


class ControlCommands:
    """The command table of a running server. ``settle()`` is called after a disconnect
    (the Deletes go out, the snapshot is rewritten)."""

    def __init__(
        self,
        responder: Responder,
        actions: Actions,
        report: StatusReport,
        reloader: Reloader,
        clock: Callable[[], float],
        settle: Callable[[], None],
    ) -> None:
        self._responder = responder
        self._actions = actions
        self._report = report
        self._reloader = reloader
        self._clock = clock
        self._settle = settle

    def table(self) -> dict[str, Command]:
        return {
            "status": lambda request: self._report.status(),
            "clients": lambda request: self._report.clients(),
            "disconnect": self.disconnect,
            "reload": lambda request: self._reloader.reload(),
            "check": lambda request: self._reloader.check(),
            "profile": self.profile,
        }

    def disconnect(self, request: dict) -> dict:
        """``{"id": ...}`` ends that one connection (the id status gives); ``{"target": ...}``
        every connection of that identity, user name or virtual IP."""
        connection, target = request.get("id"), request.get("target")
        if isinstance(connection, str) and connection:
            found = self._connection(connection)
        elif isinstance(target, str) and target.strip():
            found = self._responder.find(target.strip())
            if not found:
                raise CommandError(f"no connected client matches {target.strip()[:100]!r}")
        else:
            raise CommandError(
                'disconnect needs an "id" (from status) or a "target": an identity or a virtual IP'
            )
        names = []
        for sa in found:
            names.append(sa.client.name)
            self._responder.disconnect(sa, self._clock(), "disconnected by the administrator")
        self._settle()
        return {"disconnected": names}

    def _connection(self, connection: str) -> list[IkeSa]:
        """The IKE SA of the connection status lists with this id (a list of one)."""
        for client in self._actions.clients.values():
            if client.id == connection:
                sas = self._responder.find(f"{client.handle:016x}")
                return [sa for sa in sas if sa.handle == client.handle]
        raise CommandError(f"no connection {connection[:40]!r}: it has ended")

    def profile(self, request: dict) -> dict:
        """A client setup file for LuCI's download buttons (``ikev2ctl profile`` makes the
        same from the files)."""
        from ikev2d.profiles import ProfileError, profile_request

        try:
            return profile_request(
                self._reloader.config, request.get("platform"), request.get("user") or None
            )
        except ProfileError as exc:
            raise CommandError(str(exc)) from None
