"""Idle figures on this machine's kernel (no ESP needed): RSS after start with a default
configuration, time from exec to listening on UDP 500, and Python's import cost."""

from __future__ import annotations

import os
import pathlib
import re
import statistics
import subprocess
import tempfile
import time

from testbed import NetnsSet
from testbed.ikev2d import Ikev2d

from .footprint import python_label
from .responders import PSK, SwanResponder, rss_kb, spawn_daemon

__all__ = ["idle_figures", "import_times"]

IMPORT_STMT = "import ikev2d.cli, ikev2d.daemon.loop, ikev2d.kernel.datapath"


def _listening(pid: int, port: int = 500) -> bool:
    """UDP `port` bound in the network namespace of `pid` (its /proc/PID/net/udp)."""
    try:
        text = pathlib.Path(f"/proc/{pid}/net/udp").read_text()
    except OSError:
        return False
    return f":{port:04X} " in text


def _in_netns(pid: int, ns_name: str) -> bool:
    try:
        return os.stat(f"/proc/{pid}/ns/net").st_ino == os.stat(f"/run/netns/{ns_name}").st_ino
    except OSError:
        return False


def _wait_listening(proc, ns_name: str, t0: float, limit: float = 20.0) -> float:
    """Seconds from t0 until `proc` (in netns `ns_name`, not still in ours) binds UDP 500."""
    for _ in range(int(limit / 0.001)):  # bounded
        if _in_netns(proc.pid, ns_name) and _listening(proc.pid):
            return time.monotonic() - t0
        if proc.poll() is not None:
            raise RuntimeError(f"exited with {proc.returncode} during start")
        time.sleep(0.001)
    raise TimeoutError("not listening")


def _one_ikev2d(work: pathlib.Path, python: pathlib.Path, env: dict[str, str]) -> tuple[float, int]:
    with NetnsSet() as nss:
        ns = nss.add("idle")
        d = Ikev2d(ns, work / "ikev2d", nss)
        # the default configuration: only what TOML requires, logging at the default level
        d.configure(psk=PSK, local_subnet=["192.168.1.0/24"], log_level="info")
        t0 = time.monotonic()
        spawn_daemon(d, python, **env)
        took = _wait_listening(d.proc, ns.name, t0)
        d.wait_ready(30)
        time.sleep(1.0)
        rss = rss_kb(d.proc.pid)
        d.stop()
        d.cleanup()
    return took, rss


def _one_swan(work: pathlib.Path) -> tuple[float, int]:
    with NetnsSet() as nss:
        ns = nss.add("idle")
        r = SwanResponder(ns, work / "swan", nss)
        t0 = time.monotonic()
        r.charon.launch()
        took = _wait_listening(r.charon.proc, ns.name, t0)
        r.charon.wait_ready(30)
        time.sleep(1.0)
        rss = rss_kb(r.pid)
        r.stop()
    return took, rss


def idle_figures(trees: dict, reps: int = 3) -> dict:
    """Idle RSS and exec -> UDP 500 bound: ikev2d from each of `trees` (footprint.installed_
    trees: each Python, source and .pyc-only), strongSwan; the runs interleaved."""
    out = {}
    with tempfile.TemporaryDirectory(prefix="bench-idle-") as tmp:
        starters = {f"ikev2d {key}": (lambda w, p=python, e=env: _one_ikev2d(w, p, e))
                    for key, (python, env) in trees.items()}  # fmt: skip
        starters["strongswan"] = _one_swan
        runs: dict[str, list] = {name: [] for name in starters}
        for i in range(reps):
            for name, fn in starters.items():
                runs[name].append(fn(pathlib.Path(tmp) / f"{name.replace(' ', '-')}{i}"))
        for name, rows in runs.items():
            out[name] = {
                "start_ms": round(statistics.median(r[0] for r in rows) * 1000, 1),
                "start_ms_runs": [round(r[0] * 1000, 1) for r in rows],
                "idle_rss_kb": int(statistics.median(r[1] for r in rows)),
            }
    return out


def import_times(python: pathlib.Path | str, env: dict[str, str], top: int = 10) -> dict:
    """`python -X importtime` of everything the daemon imports (best total of 3 runs), with
    `env` added (PYTHONPATH: which tree); the heaviest modules of that run."""
    env = dict(os.environ, **env)
    totals = [_import_time(python, env, top) for _ in range(3)]
    best = min(totals, key=lambda t: t["total_import_ms"])
    best["total_import_ms_runs"] = [t["total_import_ms"] for t in totals]
    best["label"] = python_label(python)
    return best


def _import_time(python: pathlib.Path | str, env: dict[str, str], top: int) -> dict:
    proc = subprocess.run(
        [str(python), "-X", "importtime", "-c", IMPORT_STMT],
        capture_output=True, text=True, timeout=60, check=True, env=env,
    )  # fmt: skip
    rows = []
    for line in proc.stderr.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \| (\s*)(\S+)", line)
        if m:
            rows.append((int(m.group(1)), int(m.group(2)), len(m.group(3)), m.group(4)))
    total_us = sum(r[0] for r in rows)
    top_level = sorted((r for r in rows if r[2] == 0), key=lambda r: -r[1])[:top]
    by_self = sorted(rows, key=lambda r: -r[0])[:top]
    packages: dict[str, int] = {}
    for self_us, _cum, _lvl, name in rows:
        parts = name.split(".")
        key = ".".join(parts[:2]) if parts[0] == "ikev2d" else parts[0]
        packages[key] = packages.get(key, 0) + self_us
    by_package = sorted(packages.items(), key=lambda kv: -kv[1])[:top]
    t0 = time.monotonic()
    subprocess.run([str(python), "-c", IMPORT_STMT], timeout=60, check=True, env=env)
    wall = time.monotonic() - t0
    return {
        "statement": IMPORT_STMT,
        "total_import_ms": round(total_us / 1000, 1),
        "interpreter_plus_imports_wall_ms": round(wall * 1000, 1),
        "top_cumulative_ms": [(r[3], round(r[1] / 1000, 1)) for r in top_level],
        "top_self_ms": [(r[3], round(r[0] / 1000, 1)) for r in by_self],
        "by_package_ms": [(k, round(v / 1000, 1)) for k, v in by_package],
    }
