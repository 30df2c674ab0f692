"""Network namespaces for the kernel room's tests on this machine's kernel (XFRM, routes).

A uniquely named module (pytest imports test helpers by basename): `netns` is a fixture (a
fresh namespace, removed after), `in_netns(name)` runs a block inside it (sockets opened
there stay bound to it), `ip(ns, ...)` runs iproute2 in it.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import subprocess

import pytest

__all__ = ["in_netns", "ip", "netns"]

CLONE_NEWNET = 0x40000000


def ip(ns: str, *args: str) -> str:
    return subprocess.run(
        ["ip", "-n", ns, *args], capture_output=True, text=True, check=True, timeout=30
    ).stdout


@contextlib.contextmanager
def in_netns(name: str):
    libc = ctypes.CDLL(None, use_errno=True)
    with open("/proc/self/ns/net") as home, open(f"/run/netns/{name}") as target:
        assert libc.setns(target.fileno(), CLONE_NEWNET) == 0
        try:
            yield
        finally:
            assert libc.setns(home.fileno(), CLONE_NEWNET) == 0


@pytest.fixture
def netns():
    if os.geteuid() != 0:
        pytest.fail("needs root for ip netns", pytrace=False)
    name = f"ikxu{os.getpid() % 100000}"
    subprocess.run(["ip", "netns", "add", name], check=True, timeout=30)
    try:
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False, timeout=30)
