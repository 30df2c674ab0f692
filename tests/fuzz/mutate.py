"""Mutation operators: from one seed step, the ops to send instead (fuzz.session applies them).

Three layers, as an attacker (or a broken client) could reach them:
- raw bytes of the datagram (any sender; for encrypted messages only the outer parser and the
  integrity check are reached);
- the decrypted payload chain of an authentic SK/SKF message (a peer holding the keys): its
  bytes (lengths, counts, padding), its structure (payloads dropped, repeated, reordered,
  borrowed from other exchanges, fields changed) and its envelope (header fields, fragments,
  Pad Length, SKF numbers);
- the conversation: retransmissions, old or future message IDs, another source address,
  daemon commands and time jumps at odd moments, then the rest of the seed.
"""

from __future__ import annotations

import dataclasses
import random
import struct

from ikev2d.wire.enums import NotifyType
from ikev2d.wire.errors import ParseError
from ikev2d.wire.message import decode_message, decode_payloads, encode_payloads
from ikev2d.wire.payloads import DeletePayload, NotifyPayload, Payload, UnknownPayload

from .client import SeedClient
from .seeds import PLAIN, SEALED, Seed, Step
from .target import COMMANDS

__all__ = ["Mutator"]

INTERESTING = (0, 1, 2, 3, 4, 5, 7, 8, 9, 12, 15, 16, 17, 31, 32, 33, 63, 64, 127, 128, 255, 256,
               1023, 1024, 0x7FFF, 0x8000, 0xFFFF, 0x10000, 0x7FFFFFFF, 0xFFFFFFFF)  # fmt: skip
EXCHANGES = (34, 35, 36, 37, 43, 44, 0, 33, 38, 255)
MAX_DATAGRAM = 65507  # the largest UDP payload over IPv4
MAX_PLAINTEXT = 65535 - 28 - 8 - 16 - 16 - 16  # what still fits one sealed message
_MAX_FRAGMENTS = 40


def _vocabulary() -> list[Payload]:
    """Payloads no seed carries but peers send: every notify (errors with plausible data,
    SA-bound ones with an SPI), and Deletes of every shape."""
    extra: list[Payload] = []
    for t in NotifyType:
        extra.append(NotifyPayload.of(t))
        extra.append(NotifyPayload.of(t, bytes((0, 31)) if t == 17 else b"\x00" * 20))
        extra.append(NotifyPayload(t, b"", 3, b"\xc0\x00\x01\x01"))
    extra += [
        DeletePayload.ike(),
        DeletePayload(3, 4, (b"\xc0\x00\x01\x01",)),
        DeletePayload(2, 4, (b"\x00\x00\x00\x00",)),
        DeletePayload(1, 8, (bytes(8),)),
    ]
    return extra


def mutate_bytes(data: bytes, rnd: random.Random, donors: list[bytes]) -> bytes:
    """1-4 byte-level edits (lengths are where parsers break: u16/u32 get special care)."""
    buf = bytearray(data)
    for _ in range(rnd.choice((1, 1, 1, 2, 3, 4))):
        n = len(buf)
        pos = rnd.randrange(n) if n else 0
        op = rnd.randrange(11)
        if op == 0 and n:
            buf[pos] ^= 1 << rnd.randrange(8)
        elif op == 1 and n:
            buf[pos] = rnd.choice((0, 1, 0x7F, 0x80, 0xFF, rnd.randrange(256)))
        elif op == 2 and n >= 2:
            pos = min(pos, n - 2)
            value = rnd.choice((*INTERESTING[:28], n, n - pos, n - pos + 1, n - pos - 1))
            struct.pack_into("!H", buf, pos, value & 0xFFFF)
        elif op == 3 and n >= 4:
            pos = min(pos, n - 4)
            struct.pack_into("!I", buf, pos, rnd.choice(INTERESTING) & 0xFFFFFFFF)
        elif op == 4:
            buf[pos:pos] = rnd.randbytes(rnd.choice((1, 2, 4, 8, 16)))
        elif op == 5:
            del buf[pos : pos + rnd.choice((1, 2, 4, 8, 32))]
        elif op == 6:
            del buf[pos:]
        elif op == 7 and n:
            end = min(n, pos + rnd.choice((4, 8, 16, 64)))
            buf[pos:pos] = buf[pos:end] * rnd.choice((1, 2, 8, 100))
        elif op == 8 and donors:
            donor = rnd.choice(donors)
            start = rnd.randrange(len(donor)) if donor else 0
            buf[pos:pos] = donor[start : start + rnd.choice((4, 16, 64, 512))]
        elif op == 9 and n:
            buf[pos] = (buf[pos] + rnd.choice((1, -1, 2, -2))) & 0xFF
        else:
            buf += rnd.randbytes(rnd.choice((1, 3, 4, 8)))
    return bytes(buf[:MAX_DATAGRAM])


def mutate_value(value, rnd: random.Random, donors: list[bytes], depth: int = 0):
    """A changed copy of one payload field (recursing into proposals, selectors, ...)."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return rnd.choice(
            (*INTERESTING, value + 1, max(value - 1, 0), value ^ 1 << rnd.randrange(16))
        )
    if isinstance(value, bytes):
        return mutate_bytes(value, rnd, donors)
    if isinstance(value, str):
        return value + rnd.choice(("\x00", "\u00e9", "x" * 200))
    if isinstance(value, tuple):
        items = list(value)
        op = rnd.randrange(5)
        if op == 0 and items:
            del items[rnd.randrange(len(items))]
        elif op == 1 and items:
            items.insert(rnd.randrange(len(items) + 1), rnd.choice(items))
        elif op == 2 and items:
            rnd.shuffle(items)
        elif op == 3 and items and depth < 3:
            i = rnd.randrange(len(items))
            items[i] = mutate_value(items[i], rnd, donors, depth + 1)
        elif items:  # many of one (counts): bounded, nested tuples multiply
            items = (items * rnd.choice((2, 20, 300)))[: 300 if depth == 0 else 30]
        return tuple(items)
    if dataclasses.is_dataclass(value) and depth < 4:
        fields = [f.name for f in dataclasses.fields(value)]
        name = rnd.choice(fields)
        changed = mutate_value(getattr(value, name), rnd, donors, depth + 1)
        return dataclasses.replace(value, **{name: changed})
    if value is None:
        return rnd.choice(INTERESTING)
    return value


class Mutator:
    """Makes the ops of one fuzz input from a seed step, with `rnd` deciding everything."""

    def __init__(self, seeds: list[Seed], rnd: random.Random) -> None:
        self.rnd = rnd
        self.payloads: list[Payload] = _vocabulary()  # every payload seen anywhere, to borrow
        self.donors: list[bytes] = []  # raw messages and plaintexts, to splice
        for seed in seeds:
            for step in seed.steps:
                try:
                    if step.kind == PLAIN:
                        self.payloads += decode_message(step.data).payloads
                        self.donors.append(step.data)
                    elif step.kind == SEALED:
                        self.payloads += decode_payloads(step.first, step.data)
                        self.donors.append(step.data)
                except ParseError:
                    continue

    # -- the entry point ---------------------------------------------------------------------
    def ops(self, client: SeedClient, seed: Seed, k: int) -> list[dict]:
        step = seed.steps[k]
        rnd = self.rnd
        if step.kind == PLAIN:
            ops = [self._init(client, step)]
        elif step.kind == SEALED and client.sa_for(step) is not None:
            kind = rnd.choices(("chain", "bytes", "header", "fragments", "envelope", "raw",
                                "sequence"), (30, 25, 10, 10, 8, 5, 12))[0]  # fmt: skip
            ops = getattr(self, f"_{kind}")(client, seed, k)
        else:
            ops = self._sequence(client, seed, k)
        if rnd.random() < 0.2:  # and then the rest of the conversation, if it still can be
            ops += [{"op": "step", "index": j} for j in range(k + 1, len(seed.steps))]
        return ops

    # -- IKE_SA_INIT (plain) -----------------------------------------------------------------
    def _init(self, client: SeedClient, step: Step) -> dict:
        rnd = self.rnd
        payloads = client.init_payloads(step)
        if rnd.random() < 0.6:
            payloads = self._chain_edit(payloads)
        header = decode_message(step.data).header
        if rnd.random() < 0.15:
            header = mutate_value(header, rnd, self.donors)
        try:
            from ikev2d.wire.message import Message, encode_message

            data = encode_message(Message(header, tuple(payloads)))
        except Exception:  # a field out of its range: the encoder says no, bytes still fly
            data = step.data
        if rnd.random() < 0.5:
            data = mutate_bytes(data, rnd, self.donors)
            if len(data) >= 28 and rnd.random() < 0.5:
                data = data[:24] + struct.pack("!I", len(data)) + data[28:]
        return {"op": "raw", "data": [data[:MAX_DATAGRAM]], "init": True, **_where(step)}

    # -- inside SK ---------------------------------------------------------------------------
    def _chain(self, client: SeedClient, seed: Seed, k: int) -> list[dict]:
        step = seed.steps[k]
        payloads = self._chain_edit(client.inner(step))
        first, body = self._encode(payloads, step)
        if self.rnd.random() < 0.2:
            body = mutate_bytes(body, self.rnd, self.donors)
        return [_sealed(k, first, body)]

    def _bytes(self, client: SeedClient, seed: Seed, k: int) -> list[dict]:
        step = seed.steps[k]
        first, body = self._encode(client.inner(step), step)
        if self.rnd.random() < 0.1:
            first = self.rnd.choice((0, 1, 33, 41, 46, 53, 255, self.rnd.randrange(256)))
        return [_sealed(k, first, mutate_bytes(body, self.rnd, self.donors))]

    def _header(self, client: SeedClient, seed: Seed, k: int) -> list[dict]:
        step, rnd = seed.steps[k], self.rnd
        first, body = self._encode(client.inner(step), step)
        change = rnd.choice(("exchange", "message_id", "initiator", "response", "bytes"))
        op = _sealed(k, first, body)
        if change == "exchange":
            op["header"] = {"exchange": rnd.choice((*EXCHANGES, rnd.randrange(256)))}
        elif change == "message_id":
            mid = client.message_id(step)
            op["header"] = {"message_id": rnd.choice((mid + 1, mid - 1, mid + 2, 0, 0xFFFFFFFF,
                                                      0x7FFFFFFF)) & 0xFFFFFFFF}  # fmt: skip
        elif change in ("initiator", "response"):
            op["header"] = {change: not getattr(step, change)}
        else:  # version, flag bits, SPIs: the 28 header octets as they go into the ICV
            header = bytearray(client.header(step))
            pos = rnd.choice((0, 7, 8, 15, 17, 19, 19, 19, 20, 23))
            header[pos] = rnd.choice((0, 0xFF, 0x10, 0x30, 0x28, 0x08, rnd.randrange(256)))
            op["raw_header"] = bytes(header)
        return [op]

    def _fragments(self, client: SeedClient, seed: Seed, k: int) -> list[dict]:
        step, rnd = seed.steps[k], self.rnd
        first, body = self._encode(client.inner(step), step)
        n = rnd.choice((1, 2, 3, 5, 16, _MAX_FRAGMENTS, rnd.randint(1, _MAX_FRAGMENTS)))
        order = list(range(n))
        edit = rnd.randrange(5)
        if edit == 0:
            rnd.shuffle(order)
        elif edit == 1 and n > 1:
            del order[rnd.randrange(n)]
        elif edit == 2:
            order += [rnd.randrange(n) for _ in range(rnd.randint(1, 4))]
        elif edit == 3:
            order = order[:1] * rnd.randint(1, 3)
        op = _sealed(k, first, body)
        op.update(fragments=n, order=order)
        ops = [op]
        if rnd.random() < 0.3:  # a second message's fragments under the same message ID
            other = _sealed(k, first, mutate_bytes(body, rnd, self.donors))
            other.update(fragments=rnd.randint(1, _MAX_FRAGMENTS))
            ops.insert(rnd.randrange(2), other)
        return ops

    def _envelope(self, client: SeedClient, seed: Seed, k: int) -> list[dict]:
        step, rnd = seed.steps[k], self.rnd
        first, body = self._encode(client.inner(step), step)
        pad = rnd.choice((0, 1, 15, 16, 255))
        padded = (
            body
            + bytes(pad)
            + bytes((rnd.choice((pad, pad + 1, 255, len(body) + pad + 1)) & 0xFF,))
        )
        if rnd.random() < 0.2:
            padded = mutate_bytes(padded, rnd, self.donors)
        padded = padded[:MAX_PLAINTEXT]
        numbers = None
        if rnd.random() < 0.5:
            numbers = (rnd.choice((0, 1, 2, 0xFFFF)), rnd.choice((0, 1, 2, 33, 0xFFFF)))
        return [{"op": "envelope", "step": k, "first": first, "padded": padded,
                 "numbers": numbers, "flags": rnd.choice((0, 0, 0x80, 0x01, 0xFF)),
                 "length_delta": rnd.choice((0, 0, 1, -1, 4, -4, 100, -100))}]  # fmt: skip

    def _raw(self, client: SeedClient, seed: Seed, k: int) -> list[dict]:
        step = seed.steps[k]
        data = client.datagrams(step)
        data = [mutate_bytes(d, self.rnd, self.donors) for d in data] or [b""]
        return [{"op": "raw", "data": data, **_where(step)}]

    # -- the conversation ------------------------------------------------------------------
    def _sequence(self, client: SeedClient, seed: Seed, k: int) -> list[dict]:
        rnd = self.rnd
        n = len(seed.steps)
        choice = rnd.choice((0, 1, 2, 3, 3, 4, 4, 5, 5, 6, 7, 7))
        if choice == 0:  # the same message again (a retransmission) right after it
            return [{"op": "step", "index": k}, {"op": "resend"}]
        if choice == 1:  # an earlier or later message now
            return [{"op": "step", "index": rnd.randrange(n)}]
        if choice == 2:  # the step from somewhere else (a NAT rebinding, a spoofer)
            src = rnd.choice((("203.0.113.9", 4500), ("192.0.2.2", 1), ("2001:db8::9", 500),
                              (seed.steps[k].src[0], 65535)))  # fmt: skip
            return [{"op": "step", "index": k, "src": src}]
        if choice == 3:  # a daemon command at this moment
            name = rnd.choice(sorted(COMMANDS))
            return [{"op": "command", "name": name}, {"op": "step", "index": k}]
        if choice == 4:  # a kernel expire of any SPI
            spi = rnd.choice(("newest", "newest", 0, 0xC0000101, rnd.getrandbits(32)))
            return [{"op": "expire", "spi": spi, "hard": rnd.random() < 0.5},
                    {"op": "step", "index": k}]  # fmt: skip
        if choice == 5:  # time passes (retransmissions, DPD, lifetimes, half-open expiry)
            by = rnd.choice((0.5, 2.0, 31.0, 61.0, 3600.0, 86400.0))
            times = rnd.choice((1, 1, 3, 8))  # one jump, or a clock ticking past each deadline
            return [{"op": "advance", "by": by, "times": times}, {"op": "step", "index": k}]
        if choice == 7:  # a second phone with the same credentials connects meanwhile
            upto = rnd.randint(1, n)
            return [{"op": "second", "ip": "192.0.2.77", "upto": upto}, {"op": "step", "index": k}]
        return [{"op": "step", "index": k}, {"op": "step", "index": k}]

    # -- helpers -----------------------------------------------------------------------------
    def _chain_edit(self, payloads: list[Payload]) -> list[Payload]:
        rnd = self.rnd
        items = list(payloads)
        for _ in range(rnd.choice((1, 1, 2, 3))):
            op = rnd.randrange(8)
            n = len(items)
            if op == 0 and n:
                del items[rnd.randrange(n)]
            elif op == 1 and n:
                items.insert(rnd.randrange(n + 1), items[rnd.randrange(n)])
            elif op == 2 and n > 1:
                i, j = rnd.randrange(n), rnd.randrange(n)
                items[i], items[j] = items[j], items[i]
            elif op == 3 and self.payloads:
                items.insert(rnd.randrange(n + 1), rnd.choice(self.payloads))
            elif op == 4 and n:
                i = rnd.randrange(n)
                items[i] = mutate_value(items[i], rnd, self.donors)
            elif op == 5:
                kind = rnd.choice((0, 1, 49, 53, 46, 200, rnd.randrange(256)))
                unknown = UnknownPayload(kind, rnd.random() < 0.7, rnd.randbytes(rnd.randrange(9)))
                items.insert(rnd.randrange(n + 1), unknown)
            elif op == 6 and n:  # many of one payload (a cap on the count must hold)
                i = rnd.randrange(n)
                items[i:i] = [items[i]] * rnd.choice((10, 100, 1000))
            elif op == 7:
                items = []
        return items

    def _encode(self, payloads: list[Payload], step: Step) -> tuple[int, bytes]:
        try:
            first, body = encode_payloads(payloads)
        except Exception:  # a mutated field the encoder cannot write: keep the original
            return step.first, step.data
        return first & 0xFF, body


def _sealed(k: int, first: int, body: bytes) -> dict:
    return {"op": "sealed", "step": k, "first": first, "body": body[:MAX_PLAINTEXT]}


def _where(step: Step) -> dict:
    return {"src": step.src, "dst": step.dst}
