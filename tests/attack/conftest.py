"""The attack tier (issue 13): one test per defect an adversarial review found, each written
to fail against the code before its fix. Tests here drive the real sans-IO responder, the real
daemon pieces and the real files in-process; item 1 needs kernel ESP and lives with the system
tests (tests/system/test_attack_01_spoofed_pool.py, marked `attack`), see ITEMS_ELSEWHERE.

The in-memory initiator of the unit tests (tests/unit/ike/ike_initiator.py) plays the client.
"""

from __future__ import annotations

import sys
from pathlib import Path

_IKE_TESTS = Path(__file__).resolve().parents[1] / "unit" / "ike"
if str(_IKE_TESTS) not in sys.path:
    sys.path.insert(0, str(_IKE_TESTS))

# Items of issue 13 whose proof runs somewhere else (a kernel with ESP, a real router),
# as "path::test" from the repository root; test_attack_index.py checks they exist and are
# marked `attack` (`pytest -m attack tests/system` lists them; make test runs them in UML).
ITEMS_ELSEWHERE = {
    1: "tests/system/test_attack_01_spoofed_pool.py::test_item01_clear_packets_from_the_pool",
}
# Items proved here, by tests named test_itemNN_*. Items 12 (LuCI ACL) and 13 (dnsmasq) are
# proved with the LuCI and router tiers.
ITEMS_HERE = (2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 14, 15, 16)
