"""Where the project is (the checkout this package sits in: it is installed editable), and its
build scripts as modules."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

__all__ = ["PROJECT", "script"]

PROJECT = Path(__file__).resolve().parents[1]


def script(name: str) -> ModuleType:
    """scripts/NAME.py as the module NAME (loaded once): the package builders, for the tests
    that build and inspect packages."""
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, PROJECT / "scripts" / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]
