"""The one place the kernel room imports pyroute2: its netlink message classes, nothing else.

Why: ``import pyroute2.netlink`` first runs ``pyroute2/__init__.py``, which imports nearly the
whole library (IPRoute, NDB, IPDB, conntrack, asyncio …): about 25 MB of RSS and 165 modules,
on a router with little RAM, for the ~10 modules we use (``nla``/``nlmsg`` to describe XFRM
structures). So, when pyroute2 is not imported yet, :func:`_install_light_package` puts a light
stand-in for the package in ``sys.modules["pyroute2"]``: a plain module whose ``__path__`` is the
real package's directory, so ``pyroute2.netlink`` and every other submodule still load from the
real files, but the package's ``__init__`` does not run (importing ``pyroute2.netlink`` then
costs ~3-4 MB, on pyroute2 0.7.9 and 0.9.x alike).

Never breaking a process that wants the real package:
- if ``pyroute2`` is already in ``sys.modules`` (someone imported it first), it is left alone;
- if code imports the package's API after us (``from pyroute2 import IPRoute``), the stand-in's
  module ``__getattr__`` (PEP 562) runs the real ``__init__`` into it once, so the name is there
  and the module becomes the real package.

Everything in the kernel room that needs pyroute2 imports it from here.
"""

from __future__ import annotations

import importlib.util
import sys
import types

__all__ = ["nla", "nlmsg", "nlmsg_base"]


def _complete_package(name: str):
    """Module ``__getattr__`` of the stand-in: load the real package on first use of its API."""
    if name.startswith("__"):
        # importlib, pytest and inspect probe dunders: never worth loading 25 MB for
        raise AttributeError(name)
    module = sys.modules["pyroute2"]
    del module.__getattr__  # the real __init__ defines what it defines; no second run
    module.__spec__.loader.exec_module(module)
    try:
        return module.__dict__[name]
    except KeyError:
        raise AttributeError(f"module 'pyroute2' has no attribute {name!r}") from None


def _install_light_package() -> None:
    if "pyroute2" in sys.modules:
        return  # the real package (or our stand-in) is there already: use it as it is
    spec = importlib.util.find_spec("pyroute2")
    if spec is None or not spec.submodule_search_locations:
        return  # not installed: the import below raises the usual ImportError
    light = types.ModuleType("pyroute2", "pyroute2 without its __init__ (see ikev2d.kernel)")
    light.__spec__ = spec
    light.__loader__ = spec.loader
    light.__file__ = spec.origin
    light.__package__ = "pyroute2"
    light.__path__ = list(spec.submodule_search_locations)
    light.__getattr__ = _complete_package
    sys.modules["pyroute2"] = light


_install_light_package()

from pyroute2.netlink import nla, nlmsg, nlmsg_base  # noqa: E402  (after the stand-in)
