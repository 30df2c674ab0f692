"""System tests: need a kernel with ESP (tests/espvm/run-in-esp-kernel provides one).

Each module builds its world (testbed.world) once, since process starts are slow in the VM;
`clean` hands it to one test at a time."""

from __future__ import annotations

import contextlib
import os

import pytest

from testbed import NetnsSet

_PROBE_SA = [
    "xfrm", "state", "add", "src", "192.0.2.1", "dst", "192.0.2.2", "proto", "esp",
    "spi", "0x1000", "mode", "tunnel", "enc", "cbc(aes)", "0x" + "00" * 16,
    "auth-trunc", "hmac(sha256)", "0x" + "00" * 32, "128",
]  # fmt: skip


@pytest.fixture(scope="session", autouse=True)
def esp_kernel() -> None:
    """Fail loudly (never skip) when this kernel cannot install an ESP SA."""
    if os.geteuid() != 0:
        pytest.fail("system tests need root", pytrace=False)
    with NetnsSet() as nss:
        ns = nss.add("probe")
        probe = ns.ip(*_PROBE_SA, check=False)
    if probe.returncode != 0:
        pytest.fail(
            "this kernel has no ESP (ip xfrm state add: "
            f"{probe.stderr.strip()}); run: tests/espvm/run-in-esp-kernel "
            ".venv/bin/python -m pytest tests/system",
            pytrace=False,
        )


@pytest.fixture(scope="module", params=[5, 6], ids=["strongswan5", "strongswan6"])
def peer(request) -> int:
    """The phones' strongSwan, for modules run against both: this machine's (Debian 12,
    5.9.8) or strongSwan 6 from its Debian root (testbed.world.Phone.strongswan)."""
    return request.param


@pytest.fixture
def clean(world, request):
    """The module's `world` for one test. On failure every log is printed and the daemon
    stopped (the next test starts it afresh); afterwards no client is left."""
    yield world
    daemon = world.daemon
    rep = getattr(request.node, "rep_call", None)
    if rep is None or rep.failed:
        print(world.logs())
        if daemon is not None and daemon.running:
            with contextlib.suppress(AssertionError):
                daemon.stop()
    world.reset()
    if daemon is not None and daemon.running:
        world.wait_for(lambda: not world.clients(), 15, "clients gone")
