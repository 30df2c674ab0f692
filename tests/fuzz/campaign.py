"""`make fuzz`: the fuzzing campaign against the responder.

    python -m fuzz.campaign --inputs 1000000 --seconds 7200 --jobs 2 --seed 1

Each worker process picks a seed step, rebuilds the responder's state just before it (the
seed's earlier steps, re-keyed), then sends mutated inputs (fuzz.mutate) for as long as they
leave the responder as it was (nothing sent, no event); anything that changed it ends the
batch and the state is rebuilt. Bounded by count and time. Reports the escapes (each kept as a
regression input in tests/fuzz/crashers/), the slowest input, memory (peak RSS, RSS growth,
and the largest allocation of one input from sampled tracemalloc runs), the largest answer to
an unauthenticated datagram, and the rate. Exit status 1 when anything escaped.
"""

from __future__ import annotations

import argparse
import gc
import json
import multiprocessing
import os
import pathlib
import random
import resource
import signal
import sys
import time
import tracemalloc
from dataclasses import asdict, dataclass, field

from .crashers import build, reproduce, save_crasher, signature
from .mutate import Mutator
from .seeds import CRASHERS, PLAIN, SEALED, Seed, _to_json, load_seeds
from .target import Escape

__all__ = ["Stats", "main", "run_worker"]

HANG_SECONDS = 10.0  # one input taking this long is a hang: an escape of its own
BATCH = 64  # inputs at most on one rebuilt state
MEMORY_SAMPLE = 101  # one input in this many runs under tracemalloc (~3x slower then)


class Hang(Exception):
    pass


@dataclass
class Stats:
    inputs: int = 0
    builds: int = 0
    seconds: float = 0.0
    escapes: dict = field(default_factory=dict)  # signature -> [count, crasher path]
    harness_errors: dict = field(default_factory=dict)  # our bugs, not the responder's
    slowest: tuple = (0.0, "", None)  # (CPU seconds, what, the input to replay it)
    rss_jump: tuple = (0, "", None)  # (kB, what, input): the largest rise of peak RSS
    peak_alloc: tuple = (0, "")  # (bytes, what) of one input under tracemalloc
    retained: tuple = (0, "")  # (bytes, what) still held after one input (state it left)
    amplification: tuple = (0.0, "")  # (bytes out / bytes in, what) for IKE_SA_INIT inputs
    rss_warm_kb: int = 0
    rss_end_kb: int = 0
    peak_rss_kb: int = 0

    def merge(self, other: Stats) -> None:
        self.inputs += other.inputs
        self.builds += other.builds
        self.seconds = max(self.seconds, other.seconds)
        for table, theirs in ((self.escapes, other.escapes),
                              (self.harness_errors, other.harness_errors)):  # fmt: skip
            for sig, (count, path) in theirs.items():
                mine = table.setdefault(sig, [0, path])
                mine[0] += count
        self.slowest = _larger(self.slowest, other.slowest)
        self.rss_jump = _larger(self.rss_jump, other.rss_jump)
        self.peak_alloc = max(self.peak_alloc, tuple(other.peak_alloc))
        self.retained = max(self.retained, tuple(other.retained))
        self.amplification = max(self.amplification, tuple(other.amplification))
        self.rss_warm_kb = max(self.rss_warm_kb, other.rss_warm_kb)
        self.rss_end_kb = max(self.rss_end_kb, other.rss_end_kb)
        self.peak_rss_kb = max(self.peak_rss_kb, other.peak_rss_kb)


def _larger(a, b) -> tuple:
    return tuple(b) if b[0] > a[0] else tuple(a)


def _peak_rss_kb() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _rss_kb() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


def _weights(seeds: list[Seed]) -> tuple[list[tuple[Seed, int]], list[float]]:
    """Where inputs go: every step, unauthenticated ones (IKE_SA_INIT) and IKE_AUTH more."""
    points, weights = [], []
    for seed in seeds:
        for k, step in enumerate(seed.steps):
            points.append((seed, k))
            weights.append(4.0 if step.kind == PLAIN else 2.0 if step.exchange == 35 else
                           1.0 if step.kind == SEALED else 0.3)  # fmt: skip
    return points, weights


def describe(seed: Seed, k: int, ops: list[dict]) -> str:
    def one(op: dict) -> str:
        extra = {key: op[key] for key in ("index", "name", "by", "fragments", "header", "first")
                 if key in op}  # fmt: skip
        size = sum(len(d) for d in op.get("data", ())) or len(op.get("body", b""))
        return op["op"] + (f"{extra}" if extra else "") + (f" {size} B" if size else "")

    step = seed.steps[k]
    what = step.kind if step.kind != SEALED else f"exchange {step.exchange}"
    shown = [one(op) for op in ops[:3]] + ([f"+{len(ops) - 3} ops"] if len(ops) > 3 else [])
    return f"{seed.name} step {k} ({what}): " + ", ".join(shown)


def _on_alarm(signum, frame):
    raise Hang(f"one input ran longer than {HANG_SECONDS} s")


class Worker:
    def __init__(self, seeds: list[Seed], rng_seed: int, crash_dir: pathlib.Path) -> None:
        self.seeds = {s.name: s for s in seeds}
        self.rnd = random.Random(rng_seed)
        self.mutator = Mutator(seeds, self.rnd)
        self.points, self.weights = _weights(seeds)
        self.crash_dir = crash_dir
        self.stats = Stats()

    def run(self, inputs: int, deadline: float, warm_after: int) -> Stats:
        start = time.monotonic()
        signal.signal(signal.SIGALRM, _on_alarm)
        while self.stats.inputs < inputs and time.monotonic() < deadline:
            self._batch(inputs)
            if not self.stats.rss_warm_kb and self.stats.inputs >= warm_after:
                self.stats.rss_warm_kb = _rss_kb()
        self.stats.seconds = time.monotonic() - start
        self.stats.rss_end_kb = _rss_kb()
        self.stats.peak_rss_kb = _peak_rss_kb()
        return self.stats

    def _batch(self, budget: int) -> None:
        seed, k = self.rnd.choices(self.points, self.weights)[0]
        rng = self.rnd.getrandbits(31)
        self.stats.builds += 1
        try:
            session = build(seed, k, rng)
        except Escape as e:  # the unmutated conversation itself fails
            self._escape(e, {"seed": seed.name, "prefix": k, "rng": rng, "ops": []})
            return
        history: list[dict] = []
        t = session.target
        for _ in range(BATCH):
            if self.stats.inputs >= budget:
                return
            activity, endings, established = t.activity, t.endings, bool(t.children)
            ops = self.mutator.ops(session.client, seed, k)
            history += ops
            doc = {"seed": seed.name, "prefix": k, "rng": rng, "ops": history}
            if not self._one(session, seed, k, ops, doc):
                return
            if t.activity == activity:
                continue  # nothing changed: the same state takes the next input
            if len(ops) > 1 or t.endings != endings or not (established and t.children):
                return  # the conversation moved on: rebuild for the next input
            # an established SA answered (often an error notify): it goes on from there,
            # the client's message IDs follow (SeedClient.message_id)

    def _one(self, session, seed: Seed, k: int, ops: list[dict], doc: dict) -> bool:
        """Run one input; False when the session is no longer usable."""
        self.stats.inputs += 1
        sample = self.stats.inputs % MEMORY_SAMPLE == 0
        if sample:
            tracemalloc.start()
        session.target.bytes_in = session.target.bytes_out = 0
        peak_before = _peak_rss_kb()  # the input's own rise (the mutator's lists are not its)
        t0 = time.process_time()  # CPU time: the machine may be busy with other work
        signal.setitimer(signal.ITIMER_REAL, HANG_SECONDS)
        t = session.target
        ratio = 0.0
        try:
            for i, op in enumerate(ops):
                session.apply(op)
                if i == 0 and op.get("init") and t.bytes_in:
                    ratio = t.bytes_out / t.bytes_in  # the answer to this datagram alone
        except Escape as e:
            self._escape(e, doc)
            return False
        except Exception as e:  # the fuzzer's own bug: counted and reported, not an escape
            key = f"{type(e).__name__}: {str(e)[:100]}"
            self.stats.harness_errors.setdefault(key, [0, describe(seed, k, ops)])[0] += 1
            return False
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            elapsed = time.process_time() - t0
            if sample:
                self._note_memory(*tracemalloc.get_traced_memory(), describe(seed, k, ops))
                tracemalloc.stop()
        replay = {**doc, "ops": list(doc["ops"])}
        if elapsed > self.stats.slowest[0]:
            elapsed = min(elapsed, self._again(replay, len(ops)))
            if elapsed > self.stats.slowest[0]:
                self.stats.slowest = (elapsed, describe(seed, k, ops), replay)
        rise = _peak_rss_kb() - peak_before
        if rise > self.stats.rss_jump[0]:
            self.stats.rss_jump = (rise, describe(seed, k, ops), replay)
        if ratio > self.stats.amplification[0]:
            self.stats.amplification = (round(ratio, 2), describe(seed, k, ops[:1]))
        return True

    def _again(self, doc: dict, last: int) -> float:
        """CPU time of the last `last` ops once more on a rebuilt state: a garbage collection
        or a page fault that happened to fall in the first run is not the input's cost."""
        gc.collect()
        session = build(self.seeds[doc["seed"]], doc["prefix"], doc["rng"])
        for op in doc["ops"][:-last]:
            session.apply(op)
        t0 = time.process_time()
        for op in doc["ops"][-last:]:
            session.apply(op)
        return time.process_time() - t0

    def _note_memory(self, current: int, peak: int, what: str) -> None:
        if peak > self.stats.peak_alloc[0]:
            self.stats.peak_alloc = (peak, what)
        if current > self.stats.retained[0]:
            self.stats.retained = (current, what)

    def _escape(self, e: Escape, doc: dict) -> None:
        sig = signature(e)
        entry = self.stats.escapes.get(sig)
        if entry is None:
            path = save_crasher(self._minimal(doc, sig), e, self.crash_dir)
            entry = self.stats.escapes[sig] = [0, str(path)]
        entry[0] += 1

    def _minimal(self, doc: dict, sig: str) -> dict:
        """The last input alone on a fresh state if that still fails the same way."""
        last = doc["ops"][-1:] if doc["ops"] else []
        shorter = {**doc, "ops": last}
        found = reproduce(shorter, self.seeds) if len(last) < len(doc["ops"]) else None
        return shorter if found is not None and signature(found) == sig else doc


def run_worker(args: tuple) -> dict:
    job, inputs, deadline, rng_seed, crash_dir, warm_after = args
    worker = Worker(load_seeds(), rng_seed * 1000 + job, pathlib.Path(crash_dir))
    return asdict(worker.run(inputs, deadline, warm_after))


def campaign(inputs: int, seconds: float, jobs: int, rng_seed: int,
             crash_dir: pathlib.Path = CRASHERS) -> Stats:  # fmt: skip
    deadline = time.monotonic() + seconds
    shares = [inputs // jobs + (1 if j < inputs % jobs else 0) for j in range(jobs)]
    warm = min(20000, max(inputs // jobs // 20, 1))
    tasks = [(j, shares[j], deadline, rng_seed, str(crash_dir), warm) for j in range(jobs)]
    if jobs == 1:
        results = [run_worker(tasks[0])]
    else:
        with multiprocessing.get_context("fork").Pool(jobs) as pool:
            results = pool.map(run_worker, tasks)
    total = Stats()
    for r in results:
        total.merge(Stats(**r))
    return total


def report(stats: Stats, jobs: int) -> str:
    rate = stats.inputs / stats.seconds if stats.seconds else 0.0
    lines = [
        f"inputs: {stats.inputs:,} in {stats.seconds:.0f} s ({rate:,.0f} inputs/s, {jobs} "
        f"workers, {stats.builds:,} states rebuilt)",
        f"escapes: {sum(c for c, _ in stats.escapes.values())} ({len(stats.escapes)} distinct)",
    ]
    lines += [f"  {count} x {sig} -> {path}" for sig, (count, path) in stats.escapes.items()]
    if stats.harness_errors:
        lines.append(f"fuzzer errors (not the responder's): {stats.harness_errors}")
    lines += [
        f"slowest input: {stats.slowest[0] * 1000:.1f} ms of CPU: {stats.slowest[1]}",
        f"memory: peak RSS {stats.peak_rss_kb / 1024:.1f} MB per worker; RSS after warm-up "
        f"{stats.rss_warm_kb / 1024:.1f} MB, at the end {stats.rss_end_kb / 1024:.1f} MB",
        f"largest rise of peak RSS in one input: {stats.rss_jump[0] / 1024:.1f} MB: "
        f"{stats.rss_jump[1]}",
        f"largest allocation of one input (tracemalloc, 1 in {MEMORY_SAMPLE}): "
        f"{stats.peak_alloc[0] / 1024:.0f} KiB: {stats.peak_alloc[1]}",
        f"most memory one input left held: {stats.retained[0] / 1024:.0f} KiB: {stats.retained[1]}",
        f"largest answer to an IKE_SA_INIT datagram: {stats.amplification[0]}x its size: "
        f"{stats.amplification[1]}",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="fuzz the IKEv2 responder")
    parser.add_argument("--inputs", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=float, default=4 * 3600)
    parser.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--crashers", type=pathlib.Path, default=CRASHERS)
    parser.add_argument("--json", type=pathlib.Path, help="also write the figures here")
    args = parser.parse_args(argv)
    stats = campaign(args.inputs, args.seconds, args.jobs, args.seed, args.crashers)
    print(report(stats, args.jobs))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(_to_json(asdict(stats)), indent=1) + "\n")
    return 1 if stats.escapes else 0


if __name__ == "__main__":
    sys.exit(main())
