"""The datapath contract (testbed/datapath_contract.py): every check against the
in-memory datapath, and the checks that need no ESP against the kernel datapath in a
throw-away namespace of this machine's kernel (the others run in the ESP kernel:
tests/system/test_datapath_contract.py)."""

from __future__ import annotations

import pytest

from testbed.datapath_contract import (
    WITH_ESP,
    WITHOUT_ESP,
    kernel_subject,
    memory_subject,
    prepare_namespace,
)


def _name(check) -> str:
    return check.__name__


@pytest.mark.parametrize("check", WITHOUT_ESP + WITH_ESP, ids=_name)
def test_memory_datapath(check):
    with memory_subject() as subject:
        check(subject)


@pytest.mark.parametrize("check", WITHOUT_ESP, ids=_name)
def test_kernel_datapath(check, netns_set):
    ns = netns_set.add("dp")
    prepare_namespace(ns)
    with kernel_subject(ns) as subject:
        check(subject)
