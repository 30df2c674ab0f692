"""A small XML property-list writer (plistlib needs python3-xml on OpenWrt; this needs nothing).

Supports what configuration profiles use: dict (string keys, kept in order), list, str, bool,
int and bytes (<data>). Text is XML-escaped; control characters, which XML 1.0 cannot carry,
are refused rather than written into a file a device would reject.
"""

from __future__ import annotations

import base64

__all__ = ["dumps_plist"]

_HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" '
    '"http://www.apple.com/DTDs/PropertyList-1.0.dtd">\n'
    '<plist version="1.0">\n'
)


def _text(value: str) -> str:
    if any((ord(c) < 0x20 and c not in "\t\n\r") or ord(c) in (0xFFFE, 0xFFFF) for c in value):
        raise ValueError("plist strings cannot hold control characters")
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _emit(value: object, depth: int, out: list[str]) -> None:
    pad = "\t" * depth
    if isinstance(value, bool):  # before int: bool is an int subclass
        out.append(f"{pad}<{'true' if value else 'false'}/>")
    elif isinstance(value, int):
        out.append(f"{pad}<integer>{value}</integer>")
    elif isinstance(value, str):
        out.append(f"{pad}<string>{_text(value)}</string>")
    elif isinstance(value, bytes):
        out.append(f"{pad}<data>{base64.b64encode(value).decode()}</data>")
    elif isinstance(value, dict):
        out.append(f"{pad}<dict>")
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError("plist dictionary keys must be strings")
            out.append(f"{pad}\t<key>{_text(key)}</key>")
            _emit(item, depth + 1, out)
        out.append(f"{pad}</dict>")
    elif isinstance(value, list | tuple):
        out.append(f"{pad}<array>")
        for item in value:
            _emit(item, depth + 1, out)
        out.append(f"{pad}</array>")
    else:
        raise TypeError(f"no plist form for {type(value).__name__}")


def dumps_plist(value: dict) -> bytes:
    out = [_HEAD.rstrip("\n")]
    _emit(value, 0, out)
    out.append("</plist>\n")
    return "\n".join(out).encode("utf-8")
