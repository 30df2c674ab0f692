"""Fixtures of the router tier: OpenWrt's real userland in a throw-away namespace per test."""

from __future__ import annotations

import os

import pytest

from harness.routerns import RouterNamespace, userland_tree


@pytest.fixture(scope="session")
def tree():
    """The built userland (scripts/openwrt-userland.sh, cached by the sources' hashes)."""
    if os.geteuid() != 0:
        pytest.fail("the router tier needs root (namespaces, mounts)", pytrace=False)
    return userland_tree()


@pytest.fixture
def router(tree, tmp_path, request):
    """A booted router: syslogd, ubusd, procd -S, rpcd. On failure its syslog and daemon logs
    are printed with the report."""
    with RouterNamespace(tmp_path, tree) as ns:
        ns.boot()
        yield ns
        rep = getattr(request.node, "rep_call", None)
        if rep is None or rep.failed:
            print("--- syslog ---")
            print(ns.log_text()[-6000:])
            for name in ("procd", "rpcd", "ubusd"):
                if ns.exists(f"/tmp/{name}.log"):
                    print(f"--- /tmp/{name}.log ---")
                    print(ns.read(f"/tmp/{name}.log")[-3000:])
