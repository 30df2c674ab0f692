"""System tests: need a kernel with ESP (tests/espvm/run-in-esp-kernel provides one)."""

from __future__ import annotations

import os

import pytest

from harness import NetnsSet
from harness.strongswan import strongswan6_root
from harness.topology import RoadWarrior, build_road_warrior

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


@pytest.fixture
def road_warrior(netns_set):
    """road_warrior(phones=1, nat=False) -> RoadWarrior (see harness.topology)."""

    def factory(*, phones: int = 1, nat: bool = False) -> RoadWarrior:
        return build_road_warrior(netns_set, phones=phones, nat=nat)

    return factory


@pytest.fixture(scope="module", params=["strongswan5", "strongswan6"])
def peer_root(request):
    """The phones' strongSwan, for modules run against both: this machine's (Debian 12,
    5.9.8) or strongSwan 6 from its Debian root (the root to pass to Charon / World.build)."""
    return None if request.param == "strongswan5" else strongswan6_root()


@pytest.fixture
def clean(world, request):
    """The module's `world` with no client before the test; on failure, print every log and
    make the next test restart the daemon."""
    yield world
    rep = getattr(request.node, "rep_call", None)
    if rep is None or rep.failed:
        print(world.logs())
        world.config = None
    world.reset()
