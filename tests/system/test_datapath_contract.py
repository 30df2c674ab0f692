"""The datapath contract's checks that install ESP states (testbed/datapath_contract.py)
against KernelDatapath, in a throw-away namespace of the ESP kernel (the others run on this
machine's kernel, with the in-memory datapath: tests/unit/daemon/test_datapath_contract.py).

    tests/espvm/run-in-esp-kernel .venv/bin/python -m pytest tests/system/test_datapath_contract.py
"""

from __future__ import annotations

import pytest

from testbed.datapath_contract import WITH_ESP, kernel_subject, prepare_namespace

pytestmark = pytest.mark.espvm


@pytest.mark.parametrize("check", WITH_ESP, ids=lambda check: check.__name__)
def test_kernel_datapath(check, netns_set):
    ns = netns_set.add("dp")
    prepare_namespace(ns)
    with kernel_subject(ns) as subject:
        check(subject)
