"""strongSwan's charon-cmd (the standalone IKE client) in a network namespace.

    cmd = CharonCmd(phone_ns, workdir, netns_set, hosts={"vpn.example.test": "198.51.100.1"})
    cmd.start("--host", "vpn.example.test", "--profile", "ikev2-eap", "--identity", "dave",
              "--cert", "ca.pem", "--remote-ts", "192.168.1.0/24", password="secret")
    cmd.wait_log("CHILD_SA cmd{1} established")
    cmd.virtual_ip()                # the address it installed
    cmd.stop()                      # SIGTERM by PID: it deletes its IKE SA and exits

Facts it is built on (Debian 12, strongSwan 5.9.8): the configuration comes from
STRONGSWAN_CONF, section `charon-cmd` (its own plugin list); the EAP password is read with
getpass(), which reads stdin when there is no controlling terminal (the process runs in its
own session); its log goes to stderr and is block-buffered into a file, hence `stdbuf`.
It uses random source ports, may send IKE_SA_INIT straight to 4500 and change ports between
IKE_SA_INIT and IKE_AUTH. `hosts` are bound over /etc/hosts inside the namespace's private
mount namespace (`ip netns exec` gives one), so `--host NAME` resolves without DNS and
without touching the machine's /etc.
"""

from __future__ import annotations

import os
import pathlib
import re
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field

from .netns import Netns, NetnsSet
from .proc import LogFile, wait_until
from .strongswan import KERNEL_NETLINK

__all__ = ["CMD_PLUGINS", "CharonCmd", "CharonCmdError"]

# charon's set without vici (it would bind the default socket under the shared /run) and
# updown (no scripts wanted)
CMD_PLUGINS = " ".join(p for p in KERNEL_NETLINK.split() if p not in ("vici", "updown"))


class CharonCmdError(AssertionError):
    """A charon-cmd step failed; the message ends with the tail of its log."""


@dataclass
class CharonCmd(LogFile):
    """charon-cmd in `ns`, configured and logging under `workdir` (created)."""

    ns: Netns
    workdir: pathlib.Path
    netns_set: NetnsSet
    hosts: Mapping[str, str] = field(default_factory=dict)
    plugins: str = CMD_PLUGINS
    debug: int = 1
    max_runtime: int = 600
    proc: subprocess.Popen | None = field(default=None, init=False)
    runs: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        self.workdir = pathlib.Path(self.workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.conf_path.write_text(
            f"charon-cmd {{\n  load = {self.plugins}\n  install_virtual_ip = yes\n}}\n"
        )
        lines = ["127.0.0.1 localhost"] + [f"{addr} {name}" for name, addr in self.hosts.items()]
        self.hosts_path.write_text("\n".join(lines) + "\n")

    conf_path = property(lambda self: self.workdir / "strongswan.conf")
    hosts_path = property(lambda self: self.workdir / "hosts")
    log_path = property(lambda self: self.workdir / f"charon-cmd.{self.runs}.log")

    def start(self, *args: str, password: str | None = None) -> subprocess.Popen:
        """Start `charon-cmd ARGS...` (one run at a time); `password` is fed to its getpass()
        on stdin. Each run logs to its own file (`log_path`)."""
        if self.running:
            raise CharonCmdError("charon-cmd is already running")
        self.runs += 1
        argv = ["stdbuf", "-oL", "-eL", "timeout", str(self.max_runtime), "charon-cmd",
                "--debug", str(self.debug), *args]  # fmt: skip
        script = f"mount --bind '{self.hosts_path}' /etc/hosts && exec \"$@\""
        env = dict(os.environ, STRONGSWAN_CONF=str(self.conf_path))
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                self.ns.cmd(["sh", "-c", script, "charon-cmd", *argv]),
                stdin=subprocess.PIPE,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,  # no controlling tty: getpass() reads stdin
            )
        self.netns_set.procs.procs.append(self.proc)  # killed by PID in teardown
        assert self.proc.stdin is not None
        try:
            if password is not None:
                self.proc.stdin.write(password.encode() + b"\n")
            self.proc.stdin.close()
        except BrokenPipeError:
            pass  # it exited already: the log says why
        return self.proc

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM by PID (charon-cmd then deletes its IKE SA) and wait; SIGKILL after
        `timeout` s. Returns its exit status."""
        proc = self.proc
        if proc is None:
            return None
        self.netns_set.procs.stop(proc, grace=timeout)
        self.proc = None
        return proc.returncode

    def wait_exit(self, timeout: float) -> int:
        """Wait for charon-cmd to end by itself (e.g. after a failed authentication)."""
        if self.proc is None:
            raise CharonCmdError("charon-cmd was not started")
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise self.error(f"charon-cmd still running after {timeout}s") from None

    # --- log
    def wait_log(self, pattern: str, timeout: float = 20.0) -> re.Match:
        """Wait until the regex `pattern` matches this run's log (fails early if it exits)."""

        def seen():
            found = re.search(pattern, self.log_text())
            if found is None and not self.running:
                found = re.search(pattern, self.log_text())  # the last lines before exiting
                if found is None:
                    raise self.error(f"charon-cmd exited before {pattern!r}")
            return found

        try:
            return wait_until(seen, timeout, interval=0.05, what=f"{pattern!r} in charon-cmd log")
        except TimeoutError as exc:
            raise self.error(str(exc)) from exc

    def virtual_ip(self) -> str | None:
        found = re.search(r"installing new virtual IP (\S+)", self.log_text())
        return found.group(1) if found else None

    def error(self, message: str) -> CharonCmdError:
        return CharonCmdError(f"{message}\n--- charon-cmd log ({self.ns.name}) ---\n"
                              f"{self.log_tail()}")  # fmt: skip
