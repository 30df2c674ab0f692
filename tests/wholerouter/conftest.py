"""The whole router in one kernel: needs ESP and nftables' inet family together, which neither
this machine's kernel (no ESP) nor user-mode-linux (no nft inet) has. Run with
tests/wholerouter/run (Debian's distribution kernel under qemu)."""

from __future__ import annotations

import os

import pytest
from world import RouterWorld

from harness import NetnsSet
from harness.routerns import userland_tree
from router.ikev2d_router import build_packages

_PROBES = {
    "ESP": ["ip", "xfrm", "state", "add", "src", "192.0.2.1", "dst", "192.0.2.2", "proto", "esp",
            "spi", "0x1000", "mode", "tunnel", "enc", "cbc(aes)", "0x" + "00" * 16,
            "auth-trunc", "hmac(sha256)", "0x" + "00" * 32, "128"],
    "nftables inet": ["nft", "add", "table", "inet", "probe"],
}  # fmt: skip


@pytest.fixture(scope="session", autouse=True)
def whole_router_kernel() -> None:
    """Fail loudly (never skip) when this kernel lacks ESP or nft's inet family."""
    if os.geteuid() != 0:
        pytest.fail("the whole-router tests need root", pytrace=False)
    with NetnsSet() as nss:
        ns = nss.add("probe")
        missing = [
            f"{what} ({probe.stderr.strip()})"
            for what, argv in _PROBES.items()
            if (probe := ns.run(argv, check=False)).returncode != 0
        ]
    if missing:
        pytest.fail(
            f"this kernel lacks {', '.join(missing)}: run tests/wholerouter/run", pytrace=False
        )


@pytest.fixture(scope="session")
def tree():
    """OpenWrt's userland, built before the VM started (tests/wholerouter/run)."""
    return userland_tree()


@pytest.fixture(scope="session")
def packages(tmp_path_factory):
    return build_packages(tmp_path_factory.mktemp("packages"))


@pytest.fixture
def world_factory(tree, packages, tmp_path, request):
    """world_factory(**kw) -> a RouterWorld (see world.py), closed after the test; on failure
    every log of it is printed with the report."""
    made: list[RouterWorld] = []

    def factory(**kw) -> RouterWorld:
        world = RouterWorld.build(tmp_path / f"world{len(made)}", tree, packages, **kw)
        made.append(world)
        return world

    yield factory
    rep = getattr(request.node, "rep_call", None)
    for world in made:
        if rep is None or rep.failed:
            print(world.logs())
        world.close()
