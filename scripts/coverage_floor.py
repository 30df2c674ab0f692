#!/usr/bin/env python3
"""Line coverage of src/ikev2d per room, from the data `coverage run` left (scripts/test.sh),
and the floor of the core rooms: exit status 1 when wire, crypto, ike, auth and policy together
fall below CORE_FLOOR percent.

What is measured: the tests that run in the pytest process (unit, attack, fuzz, interop,
packaging, LuCI views, router). The daemons those tests start in namespaces, and the system and
whole-router tiers in their VMs, are not: the core rooms are tested in process, the edges
(daemon, kernel) mostly out of it, so their figures here are a lower bound.

Usage: scripts/coverage_floor.py [--floor PERCENT]   (details: python -m coverage report -m)
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path

import coverage

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "src" / "ikev2d"
CORE = ("wire", "crypto", "ike", "auth", "policy")
# Measured 2026-12-04: core 96.6 % from the unit, attack, fuzz, packaging and LuCI tiers alone
# (interop and router add to it); the floor leaves 1 point of room for code moving between
# rooms. Raise it when the figure rises.
CORE_FLOOR = 95.6


def room_of(path: Path) -> str:
    """The room of a module: its first folder under ikev2d/, or "(top)" for ikev2d/*.py."""
    parts = path.relative_to(PACKAGE).parts
    return parts[0] if len(parts) > 1 else "(top)"


def room_lines(cov: coverage.Coverage) -> dict[str, list[int]]:
    """room -> [statements, missing], every module counted (an unimported one as missing)."""
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for path in sorted(PACKAGE.rglob("*.py")):
        _name, statements, _excluded, missing, _text = cov.analysis2(str(path))
        counts[room_of(path)][0] += len(statements)
        counts[room_of(path)][1] += len(missing)
    return counts


def percent(statements: int, missing: int) -> float:
    return 100.0 * (statements - missing) / statements if statements else 100.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--floor", type=float, default=CORE_FLOOR)
    floor = parser.parse_args(argv).floor
    cov = coverage.Coverage(config_file=str(ROOT / "pyproject.toml"))
    cov.load()
    counts = room_lines(cov)
    print(f"{'room':10} {'lines':>6} {'missed':>6} {'cover':>6}")
    for room, (statements, missing) in sorted(counts.items()):
        print(f"{room:10} {statements:6} {missing:6} {percent(statements, missing):5.1f}%")
    core = [sum(counts[room][i] for room in CORE) for i in (0, 1)]
    core_percent = percent(*core)
    print(f"core rooms ({', '.join(CORE)}): {core_percent:.1f}% (floor {floor:.1f}%)")
    if core_percent < floor:
        print(f"coverage: the core rooms fell below their floor of {floor:.1f}%", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
