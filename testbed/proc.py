"""Running commands with bounded waits, and background processes killed by PID."""

from __future__ import annotations

import contextlib
import os
import pathlib
import signal
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

__all__ = ["CommandFailed", "ProcessTracker", "run", "wait_for", "wait_until"]


class CommandFailed(AssertionError):
    """A command exited non-zero or timed out; the message carries its argv and output."""


def run(
    argv: Sequence[str],
    *,
    timeout: float = 30.0,
    check: bool = True,
    env: dict[str, str] | None = None,
    input: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run argv to completion (at most `timeout` s), capturing text output."""
    try:
        proc = subprocess.run(
            list(argv),
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
            input=input,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise CommandFailed(f"timed out after {timeout}s: {' '.join(argv)}") from exc
    if check and proc.returncode != 0:
        raise CommandFailed(
            f"exit {proc.returncode}: {' '.join(argv)}\n"
            f"stdout: {proc.stdout.strip()}\nstderr: {proc.stderr.strip()}"
        )
    return proc


def wait_until(predicate, timeout: float, interval: float = 0.02, what: str = "condition"):
    """Poll predicate() until it returns a true value (returned) or `timeout` s pass."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise TimeoutError(f"{what} not reached within {timeout}s")
        time.sleep(interval)


def wait_for(predicate, timeout: float, what: str, logs):
    """wait_until for tests: on timeout an AssertionError naming `what`, with `logs()`."""
    try:
        return wait_until(predicate, timeout, interval=0.05, what=what)
    except TimeoutError as exc:
        raise AssertionError(f"{exc}\n{logs()}") from None


class LogFile:
    """A process's log read back (the class defines `log_path`); empty before it exists."""

    log_path: pathlib.Path

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])


@dataclass
class ProcessTracker:
    """Starts background processes in their own session and kills exactly those, by PID."""

    procs: list[subprocess.Popen] = field(default_factory=list)

    def spawn(
        self, argv: Sequence[str], *, log_path: str | None = None, env: dict | None = None
    ) -> subprocess.Popen:
        out = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115
        try:
            proc = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,  # own process group: kill the whole tree by PID
            )
        finally:
            if log_path:
                out.close()
        self.procs.append(proc)
        return proc

    def stop(self, proc: subprocess.Popen, grace: float = 2.0) -> None:
        """SIGTERM the process group led by proc, SIGKILL it after `grace` s."""
        if proc.poll() is None:
            _killpg(proc.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=grace)
        # helpers forked into the group may outlive the leader
        _killpg(proc.pid, signal.SIGKILL)
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=grace)

    def stop_all(self) -> None:
        for proc in reversed(self.procs):
            self.stop(proc)
        self.procs.clear()


def _killpg(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, sig)
