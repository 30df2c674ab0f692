"""The whole router in one kernel: needs ESP and nftables' inet family together, which neither
this machine's kernel (no ESP) nor user-mode-linux (no nft inet) has. Run with
tests/wholerouter/run (Debian's distribution kernel under qemu)."""

from __future__ import annotations

import contextlib
import os

import pytest
from luci_ui import Luci, serve_luci

from testbed import NetnsSet
from testbed.browser import Browser
from testbed.openwrt_service import build_packages
from testbed.routerns import userland_tree
from testbed.world import OpenWrtServer, World, openwrt_conn, openwrt_phone

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
    """world_factory(luci=False, conns=[...]) -> a World with the OpenWrt router (see
    testbed.world; default: one connection "home" as phone1@example.test), torn down after
    the test; on failure every log of it is printed with the report."""
    made: list[World] = []

    def factory(*, luci: bool = False, conns=None) -> World:
        conns = conns or [openwrt_conn("home", "phone1@example.test")]
        server = OpenWrtServer(tree, packages, luci=luci)
        world = World.build(tmp_path / f"world{len(made)}", [openwrt_phone(conns)], server=server)
        made.append(world)
        return world

    yield factory
    rep = getattr(request.node, "rep_call", None)
    for world in made:
        if rep is None or rep.failed:
            print(world.logs())
        world.teardown()


@pytest.fixture
def luci_factory(request, tmp_path):
    """luci_factory(world) -> Luci: LuCI served on the world's router and a Chromium page on
    it. On failure the page's text and a screenshot (its path) are printed with the report."""
    stack = contextlib.ExitStack()
    made: list[Luci] = []

    def factory(world: World) -> Luci:
        url = stack.enter_context(serve_luci(world))
        browser = stack.enter_context(Browser(timeout=90))
        made.append(Luci(browser, url))
        return made[-1]

    with stack:
        yield factory
        rep = getattr(request.node, "rep_call", None)
        if rep is None or rep.failed:
            for n, luci in enumerate(made):
                _report_page(luci, tmp_path / f"failed-page{n}.png")


def _report_page(luci: Luci, png) -> None:
    with contextlib.suppress(Exception):
        luci.browser.screenshot(png)
        print(f"--- page at failure (screenshot: {png}) ---")
        print(luci.browser.text("body"))
        print("--- browser problems ---")
        print("\n".join(luci.browser.problems()))
