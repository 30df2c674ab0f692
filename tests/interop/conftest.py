"""Interop tests: real strongSwan peers in network namespaces on this machine's kernel."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _interop_needs_root(require_root) -> None:
    """Every interop test creates namespaces: not being root fails it (never a skip)."""
