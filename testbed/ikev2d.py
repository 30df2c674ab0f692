"""Our daemon, `ikev2d`, in a network namespace: config, start, control socket, stop, logs.

    d = Ikev2d(router_ns, workdir, netns_set)
    d.configure(psk="...", local_subnet=["192.168.1.0/24"], local_id="vpn.example.test")
    d.start()                      # waits until the control socket answers `status`
    d.status()                     # the `status` result (parsed JSON, via the socket)
    d.ctl("disconnect", "phone@example.test")   # runs ikev2ctl (the real CLI)
    d.stop()                       # SIGTERM by PID; returns the exit status

The daemon runs from the same interpreter as the caller (`<venv>/bin/ikev2d` when that
entry point exists, else `python -c` calling ``ikev2d.cli.daemon_main``), with its stdout and
stderr in `workdir/ikev2d.log`. Plain library code, no pytest.
"""

from __future__ import annotations

import json
import os
import pathlib
import re
import signal
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from ikev2d.control_client import ControlError, NotRunning, call

from .netns import Netns, NetnsSet
from .proc import CommandFailed, run, wait_until

__all__ = ["DaemonError", "Ikev2d", "ctl_argv", "daemon_argv", "toml_text"]

_SUN_PATH_MAX = 107  # sockaddr_un.sun_path, minus the NUL


class DaemonError(AssertionError):
    """A daemon step failed; the message ends with the tail of the daemon's log."""


def _venv_tool(name: str) -> pathlib.Path | None:
    path = pathlib.Path(sys.executable).parent / name
    return path if path.exists() else None


def daemon_argv(config: pathlib.Path | str) -> list[str]:
    """argv starting ikev2d with `config`, from this interpreter's environment."""
    tool = _venv_tool("ikev2d")
    if tool is not None:
        return [str(tool), "--config", str(config)]
    code = "import sys; from ikev2d.cli import daemon_main; sys.exit(daemon_main())"
    return [sys.executable, "-c", code, "--config", str(config)]


def ctl_argv(socket_path: pathlib.Path | str | None, *args: str) -> list[str]:
    """argv running `ikev2ctl [--socket PATH] ARGS...` (no socket: an offline command)."""
    where = ["--socket", str(socket_path)] if socket_path is not None else []
    tool = _venv_tool("ikev2ctl")
    if tool is not None:
        return [str(tool), *where, *args]
    code = "import sys; from ikev2d.cli import ctl_main; sys.exit(ctl_main())"
    return [sys.executable, "-c", code, *where, *args]


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string is a valid TOML basic string
    if isinstance(value, Sequence):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"no TOML form for {value!r}")


def toml_text(server: Mapping[str, object], users: Sequence[Mapping[str, object]] = ()) -> str:
    """The TOML config file: a [server] table and [[user]] tables (None values left out)."""
    lines = ["[server]"]
    lines += [f"{k} = {_toml_value(v)}" for k, v in server.items() if v is not None]
    for user in users:
        lines += ["", "[[user]]"]
        lines += [f"{k} = {_toml_value(v)}" for k, v in user.items() if v is not None]
    return "\n".join(lines) + "\n"


@dataclass
class Ikev2d:
    """ikev2d in `ns`, configured and logging under `workdir` (created)."""

    ns: Netns
    workdir: pathlib.Path
    netns_set: NetnsSet
    extra_args: list[str] = field(default_factory=list)  # e.g. ["--save-keys", DIR]
    proc: subprocess.Popen | None = field(default=None, init=False)
    runtime_dir: pathlib.Path = field(init=False)
    _own_runtime_dir: bool = field(default=False, init=False)

    def __post_init__(self) -> None:
        self.workdir = pathlib.Path(self.workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.runtime_dir = self.workdir / "run"
        if len(str(self.runtime_dir / "control.sock")) > _SUN_PATH_MAX:
            # pytest's tmp_path can be long: a UNIX socket path must fit sun_path
            self.runtime_dir = pathlib.Path(tempfile.mkdtemp(prefix="ikev2d-"))
            self._own_runtime_dir = True
        self.runtime_dir.mkdir(parents=True, exist_ok=True)

    # --- paths
    @property
    def config_path(self) -> pathlib.Path:
        return self.workdir / "ikev2d.toml"

    @property
    def log_path(self) -> pathlib.Path:
        return self.workdir / "ikev2d.log"

    @property
    def control_socket(self) -> pathlib.Path:
        return self.runtime_dir / "control.sock"

    # --- configuration
    def configure(self, users: Sequence[Mapping[str, object]] = (), **server) -> str:
        """Write the TOML config: `server` options over test defaults (enabled, debug log,
        control socket and state dir in this instance's directory). Returns the text."""
        options: dict[str, object] = {
            "enabled": True,
            "log_level": "debug",
            "control_socket": str(self.control_socket),
            "state_dir": str(self.runtime_dir),
        }
        options.update(server)
        text = toml_text(options, users)
        self.config_path.write_text(text)
        return text

    # --- lifecycle
    def start(self, timeout: float = 30.0) -> None:
        """Start ikev2d in its netns and wait until its control socket answers `status`."""
        self.launch()
        self.wait_ready(timeout)

    def launch(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            raise DaemonError("ikev2d is already running")
        self.control_socket.unlink(missing_ok=True)
        with self.log_path.open("a") as log:
            log.write(f"=== ikev2d start ({self.config_path.name}) ===\n")
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        argv = [*daemon_argv(self.config_path), *self.extra_args]
        self.proc = self.netns_set.spawn(self.ns, argv, log_path=str(self.log_path), env=env)

    def wait_ready(self, timeout: float = 30.0) -> None:
        def up() -> bool:
            if self.proc is None or self.proc.poll() is not None:
                code = self.proc and self.proc.returncode
                raise self.error(f"ikev2d exited with {code} during start")
            if not self.control_socket.is_socket():
                return False
            try:
                call(str(self.control_socket), {"cmd": "status"}, timeout=2.0)
            except (NotRunning, OSError, ValueError):  # bound, not yet listening
                return False
            return True

        try:
            wait_until(up, timeout, interval=0.05, what=f"ikev2d control socket in {self.ns.name}")
        except TimeoutError as exc:
            raise self.error(str(exc)) from exc

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 15.0) -> int:
        """SIGTERM the daemon (by PID) and wait for it to exit; returns its exit status.
        SIGKILL (and a DaemonError) if it does not stop within `timeout` s."""
        proc = self.proc
        if proc is None:
            raise DaemonError("ikev2d was not started")
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.netns_set.procs.stop(proc)
                raise self.error(f"ikev2d ignored SIGTERM for {timeout}s") from None
        self.netns_set.procs.stop(proc)  # reaps it and any helper left in its group
        self.proc = None
        return proc.returncode

    def kill(self) -> None:
        """Stop without asserting anything (cleanup)."""
        if self.proc is not None:
            self.netns_set.procs.stop(self.proc)
            self.proc = None

    def cleanup(self) -> None:
        self.kill()
        if self._own_runtime_dir:
            for path in sorted(self.runtime_dir.rglob("*"), reverse=True):
                if path.is_dir():
                    path.rmdir()
                else:
                    path.unlink()
            self.runtime_dir.rmdir()

    # --- control
    def request(self, cmd: str, timeout: float = 10.0, **args) -> object:
        """One control-socket request `{"cmd": cmd, **args}`; returns `result`, raises
        DaemonError on `{"ok": false}`. Fast (no process start): use it for polling."""
        try:
            return call(str(self.control_socket), {"cmd": cmd, **args}, timeout=timeout)
        except ControlError as exc:
            raise DaemonError(f"control {cmd} {args}: {str(exc)!r}") from None

    def status(self) -> object:
        return self.request("status")

    def ctl(
        self, *args: str, check: bool = True, timeout: float = 30.0
    ) -> subprocess.CompletedProcess:
        """Run the real `ikev2ctl --socket <ours> ARGS...` (a UNIX socket: no netns needed)."""
        try:
            return run(ctl_argv(self.control_socket, *args), check=check, timeout=timeout)
        except CommandFailed as exc:
            raise self.error(str(exc)) from exc

    def ctl_status_json(self) -> object:
        return json.loads(self.ctl("status", "--json").stdout)

    # --- logs
    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, lines: int = 60) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def wait_log(self, pattern: str, timeout: float = 10.0) -> re.Match:
        """Wait until the regex `pattern` matches the daemon's log; returns the match."""
        try:
            return wait_until(
                lambda: re.search(pattern, self.log_text()), timeout, what=f"{pattern!r} in log"
            )
        except TimeoutError as exc:
            raise self.error(str(exc)) from exc

    def error(self, message: str) -> DaemonError:
        return DaemonError(f"{message}\n--- ikev2d.log ({self.ns.name}) ---\n{self.log_tail()}")
