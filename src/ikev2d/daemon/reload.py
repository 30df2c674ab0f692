"""The running configuration: checking the file on disk, and applying it (reload).

``Reloader.config`` is the one place the daemon's current configuration lives. ``reload()``
re-reads the file and applies it to the running server: the certificates beside it (a
renewal, an import, a revocation), the responder's settings (connected clients the change
does not affect stay up), the pool blocks and the log level. Options that need new sockets
(``RESTART_OPTIONS``) keep their running values until a restart. An invalid file changes
nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from ikev2d.compat import Logger
from ikev2d.policy.config import ServerConfig, check_supported
from ikev2d.policy.errors import ConfigError

from .control import CommandError
from .credentials import load_credentials

if TYPE_CHECKING:
    from ikev2d.ike.ike_sa import IkeSa
    from ikev2d.ike.responder import Responder

    from .datapath import Datapath

__all__ = ["RESTART_OPTIONS", "Reloader", "block_pools"]

# Options that a running daemon cannot change without rebinding: a restart applies them (the
# init script restarts the daemon when `ikev2d --check --firewall` shows them changed).
RESTART_OPTIONS = ("listen", "port", "natt_port", "control_socket", "state_dir")


def block_pools(datapath: Datapath, config: ServerConfig, log: Logger) -> None:
    """Clear packets from pool addresses are dropped by the kernel; only a client's ESP SA
    may bring them in (Datapath.block_pool)."""
    pools = [str(p) for p in (config.pool, config.pool6) if p is not None]
    try:
        datapath.block_pool(pools)
    except OSError as exc:
        log.error(f"cannot block clear packets from {', '.join(pools)}: {exc}")


class Reloader:
    """Holds the running configuration; ``check`` and ``reload`` read the file again.

    ``settle()`` is called after a change ended clients (their Deletes go out, the snapshot
    is rewritten)."""

    def __init__(
        self,
        config: ServerConfig,
        load_config: Callable[[], ServerConfig] | None,
        *,
        responder: Responder,
        datapath: Datapath,
        log: Logger,
        clock: Callable[[], float],
        wall_clock: Callable[[], float],
        settle: Callable[[], None],
    ) -> None:
        self.config = config
        self._load_config = load_config
        self._responder = responder
        self._datapath = datapath
        self._log = log
        self._clock, self._wall = clock, wall_clock
        self._settle = settle

    def _read(self) -> ServerConfig:
        if self._load_config is None:
            raise CommandError("started without a configuration file: nothing to re-read")
        config = self._load_config()
        check_supported(config)
        return config

    def check(self) -> dict:
        """Validate the configuration file as it is on disk now."""
        try:
            config = self._read()
        except ConfigError as exc:
            return {"valid": False, "problems": exc.problems, "warnings": []}
        return {"valid": True, "problems": [], "warnings": list(config.warnings)}

    def reload(self) -> dict:
        """Re-read the configuration and apply it (raises CommandError when it is invalid)."""
        try:
            new = self._read()
        except ConfigError as exc:
            problems = "; ".join(exc.problems)
            self._log.error(f"reload refused, keeping the running configuration: {problems}")
            raise CommandError(problems) from None
        for warning in new.warnings:
            self._log.warning(warning)
        revoked = self._responder.update_credentials(
            load_credentials(new, self._log, self._wall()), self._clock()
        )
        if revoked:
            self._settle()
        if new == self.config:
            message = "configuration unchanged"
            if revoked:
                message += f"; {len(revoked)} client(s) with a revoked certificate disconnected"
            return self._reloaded(bool(revoked), message)
        return self._apply(new)

    def _apply(self, new: ServerConfig) -> dict:
        old = self.config
        changed = [n for n in RESTART_OPTIONS if getattr(new, n) != getattr(old, n)]
        if changed:  # the sockets stay as bound; everything else applies now
            new = new.replace(**{n: getattr(old, n) for n in changed})
        dropped = self._responder.update_config(new, self._clock())
        if (new.pool, new.pool6) != (old.pool, old.pool6):
            block_pools(self._datapath, new, self._log)
        self.config = new
        self._log.set_level(new.log_level)
        self._settle()
        message = "configuration reloaded"
        if dropped:
            message += f", {len(dropped)} client(s) disconnected by the change"
        if changed:
            message += f"; {', '.join(changed)} changed: restart ikev2d to apply"
        result = self._reloaded(True, message)
        result["disconnected"] = _names(dropped)
        result["restart_needed"] = changed
        return result

    def _reloaded(self, applied: bool, message: str) -> dict:
        quiet = (applied and "restart" not in message) or message.endswith("unchanged")
        (self._log.info if quiet else self._log.warning)(f"reload: {message}")
        return {"applied": applied, "message": message}


def _names(sas: Sequence[IkeSa]) -> list[str]:
    return [sa.client.name for sa in sas]
