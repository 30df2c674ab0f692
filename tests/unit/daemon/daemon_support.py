"""Fixtures for the daemon tests: the in-memory datapath, a config on loopback high ports, and the
real event loop running in a thread (the in-memory initiator, testbed.ike_initiator, drives it)."""

from __future__ import annotations

import json
import socket
import threading
from pathlib import Path

import pytest

from ikev2d.compat import Logger
from ikev2d.control_client import request
from ikev2d.daemon.loop import Daemon
from ikev2d.daemon.memory_datapath import MemoryDatapath
from ikev2d.policy.config import from_mapping

PSK = "correct horse battery staple 42"


def free_udp_ports(n: int) -> list[int]:
    socks = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def server_table(tmp_path: Path, **overrides) -> dict:
    port, natt_port = free_udp_ports(2)
    server = {
        "enabled": True,
        "psk": PSK,
        "local_id_type": "fqdn",
        "local_id": "vpn.example.test",
        "local_subnet": ["192.168.1.0/24"],
        "dns": ["192.168.1.1"],
        "listen": ["127.0.0.1"],
        "port": port,
        "natt_port": natt_port,
        "control_socket": str(tmp_path / "run" / "control.sock"),
        "state_dir": str(tmp_path / "run"),
    }
    server.update(overrides)
    return server


class LogCapture:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def write(self, text: str) -> None:
        self.lines.append(text)

    def flush(self) -> None:
        pass

    @property
    def text(self) -> str:
        return "".join(self.lines)


class RunningDaemon:
    """The real loop in a thread; talk to it only through sockets and its snapshot."""

    def __init__(self, daemon: Daemon, log: LogCapture) -> None:
        self.daemon = daemon
        self.log = log
        self.config = daemon.config
        self.thread = threading.Thread(target=daemon.run, daemon=True)

    @property
    def ike(self) -> tuple[str, int]:
        return ("127.0.0.1", self.config.port)

    @property
    def natt(self) -> tuple[str, int]:
        return ("127.0.0.1", self.config.natt_port)

    def control(self, message: dict) -> dict:
        """The daemon's whole reply object ({"ok": ..., "result" or "error": ...})."""
        return request(self.config.control_socket, message, timeout=5)

    def snapshot(self) -> dict:
        return json.loads((Path(self.config.state_dir) / "status.json").read_text())

    def stop(self) -> None:
        self.daemon.request_stop()
        self.thread.join(10)
        assert not self.thread.is_alive(), "the daemon did not stop"


@pytest.fixture
def datapath() -> MemoryDatapath:
    return MemoryDatapath()


@pytest.fixture
def start_daemon(tmp_path, datapath):
    """start_daemon(**server options) -> RunningDaemon; stopped at the end of the test."""
    running: list[RunningDaemon] = []

    def start(**overrides) -> RunningDaemon:
        config = from_mapping({"server": server_table(tmp_path, **overrides)})
        capture = LogCapture()
        daemon = Daemon(config, datapath=datapath, log=Logger("debug", stream=capture))
        daemon.start()
        r = RunningDaemon(daemon, capture)
        r.thread.start()
        running.append(r)
        return r

    yield start
    for r in running:
        if r.thread.is_alive():
            r.stop()
