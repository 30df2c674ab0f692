"""Connects in a burst are written as one snapshot; the more clients, the longer the burst
window, so a snapshot's O(clients) cost does not grow into O(clients²) during a storm."""

from __future__ import annotations

import itertools
import json

import pytest
from daemon_support import LogCapture, server_table

from ikev2d.compat import Logger
from ikev2d.daemon import snapshot as snapshot_module
from ikev2d.daemon.actions import Client
from ikev2d.daemon.loop import Daemon
from ikev2d.daemon.memory_datapath import MemoryDatapath
from ikev2d.daemon.snapshot import SNAPSHOT_MIN_GAP, SNAPSHOT_REFRESH, snapshot_gap
from ikev2d.policy.config import from_mapping


def test_gap_grows_with_clients_within_bounds():
    assert snapshot_gap(0) == snapshot_gap(10) == SNAPSHOT_MIN_GAP
    assert snapshot_gap(1000) == 4.0
    assert snapshot_gap(100_000) == SNAPSHOT_REFRESH


def _client(i: int) -> Client:
    return Client(f"{i:016x}", i, f"c{i}@example.test", ("192.0.2.9", 4500),
                  f"10.10.{i // 250}.{i % 250}", False, "aes256-sha256-modp2048", 0.0)  # fmt: skip


def test_burst_of_many_clients_is_written_once_per_gap(tmp_path):
    clock = [100.0]
    config = from_mapping({"server": server_table(tmp_path)})
    daemon = Daemon(config, datapath=MemoryDatapath(), clock=lambda: clock[0],
                    log=Logger("error", stream=LogCapture()))  # fmt: skip
    path = tmp_path / "run" / "status.json"

    def written() -> int:
        return len(json.loads(path.read_text())["clients"])

    daemon.snapshots.write()
    assert written() == 0
    for i in range(1000):  # a storm: one connect every 2 ms
        clock[0] += 0.002
        daemon.actions.clients[i] = _client(i)
        daemon.actions.changed = True
        daemon.snapshots.write()
        if i == 600:
            assert written() == 0  # 1.2 s in, but 600 clients widen the window to 2.4 s
    assert written() == 0 < daemon.snapshots.next_refresh - clock[0] <= 4.0
    clock[0] = daemon.snapshots.next_refresh
    daemon.snapshots.write()
    assert written() == 1000


def test_a_storm_reads_the_kernel_counters_once_per_refresh_period(tmp_path, monkeypatch):
    """A write per burst window, but the kernel's counters (a dump of every SA) are read only
    when SNAPSHOT_REFRESH old: 4 dumps in a 20-s storm of 1000 connects, not 12."""
    clock = [100.0]
    datapath = MemoryDatapath()
    reads, writes = [], []
    all_counters = datapath.all_counters
    monkeypatch.setattr(datapath, "all_counters", lambda: reads.append(clock[0]) or all_counters())
    write_snapshot = snapshot_module.write_snapshot
    monkeypatch.setattr(snapshot_module, "write_snapshot",
                        lambda *a: writes.append(clock[0]) or write_snapshot(*a))  # fmt: skip
    config = from_mapping({"server": server_table(tmp_path)})
    daemon = Daemon(config, datapath=datapath, clock=lambda: clock[0],
                    log=Logger("error", stream=LogCapture()))  # fmt: skip
    schedule = daemon.snapshots
    schedule.write()
    for i in range(1500):  # 50 connects a second for 20 s, then 10 s quiet; written when due
        clock[0] = 100.0 + (i + 1) * 0.02
        if i < 1000:
            daemon.actions.clients[i] = _client(i)
            daemon.actions.changed = True
        if schedule.due(clock[0]):
            schedule.write()
    storm = [t for t in writes if t <= 120]
    assert len(storm) >= 10 and len([t for t in reads if t <= 120]) == 4
    assert reads[0] == writes[1]  # the first write with a client shows its counters
    between = [b - a for a, b in itertools.pairwise(reads)]
    assert all(SNAPSHOT_REFRESH <= d <= SNAPSHOT_REFRESH + snapshot_gap(1000) for d in between)
    assert between[-1] == pytest.approx(SNAPSHOT_REFRESH)  # quiet again: every refresh reads
