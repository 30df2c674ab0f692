"""The fuzzer's seeds can be re-recorded: Debian's strongSwan against our responder, for real
(scripts/record-fuzz-seeds), and a fresh recording replays as recorded."""

from __future__ import annotations

import pytest

from fuzz.record import SCENARIOS, make_pki, record
from fuzz.session import Session

pytestmark = pytest.mark.interop


def test_a_fresh_recording_replays(require_root, tmp_path):
    scenario = next(s for s in SCENARIOS if s.name == "cert-fragments")

    seed = record(scenario, tmp_path, make_pki())

    ike_auth = next(s for s in seed.steps if s.exchange == 35)
    assert ike_auth.fragments > 1  # strongSwan split its certificate into SKF fragments
    assert ike_auth.events == ("IkeSaEstablished", "ChildSaInstalled")
    assert seed.steps[-1].events == ("ChildSaRemoved", "IkeSaTerminated")
    assert Session(seed).replay() == []
