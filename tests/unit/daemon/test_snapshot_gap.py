"""Connects in a burst are written as one snapshot; the more clients, the longer the burst
window, so a snapshot's O(clients) cost does not grow into O(clients²) during a storm."""

from __future__ import annotations

import json

from daemon_support import LogCapture, server_table

from ikev2d.compat import Logger
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
