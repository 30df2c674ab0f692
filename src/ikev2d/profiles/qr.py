"""A small QR code encoder (ISO/IEC 18004): byte mode, error correction M, versions 1-10.

Enough for the manual-setup card (server, IDs, key: up to 213 bytes); rendered as SVG of
plain rectangles so the page can show it as an <img> without running anything.
"""

from __future__ import annotations

__all__ = ["QrError", "qr_matrix", "qr_svg"]

# version -> (EC codewords per block, [(blocks, data codewords per block), ...]) at level M
_BLOCKS = {
    1: (10, [(1, 16)]), 2: (16, [(1, 28)]), 3: (26, [(1, 44)]), 4: (18, [(2, 32)]),
    5: (24, [(2, 43)]), 6: (16, [(4, 27)]), 7: (18, [(4, 31)]), 8: (22, [(2, 38), (2, 39)]),
    9: (22, [(3, 36), (2, 37)]), 10: (26, [(4, 43), (1, 44)]),
}  # fmt: skip
_ALIGN = {1: [], 2: [6, 18], 3: [6, 22], 4: [6, 26], 5: [6, 30], 6: [6, 34],
          7: [6, 22, 38], 8: [6, 24, 42], 9: [6, 26, 46], 10: [6, 28, 50]}  # fmt: skip
_ECL_M = 0b00


class QrError(ValueError):
    """The text does not fit a version-10 QR code."""


# -- Reed-Solomon over GF(256), polynomial 0x11D -------------------------------------------------
_EXP = [0] * 512
_LOG = [0] * 256
_x = 1
for _i in range(255):
    _EXP[_i] = _x
    _LOG[_x] = _i
    _x <<= 1
    if _x & 0x100:
        _x ^= 0x11D
for _i in range(255, 512):
    _EXP[_i] = _EXP[_i - 255]


def _rs_generator(degree: int) -> list[int]:
    poly = [1]
    for i in range(degree):
        nxt = [0] * (len(poly) + 1)
        for j, c in enumerate(poly):
            nxt[j] ^= c
            if c:
                nxt[j + 1] ^= _EXP[_LOG[c] + i]
        poly = nxt
    return poly


def _rs_remainder(data: list[int], degree: int) -> list[int]:
    gen = _rs_generator(degree)
    rem = [0] * degree
    for byte in data:
        factor = byte ^ rem[0]
        rem = [*rem[1:], 0]
        if factor:
            for j in range(degree):
                if gen[j + 1]:
                    rem[j] ^= _EXP[_LOG[gen[j + 1]] + _LOG[factor]]
    return rem


# -- codewords ---------------------------------------------------------------------------------
def _capacity(version: int) -> int:
    return sum(n * k for n, k in _BLOCKS[version][1])


def _data_codewords(data: bytes) -> tuple[int, list[int]]:
    # Non-ASCII text gets an ECI 26 (UTF-8) header: without it readers guess (Shift JIS...).
    eci = [0, 1, 1, 1, 0, 0, 0, 1, 1, 0, 1, 0] if any(b >= 0x80 for b in data) else []
    for version in _BLOCKS:
        count_bits = 8 if version < 10 else 16
        cap = _capacity(version)
        if len(eci) + 4 + count_bits + 8 * len(data) <= cap * 8:
            break
    else:
        raise QrError(f"{len(data)} bytes do not fit a version-10 QR code")
    bits = [*eci, 0, 1, 0, 0]  # byte mode
    bits += [(len(data) >> i) & 1 for i in reversed(range(count_bits))]
    for b in data:
        bits += [(b >> i) & 1 for i in reversed(range(8))]
    bits += [0] * min(4, cap * 8 - len(bits))
    bits += [0] * (-len(bits) % 8)
    words = [int("".join(map(str, bits[i : i + 8])), 2) for i in range(0, len(bits), 8)]
    pad = 0xEC
    while len(words) < cap:
        words.append(pad)
        pad ^= 0xEC ^ 0x11
    return version, words


def _interleave(version: int, words: list[int]) -> list[int]:
    ec_len, groups = _BLOCKS[version]
    blocks, pos = [], 0
    for count, size in groups:
        for _ in range(count):
            blocks.append(words[pos : pos + size])
            pos += size
    ecs = [_rs_remainder(b, ec_len) for b in blocks]
    out = [b[i] for i in range(max(map(len, blocks))) for b in blocks if i < len(b)]
    out += [e[i] for i in range(ec_len) for e in ecs]
    return out


# -- the matrix --------------------------------------------------------------------------------
def _bch(value: int, poly: int, bits: int) -> int:
    rem = value << bits
    top = poly.bit_length() - 1
    for shift in reversed(range(rem.bit_length() - top)):
        if rem >> (shift + top) & 1:
            rem ^= poly << shift
    return (value << bits) | rem


class _Grid:
    def __init__(self, version: int) -> None:
        self.version = version
        self.size = 17 + 4 * version
        self.mod = [[False] * self.size for _ in range(self.size)]
        self.fixed = [[False] * self.size for _ in range(self.size)]

    def set(self, x: int, y: int, dark: bool) -> None:
        self.mod[y][x] = dark
        self.fixed[y][x] = True

    def function_patterns(self) -> None:
        n = self.size
        for i in range(n):
            self.set(6, i, i % 2 == 0)
            self.set(i, 6, i % 2 == 0)
        for cx, cy in ((3, 3), (n - 4, 3), (3, n - 4)):
            for dy in range(-4, 5):
                for dx in range(-4, 5):
                    x, y = cx + dx, cy + dy
                    if 0 <= x < n and 0 <= y < n:
                        self.set(x, y, max(abs(dx), abs(dy)) not in (2, 4))
        pos = _ALIGN[self.version]
        last = len(pos) - 1
        for iy, cy in enumerate(pos):
            for ix, cx in enumerate(pos):
                if (ix, iy) in ((0, 0), (0, last), (last, 0)):
                    continue  # would overlap a finder pattern
                for dy in range(-2, 3):
                    for dx in range(-2, 3):
                        self.set(cx + dx, cy + dy, max(abs(dx), abs(dy)) != 1)
        self.format_bits(0)  # reserve the areas; real bits come after masking
        if self.version >= 7:
            v = _bch(self.version, 0x1F25, 12)
            for i in range(18):
                a, b = n - 11 + i % 3, i // 3
                self.set(a, b, bool(v >> i & 1))
                self.set(b, a, bool(v >> i & 1))

    def format_bits(self, mask: int) -> None:
        n = self.size
        bits = _bch(_ECL_M << 3 | mask, 0x537, 10) ^ 0x5412
        for i in range(6):
            self.set(8, i, bool(bits >> i & 1))
        self.set(8, 7, bool(bits >> 6 & 1))
        self.set(8, 8, bool(bits >> 7 & 1))
        self.set(7, 8, bool(bits >> 8 & 1))
        for i in range(9, 15):
            self.set(14 - i, 8, bool(bits >> i & 1))
        for i in range(8):
            self.set(n - 1 - i, 8, bool(bits >> i & 1))
        for i in range(8, 15):
            self.set(8, n - 15 + i, bool(bits >> i & 1))
        self.set(8, n - 8, True)  # the dark module

    def place(self, codewords: list[int]) -> None:
        n, i = self.size, 0
        bits = [(w >> (7 - k)) & 1 for w in codewords for k in range(8)]
        right = n - 1
        while right >= 1:
            if right == 6:
                right = 5
            for vert in range(n):
                for j in range(2):
                    x = right - j
                    upward = (right + 1) & 2 == 0
                    y = n - 1 - vert if upward else vert
                    if not self.fixed[y][x] and i < len(bits):
                        self.mod[y][x] = bool(bits[i])
                        i += 1
            right -= 2

    def apply_mask(self, mask: int) -> None:
        fn = _MASKS[mask]
        for y in range(self.size):
            for x in range(self.size):
                if not self.fixed[y][x] and fn(x, y):
                    self.mod[y][x] = not self.mod[y][x]


_MASKS = (
    lambda x, y: (x + y) % 2 == 0,
    lambda x, y: y % 2 == 0,
    lambda x, y: x % 3 == 0,
    lambda x, y: (x + y) % 3 == 0,
    lambda x, y: (x // 3 + y // 2) % 2 == 0,
    lambda x, y: x * y % 2 + x * y % 3 == 0,
    lambda x, y: (x * y % 2 + x * y % 3) % 2 == 0,
    lambda x, y: ((x + y) % 2 + x * y % 3) % 2 == 0,
)


def _penalty(m: list[list[bool]]) -> int:
    n, score = len(m), 0
    lines = m + [list(col) for col in zip(*m, strict=True)]
    for line in lines:  # rule 1: runs of 5+; rule 3: finder-like 1:1:3:1:1 with 4 light
        run, prev = 0, None
        for v in line:
            run = run + 1 if v == prev else 1
            prev = v
            if run == 5:
                score += 3
            elif run > 5:
                score += 1
        s = "".join("1" if v else "0" for v in line)
        score += 40 * (s.count("10111010000") + s.count("00001011101"))
    for y in range(n - 1):  # rule 2: 2x2 blocks
        for x in range(n - 1):
            if m[y][x] == m[y][x + 1] == m[y + 1][x] == m[y + 1][x + 1]:
                score += 3
    dark = sum(map(sum, m))
    score += abs(dark * 20 - n * n * 10) // (n * n) * 10  # rule 4: dark share off 50 %
    return score


def qr_matrix(text: str | bytes) -> list[list[bool]]:
    """The QR code of ``text`` (UTF-8) as rows of booleans (True = dark), no quiet zone."""
    data = text.encode("utf-8") if isinstance(text, str) else bytes(text)
    version, words = _data_codewords(data)
    codewords = _interleave(version, words)
    best = None
    for mask in range(8):
        grid = _Grid(version)
        grid.function_patterns()
        grid.place(codewords)
        grid.apply_mask(mask)
        grid.format_bits(mask)
        score = _penalty(grid.mod)
        if best is None or score < best[0]:
            best = (score, grid.mod)
    return best[1]


def qr_svg(text: str | bytes, *, scale: int = 4, quiet: int = 4) -> str:
    """An SVG image of the QR code: one path of unit squares, nothing but geometry."""
    m = qr_matrix(text)
    size = len(m) + 2 * quiet
    path = "".join(
        f"M{x + quiet},{y + quiet}h1v1h-1z"
        for y, row in enumerate(m)
        for x, v in enumerate(row)
        if v
    )
    px = size * scale
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{px}" height="{px}" '
        f'viewBox="0 0 {size} {size}" shape-rendering="crispEdges">'
        f'<rect width="{size}" height="{size}" fill="#fff"/><path d="{path}" fill="#000"/></svg>'
    )
