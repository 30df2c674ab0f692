"""Network namespaces and veth links for tests, torn down by name.

Every namespace gets the per-test prefix, so parallel or leftover runs never collide, and
`NetnsSet.teardown()` deletes exactly what this set created. Interface names are chosen by
the caller: links are created directly inside their namespaces, so they only need to be
unique per namespace.
"""

from __future__ import annotations

import array
import contextlib
import ctypes
import itertools
import os
import socket
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field

from .proc import ProcessTracker, run

__all__ = ["Netns", "NetnsSet", "drain", "unique_prefix"]

_counter = itertools.count()
CLONE_NEWNET = 0x40000000

# Runs inside the namespace: make the socket, bind it, hand its fd back over `chan`.
_SOCKET_CHILD = """
import array, socket, sys
family, kind, proto, port, chan = (int(a) for a in sys.argv[1:6])
s = socket.socket(family, kind, proto)
if kind == socket.SOCK_DGRAM:
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[6], port))
ch = socket.socket(fileno=chan)
ch.sendmsg([b"x"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [s.fileno()]))])
"""


def drain(sock: socket.socket, limit: int = 1000) -> list[bytes]:
    """Every packet queued on `sock` now (non-blocking, bounded)."""
    sock.setblocking(False)
    packets = []
    for _ in range(limit):
        try:
            packets.append(sock.recv(65535))
        except BlockingIOError:
            break
    return packets


def unique_prefix(tag: str = "t") -> str:
    """A short name prefix unique to this process and call (netns names stay readable)."""
    return f"{tag}{os.getpid() % 100000}x{next(_counter)}"


@dataclass(frozen=True, slots=True)
class Netns:
    name: str

    def cmd(self, argv: Sequence[str]) -> list[str]:
        """argv prefixed to run inside this namespace."""
        return ["ip", "netns", "exec", self.name, *argv]

    def run(self, argv: Sequence[str], **kw) -> subprocess.CompletedProcess[str]:
        return run(self.cmd(argv), **kw)

    def ip(self, *args: str, **kw) -> subprocess.CompletedProcess[str]:
        return run(["ip", "-n", self.name, *args], **kw)

    @contextlib.contextmanager
    def entered(self):
        """Run the block's calls in this namespace (this thread: setns); sockets opened
        inside stay bound to it."""
        libc = ctypes.CDLL(None, use_errno=True)
        with open("/proc/thread-self/ns/net") as home, open(f"/run/netns/{self.name}") as ns:
            if libc.setns(ns.fileno(), CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), f"setns into {self.name}")
            try:
                yield self
            finally:
                if libc.setns(home.fileno(), CLONE_NEWNET) != 0:
                    raise OSError(ctypes.get_errno(), "setns back")

    def batch(self, lines: Sequence[str], **kw) -> subprocess.CompletedProcess[str]:
        """Several `ip` commands (without the leading "ip") in one process: under
        user-mode-linux every process start costs ~0.1 s."""
        return run(["ip", "-n", self.name, "-batch", "-"], input="\n".join(lines) + "\n", **kw)

    def addr_add(self, dev: str, cidr: str) -> None:
        self.ip("addr", "add", cidr, "dev", dev)

    def link_up(self, dev: str) -> None:
        self.ip("link", "set", dev, "up")

    def route_add(self, dst: str, via: str | None = None, dev: str | None = None) -> None:
        args = ["route", "replace", dst]
        if via:
            args += ["via", via]
        if dev:
            args += ["dev", dev]
        self.ip(*args)

    def sysctl(self, key: str, value: str) -> None:
        self.run(["sysctl", "-qw", f"{key}={value}"])

    def ping(self, dst: str, count: int = 1, wait: float = 2.0, **kw):
        """ping -c count; returns the CompletedProcess (check=False to inspect failures)."""
        timeout = count * (wait + 0.5) + 2
        argv = ["ping", "-n", "-c", str(count), "-i", "0.2", "-W", str(wait), dst]
        return self.run(argv, timeout=timeout, **kw)

    def udp_socket(self, host: str, port: int, family: int = socket.AF_INET) -> socket.socket:
        """A UDP socket bound to (host, port) inside this namespace, owned by the caller."""
        return self._socket(family, socket.SOCK_DGRAM, 0, host, port)

    def raw_socket(self, proto: int, host: str = "0.0.0.0", family: int = socket.AF_INET):
        """A raw IP socket for `proto` (e.g. 50 = ESP) inside this namespace: it receives a
        copy of every such packet addressed to the namespace, IP header included."""
        return self._socket(family, socket.SOCK_RAW, proto, host, 0)

    def _socket(self, family: int, kind: int, proto: int, host: str, port: int):
        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
        # pass_fds keeps the descriptor number: tell the child which one it is
        args = (family, kind, proto, port, child.fileno(), host)
        argv = [sys.executable, "-c", _SOCKET_CHILD, *map(str, args)]
        with parent, child:
            proc = subprocess.run(
                self.cmd(argv),
                pass_fds=(child.fileno(),),
                capture_output=True,
                text=True,
                timeout=20,
                check=False,
            )
            if proc.returncode != 0:
                raise OSError(f"socket in netns {self.name} failed: {proc.stderr.strip()}")
            fds = array.array("i")
            parent.settimeout(5)
            _msg, anc, _flags, _addr = parent.recvmsg(1, socket.CMSG_LEN(fds.itemsize))
            for level, ctype, data in anc:
                if level == socket.SOL_SOCKET and ctype == socket.SCM_RIGHTS:
                    fds.frombytes(data[: fds.itemsize])
        if not fds:
            raise OSError(f"socket in netns {self.name}: no descriptor received")
        return socket.socket(fileno=fds[0])


@dataclass
class NetnsSet:
    """The namespaces and processes of one test; `teardown()` removes all of them."""

    prefix: str = field(default_factory=unique_prefix)
    namespaces: dict[str, Netns] = field(default_factory=dict)
    procs: ProcessTracker = field(default_factory=ProcessTracker)

    def add(self, short: str) -> Netns:
        """Create namespace <prefix>-<short> with loopback up."""
        ns = Netns(f"{self.prefix}-{short}")
        run(["ip", "netns", "add", ns.name])
        self.namespaces[short] = ns
        ns.link_up("lo")
        return ns

    def add_many(self, *shorts: str) -> list[Netns]:
        """Create several namespaces in one `ip` process. Their loopback stays down: bring it
        up in the namespace's own batch ("link set lo up")."""
        made = [Netns(f"{self.prefix}-{short}") for short in shorts]
        self.namespaces.update(zip(shorts, made, strict=True))
        run(["ip", "-batch", "-"], input="".join(f"netns add {ns.name}\n" for ns in made))
        return made

    def veths(self, links: Sequence[tuple[Netns, str, Netns, str]]) -> None:
        """Several veth pairs (a, a_dev, b, b_dev) in one `ip` process; links stay down."""
        lines = [
            f"link add {a_dev} netns {a.name} type veth peer name {b_dev} netns {b.name}\n"
            for a, a_dev, b, b_dev in links
        ]
        run(["ip", "-batch", "-"], input="".join(lines))

    def __getitem__(self, short: str) -> Netns:
        return self.namespaces[short]

    def veth(self, a: Netns, a_dev: str, b: Netns, b_dev: str) -> None:
        """A veth pair a_dev (in a) <-> b_dev (in b), both up."""
        run(["ip", "link", "add", a_dev, "netns", a.name, "type", "veth",
             "peer", "name", b_dev, "netns", b.name])  # fmt: skip
        a.link_up(a_dev)
        b.link_up(b_dev)

    def bridge(self, ns: Netns, dev: str) -> None:
        ns.ip("link", "add", dev, "type", "bridge", "forward_delay", "0")
        ns.link_up(dev)

    def spawn(self, ns: Netns, argv: Sequence[str], **kw) -> subprocess.Popen:
        """Start argv in ns in the background; killed by PID in teardown."""
        return self.procs.spawn(ns.cmd(argv), **kw)

    def teardown(self) -> None:
        self.procs.stop_all()
        for ns in self.namespaces.values():
            run(["ip", "netns", "del", ns.name], check=False, timeout=10)
        self.namespaces.clear()

    def __enter__(self) -> NetnsSet:
        return self

    def __exit__(self, *exc) -> None:
        self.teardown()
