"""Does a handshake cost more when many clients are connected? The daemon's CPU per handshake
against the number of clients, in-process on this machine (no kernel, no UML).

    python -m bench.growth [N ...] [--proposal aes256-sha256-curve25519] [--rate 50] [--profile]

The daemon of bench.memory (the real responder, actions and status snapshots on the
in-memory datapath; strongSwan's IKE_AUTH notifies) connects N clients one after the other,
`rate` a simulated second (the snapshot schedule follows the clock); only the daemon's side
is timed (process CPU), not the in-memory clients'. Per N: the mean over the N handshakes,
what bench.handshakes divides by N in UML, and the mean of the first and the last
`--window` handshakes: a last window dearer than the first is work that grows with the
number of clients. `--profile`: the daemon's top functions during the last window at the
largest N. Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import tempfile
import time

from .memory import Bench

__all__ = ["main", "measure"]


def measure(n: int, proposal: str, rate: float, window: int, profile: bool = False) -> dict:
    """CPU ms per handshake over all N, the first and the last `window` of them."""
    with tempfile.TemporaryDirectory() as state_dir:
        bench = Bench(n, proposal, state_dir, 1, False)
        bench.step = 1 / rate
        bench.connect()  # first-use imports and OpenSSL loading, once: not a handshake's cost
        profiler = cProfile.Profile() if profile else None
        per_handshake = []
        for k in range(n):
            if profiler is not None and k == n - window:
                profiler.enable()
            before = bench.server_cpu
            bench.connect()
            per_handshake.append(bench.server_cpu - before)
        if profiler is not None:
            profiler.disable()
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(r"ikev2d/", 25)
        assert bench.clients() == n + 1, "not every client got connected"

    def ms(values: list[float]) -> float:
        return round(sum(values) * 1000 / len(values), 3)

    return {
        "n": n,
        "mean_ms": ms(per_handshake),
        "first_ms": ms(per_handshake[:window]),
        "last_ms": ms(per_handshake[-window:]),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", type=int, nargs="*", default=[200, 1000])
    parser.add_argument("--proposal", default="aes256-sha256-curve25519")
    parser.add_argument("--rate", type=float, default=50.0, help="connects per simulated second")
    parser.add_argument("--window", type=int, default=100)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args(argv)
    largest = max(args.n)
    for n in args.n:
        t = time.monotonic()
        r = measure(n, args.proposal, args.rate, min(args.window, n),
                    profile=args.profile and n == largest)  # fmt: skip
        print(f"N = {n:5d}: {r['mean_ms']:.3f} ms per handshake (first {args.window}: "
              f"{r['first_ms']:.3f}, last {args.window}: {r['last_ms']:.3f}; "
              f"{time.monotonic() - t:.0f} s)", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
