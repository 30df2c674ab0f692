"""The attack tier (issue 13): one test per defect an adversarial review found, each written
to fail against the code before its fix. Tests here drive the real sans-IO responder, the real
daemon pieces and the real files in-process; item 1 needs kernel ESP and lives with the system
tests (tests/system/test_attack_01_spoofed_pool.py, marked `attack`), see attack_items.py.

The in-memory initiator of the unit tests (testbed.ike_initiator) plays the client.
"""
