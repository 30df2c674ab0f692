"""Fixtures of the router tier: OpenWrt's real userland in a throw-away namespace per test,
and ikev2d's packages built once per session (a release and the next one)."""

from __future__ import annotations

import os

import pytest

from testbed.openwrt_service import build_packages, install_opkg
from testbed.routerns import RouterNamespace, userland_tree


@pytest.fixture(scope="session")
def tree():
    """The built userland (scripts/openwrt-userland.sh, cached by the sources' hashes)."""
    if os.geteuid() != 0:
        pytest.fail("the router tier needs root (namespaces, mounts)", pytrace=False)
    return userland_tree()


@pytest.fixture(scope="session")
def packages(tree, tmp_path_factory):
    return build_packages(tmp_path_factory.mktemp("release"))


@pytest.fixture(scope="session")
def next_release(tree, tmp_path_factory):
    return build_packages(tmp_path_factory.mktemp("next-release"), release_bump=1)


def _report(ns: RouterNamespace) -> None:
    print("--- syslog ---")
    print(ns.log_text()[-8000:])
    for name in ("procd", "rpcd", "ubusd", "uhttpd"):
        if ns.exists(f"/tmp/{name}.log"):
            print(f"--- /tmp/{name}.log ---")
            print(ns.read(f"/tmp/{name}.log")[-3000:])


@pytest.fixture
def bare_router(tree, tmp_path, request):
    """A booted router (syslogd, ubusd, procd -S, rpcd) with nothing else. On failure its
    syslog and daemon logs are printed with the report."""
    with RouterNamespace(tmp_path, tree) as ns:
        ns.boot()
        yield ns
        rep = getattr(request.node, "rep_call", None)
        if rep is None or rep.failed:
            _report(ns)


@pytest.fixture
def router(bare_router):
    """A booted router with its LAN and WAN (netifd stand-in) and fw4's ruleset loaded."""
    bare_router.network()
    bare_router.run(["/etc/init.d/firewall", "enable"])
    bare_router.run(["/etc/init.d/firewall", "start"])
    return bare_router


@pytest.fixture
def installed(router, packages):
    """The router with ikev2d and luci-app-ikev2d installed live by opkg (service enabled,
    daemon not running: the shipped config is off until a key is set)."""
    install_opkg(router, packages)
    return router
