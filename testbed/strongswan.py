"""One Debian strongSwan (charon + swanctl) instance in a network namespace.

Each instance has its own directory with strongswan.conf, swanctl/, charon.log and a
private /run (charon's pid file path is hard-coded: `ip netns exec` gives a private mount
namespace and we bind our dir over /run). Configuration is chosen only by environment
(STRONGSWAN_CONF, SWANCTL_DIR); swanctl talks to the instance's own vici socket.

The strongSwan is this machine's (Debian 12: 5.9.8) or, with `root`, the one of a Debian 13
root made by scripts/strongswan6-root.sh (6.0.1, ML-KEM): charon and swanctl then run chrooted
there, in a private mount namespace where /proc, /dev, /run (our dir) and the instance
directory (at /ikev2d) are bound in; the cached root itself is never written.
"""

from __future__ import annotations

import functools
import os
import pathlib
import shlex
import socket
import subprocess
from dataclasses import dataclass, field

from .netns import Netns, NetnsSet
from .paths import PROJECT
from .proc import CommandFailed, LogFile, run, wait_until

__all__ = [
    "KERNEL_LIBIPSEC",
    "KERNEL_NETLINK",
    "Charon",
    "StrongswanError",
    "SwanctlResult",
    "strongswan6_root",
]

# where the instance directory appears inside a chroot
_IN_ROOT = pathlib.PurePosixPath("/ikev2d")
_ROOT_SCRIPT = PROJECT / "scripts" / "strongswan6-root.sh"

CHARON = "/usr/lib/ipsec/charon"
_BASE_PLUGINS = (
    "random nonce openssl pem pkcs1 pkcs8 x509 revocation constraints pubkey gmp "
    "curve25519 aes sha1 sha2 hmac kdf gcm chapoly"
)
_TAIL_PLUGINS = "socket-default vici attr updown eap-identity eap-mschapv2"
# kernel-netlink: real kernel SAs (needs a kernel with ESP). kernel-libipsec: ESP in
# userspace over TUN, listed first so that it provides the kernel-ipsec interface; note it
# fakes NAT detection (forces ESP-in-UDP), so its NAT_DETECTION_SOURCE_IP hash is random.
KERNEL_NETLINK = f"{_BASE_PLUGINS} kernel-netlink {_TAIL_PLUGINS}"
KERNEL_LIBIPSEC = f"{_BASE_PLUGINS} kernel-libipsec kernel-netlink {_TAIL_PLUGINS}"

# swanctl complains about every missing one
_SWANCTL_SUBDIRS = ("x509", "x509ca", "x509ocsp", "x509aa", "x509ac", "x509crl", "pubkey",
                    "private", "rsa", "ecdsa", "bliss", "pkcs8", "pkcs12", "conf.d")  # fmt: skip


class StrongswanError(AssertionError):
    """A strongSwan step failed; the message ends with the tail of charon's log."""


@dataclass
class Charon(LogFile):
    """charon in `ns`, configured under `workdir` (created)."""

    ns: Netns
    workdir: pathlib.Path
    netns_set: NetnsSet
    plugins: str = KERNEL_NETLINK
    log_level: int = 1
    extra_conf: str = ""
    max_runtime: int = 600
    root: pathlib.Path | None = None  # a Debian 13 root with strongSwan 6 (else this machine's)
    proc: subprocess.Popen | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.workdir = pathlib.Path(self.workdir)
        (self.workdir / "run").mkdir(parents=True, exist_ok=True)
        for sub in _SWANCTL_SUBDIRS:
            (self.swanctl_dir / sub).mkdir(parents=True, exist_ok=True)
        self._write_strongswan_conf()

    # --- paths and environment
    @property
    def swanctl_dir(self) -> pathlib.Path:
        return self.workdir / "swanctl"

    @property
    def conf_path(self) -> pathlib.Path:
        return self.workdir / "strongswan.conf"

    @property
    def log_path(self) -> pathlib.Path:
        return self.workdir / "charon.log"

    @property
    def vici_path(self) -> pathlib.Path:
        return self.workdir / "run" / "charon.vici"

    @property
    def uri(self) -> str:
        """The vici socket, as charon and swanctl see it."""
        return f"unix://{self.seen(self.vici_path)}"

    def seen(self, path: pathlib.Path) -> str:
        """`path` (inside the instance directory) as charon and swanctl see it."""
        if self.root is None:
            return str(path)
        return str(_IN_ROOT / path.relative_to(self.workdir))

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["STRONGSWAN_CONF"] = self.seen(self.conf_path)
        env["SWANCTL_DIR"] = self.seen(self.swanctl_dir)
        return env

    def _chrooted(self, argv: list[str], *, own_run: bool) -> list[str]:
        """argv run in the root, behind the binds (a private mount namespace of its own when
        not already inside `ip netns exec`'s)."""
        r = shlex.quote(str(self.root))
        binds = [f"mount --bind /{d} {r}/{d}" for d in ("proc", "sys", "dev")] + [
            f"mount --bind {shlex.quote(str(self.workdir))} {r}{_IN_ROOT}"
        ]
        if own_run:
            binds.append(f"mount --bind {shlex.quote(str(self.workdir / 'run'))} {r}/run")
        script = " && ".join([*binds, f"exec chroot {r} {shlex.join(argv)}"])
        return ["unshare", "--mount", "--propagation", "private", "sh", "-c", script]

    def _write_strongswan_conf(self) -> None:
        lvl = self.log_level
        log_path = self.seen(self.log_path)
        self.conf_path.write_text(
            f"""charon {{
  load_modular = no
  load = {self.plugins}
  threads = 8
  install_virtual_ip = yes
  filelog {{
    log {{
      path = {log_path}
      time_format = %T
      default = 1
      ike = {lvl}
      cfg = {lvl}
      knl = {lvl}
      flush_line = yes
      append = no
    }}
  }}
  {self.extra_conf}
  plugins {{
    vici {{
      socket = {self.uri}
    }}
  }}
}}
# swanctl would otherwise load every plugin it knows (~2 s under user-mode-linux)
swanctl {{
  load = random openssl pem pkcs1 pkcs8 x509 pubkey
}}
"""
        )

    def write_swanctl_conf(self, text: str) -> None:
        (self.swanctl_dir / "swanctl.conf").write_text(text)

    # --- lifecycle
    def start(self, timeout: float = 15.0) -> None:
        """Start charon in its netns and wait until its vici socket accepts connections."""
        self.launch()
        self.wait_ready(timeout)

    def launch(self) -> None:
        """Start charon without waiting (start several, then `wait_ready` each)."""
        for stale in (self.vici_path, self.workdir / "run" / "charon.pid"):
            stale.unlink(missing_ok=True)
        run_dir = self.workdir / "run"
        charon = ["timeout", str(self.max_runtime), CHARON]
        if self.root is None:
            argv = ["sh", "-c", f"mount --bind '{run_dir}' /run && exec {shlex.join(charon)}"]
        else:
            argv = self._chrooted(charon, own_run=True)
        self.proc = self.netns_set.spawn(
            self.ns, argv, log_path=str(self.workdir / "stdout.log"), env=self.env()
        )

    def wait_ready(self, timeout: float = 15.0) -> None:
        def up() -> bool:
            if self.proc is None or self.proc.poll() is not None:
                code = self.proc and self.proc.returncode
                raise self._error(f"charon exited with {code} during start")
            return self.vici_path.is_socket() and _accepts(self.vici_path)

        wait_until(up, timeout, interval=0.02, what=f"charon vici in {self.ns.name}")

    def stop(self) -> None:
        if self.proc is not None:
            self.netns_set.procs.stop(self.proc)
            self.proc = None

    # --- swanctl
    def swanctl(self, *args: str, timeout: float = 30.0, check: bool = True) -> SwanctlResult:
        argv = ["swanctl", *args, "--uri", self.uri]  # --uri after the command
        if self.root is not None:
            argv = self._chrooted(argv, own_run=False)
        try:
            proc = run(argv, timeout=timeout, check=False, env=self.env())
        except CommandFailed as exc:
            raise self._error(str(exc)) from exc
        result = SwanctlResult(proc.returncode, proc.stdout + proc.stderr)
        if check and not result.ok:
            raise self._error(f"swanctl {' '.join(args)} exited {proc.returncode}:\n{result.out}")
        return result

    def load_all(self) -> None:
        self.swanctl("--load-all")

    def initiate(self, child: str, timeout: float = 20.0) -> str:
        """swanctl --initiate --child `child`; returns swanctl's log of the exchange."""
        return self.swanctl(
            "--initiate", "--child", child, "--timeout", str(int(timeout)), timeout=timeout + 5
        ).out

    def initiate_background(self, child: str, timeout: float = 10.0) -> subprocess.Popen:
        """Start `swanctl --initiate` without waiting (e.g. to catch its first datagram);
        the process is tracked and killed by PID in teardown."""
        argv = ["swanctl", "--initiate", "--child", child, "--timeout", str(int(timeout)),
                "--uri", self.uri]  # fmt: skip
        if self.root is not None:
            argv = self._chrooted(argv, own_run=False)
        return self.netns_set.procs.spawn(argv, env=self.env())

    def list_sas(self) -> str:
        return self.swanctl("--list-sas").out

    def wait_log(self, needle: str, timeout: float = 10.0) -> None:
        wait_until(lambda: needle in self.log_text(), timeout, what=f"{needle!r} in charon.log")

    def _error(self, message: str) -> StrongswanError:
        stdout = self.workdir / "stdout.log"
        extra = stdout.read_text(errors="replace")[-2000:] if stdout.exists() else ""
        return StrongswanError(
            f"{message}\n--- charon.log ({self.ns.name}) ---\n{self.log_tail()}\n{extra}"
        )


def _accepts(path: pathlib.Path) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        try:
            sock.connect(str(path))
        except OSError:
            return False
    return True


@dataclass(frozen=True, slots=True)
class SwanctlResult:
    returncode: int
    out: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0


@functools.cache
def strongswan6_root() -> pathlib.Path:
    """The Debian 13 root with strongSwan 6: $IKEV2D_STRONGSWAN6_ROOT (scripts/test.sh builds
    it before entering the ESP kernel, which has no network), else built now (cached)."""
    given = os.environ.get("IKEV2D_STRONGSWAN6_ROOT")
    if given:
        root = pathlib.Path(given)
        if not (root / CHARON.lstrip("/")).exists():
            raise StrongswanError(f"IKEV2D_STRONGSWAN6_ROOT={given} has no {CHARON}")
        return root
    try:
        out = run([str(_ROOT_SCRIPT)], timeout=900).stdout
    except CommandFailed as exc:
        raise StrongswanError(f"building the strongSwan 6 root failed: {exc}") from exc
    return pathlib.Path(out.strip().splitlines()[-1])
