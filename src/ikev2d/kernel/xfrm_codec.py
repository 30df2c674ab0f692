"""Compiled encoders and field readers for the pyroute2 message classes of :mod:`xfrm_messages`.

Why: pyroute2's generic ``encode()``/``decode()`` walk every field and attribute through dicts
and per-field ``struct`` calls: ~100-140 µs per XFRM message on a PC and about half of the
daemon's CPU per handshake on a router. The layouts stay declared once, as pyroute2 classes
(``fields`` and ``nla_map``); this module compiles each class's ``fields`` into one
``struct.Struct`` the first time it is used, and packs requests and reads reply fields with
it. A unit test checks every request byte for byte against pyroute2's own ``encode()``.

Conventions the classes follow (and this compiler relies on): ``__``-prefixed fields are
padding, a ``>`` prefix marks a network-order integer, and a trailing ``("name", "s")`` field
is a variable-length tail (raw bytes). NLA classes with an ``alg_key`` tail (``xfrm_algo*``)
carry the key after the fixed part and its length in bits in ``alg_key_len``.
"""

from __future__ import annotations

import struct

__all__ = ["FieldReader", "encode_request"]

_NLMSGHDR = struct.Struct("=IHHII")
_NLAHDR = struct.Struct("=HH")


class _Layout:
    """One class's fixed part as a single Struct: defaults, name → slot, network-order slots."""

    __slots__ = ("defaults", "net", "offsets", "slots", "struct", "tail")

    def __init__(self, fields) -> None:
        fmt = ["="]
        self.defaults: list = []
        self.slots: dict[str, int] = {}
        self.net: dict[int, int] = {}  # slot -> byte size of a network-order integer
        self.offsets: dict[str, tuple[int, str]] = {}  # name -> (offset, struct format)
        self.tail: str | None = None
        pos = 0
        for i, (name, f) in enumerate(fields):
            if f == "s":
                if i != len(fields) - 1:
                    raise ValueError(f"variable field {name} is not the last one")
                self.tail = name
                break
            code = f.lstrip("<>=!@")
            size = struct.calcsize("=" + code)
            if name.startswith("__"):
                fmt.append(code)
                pos += size
                continue
            if f[0] in ">!":
                self.net[len(self.defaults)] = size
                fmt.append(f"{size}s")
                self.offsets[name] = (pos, ">" + code)
            else:
                fmt.append(code)
                self.offsets[name] = (pos, "=" + code)
            self.slots[name] = len(self.defaults)
            self.defaults.append(b"" if code.endswith("s") else 0)
            pos += size
        self.struct = struct.Struct("".join(fmt))

    def pack(self, values: dict) -> bytes:
        row = self.defaults.copy()
        slots = self.slots
        for name, value in values.items():
            slot = slots.get(name)
            if slot is not None:
                row[slot] = value
        for slot, size in self.net.items():
            row[slot] = row[slot].to_bytes(size, "big")
        return self.struct.pack(*row)


_layouts: dict[type, _Layout] = {}
_nla_tables: dict[type, dict[str, tuple[int, type]]] = {}


def _layout(cls: type) -> _Layout:
    layout = _layouts.get(cls)
    if layout is None:
        layout = _layouts[cls] = _Layout(cls.fields)
    return layout


def _nla_table(cls: type) -> dict[str, tuple[int, type]]:
    """NLA name → (type number, NLA class) from a message class's ``nla_map``."""
    table = _nla_tables.get(cls)
    if table is None:
        table = _nla_tables[cls] = {
            name: (number, getattr(cls, class_name)) for number, name, class_name in cls.nla_map
        }
    return table


def _encode_nla(number: int, nla_cls: type, value: dict) -> bytes:
    layout = _layout(nla_cls)
    if "alg_key_len" in layout.slots:
        key = bytes(value.get("alg_key") or b"")
        value = {**value, "alg_key_len": len(key) * 8}
        tail = key
    elif layout.tail is not None:
        tail = bytes(value.get(layout.tail) or b"")
    else:
        tail = b""
    payload = layout.pack(value) + tail
    length = _NLAHDR.size + len(payload)
    return _NLAHDR.pack(length, number) + payload + b"\0" * (-length % 4)


def encode_request(cls, msg_type: int, flags: int, seq: int, fields: dict, attrs=()) -> bytes:
    """One netlink request of message class ``cls``: header, fixed part, attributes.

    Fields not given are zero (b"" for byte strings); ``attrs`` are (NLA name, value dict)
    pairs of the class's ``nla_map``."""
    body = [_layout(cls).pack(fields)]
    if attrs:
        table = _nla_table(cls)
        for name, value in attrs:
            number, nla_cls = table[name]
            body.append(_encode_nla(number, nla_cls, value))
    payload = b"".join(body)
    length = _NLMSGHDR.size + len(payload)
    return _NLMSGHDR.pack(length, msg_type, flags, seq, 0) + payload


class FieldReader:
    """Reads chosen fixed-part fields of one message class straight from a receive buffer."""

    __slots__ = ("_net", "_struct")

    def __init__(self, cls: type, *names: str) -> None:
        offsets = _layout(cls).offsets
        if list(names) != sorted(names, key=lambda n: offsets[n][0]):
            raise ValueError("name the fields in their order in the structure")
        fmt, pos = [f"{_NLMSGHDR.size}x"], 0
        self._net: list[int] = []  # positions of network-order integers (read as bytes)
        for i, name in enumerate(names):
            offset, code = offsets[name]
            if offset > pos:
                fmt.append(f"{offset - pos}x")
            size = struct.calcsize(code)
            if code[0] == ">":
                self._net.append(i)
                fmt.append(f"{size}s")
            else:
                fmt.append(code[1:])
            pos = offset + size
        self._struct = struct.Struct("=" + "".join(fmt))

    def read(self, buf: bytes | bytearray, offset: int) -> tuple:
        """The fields of the message at ``offset``, in the order named; raises ValueError
        when the message (by its own length or the buffer's) is too short to hold them."""
        if offset + self._struct.size > len(buf):
            raise ValueError("netlink message shorter than its structure")
        (length,) = struct.unpack_from("=I", buf, offset)
        if length < self._struct.size:
            raise ValueError("netlink message shorter than its structure")
        values = self._struct.unpack_from(buf, offset)
        if not self._net:
            return values
        values = list(values)
        for i in self._net:
            values[i] = int.from_bytes(values[i], "big")
        return tuple(values)
