"""The attack tier (issue 13): one test per defect an adversarial review found, each written
to fail against the code before its fix. Tests here drive the real sans-IO responder, the real
daemon pieces and the real files in-process; item 1 needs kernel ESP and lives with the system
tests (tests/system/test_attack_01_spoofed_pool.py, marked `attack`), see attack_items.py.

The in-memory initiator of the unit tests (tests/unit/ike/ike_initiator.py) plays the client.
"""

from __future__ import annotations

import sys
from pathlib import Path

_IKE_TESTS = Path(__file__).resolve().parents[1] / "unit" / "ike"
if str(_IKE_TESTS) not in sys.path:
    sys.path.insert(0, str(_IKE_TESTS))
