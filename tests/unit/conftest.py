"""Fixtures of the unit tier."""

from __future__ import annotations

import pytest

from ikev2d.crypto import mlkem


@pytest.fixture
def without_mlkem(monkeypatch):
    """This installation as OpenWrt 24.10's (cryptography 41.0.7, no ML-KEM), whatever the
    test venv has: the no-ML-KEM paths run in every test run, not only in the oldest set."""
    reason = "cryptography 41.0.7 has no ML-KEM (47 and newer have)"
    monkeypatch.setattr(mlkem, "_module_or_reason", lambda: (None, reason))
    mlkem.available_methods.cache_clear()
    yield reason
    mlkem.available_methods.cache_clear()
