"""Which OpenWrt package provides each part of the Python standard library (one place).

From openwrt/packages lang/python/python3: `python3-light` installs the whole stdlib minus
the pieces split into their own packages (files/python3-package-*.mk) and minus a few never
shipped. Anything in `sys.stdlib_module_names` that is not listed here is in python3-light.
On 24.10 `email` is its own python3-email; python3-cryptography depends on it there, and on
25.12 it moved into python3-urllib.
"""

from __future__ import annotations

__all__ = ["NOT_SHIPPED", "SPLIT_OUT", "package_for"]

# top-level module -> the python3-* package that holds it
SPLIT_OUT: dict[str, str] = {
    "asyncio": "python3-asyncio",
    "logging": "python3-logging",
    "ctypes": "python3-ctypes",
    "_ctypes": "python3-ctypes",
    "unicodedata": "python3-codecs",
    "_codecs_cn": "python3-codecs",
    "_codecs_hk": "python3-codecs",
    "_codecs_iso2022": "python3-codecs",
    "_codecs_jp": "python3-codecs",
    "_codecs_kr": "python3-codecs",
    "_codecs_tw": "python3-codecs",
    "dbm": "python3-dbm",
    "decimal": "python3-decimal",
    "_decimal": "python3-decimal",
    "lzma": "python3-lzma",
    "_lzma": "python3-lzma",
    "multiprocessing": "python3-multiprocessing",
    "_multiprocessing": "python3-multiprocessing",
    "curses": "python3-ncurses",
    "_curses": "python3-ncurses",
    "ssl": "python3-openssl",
    "_ssl": "python3-openssl",
    "_hashlib": "python3-openssl",
    "pydoc": "python3-pydoc",
    "doctest": "python3-pydoc",
    "pydoc_data": "python3-pydoc",
    "readline": "python3-readline",
    "sqlite3": "python3-sqlite3",
    "_sqlite3": "python3-sqlite3",
    "unittest": "python3-unittest",
    "urllib": "python3-urllib",
    "email": "python3-urllib",
    "uuid": "python3-uuid",
    "_uuid": "python3-uuid",
    "venv": "python3-venv",
    "ensurepip": "python3-venv",
    "xml": "python3-xml",
    "xmlrpc": "python3-xml",
    "pyexpat": "python3-xml",
    "_elementtree": "python3-xml",
    "webbrowser": "python3-webbrowser",
}

# not installed by any python3 package on the router
NOT_SHIPPED = frozenset({"idlelib", "tkinter", "turtledemo", "_tkinter", "turtle", "_osx_support"})


def package_for(module: str) -> str | None:
    """The OpenWrt package for a stdlib top-level module; None if python3-light has it."""
    if module in NOT_SHIPPED:
        raise LookupError(f"{module} is not available on OpenWrt")
    return SPLIT_OUT.get(module)
