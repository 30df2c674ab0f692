"""The base of value objects on the daemon's start path, for every room.

Classes the daemon builds before it binds UDP 500 (configuration, transforms, the datapath's
tunnels) are written out rather than ``@dataclass(frozen=True, slots=True)``: the dataclasses
module brings inspect, ast, dis and tokenize (~1.8 MB of RSS) and each dataclass takes ~1 ms
to build at import (docs/benchmarks.md, Start cost; tests/unit/test_footprint.py lists where
the start still builds some). Here because wire is the room every other one may import.
"""

from __future__ import annotations

from typing import Self

__all__ = ["Frozen"]


class Frozen:
    """Immutable value objects with equality, hashing and a repr over their ``__slots__``.

    Each subclass lists its fields in ``__slots__`` and sets them in its own ``__init__``
    with ``_set``; ``_hidden`` names fields left out of the repr (keys, passwords),
    ``_uncompared`` those equality and hashing ignore.
    """

    __slots__: tuple[str, ...] = ()
    _hidden: frozenset[str] = frozenset()
    _uncompared: frozenset[str] = frozenset()

    def _set(self, **values: object) -> None:
        for name, value in values.items():
            object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable: cannot set {name}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable: cannot delete {name}")

    # copy, deepcopy and pickle restore the slots through here (__setattr__ refuses)
    def __getstate__(self) -> tuple[object, ...]:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __setstate__(self, state: tuple[object, ...]) -> None:
        for name, value in zip(self.__slots__, state, strict=True):
            object.__setattr__(self, name, value)

    def replace(self, **changes: object) -> Self:
        """A copy with `changes` (field=value), checked by the constructor as a new one is."""
        values = {name: changes.pop(name, getattr(self, name)) for name in self.__slots__}
        if changes:
            raise TypeError(f"{type(self).__name__} has no field {', '.join(changes)}")
        return type(self)(**values)

    def _values(self) -> tuple[object, ...]:
        return tuple(getattr(self, n) for n in self.__slots__ if n not in self._uncompared)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Frozen) or other.__class__ is not self.__class__:
            return NotImplemented
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        shown = (f"{n}={getattr(self, n)!r}" for n in self.__slots__ if n not in self._hidden)
        return f"{type(self).__name__}({', '.join(shown)})"
