"""A responder and the client of one seed, wired together: play steps, or apply fuzz ops.

    s = Session(seed)
    for step in seed.steps:
        s.play(step)            # the recorded step, re-keyed for this session
    s.apply(op)                 # or an op of fuzz.mutate (a JSON-able dict)

Time only moves forward (the daemon's clock is monotonic): a step is delivered at its
recorded time or later. `Session.replay()` plays a whole seed and says where the responder no
longer does what it did when the seed was recorded (the seed health check).
"""

from __future__ import annotations

import dataclasses

from .client import SeedClient
from .seeds import COMMAND, Seed, Step
from .target import Target, make_responder, seeded_rng

__all__ = ["Session"]


class Session:
    def __init__(self, seed: Seed, rng_seed: int = 0) -> None:
        self.seed = seed
        self.target = Target(make_responder(seed, seeded_rng(rng_seed)))
        self.client = SeedClient(seed, seeded_rng(rng_seed + 1))
        self.now = 0.0
        self.last: Step | None = None  # the step last sent (where a resend comes from)
        self.second: SeedClient | None = None  # another phone with the same credentials
        self.events: list[str] = []  # names of the events of the last play/send/command
        self.answered = False

    def advance(self, now: float) -> None:
        """Timers up to `now` (the server's own requests), followed by the client."""
        self.now = max(self.now, now)
        self.client.observe(self.target.tick(self.now))

    def play(self, step: Step) -> None:
        self.advance(step.t)
        if step.kind == COMMAND:
            self._took(self.target.command(step.command, self.now))
            return
        self.send(self.client.datagrams(step), step)

    def send(self, datagrams: list[bytes], step: Step, client: SeedClient | None = None) -> None:
        """Deliver `datagrams` as if the client sent them in `step`."""
        client = client or self.client
        self.now = max(self.now, step.t)
        self.last = step
        self.events, self.answered = [], False
        for data in datagrams:
            out = self.target.deliver(data, step.src, step.dst, self.now)
            self.events += [type(e).__name__ for e in self.target.events]
            self.answered |= bool(out)
            client.observe(out)

    def _took(self, out) -> None:
        self.events = [type(e).__name__ for e in self.target.events]
        self.answered = bool(out)
        self.client.observe(out)

    def replay(self, upto: int | None = None) -> list[str]:
        """Play the seed's steps [:upto]; what differs from the recording, step by step."""
        differences = []
        for i, step in enumerate(self.seed.steps[:upto]):
            self.play(step)
            if tuple(self.events) != step.events or self.answered != step.answered:
                differences.append(
                    f"{self.seed.name} step {i} ({step.kind} {step.exchange or step.command}): "
                    f"events {self.events} answered {self.answered}, recorded {list(step.events)} "
                    f"answered {step.answered}"
                )
        return differences

    # -- fuzz ops (fuzz.mutate makes them; crashers store them) ------------------------------------
    def apply(self, op: dict) -> None:
        getattr(self, "_op_" + op["op"])(op)

    def _op_step(self, op: dict) -> None:
        step = self.seed.steps[op["index"]]
        if "src" in op:
            step = dataclasses.replace(step, src=tuple(op["src"]))
        self.play(step)

    def _op_resend(self, op: dict) -> None:
        if self.last is not None:
            self.send(list(self.client.last_sent), self.last)

    def _op_raw(self, op: dict) -> None:
        where = Step(self.now, "raw", tuple(op["src"]), tuple(op["dst"]))
        if op.get("init"):
            self.client.note_init(op["data"][0])
        self.send(op["data"], where)

    def _op_sealed(self, op: dict) -> None:
        step = self.seed.steps[op["step"]]
        c = self.client
        header = op.get("raw_header") or (c.header(step, **op.get("header", {}))
                                          if c.sa_for(step) else None)  # fmt: skip
        datagrams = c.seal(step, op["first"], op["body"], op.get("fragments"), header=header)
        if "order" in op:
            datagrams = [datagrams[i] for i in op["order"] if i < len(datagrams)]
        self.send(datagrams, step)

    def _op_envelope(self, op: dict) -> None:
        step = self.seed.steps[op["step"]]
        c = self.client
        if c.sa_for(step) is None:
            return
        numbers = tuple(op["numbers"]) if op.get("numbers") else None
        datagrams = c.seal_envelope(step, op["first"], op["padded"], header=c.header(step),
                                    numbers=numbers, flags=op["flags"],
                                    length_delta=op["length_delta"])  # fmt: skip
        self.send(datagrams, step)

    def _op_second(self, op: dict) -> None:
        """Another client of the same seed, from another address, plays steps [:upto]."""
        if self.second is None:
            self.second = SeedClient(self.seed, seeded_rng(77))
        for step in self.seed.steps[: op["upto"]]:
            if step.kind == COMMAND:
                continue
            moved = dataclasses.replace(step, src=(op["ip"], step.src[1]))
            self.advance(step.t)
            self.send(self.second.datagrams(moved), moved, self.second)

    def _op_command(self, op: dict) -> None:
        self._took(self.target.command(op["name"], self.now))

    def _op_expire(self, op: dict) -> None:
        spi = op["spi"]
        if spi == "newest":  # the Child SA installed last, whatever its SPI this time
            spi = max((s for spis in self.target.children.values() for s in spis), default=0)
        self._took(self.target.expire(spi, op["hard"], self.now))

    def _op_advance(self, op: dict) -> None:
        for _ in range(op.get("times", 1)):
            self.advance(self.now + op["by"])
