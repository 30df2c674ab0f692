"""The attack tier proves every item it claims: one test per item, here or where it runs."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from attack_items import ITEMS_ELSEWHERE, ITEMS_HERE

ROOT = Path(__file__).resolve().parents[2]


def _tests(path: Path) -> dict[str, ast.FunctionDef]:
    tree = ast.parse(path.read_text(), str(path))
    return {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}


def test_every_item_has_its_attack_test():
    here: dict[int, list[str]] = {}
    for path in sorted(Path(__file__).parent.glob("test_*.py")):
        for name in _tests(path):
            found = re.match(r"test_item(\d\d)_", name)
            if found:
                here.setdefault(int(found.group(1)), []).append(f"{path.name}::{name}")
    assert sorted(here) == sorted(ITEMS_HERE), here
    for item, where in ITEMS_ELSEWHERE.items():
        path, name = where.split("::")
        source = (ROOT / path).read_text()
        assert name in _tests(ROOT / path), f"item {item}: {where} is missing"
        assert "pytest.mark.attack" in source, f"item {item}: {path} is not marked attack"
        assert item not in ITEMS_HERE
