"""The daemon's random pool hands out every kernel byte exactly once; log lines carry the
right local time while the formatted stamp is reused within a second."""

from __future__ import annotations

import io
import os
import time

import pytest

from ikev2d.compat import Logger
from ikev2d.daemon.randomness import RandomPool


class CountingSource:
    def __init__(self) -> None:
        self.draws: list[bytes] = []

    def __call__(self, n: int) -> bytes:
        self.draws.append(os.urandom(n))
        return self.draws[-1]


def test_pool_hands_out_each_byte_once_in_order():
    source = CountingSource()
    pool = RandomPool(source, size=64)
    got = [pool(n) for n in (8, 8, 3, 5, 1, 7, 8, 4)]  # 44 bytes: one draw
    assert [len(g) for g in got] == [8, 8, 3, 5, 1, 7, 8, 4]
    assert len(source.draws) == 1 and b"".join(got) == source.draws[0][:44]
    tail = [pool(8) for _ in range(3)]  # 44+24 > 64: the rest of the page is skipped
    assert len(source.draws) == 2
    assert tail[0] == source.draws[0][44:52] and tail[1] == source.draws[0][52:60]
    assert tail[2] == source.draws[1][:8]  # never the same bytes twice


def test_pool_passes_big_requests_through_and_refuses_negative():
    source = CountingSource()
    pool = RandomPool(source, size=64)
    assert pool(32) == source.draws[0] and len(source.draws[0]) == 32
    assert pool(0) == b""
    with pytest.raises(ValueError):
        pool(-1)


def test_daemon_pool_is_real_randomness():
    pool = RandomPool()
    values = {pool(16) for _ in range(1000)}
    assert len(values) == 1000


def test_log_stamp_follows_the_second(monkeypatch):
    clock = [1_800_000_000.2]
    monkeypatch.setattr(time, "time", lambda: clock[0])
    formatted = []
    real_strftime = time.strftime
    monkeypatch.setattr(
        time, "strftime", lambda fmt, t: formatted.append(t) or real_strftime(fmt, t)
    )
    out = io.StringIO()
    log = Logger("info", stream=out)
    log.info("one")
    clock[0] += 0.5
    log.info("two")
    clock[0] += 1.0
    log.info("three")
    assert len(formatted) == 2  # once per second, not once per line
    lines = out.getvalue().splitlines()
    stamps = [line.split(" ikev2d ")[0] for line in lines]
    expect = [time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(int(t)))
              for t in (1_800_000_000.2, 1_800_000_000.7, 1_800_000_001.7)]  # fmt: skip
    assert stamps == expect and stamps[0] == stamps[1] != stamps[2]
    assert lines[2].endswith("ikev2d info: three")
