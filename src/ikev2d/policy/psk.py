"""A small guessability check for pre-shared keys.

An IKEv2 PSK is open to offline dictionary attacks by anyone who completes one IKE_SA_INIT
with the server and sees an AUTH payload (or runs a fake server for a client), so a router must
refuse the PSKs people like to type. This is a deliberately simple estimate in the spirit of
zxcvbn: common words and keyboard rows count as one guess from a short list, a character that
repeats or continues a run (``aaaa``, ``1234``, ``qwer``) counts as almost nothing, and every
other character counts log2 of the alphabet it draws from. Messages never contain the key.
"""

from __future__ import annotations

import math
import re

__all__ = ["MIN_BITS", "MIN_DISTINCT", "MIN_LENGTH", "estimate_bits", "psk_problem"]

MIN_LENGTH = 20
MIN_DISTINCT = 8
MIN_BITS = 64

# Words and fragments found at the top of every leaked-password list, plus the ones a router
# owner is likely to pick. Each occurrence is worth _WORD_BITS, however long it is.
_WORDS = (
    "password", "passwort", "passw0rd", "p@ssw0rd", "qwerty", "azerty", "letmein", "welcome",
    "admin", "administrator", "iloveyou", "monkey", "dragon", "master", "secret", "changeme",
    "default", "football", "baseball", "sunshine", "princess", "shadow", "superman", "trustno1",
    "abc123", "login", "root", "guest", "test", "vpn", "ikev2", "ipsec", "router", "openwrt",
    "tplink", "tp-link", "omada", "wifi", "internet", "server", "home", "family", "hello",
    "summer", "winter", "spring", "autumn", "love", "pass", "word", "key", "my",
)  # fmt: skip
_WORD_BITS = 10.0
_ROWS = ("1234567890", "qwertyuiop", "asdfghjkl", "zxcvbnm", "qwertzuiop", "yxcvbnm")
_RUN_BITS = 1.0
_MARK = "\x00"  # stands for a matched word in the working copy
_MIN_REPEAT = 3
_REPEAT_BITS = 4.0
_YEAR = re.compile(r"(?:19|20)[0-9]{2}")


def _alphabet(psk: str) -> int:
    size = 0
    if any(c.islower() for c in psk):
        size += 26
    if any(c.isupper() for c in psk):
        size += 26
    if any(c.isdigit() for c in psk):
        size += 10
    if any(not c.isalnum() and c.isascii() for c in psk):
        size += 33
    if any(not c.isascii() for c in psk):
        size += 100  # some letters of another script; a rough allowance
    return max(size, 2)


def _adjacent(a: str, b: str) -> bool:
    """b repeats a, or continues a run: next/previous code point or keyboard neighbour."""
    if a == b or abs(ord(a) - ord(b)) == 1:
        return True
    for row in _ROWS:
        i, j = row.find(a), row.find(b)
        if i >= 0 and j >= 0 and abs(i - j) == 1:
            return True
    return False


def _repeat_length(work: str, i: int) -> int:
    """Length of the longest earlier copy of work[i:] (at least _MIN_REPEAT long), else 0."""
    n = _MIN_REPEAT
    if i + n > len(work) or work.find(work[i : i + n], 0, i + n - 1) < 0:
        return 0
    while i + n < len(work) and work.find(work[i : i + n + 1], 0, i + n) >= 0:
        n += 1
    return n


def estimate_bits(psk: str) -> float:
    """A rough lower estimate of the key's entropy in bits."""
    per_char = math.log2(_alphabet(psk))
    work = _YEAR.sub(_MARK, psk.lower())
    for word in sorted(_WORDS, key=len, reverse=True):
        work = work.replace(word, _MARK)
    bits = 0.0
    seen: set[str] = set()
    prev = ""
    i = 0
    while i < len(work):
        c = work[i]
        repeat = _repeat_length(work, i) if i >= _MIN_REPEAT else 0
        if repeat:
            bits += _REPEAT_BITS  # "Summer2024!Summer2024!": the copy adds almost nothing
            prev = work[i + repeat - 1]
            i += repeat
            continue
        if c == _MARK:
            bits += _WORD_BITS
        elif prev and prev != _MARK and _adjacent(prev, c):
            bits += _RUN_BITS
        elif c in seen:
            bits += per_char / 2  # reuse of a character already used is somewhat predictable
        else:
            bits += per_char
        seen.add(c)
        prev = c
        i += 1
    return bits


def psk_problem(psk: str) -> str | None:
    """Why the PSK is weak (a phrase for "server.psk: <hidden> ..."), or None if it is fine."""
    if len(psk) < MIN_LENGTH:
        return f"is shorter than {MIN_LENGTH} characters"
    if len(set(psk)) < MIN_DISTINCT:
        return f"uses fewer than {MIN_DISTINCT} different characters"
    bits = estimate_bits(psk)
    if bits < MIN_BITS:
        return f"is easy to guess (about {int(bits)} bits by a simple estimate, {MIN_BITS} needed)"
    return None
