"""Recording a real client's conversation with the responder (used by fuzz.record).

`Pump` runs the sans-IO responder behind real UDP sockets (ports 500 and 4500, non-ESP marker
handled like the daemon does) and writes down every datagram in and out, every event and every
command. `to_steps` turns that transcript into seed steps: client messages sealed with SK/SKF
are decrypted with the keys the responder exported (IkeKeysDerived), fragments are joined, and
exact repeats become retransmissions.
"""

from __future__ import annotations

import queue
import select
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from ikev2d.crypto.errors import IntegrityError
from ikev2d.crypto.keys import DirectionKeys
from ikev2d.crypto.sk import SkCodec
from ikev2d.crypto.transforms import ALL_TRANSFORMS, by_keyword
from ikev2d.ike import events as ev
from ikev2d.wire.enums import ExchangeType
from ikev2d.wire.message import decode_message, peek_header
from ikev2d.wire.nat_t import NON_ESP_MARKER, split_udp4500
from ikev2d.wire.payloads import EncryptedFragmentPayload, EncryptedPayload

from .seeds import COMMAND, PLAIN, RETRANSMIT, SEALED, Step
from .target import Target

__all__ = ["Pump", "Record", "to_steps"]

Address = tuple[str, int]


@dataclass
class Record:
    """One line of the transcript: a datagram in, a command, and what followed it."""

    t: float
    kind: str  # "in" or "command"
    src: Address = ("", 0)
    dst: Address = ("", 0)
    data: bytes = b""
    command: str = ""
    events: list[str] = field(default_factory=list)
    answered: bool = False


class Pump(threading.Thread):
    """The target's responder behind UDP sockets, until `stop()`."""

    def __init__(self, target: Target, sockets: dict[Address, socket.socket], natt_port: int):
        super().__init__(daemon=True)
        self.target = target
        self.sockets = sockets
        self.natt_port = natt_port
        self.records: list[Record] = []
        self.keys: list[ev.IkeKeysDerived] = []
        self.log: list[str] = []  # every event, for the operator
        self._t0 = time.monotonic()
        self.offset = 0.0  # a jump forward in time (lifetimes, DPD) without waiting
        self._calls: queue.Queue = queue.Queue()
        self._wake_r, self._wake_w = socket.socketpair()
        self._stopping = False

    def now(self) -> float:
        return round(time.monotonic() - self._t0 + self.offset, 3)

    # -- called from the recording script -----------------------------------------------------
    def command(self, name: str) -> None:
        """Run a daemon command (fuzz.target.COMMANDS) in the pump's thread."""
        self._call(name, lambda now: self.target.command(name, now))

    def _call(self, name: str, fn: Callable[[float], object]) -> None:
        done = threading.Event()
        self._calls.put((name, fn, done))
        self._wake_w.send(b"x")
        if not done.wait(10):
            raise TimeoutError(f"pump did not run {name}")

    def jump(self, seconds: float) -> None:
        """Let `seconds` pass for the responder (its timers fire now)."""

        def forward(now: float) -> None:
            self.offset += seconds

        self._call("", forward)

    def stop(self) -> None:
        self._stopping = True
        self._wake_w.send(b"x")
        self.join(10)

    # -- the loop ----------------------------------------------------------------------------
    def run(self) -> None:
        by_fd = {s.fileno(): (addr, s) for addr, s in self.sockets.items()}
        while not self._stopping:
            when = self.target.r.get_timer()
            wait = 0.2 if when is None else min(max(when - self.now(), 0), 0.2)
            ready, _, _ = select.select([*by_fd, self._wake_r.fileno()], [], [], wait)
            for fd in ready:
                if fd == self._wake_r.fileno():
                    self._wake_r.recv(64)
                    self._run_calls()
                    continue
                local, sock = by_fd[fd]
                data, remote = sock.recvfrom(65535)
                if local[1] == self.natt_port:
                    data = split_udp4500(data)
                    if data is None:
                        continue  # ESP (the client's userspace ESP) or a keepalive
                rec = Record(self.now(), "in", remote[:2], local, data)
                self.records.append(rec)
                self.target.deliver(data, rec.src, rec.dst, rec.t)
                self._flush(rec)
                self._note_keys()
            self.target.tick(self.now())
            self._flush(None)

    def _run_calls(self) -> None:
        while not self._calls.empty():
            name, fn, done = self._calls.get()
            now = self.now()
            rec = Record(now, "command", command=name) if name else None
            if rec:
                self.records.append(rec)
            fn(now)
            self._flush(rec)
            done.set()

    def _note_keys(self) -> None:
        """The keys of SAs not established yet (IKE_AUTH, and the IKE_INTERMEDIATE rounds
        whose keys change before IKE_AUTH): IkeKeysDerived comes only with establishment, so
        the recorder reads them from the responder's own state (a recording tool's liberty)."""
        for sa in getattr(self.target.r, "_sas", {}).values():
            k, p = sa.keys, sa.proposal
            if k is None or not k.sk_ei or p is None:
                continue
            integ = p.integ.iana_name if p.integ is not None else "NONE"
            found = ev.IkeKeysDerived(sa.spi_i, sa.spi_r, p.encr.keyword, k.sk_ei, k.sk_er,
                                      integ, k.sk_ai, k.sk_ar)  # fmt: skip
            if found not in self.keys:
                self.keys.append(found)

    def _flush(self, cause: Record | None) -> None:
        """Send what the target's last call produced; note its events against `cause`."""
        t = self.target
        for data, local, remote in t.sent:
            if cause is not None:
                cause.answered = True
            out = NON_ESP_MARKER + data if local[1] == self.natt_port else data
            self.sockets[local].sendto(out, remote)
        for event in t.events:
            self.log.append(f"{self.now():8.3f} {event!r}")
            if isinstance(event, ev.IkeKeysDerived):
                if event not in self.keys:  # only with export_keys, which replays do not use
                    self.keys.append(event)
            elif cause is not None:
                cause.events.append(type(event).__name__)
        t.sent, t.events = [], []


# -- transcript -> steps ----------------------------------------------------------------------
def _integ(name: str):
    return next((t for t in ALL_TRANSFORMS if t.iana_name == name), None)


def _codecs(keys: list[ev.IkeKeysDerived]) -> dict[tuple[bytes, bytes], list[tuple]]:
    """(SPIi, SPIr) -> [(codec of the original initiator's messages, of the responder's)],
    one pair per set of keys the SA had (IKE_INTERMEDIATE changes them)."""
    found: dict[tuple[bytes, bytes], list[tuple]] = {}
    for k in keys:
        encr, integ = by_keyword(k.encr), _integ(k.integ)
        found.setdefault((k.spi_i, k.spi_r), []).append((
            SkCodec(encr, integ, DirectionKeys(k.sk_ei, k.sk_ai)),
            SkCodec(encr, integ, DirectionKeys(k.sk_er, k.sk_ar)),
        ))  # fmt: skip
    return found


def _open(candidates: list[tuple], initiator: bool, data: bytes, sk) -> bytes:
    for pair in candidates:
        try:
            return pair[0 if initiator else 1].open(data, len(data) - len(sk.data))
        except IntegrityError:
            continue
    raise IntegrityError("no keys of this IKE SA open the message")


def to_steps(records: list[Record], keys: list[ev.IkeKeysDerived]) -> tuple[list[Step], list]:
    """Seed steps of a transcript, and the (SPIi, SPIr) of each IKE SA in order of use."""
    codecs = _codecs(keys)
    sa_order: list[tuple[bytes, bytes]] = []
    steps: list[Step] = []
    seen: dict[bytes, int] = {}  # datagram -> index of its step
    pending: dict | None = None  # fragments being joined
    for rec in records:
        if rec.kind == "command":
            steps.append(Step(rec.t, COMMAND, command=rec.command, events=tuple(rec.events),
                              answered=rec.answered))  # fmt: skip
            continue
        if rec.data in seen:
            if not (steps and steps[-1].kind == RETRANSMIT and rec.t - steps[-1].t < 0.05):
                steps.append(Step(rec.t, RETRANSMIT, rec.src, rec.dst, answered=rec.answered))
            continue
        seen[rec.data] = len(steps)
        h = peek_header(rec.data)
        if h.exchange == ExchangeType.IKE_SA_INIT and h.spi_r == bytes(8):
            steps.append(Step(rec.t, PLAIN, rec.src, rec.dst, rec.data,
                              events=tuple(rec.events), answered=rec.answered))  # fmt: skip
            continue
        spis = (h.spi_i, h.spi_r)
        if spis not in codecs:
            raise ValueError(f"no keys for a message of IKE SA {spis[0].hex()}/{spis[1].hex()}")
        if spis not in sa_order:
            sa_order.append(spis)
        msg = decode_message(rec.data)
        sk = msg.payloads[0]
        plain = _open(codecs[spis], h.initiator, rec.data, sk)
        base = dict(t=rec.t, kind=SEALED, src=rec.src, dst=rec.dst, sa=sa_order.index(spis),
                    exchange=h.exchange, message_id=h.message_id, initiator=h.initiator,
                    response=h.response)  # fmt: skip
        if isinstance(sk, EncryptedPayload):
            steps.append(Step(**base, data=plain, first=sk.first_inner_type,
                              events=tuple(rec.events), answered=rec.answered))  # fmt: skip
            continue
        assert isinstance(sk, EncryptedFragmentPayload)
        if pending is None or pending["key"] != (spis, h.message_id):
            pending = {"key": (spis, h.message_id), "parts": {}, "first": 0, "events": [],
                       "answered": False, "base": base}  # fmt: skip
        pending["parts"][sk.number] = plain
        pending["events"] += rec.events
        pending["answered"] |= rec.answered
        if sk.number == 1:
            pending["first"] = sk.first_inner_type
        if len(pending["parts"]) == sk.total:
            whole = b"".join(pending["parts"][n] for n in range(1, sk.total + 1))
            steps.append(Step(**pending["base"], data=whole, first=pending["first"],
                              fragments=sk.total, events=tuple(pending["events"]),
                              answered=pending["answered"]))  # fmt: skip
            pending = None
    return steps, sa_order
