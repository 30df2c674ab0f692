"""The load generator: one strongSwan charon initiator driven over vici.

    conns = client_conns(n, proposal, ...)      # lt1..ltN: distinct IDs, PSK, vips, one Child SA
    load(uri, conns, psk)                       # vici load-conn + load-shared
    result = drive(uri, names, concurrency=20)  # C initiate() calls in flight

Every vici `initiate` that waits for its result holds one charon worker thread, so the
initiator's `threads` must exceed the number in flight (see INITIATOR_THREADS_EXTRA).
The same generator runs against both responders.
"""

from __future__ import annotations

import queue
import socket
import threading
import time
from dataclasses import dataclass, field

import vici

__all__ = ["INITIATOR_THREADS_EXTRA", "DriveResult", "client_conns", "drive", "load", "session"]

INITIATOR_THREADS_EXTRA = 32  # charon threads = C + this


def session(uri_path: str, timeout: float = 120.0) -> vici.Session:
    for attempt in range(100):  # vici's listen backlog is short: retry, bounded
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        try:
            sock.connect(uri_path)
        except BlockingIOError:
            sock.close()
            if attempt == 99:
                raise
            time.sleep(0.05)
            continue
        return vici.Session(sock)
    raise AssertionError("unreachable")


def client_conns(
    n: int, *, proposal: str, esp: str, local: str, remote: str, remote_id: str, remote_ts: str
) -> dict[str, dict]:
    """vici connection definitions lt1..ltN (identity lt<k>@example.test)."""
    conns = {}
    for k in range(1, n + 1):
        name = f"lt{k}"
        conns[name] = {
            "version": "2",
            "local_addrs": [local],
            "remote_addrs": [remote],
            "vips": ["0.0.0.0"],
            "proposals": [proposal],
            "local-1": {"auth": "psk", "id": f"{name}@example.test"},
            "remote-1": {"auth": "psk", "id": remote_id},
            "children": {name: {"remote_ts": [remote_ts], "esp_proposals": [esp]}},
        }
    return conns


def load(uri_path: str, conns: dict[str, dict], psk: str) -> None:
    """Load every connection and one PSK (for any identity) into the charon at `uri_path`."""
    s = session(uri_path)
    try:
        s.load_shared({"id": "bench-psk", "type": "IKE", "data": psk, "owners": []})
        for name, conn in conns.items():
            s.load_conn({name: conn})
    finally:
        s.transport.socket.close()


@dataclass
class DriveResult:
    start: float
    end: float
    latencies: list[float] = field(default_factory=list)  # seconds, per established conn
    errors: list[str] = field(default_factory=list)

    @property
    def wall(self) -> float:
        return self.end - self.start

    def percentile(self, p: float) -> float | None:
        lat = sorted(self.latencies)
        if not lat:
            return None
        return lat[min(len(lat) - 1, int(p * len(lat)))]


def drive(
    uri_path: str, names: list[str], concurrency: int, timeout_ms: int = 60000
) -> DriveResult:
    """Initiate every connection in `names` (IKE and its Child SA of the same name), with at
    most `concurrency` in flight; latency = time until vici reports the Child SA up."""
    todo: queue.SimpleQueue[str] = queue.SimpleQueue()
    for name in names:
        todo.put(name)
    result = DriveResult(0.0, 0.0)
    lock = threading.Lock()
    sessions = [session(uri_path, timeout=timeout_ms / 1000 + 30) for _ in range(concurrency)]

    def worker(s: vici.Session) -> None:
        for _ in range(len(names)):  # bounded: at most every name
            try:
                name = todo.get_nowait()
            except queue.Empty:
                return
            t = time.monotonic()
            try:
                req = {"ike": name, "child": name, "timeout": str(timeout_ms), "loglevel": "-1"}
                for _log in s.initiate(req):
                    pass
            except Exception as exc:
                with lock:
                    result.errors.append(f"{name}: {exc}")
                continue
            with lock:
                result.latencies.append(time.monotonic() - t)

    threads = [threading.Thread(target=worker, args=(s,), daemon=True) for s in sessions]
    result.start = time.monotonic()
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=timeout_ms / 1000 * (len(names) // max(1, concurrency) + 2))
    result.end = time.monotonic()
    for s in sessions:
        s.transport.socket.close()
    return result
