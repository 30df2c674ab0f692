"""System calls per client of ikev2d, counted by strace in the ESP kernel (printed, never
asserted).

    tests/espvm/run-in-esp-kernel .venv/bin/python -m bench.syscalls [N1 N2] [PROPOSAL]

Under user-mode Linux (where `make bench` measures handshake CPU) every system call is a round
trip through the host, so their number per client is most of what separates two versions of
the daemon, and unlike CPU seconds it does not move with the machine's load. Two runs of the
handshake benchmark (bench.handshakes: one strongSwan initiator, C = 20 in flight, PSK, CP,
one Child SA) with N1 and N2 clients (default 20 and 120) under `strace -f -c` attached to the
daemon after its start; the difference divided by N2 - N1 is one client's lifetime: its
IKE_SA_INIT and IKE_AUTH, its tunnel and route, and its Delete when the initiator stops.
"""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys
import tempfile
import time

from bench.handshakes import handshake_run
from testbed.ikev2d import daemon_argv
from testbed.netns import NetnsSet
from testbed.topology import NAT_OUTSIDE, build_road_warrior

__all__ = ["main", "per_client"]

ATTACH_S = 1.0  # strace needs a moment to attach to every thread before the clients come


def _counts(path: pathlib.Path) -> dict[str, int]:
    """{syscall: calls} from a `strace -c` table."""
    calls = {}
    for line in path.read_text().splitlines():
        parts = line.split()
        if len(parts) >= 5 and parts[0][0].isdigit() and parts[-1] != "total":
            calls[parts[-1]] = int(parts[3])
    return calls


def _traced_run(topo, work: pathlib.Path, n: int, proposal: str) -> dict[str, int]:
    out = work / f"strace-{n}.txt"
    tracer: list[subprocess.Popen] = []

    def start(daemon) -> None:
        daemon.control_socket.unlink(missing_ok=True)
        daemon.proc = daemon.netns_set.spawn(
            daemon.ns, daemon_argv(daemon.config_path), log_path=str(daemon.log_path)
        )
        daemon.wait_ready(60)
        argv = ["strace", "-f", "-c", "-o", str(out), "-p", str(daemon.proc.pid)]
        tracer.append(subprocess.Popen(argv, stderr=subprocess.DEVNULL))
        time.sleep(ATTACH_S)

    handshake_run(topo, work / f"hs{n}", "ikev2d", proposal, n, 20, wrap=start)
    tracer[0].wait(timeout=60)  # strace writes its table when the daemon has exited
    return _counts(out)


def per_client(n1: int, n2: int, proposal: str, workdir: str | None = None) -> dict[str, float]:
    """System calls per client lifetime, by name (those of at least 0.05 per client)."""
    netns = NetnsSet()
    work = pathlib.Path(tempfile.mkdtemp(prefix="syscalls-", dir=workdir))
    try:
        topo = build_road_warrior(netns, phones=1, nat=False)
        topo.router.ip("route", "replace", "default", "via", NAT_OUTSIDE)
        small = _traced_run(topo, work, n1, proposal)
        large = _traced_run(topo, work, n2, proposal)
    finally:
        netns.teardown()
    each = {k: (large.get(k, 0) - small.get(k, 0)) / (n2 - n1) for k in {*small, *large}}
    return {k: round(v, 2) for k, v in sorted(each.items(), key=lambda kv: -kv[1]) if v >= 0.05}


def main(argv: list[str]) -> int:
    n1, n2 = (int(argv[0]), int(argv[1])) if len(argv) >= 2 else (20, 120)
    proposal = argv[2] if len(argv) >= 3 else "aes256-sha256-curve25519"
    each = per_client(n1, n2, proposal)
    print(json.dumps({"proposal": proposal, "per_client": each,
                      "total": round(sum(each.values()), 2)}, indent=1))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
