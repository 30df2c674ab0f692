"""`make bench`: idle figures here, handshakes and throughput in an ESP kernel, then the report.

    python -m bench.run              # full: N = 200 and 1000, 3 KE groups, BENCH_REPS runs
    BENCH_QUICK=1 python -m bench.run  # smoke: N = 50, one run, no N = 1000
    BENCH_PROFILE=1 ...              # also one ikev2d run under cProfile (slow), top functions

Writes bench/results/results.json, results.md and chart.png.
"""

from __future__ import annotations

import datetime
import json
import os
import pathlib
import pstats
import subprocess
import sys
import tempfile

from .footprint import flash_sizes, installed_trees
from .idle import idle_figures, import_times
from .pq_cost import measure as pq_cost
from .report import summarise, write_chart, write_markdown

__all__ = ["main"]

ROOT = pathlib.Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
PROPOSALS = ["aes256-sha256-modp2048", "aes256-sha256-ecp256", "aes256-sha256-curve25519"]
WHERE = (
    "Handshakes and throughput: both responders and the load generator run in the same "
    "user-mode-linux kernel with ESP (tests/espvm/run-in-esp-kernel; ONE CPU shared by the "
    "generator and the responder, syscalls much slower than native), each with real kernel "
    "XFRM SAs (ikev2d: its own netlink code; strongSwan: kernel-netlink). Absolute figures "
    "are slower than on bare metal; the ratio is the comparison."
)


def _spec(quick: bool, profile: bool, work: pathlib.Path) -> dict:
    reps = int(os.environ.get("BENCH_REPS", "1" if quick else "2"))
    spec = {
        "n": [50] if quick else [200, 1000],
        "reps": reps,
        "proposals": PROPOSALS,
        "responders": ["ikev2d", "strongswan"],
        "c": 20,
        "throughput_s": 3 if quick else 5,
        "workdir": str(work),
        "footprint_reps": reps if quick else max(reps, 3),
        "profile": [],
        # the ML-KEM handshake cost, with strongSwan 6 (built here: the ESP kernel has no
        # network) offering x25519 alone and x25519 + ML-KEM-768 to ikev2d
        "pq": {"root": _strongswan6_root(), "n": [50] if quick else [200],
               "responder_proposal": "aes256-sha256-curve25519",
               "proposals": ["aes256-sha256-x25519", "aes256-sha256-x25519-ke1_mlkem768"]},
    }  # fmt: skip
    if profile:
        spec["profile"] = [
            {"n": 50, "proposal": p, "out": str(work / f"ikev2d-{p.rsplit('-', 1)[-1]}.prof")}
            for p in ("aes256-sha256-modp2048", "aes256-sha256-curve25519")
        ]
    return spec


def _strongswan6_root() -> str:
    out = subprocess.run([str(ROOT / "scripts/strongswan6-root.sh")], capture_output=True,
                         text=True, check=True, timeout=900)  # fmt: skip
    return out.stdout.strip().splitlines()[-1]


def _in_esp_kernel(spec: dict, work: pathlib.Path) -> dict:
    out = work / "vm.json"
    env = dict(os.environ, ESPVM_RW=str(work), ESPVM_MEM="2048M", ESPVM_TIMEOUT="2100")
    argv = [str(ROOT / "tests/espvm/run-in-esp-kernel"), sys.executable, "-m", "bench.handshakes",
            str(out), json.dumps(spec)]  # fmt: skip
    proc = subprocess.run(argv, cwd=ROOT, env=env, timeout=2200, check=False)
    if not out.exists():
        raise SystemExit(f"bench: the ESP-kernel part wrote nothing (exit {proc.returncode})")
    return json.loads(out.read_text())


def _profile_summary(path: str, top: int = 20) -> dict:
    stats = pstats.Stats(path)
    total = stats.total_tt
    entries = []
    for (file, line, func), (_cc, nc, tt, ct, _callers) in stats.stats.items():
        entries.append((f"{_short(file)}:{line}({func})", nc, tt, ct))
    by_tt = sorted(entries, key=lambda e: -e[2])[:top]
    own = [e for e in entries if "/ikev2d/" in e[0] or e[0].startswith("ikev2d")]
    by_ct = sorted(own, key=lambda e: -e[3])[:top]

    def fmt(rows):
        return [{"func": f, "calls": n, "tottime_s": round(t, 3), "cumtime_s": round(c, 3),
                 "cum_pct": round(100 * c / total, 1)} for f, n, t, c in rows]  # fmt: skip

    return {"total_s": round(total, 2), "by_tottime": fmt(by_tt), "ikev2d_by_cumtime": fmt(by_ct)}


def _short(file: str) -> str:
    for marker in ("/src/", "/site-packages/"):
        if marker in file:
            return file.split(marker, 1)[1]
    return file


def main() -> int:
    quick = os.environ.get("BENCH_QUICK") == "1"
    profile = os.environ.get("BENCH_PROFILE") == "1"
    RESULTS.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="ikev2d-bench-") as tmp:
        work = pathlib.Path(tmp)
        print("== idle RSS and start time (this kernel)", flush=True)
        trees = installed_trees(work / "trees")
        idle = idle_figures(trees, 3)
        imports = {key: import_times(python, env) for key, (python, env) in trees.items()}
        flash = flash_sizes()
        print(json.dumps({"idle": idle, "flash": flash}), flush=True)
        print("== the server's CPU and bytes per handshake with ML-KEM (in-process)", flush=True)
        pq_in_process = pq_cost(50 if quick else 300)
        print(json.dumps(pq_in_process["added"]), flush=True)
        spec = _spec(quick, profile, work)
        spec["footprint_trees"] = {k: [str(python), env] for k, (python, env) in trees.items()}
        print(f"== handshakes and throughput in the ESP kernel: {json.dumps(spec)}", flush=True)
        vm = _in_esp_kernel(spec, work)
        profiles = {}
        for r in vm.get("profile", []):
            if pathlib.Path(r["profile_out"]).exists():
                profiles[r["proposal"]] = {"run": r, **_profile_summary(r["profile_out"])}
    data = {
        "environment": {
            "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "mode": "BENCH_QUICK smoke run" if quick else "full run",
            "where": WHERE, "c": spec["c"], "reps": spec["reps"], "nproc": os.cpu_count(),
            "python": sys.version.split()[0],
            "strongswan": _strongswan_version(),
            "commit": _commit(),
        },
        "summary": summarise(vm["handshakes"]),
        "pq": summarise(vm.get("pq", [])),
        "pq_in_process": pq_in_process,
        "handshake_runs": vm["handshakes"],
        "throughput": vm["throughput"],
        "idle": idle,
        "imports": imports,
        "footprint": vm.get("footprint", {}),
        "flash": flash,
        "profiles": profiles,
    }  # fmt: skip
    (RESULTS / "results.json").write_text(json.dumps(data, indent=1) + "\n")
    write_markdown(RESULTS / "results.md", data)
    write_chart(RESULTS / "chart.png", data)
    print((RESULTS / "results.md").read_text())
    return 0


def _commit() -> str:
    """The commit measured, "+dirty" when src/ differs from it (others edit the tree)."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                              capture_output=True, text=True, timeout=10, check=False)  # fmt: skip
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "src"], cwd=ROOT,
                               capture_output=True, text=True, timeout=10, check=False)  # fmt: skip
    except OSError:
        return "unknown"
    return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


def _strongswan_version() -> str:
    try:
        out = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "strongswan-charon"],
                             capture_output=True, text=True, timeout=10, check=False)  # fmt: skip
        return out.stdout.strip() or "unknown"
    except OSError:
        return "unknown"


if __name__ == "__main__":
    sys.exit(main())
