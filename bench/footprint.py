"""What ikev2d costs a router beyond the floor any Python IKE daemon on `cryptography` pays.

Per Python (the project's .venv and the oldest set's .venv-oldest, OpenWrt 24.10's Python 3.11
with cryptography 41.0.7):
- `one_client_rows` (in the ESP kernel, by bench.handshakes): the floor (bench.floor's RSS),
  ikev2d's RSS idle and with one connected client (a strongSwan initiator, curve25519), and
  the bytes of `__pycache__` Python writes for ikev2d's modules at a first start and first
  client (source shipping); strongSwan's RSS the same way.
- `flash_sizes` (here): the installed bytes of both packages shipped as source or as `.pyc`
  only (as OpenWrt's python3-* packages are), and the same per 4 KiB page compressed with
  zlib (as jffs2 stores a file on the overlay).
"""

from __future__ import annotations

import importlib.util
import pathlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zlib

from testbed.topology import LAN_NET, ROUTER_WAN

from .loadgen import client_conns, drive, load
from .responders import (
    ESP,
    PSK,
    SERVER_ID,
    IkeResponder,
    SwanResponder,
    flush_xfrm,
    generator,
    rss_kb,
    started_with,
)

__all__ = [
    "PYTHONS", "flash_sizes", "floor_kb", "installed_trees", "one_client_rows", "pyc_only_tree",
    "python_label",
]  # fmt: skip

ROOT = pathlib.Path(__file__).resolve().parents[1]
PYTHONS = {"newest": ROOT / ".venv/bin/python", "oldest": ROOT / ".venv-oldest/bin/python"}
PROPOSAL = "aes256-sha256-curve25519"  # the floor does an X25519 exchange
SETTLE_S = 1.0
PAGE = 4096  # jffs2 compresses each page of a file on its own


def python_label(python: pathlib.Path | str) -> str:
    code = "import sys, cryptography as c; print('%d.%d' % sys.version_info[:2], c.__version__)"
    out = subprocess.run(
        [str(python), "-c", code], capture_output=True, text=True, check=True, timeout=60
    ).stdout.split()
    return f"Python {out[0]} + cryptography {out[1]}"


def floor_kb(python: pathlib.Path | str) -> int:
    argv = [str(python), str(ROOT / "bench" / "floor.py")]
    return int(subprocess.run(argv, capture_output=True, text=True, check=True, timeout=60).stdout)


def _one_client(topo, workdir: pathlib.Path, responder) -> dict:
    """Start `responder`, note its RSS idle, connect one client (its generator's files under
    `workdir`), note its RSS again."""
    gen = None
    try:
        responder.start(PROPOSAL, "10.10.10.0/24")
        gen = generator(topo, workdir / "gen", 1, vip=False)
        conns = client_conns(
            1,
            proposal=PROPOSAL,
            esp=ESP,
            local=topo.phone_addrs[0],
            remote=ROUTER_WAN,
            remote_id=SERVER_ID,
            remote_ts=LAN_NET,
        )
        load(str(gen.vici_path), conns, PSK)
        time.sleep(SETTLE_S)
        idle = rss_kb(responder.pid)
        res = drive(str(gen.vici_path), list(conns), 1)
        time.sleep(SETTLE_S)
        if res.errors or responder.established() != 1:
            raise RuntimeError(f"footprint: the client did not connect: {res.errors}")
        return {"idle_kb": idle, "one_client_kb": rss_kb(responder.pid)}
    finally:
        if gen is not None:
            gen.stop()
        responder.stop()
        flush_xfrm(topo)


def _pycache_bytes(prefix: pathlib.Path) -> tuple[int, int]:
    """(bytes, files) of the .pyc files of ikev2d's own modules under a PYTHONPYCACHEPREFIX."""
    ours = (p for p in prefix.rglob("*.pyc") if "site-packages" not in p.parts)
    pycs = [p for p in ours if "ikev2d" in p.relative_to(prefix).parts]
    return sum(p.stat().st_size for p in pycs), len(pycs)


def one_client_rows(topo, work: pathlib.Path, reps: int, trees: dict) -> dict:
    """Floor, ikev2d idle / one client per tree (`installed_trees`: each Python, from .py and
    from .pyc), the __pycache__ a first start from .py writes; strongSwan the same way."""
    out = {}
    floors = {}
    for key, (python, env) in trees.items():
        runs = []
        for rep in range(reps):
            where = work / f"fp-{key.replace(' ', '-')}{rep}"
            daemon = IkeResponder(topo.router, where / "ikev2d", topo.netns,
                                  argv_wrap=started_with(python, **env))  # fmt: skip
            runs.append(_one_client(topo, where, daemon))
        row = _medians(runs)
        if python not in floors:
            floors[python] = [floor_kb(python) for _ in range(reps + 1)]
        row.update(label=python_label(python), shipping=key.rsplit(" ", 1)[-1],
                   floor_kb=int(statistics.median(floors[python])),
                   floor_kb_runs=floors[python])  # fmt: skip
        row["idle_minus_floor_kb"] = row["idle_kb"] - row["floor_kb"]
        row["one_client_minus_floor_kb"] = row["one_client_kb"] - row["floor_kb"]
        if env.get("PYTHONDONTWRITEBYTECODE"):  # from .py: what would a first start write?
            prefix = work / f"pycache-{key.replace(' ', '-')}"
            writing = {k: v for k, v in env.items() if k != "PYTHONDONTWRITEBYTECODE"}
            where = work / f"fp-{key.replace(' ', '-')}-pycache"
            daemon = IkeResponder(topo.router, where / "ikev2d", topo.netns,
                                  argv_wrap=started_with(python, PYTHONPYCACHEPREFIX=str(prefix),
                                                         **writing))  # fmt: skip
            _one_client(topo, where, daemon)
            row["pycache_bytes"], row["pycache_files"] = _pycache_bytes(prefix)
        out[key] = row
        print(f"footprint {key}: {row}", flush=True)
    swan = []
    for rep in range(reps):
        where = work / f"fp-swan{rep}"
        swan.append(
            _one_client(topo, where, SwanResponder(topo.router, where / "swan", topo.netns))
        )
    out["strongswan"] = {"label": "strongSwan", **_medians(swan)}
    return out


def _medians(runs: list[dict]) -> dict:
    row = {k: int(statistics.median(r[k] for r in runs)) for k in runs[0]}
    row.update({f"{k}_runs": [r[k] for r in runs] for k in runs[0]})
    return row


def _page_compressed(data: bytes) -> int:
    return sum(len(zlib.compress(data[i : i + PAGE], 9)) for i in range(0, len(data), PAGE))


def _package_files() -> list[tuple[str, pathlib.Path]]:
    spec = importlib.util.spec_from_file_location("build_ipk", ROOT / "scripts" / "build_ipk.py")
    assert spec is not None and spec.loader is not None
    build_ipk = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("build_ipk", build_ipk)  # its dataclasses look their module up
    spec.loader.exec_module(build_ipk)
    return [
        (dest, src)
        for s in (build_ipk.ikev2d_spec(ROOT), build_ipk.luci_spec(ROOT))
        for dest, src, _mode in s.files
    ]


def _sizes(blobs: list[bytes]) -> dict:
    return {
        "bytes": sum(len(b) for b in blobs),
        "jffs2_zlib_bytes": sum(map(_page_compressed, blobs)),
        "files": len(blobs),
    }


def flash_sizes() -> dict:
    """Installed bytes of ikev2d + luci-app-ikev2d: as source, and .pyc-only per Python."""
    files = _package_files()
    python_src = [src for dest, src in files if dest.startswith("/usr/lib/ikev2d/")]
    others = [src.read_bytes() for dest, src in files if not dest.startswith("/usr/lib/ikev2d/")]
    out = {
        "source": {
            **_sizes([p.read_bytes() for p in python_src] + others),
            "python_bytes": sum(p.stat().st_size for p in python_src),
        }
    }
    for key, python in PYTHONS.items():
        with tempfile.TemporaryDirectory(prefix="bench-pyc-") as tmp:
            tree = pyc_only_tree(python, pathlib.Path(tmp)) / "ikev2d"
            pycs = [p.read_bytes() for p in sorted(tree.rglob("*.pyc"))]
        out[key] = {**_sizes(pycs + others), "python_bytes": sum(map(len, pycs)),
                    "label": python_label(python)}  # fmt: skip
    return out


def installed_trees(where: pathlib.Path) -> dict[str, tuple[pathlib.Path, dict[str, str]]]:
    """ikev2d as a router runs it, per Python: "<python> source" is the .py files with no
    bytecode yet (a first start: every module compiled), "<python> pyc" the .pyc-only tree
    (every start of a .pyc package; every later start of a source one, from __pycache__).
    Each: (interpreter, environment to run it with)."""
    source = where / "source"
    shutil.copytree(ROOT / "src" / "ikev2d", source / "ikev2d",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))  # fmt: skip
    out = {}
    for key, python in PYTHONS.items():
        out[f"{key} source"] = (python, {"PYTHONPATH": str(source), "PYTHONDONTWRITEBYTECODE": "1"})
        out[f"{key} pyc"] = (python, {"PYTHONPATH": str(pyc_only_tree(python, where / key))})
    return out


def pyc_only_tree(python: pathlib.Path | str, where: pathlib.Path) -> pathlib.Path:
    """A copy of the package under `where` as OpenWrt's python3-package.mk ships one:
    `compileall -b` (legacy .pyc beside the source) for `python`, then no .py. Returns the
    directory to put on PYTHONPATH."""
    tree = where / "ikev2d"
    shutil.copytree(ROOT / "src" / "ikev2d", tree,
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))  # fmt: skip
    subprocess.run([str(python), "-m", "compileall", "-q", "-b", "-d", "/usr/lib/ikev2d/ikev2d",
                    str(tree)], check=True, timeout=300)  # fmt: skip
    for source in tree.rglob("*.py"):
        source.unlink()
    return where


if __name__ == "__main__":
    import json

    json.dump(flash_sizes(), sys.stdout, indent=1)
