"""Which items of issue 13 the attack tier proves, and where (test_attack_index.py checks)."""

# Items of issue 13 whose proof runs somewhere else (a kernel with ESP, a real router),
# as "path::test" from the repository root; test_attack_index.py checks they exist and are
# marked `attack` (`pytest -m attack tests/system` lists them; make test runs them in UML).
ITEMS_ELSEWHERE = {
    1: "tests/system/test_attack_01_spoofed_pool.py::test_item01_clear_packets_from_the_pool",
}
# Items proved here, by tests named test_itemNN_*. Items 12 (LuCI ACL) and 13 (dnsmasq) are
# proved with the LuCI and router tiers.
ITEMS_HERE = (2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 14, 15, 16)
