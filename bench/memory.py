"""Memory per connected client, on this machine (no kernel ESP, no UML): the real daemon's
responder and actions, the in-memory datapath (one entry per tunnel, no journal), and the
unit tests' in-memory initiator.

    python -m bench.memory [N] [--proposal aes256-sha256-modp2048] [--top 25] [--warmup 50]

Settings as bench.handshakes: PSK, one identity per client (ltK@example.test), a CP request,
one Child SA aes256-sha256 for the LAN, DPD off, the status snapshot written as the daemon
does. Each handshake's initiator is dropped once the client is up, so what grows is what the
daemon keeps per client. Prints bytes per client from tracemalloc (by allocation line) and, in
a fresh process without tracemalloc, from VmRSS (as the UML bench does). Figures are
printed, never asserted.

`--kernel` uses the real XFRM datapath instead (what the kernel room keeps per client). It
installs states, policies and routes in the current network namespace, so run it only in one
made for it, in a kernel with ESP, e.g. (the phones' outer addresses are in 10.0.0.0/8):

    tests/espvm/run-in-esp-kernel unshare -n sh -c 'ip link set lo up &&
        ip link add d0 type dummy && ip link set d0 up &&
        ip addr add 198.51.100.1/24 dev d0 && ip addr add 10.255.255.254/8 dev d0 &&
        PYTHONPATH=src python -m bench.memory 1000 --kernel'
"""

from __future__ import annotations

import argparse
import gc
import pathlib
import subprocess
import sys
import tempfile
import time
import tracemalloc

from ikev2d.compat import Logger
from ikev2d.daemon.loop import Daemon
from ikev2d.daemon.memory_datapath import MemoryDatapath
from ikev2d.policy.config import from_mapping
from ikev2d.wire.enums import IdType, NotifyType
from ikev2d.wire.payloads import NotifyPayload
from testbed.ike_initiator import Initiator

__all__ = ["main", "per_client"]

PSK = "Bq7-Kx2v-Nw8r-Tz4m-Hc9p"
SERVER = ("198.51.100.1", 500)
# what strongSwan's charon (bench.loadgen's generator) puts in each IKE_AUTH besides the SA
STRONGSWAN_NOTIFIES = (
    NotifyPayload.of(NotifyType.INITIAL_CONTACT),
    NotifyPayload.of(NotifyType.MOBIKE_SUPPORTED),
)


class Bench:
    def __init__(self, n: int, proposal: str, state_dir: str, warmup: int, kernel: bool) -> None:
        server = {
            "enabled": True,
            "psk": PSK,
            "local_id_type": "fqdn",
            "local_id": "vpn.example.test",
            "remote_id_type": "any",
            "pool": "10.10.10.0/24" if n + warmup <= 250 else "10.10.0.0/16",
            "local_subnet": ["192.168.1.0/24"],
            "ike_proposal": [proposal],
            "esp_proposal": ["aes256-sha256"],
            "dpd_delay": 0,
            "cookie_threshold": 100000,
            "cookie_threshold_per_ip": 1000000,
            "max_half_open": 1000000,
            "max_half_open_per_ip": 1000000,
            "listen": ["127.0.0.1"],
            "control_socket": f"{state_dir}/control.sock",
            "state_dir": state_dir,
        }
        self.proposal = proposal
        if kernel:  # XFRM states/policies and client routes in this network namespace
            from ikev2d.daemon.datapath import open_kernel_datapath

            self.datapath = open_kernel_datapath()
        else:
            self.datapath = MemoryDatapath(journal=False)
        self.now = 1000.0
        self.daemon = Daemon(
            from_mapping({"server": server}),
            datapath=self.datapath,
            log=Logger("info", stream=_Discard()),
            clock=lambda: self.now,
        )
        self.count = 0
        self.step = 0.01  # simulated seconds per connect (the snapshot schedule follows it)
        self.server_cpu = 0.0  # process CPU seconds of the daemon's side (bench.growth)

    def _exchange(self, data: bytes, src) -> bytes:
        t = time.process_time()
        responder = self.daemon.responder
        responder.receive_datagram(data, src, SERVER, self.now)
        while (event := responder.next_event()) is not None:
            self.daemon.actions.apply(event)
        (reply,) = responder.datagrams_to_send()
        self.server_cpu += time.process_time() - t
        return reply[0]

    def connect(self) -> None:
        """One client: IKE_SA_INIT, IKE_AUTH with CP and a Child SA; the snapshot rewritten
        when due, as the daemon's loop does; each connect moves the clock on by `step`."""
        k = self.count = self.count + 1
        src = (f"10.{k >> 16 & 255}.{k >> 8 & 255}.{k & 255}", 500)
        client = Initiator(
            ike=(self.proposal,),
            psk=PSK.encode(),
            identity=(IdType.RFC822_ADDR, f"lt{k}@example.test".encode()),
            address=src,
            server=SERVER,
        )
        client.init_response(self._exchange(client.init_request(), src))
        client.open(self._exchange(client.auth_request(extra=STRONGSWAN_NOTIFIES), src))
        self.now += self.step
        t = time.process_time()
        if self.daemon.snapshots.due(self.now):
            self.daemon.snapshots.write()
        self.server_cpu += time.process_time() - t

    def clients(self) -> int:
        return sum(1 for _ in self.daemon.responder.ike_sas())


class _Discard:
    def write(self, text: str) -> None:
        pass

    def flush(self) -> None:
        pass


def _rss_kb() -> int:
    for line in pathlib.Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def per_client(n: int, proposal: str, top: int, warmup: int, kernel: bool) -> None:
    with tempfile.TemporaryDirectory() as state_dir:
        bench = Bench(n, proposal, state_dir, warmup, kernel)
        for _ in range(warmup):
            bench.connect()
        gc.collect()
        tracemalloc.start(1)
        before = tracemalloc.take_snapshot()
        for _ in range(n):
            bench.connect()
        gc.collect()
        after = tracemalloc.take_snapshot()
        tracemalloc.stop()
        assert bench.clients() == n + warmup, "not every client got connected"
    # what the in-memory datapath keeps (routes, its table of tunnels) stands for the kernel's
    # memory, not the daemon's
    kernel = [tracemalloc.Filter(False, "*/ikev2d/daemon/memory_datapath.py")]
    stats = after.filter_traces(kernel).compare_to(before.filter_traces(kernel), "lineno")
    total = sum(s.size_diff for s in stats)
    print(f"tracemalloc: {total / n:,.0f} bytes per client ({n} clients, {proposal})")
    root = str(pathlib.Path(__file__).resolve().parents[1])
    for s in sorted(stats, key=lambda s: -s.size_diff)[:top]:
        frame = s.traceback[0]
        where = frame.filename.replace(root + "/", "")
        size, blocks = s.size_diff / n, s.count_diff / n
        print(f"  {size:8,.0f} B  {blocks:6.2f} blocks  {where}:{frame.lineno}")


def rss_per_client(n: int, proposal: str, warmup: int, kernel: bool) -> None:
    with tempfile.TemporaryDirectory() as state_dir:
        bench = Bench(n, proposal, state_dir, warmup, kernel)
        for _ in range(warmup):
            bench.connect()
        gc.collect()
        before = _rss_kb()
        for _ in range(n):
            bench.connect()
        gc.collect()
        after = _rss_kb()
    print(f"VmRSS: {(after - before) * 1024 / n:,.0f} bytes per client ({n} clients, {proposal})")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", type=int, nargs="?", default=1000)
    parser.add_argument("--proposal", default="aes256-sha256-modp2048")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument(
        "--warmup", type=int, default=50,
        help="clients connected before the first sample (first-use caches, dict growth)",
    )  # fmt: skip
    parser.add_argument("--rss", action="store_true", help="only the VmRSS figure (no tracing)")
    parser.add_argument(
        "--kernel", action="store_true",
        help="the real XFRM datapath: only as root in a throw-away netns with ESP (see above)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if args.rss:
        rss_per_client(args.n, args.proposal, args.warmup, args.kernel)
        return
    per_client(args.n, args.proposal, args.top, args.warmup, args.kernel)
    # VmRSS in a fresh interpreter: tracemalloc's own bookkeeping would inflate it
    cmd = [sys.executable, "-m", "bench.memory", str(args.n), "--proposal", args.proposal,
           "--warmup", str(args.warmup), "--rss"]  # fmt: skip
    if args.kernel:
        cmd.append("--kernel")
    subprocess.run(cmd, check=True, cwd=pathlib.Path(__file__).resolve().parents[1])


if __name__ == "__main__":
    main()
