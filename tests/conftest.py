"""Shared by every tier: root check, per-test namespaces, strongSwan instances, and each
phase's report kept on the test (fixtures print logs only on failure). The harness is the
`testbed` package (installed in the venv)."""

from __future__ import annotations

import os

import pytest

from testbed import NetnsSet
from testbed.strongswan import KERNEL_NETLINK, Charon


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    # keep each phase's report on the item so fixtures can print logs only on failure
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


def _failed(request) -> bool:
    rep = getattr(request.node, "rep_call", None)
    return rep is None or rep.failed


@pytest.fixture
def require_root() -> None:
    """Namespaces and strongSwan need root: not being root is a failure, never a skip."""
    if os.geteuid() != 0:
        pytest.fail("this test needs root (network namespaces, strongSwan)", pytrace=False)


@pytest.fixture
def netns_set(require_root):
    """Namespaces and processes of one test, all removed (by name / PID) afterwards."""
    nss = NetnsSet()
    yield nss
    nss.teardown()


@pytest.fixture
def make_charon(netns_set, tmp_path, request):
    """make_charon(ns, name, plugins=KERNEL_NETLINK, **kw) -> a configured, unstarted Charon.
    On failure the tail of each instance's charon.log is printed with the report."""
    made: list[Charon] = []

    def factory(ns, name: str, plugins: str = KERNEL_NETLINK, **kw) -> Charon:
        charon = Charon(ns, tmp_path / name, netns_set, plugins=plugins, **kw)
        made.append(charon)
        return charon

    yield factory
    for charon in made:
        if _failed(request):
            print(f"--- charon.log of {charon.workdir.name} ({charon.ns.name}) ---")
            print(charon.log_tail(60))
        charon.stop()
