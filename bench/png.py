"""A dependency-free PNG bar chart (zlib + struct): grouped bars with a 3x5 pixel font.

write_bar_chart(path, title, groups=[("MODP2048 N=200", [6.9, 2.1]), ...],
                series=["IKEV2D", "STRONGSWAN"], unit="MS")
"""

from __future__ import annotations

import struct
import zlib

__all__ = ["write_bar_chart"]

# 3x5 glyphs, one 3-bit row per digit of the string, top row first
_FONT = {
    "0": "75557", "1": "26227", "2": "71747", "3": "71717", "4": "55711", "5": "74717",
    "6": "74757", "7": "71111", "8": "75757", "9": "75717", ".": "00002", "-": "00700",
    "/": "11244", "=": "07070", ":": "02020", " ": "00000", "(": "24442", ")": "42224",
    "%": "51245", "A": "25755", "B": "65656", "C": "34443", "D": "65556", "E": "74647",
    "F": "74644", "G": "34553", "H": "55755", "I": "72227", "J": "11153", "K": "55655",
    "L": "44447", "M": "57555", "N": "65555", "O": "25552", "P": "65644", "Q": "25573",
    "R": "65655", "S": "34216", "T": "72222", "U": "55557", "V": "55552", "W": "55575",
    "X": "55255", "Y": "55222", "Z": "71247", "_": "00007",
}  # fmt: skip
COLOURS = [(0x1F, 0x77, 0xB4), (0xFF, 0x7F, 0x0E), (0x2C, 0xA0, 0x2C), (0xD6, 0x27, 0x28)]
WHITE, BLACK, GREY = (255, 255, 255), (0, 0, 0), (200, 200, 200)


class _Canvas:
    def __init__(self, width: int, height: int) -> None:
        self.w, self.h = width, height
        self.px = bytearray(bytes(WHITE) * (width * height))

    def rect(self, x0: int, y0: int, x1: int, y1: int, colour) -> None:
        x0, x1 = max(0, min(x0, x1)), min(self.w, max(x0, x1))
        y0, y1 = max(0, min(y0, y1)), min(self.h, max(y0, y1))
        row = bytes(colour) * (x1 - x0)
        for y in range(y0, y1):
            i = (y * self.w + x0) * 3
            self.px[i : i + len(row)] = row

    def text(self, x: int, y: int, s: str, colour=BLACK, scale: int = 2) -> int:
        """Draw `s` (upper-cased); returns the x after it."""
        for ch in s.upper():
            rows = _FONT.get(ch, _FONT[" "])
            for r, bits in enumerate(rows):
                v = int(bits)
                for c in range(3):
                    if v & (4 >> c):
                        px, py = x + c * scale, y + r * scale
                        self.rect(px, py, px + scale, py + scale, colour)
            x += 4 * scale
        return x

    def png(self) -> bytes:
        raw = b"".join(
            b"\0" + bytes(self.px[y * self.w * 3 : (y + 1) * self.w * 3]) for y in range(self.h)
        )

        def chunk(kind: bytes, data: bytes) -> bytes:
            body = kind + data
            return struct.pack("!I", len(data)) + body + struct.pack("!I", zlib.crc32(body))

        ihdr = struct.pack("!IIBBBBB", self.w, self.h, 8, 2, 0, 0, 0)
        return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
                + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))  # fmt: skip


def write_bar_chart(
    path, title: str, groups: list[tuple[str, list[float | None]]], series: list[str], unit: str
) -> None:
    """Horizontal grouped bars, one group per row label, one bar per series."""
    bar_h, gap, left, top, width = 14, 10, 190, 50, 760
    nser = len(series)
    height = top + len(groups) * (nser * bar_h + gap) + 30
    cv = _Canvas(width, height)
    cv.text(10, 10, title, scale=2)
    x = 10
    for i, name in enumerate(series):  # legend
        cv.rect(x, 30, x + 10, 40, COLOURS[i % len(COLOURS)])
        x = cv.text(x + 14, 30, name, scale=2) + 16
    vmax = max((v for _, vals in groups for v in vals if v is not None), default=1.0) or 1.0
    span = width - left - 80
    y = top
    for label, vals in groups:
        cv.text(8, y + (nser * bar_h) // 2 - 5, label, scale=2)
        for i, v in enumerate(vals):
            if v is not None:
                cv.rect(left, y, left + max(1, int(span * v / vmax)), y + bar_h - 2,
                        COLOURS[i % len(COLOURS)])  # fmt: skip
                cv.text(left + int(span * v / vmax) + 4, y + 1, f"{v:g}", scale=2)
            y += bar_h
        y += gap
    cv.rect(left - 1, top - 4, left, y, GREY)  # axis
    cv.text(left, y + 4, f"0 ... {vmax:g} {unit}", scale=2)
    with open(path, "wb") as f:
        f.write(cv.png())
