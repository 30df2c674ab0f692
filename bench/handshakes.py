"""Handshake runs and tunnel throughput, inside a kernel with ESP (run by bench.run in UML).

    python -m bench.handshakes OUT.json '{"n": [200], "reps": 1, "proposals": [...]}'

One road-warrior topology (testbed.topology): the load generator (a strongSwan
charon initiator) in phone1, the responder under test in the router, an iperf3 server on the
LAN host. Each run starts a fresh responder and a fresh generator, so every run measures N
handshakes from an empty state.
"""

from __future__ import annotations

import contextlib
import json
import pathlib
import re
import shutil
import sys
import tempfile
import time

from testbed import NetnsSet
from testbed.topology import LAN_HOST, LAN_NET, NAT_OUTSIDE, ROUTER_WAN, build_road_warrior

from .footprint import one_client_rows
from .loadgen import client_conns, drive, load
from .responders import (
    ESP,
    PSK,
    SERVER_ID,
    IkeResponder,
    SwanResponder,
    cpu_seconds,
    flush_xfrm,
    generator,
    rss_kb,
)

__all__ = ["handshake_run", "main", "throughput_run"]

RESPONDERS = {"ikev2d": IkeResponder, "strongswan": SwanResponder}
SETTLE_S = 1.0  # after the last handshake, before the "after" sample (late log writes, etc.)
WARMUP_N = 20  # handshakes of the unrecorded warm-up run of each responder


def _pool(n: int) -> str:
    return "10.10.10.0/24" if n <= 250 else "10.10.0.0/16"


def handshake_run(
    topo, workdir, responder: str, proposal: str, n: int, c: int, wrap=None, *,
    gen_proposal: str | None = None, root: pathlib.Path | None = None,
):  # fmt: skip
    """N handshakes with C in flight against a fresh `responder`; one result dict.
    `gen_proposal`: what the generator offers, when not `proposal` (ML-KEM: ke1_mlkem768);
    `root`: the generator's strongSwan from that root (strongSwan 6)."""
    shutil.rmtree(workdir, ignore_errors=True)
    kind = RESPONDERS[responder]
    extra = {"argv_wrap": wrap} if wrap else {}
    resp = kind(topo.router, workdir / responder, topo.netns, **extra)
    gen = None
    try:
        resp.start(proposal, _pool(n))
        gen = generator(topo, workdir / "gen", c, vip=False, root=root)
        # N measured clients plus one warm-up client (the first), which connects alone before
        # the baseline sample: ikev2d imports cryptography and its exchange code with its
        # first client, and OpenSSL loads its algorithms on first use (~9 MB, ~0.1 s, once).
        # That is start-up cost, reported on its own ("first client"), not per-client cost;
        # both responders get the same warm-up.
        conns = client_conns(n + 1, proposal=gen_proposal or proposal, esp=ESP,
                             local=topo.phone_addrs[0], remote=ROUTER_WAN, remote_id=SERVER_ID,
                             remote_ts=LAN_NET)  # fmt: skip
        names = list(conns)
        t_load = time.monotonic()
        load(str(gen.vici_path), conns, PSK)
        load_s = time.monotonic() - t_load
        time.sleep(SETTLE_S)
        stale = topo.router.batch(["xfrm state count", "xfrm policy count"]).stdout.split()
        pid = resp.pid
        cpu_idle, rss_idle = cpu_seconds(pid), rss_kb(pid)
        warm = drive(str(gen.vici_path), names[:1], 1)
        time.sleep(SETTLE_S)
        cpu0, rss0 = cpu_seconds(pid), rss_kb(pid)
        res = drive(str(gen.vici_path), names[1:], c)
        time.sleep(SETTLE_S)
        cpu1, rss1, hwm1 = cpu_seconds(pid), rss_kb(pid), rss_kb(pid, "VmHWM")
        est = resp.established()
        measured = max(1, est - len(warm.latencies))  # established during the measured drive
        ok = len(res.latencies)
        return {
            "responder": responder, "proposal": gen_proposal or proposal, "n": n, "c": c,
            "ok": ok, "failed": len(res.errors) + len(warm.errors),
            "errors": (warm.errors + res.errors)[:3], "warmup_ok": len(warm.latencies),
            "responder_established": est, "wall_s": round(res.wall, 3),
            "gen_load_s": round(load_s, 2), "router_xfrm_before": " ".join(stale),
            "handshakes_per_s": round(ok / res.wall, 1) if res.wall > 0 else None,
            "latency_ms_p50": _ms(res.percentile(0.5)), "latency_ms_p95": _ms(res.percentile(0.95)),
            "cpu_s": round(cpu1 - cpu0, 3),
            "cpu_ms_per_handshake": round((cpu1 - cpu0) * 1000 / measured, 3),
            "first_client_cpu_ms": round((cpu0 - cpu_idle) * 1000, 1),
            "rss_kb_idle": rss_idle, "first_client_kb": rss0 - rss_idle,
            "rss_kb_before": rss0, "rss_kb_after": rss1, "hwm_kb_after": hwm1,
            "rss_kb_per_client": round((rss1 - rss0) / measured, 2),
        }  # fmt: skip
    finally:
        if gen is not None:
            gen.stop()
        resp.stop()
        flush_xfrm(topo)


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)


def _iperf(topo, seconds: int) -> float:
    """Mbit/s of one iperf3 TCP transfer phone -> LAN host (server started per transfer)."""
    server = topo.netns.spawn(topo.lan, ["iperf3", "-s", "-1", "-B", LAN_HOST])
    try:
        time.sleep(0.5)
        argv = ["iperf3", "-c", LAN_HOST, "-t", str(seconds), "-J"]
        out = topo.phone.run(argv, timeout=seconds + 30).stdout
        data = json.loads(out)
        return round(data["end"]["sum_received"]["bits_per_second"] / 1e6, 1)
    finally:
        topo.netns.procs.stop(server)


def throughput_run(topo, workdir, responder: str | None, seconds: int) -> dict:
    """iperf3 through one tunnel to `responder` (None: no tunnel), with the responder's CPU."""
    if responder is None:
        return {"responder": "none", "mbit_s": _iperf(topo, seconds), "responder_cpu_s": None}
    shutil.rmtree(workdir, ignore_errors=True)
    resp = RESPONDERS[responder](topo.router, workdir / responder, topo.netns)
    gen = None
    try:
        proposal = "aes256-sha256-modp2048"
        resp.start(proposal, _pool(1))
        gen = generator(topo, workdir / "gen", 4, vip=True)
        conns = client_conns(1, proposal=proposal, esp=ESP, local=topo.phone_addrs[0],
                             remote=ROUTER_WAN, remote_id=SERVER_ID, remote_ts=LAN_NET)  # fmt: skip
        load(str(gen.vici_path), conns, PSK)
        res = drive(str(gen.vici_path), list(conns), 1)
        if res.errors:
            raise RuntimeError(f"tunnel to {responder} failed: {res.errors}")
        time.sleep(0.5)
        pid = resp.pid
        cpu0 = cpu_seconds(pid)
        mbit = _iperf(topo, seconds)
        cpu1 = cpu_seconds(pid)
        esp_bytes = _esp_in_bytes(topo)
        return {"responder": responder, "mbit_s": mbit, "responder_cpu_s": round(cpu1 - cpu0, 3),
                "seconds": seconds, "router_esp_in_bytes": esp_bytes}  # fmt: skip
    finally:
        if gen is not None:
            gen.stop()
        resp.stop()
        flush_xfrm(topo)


def _esp_in_bytes(topo) -> int:
    """Bytes counted by the router's inbound ESP SAs: proof the transfer used the tunnel."""
    text = topo.router.ip("-s", "xfrm", "state").stdout
    total = 0
    for block in re.split(r"^src ", text, flags=re.MULTILINE)[1:]:
        counts = re.search(r"(\d+)\(bytes\), (\d+)\(packets\)", block)
        if counts and not block.startswith(ROUTER_WAN):  # inbound: src is the client
            total += int(counts.group(1))
    return total


def main(argv: list[str]) -> int:
    out_path, spec = pathlib.Path(argv[0]), json.loads(argv[1])
    work = pathlib.Path(tempfile.mkdtemp(prefix="bench-", dir=spec.get("workdir")))
    results: dict = {"handshakes": [], "throughput": [], "profile": [], "pq": []}
    netns = NetnsSet()
    try:
        topo = build_road_warrior(netns, phones=1, nat=False)
        topo.router.ip("route", "replace", "default", "via", NAT_OUTSIDE)
        # One unrecorded run per responder first: the VM's page cache starts cold (the
        # first start of each program reads its files through hostfs), which would tax
        # whichever responder happens to run first.
        for responder in spec["responders"]:
            handshake_run(topo, work / "warm", responder, spec["proposals"][0], WARMUP_N, spec["c"])
        if spec.get("footprint_reps"):
            results["footprint"] = one_client_rows(topo, work, spec["footprint_reps"],
                                                   spec["footprint_trees"])  # fmt: skip
            out_path.write_text(json.dumps(results, indent=1))
        for n in spec["n"]:
            for proposal in spec["proposals"]:
                for rep in range(spec["reps"]):
                    for responder in spec["responders"]:
                        r = handshake_run(topo, work / "hs", responder, proposal, n, spec["c"])
                        r["rep"] = rep
                        results["handshakes"].append(r)
                        _say(r)
                        out_path.write_text(json.dumps(results, indent=1))
        pq = spec.get("pq")
        if pq:  # ML-KEM cost: strongSwan 6 offers x25519 with and without it, to ikev2d
            for n in pq["n"]:
                for rep in range(spec["reps"]):
                    for gen_proposal in pq["proposals"]:
                        r = handshake_run(topo, work / "pq", "ikev2d", pq["responder_proposal"],
                                          n, spec["c"], gen_proposal=gen_proposal,
                                          root=pathlib.Path(pq["root"]))  # fmt: skip
                        r["rep"] = rep
                        results["pq"].append(r)
                        _say(r)
                        out_path.write_text(json.dumps(results, indent=1))
        if spec.get("throughput_s"):
            for responder in (None, *spec["responders"]):
                r = throughput_run(topo, work / "tp", responder, spec["throughput_s"])
                results["throughput"].append(r)
                _say(r)
        for prof in spec.get("profile", []):
            results["profile"].append(_profile_run(topo, work / "prof", prof, spec["c"]))
        out_path.write_text(json.dumps(results, indent=1))
    finally:
        netns.teardown()
        with contextlib.suppress(OSError):
            shutil.rmtree(work)
    return 0


def _profile_run(topo, workdir, prof: dict, c: int) -> dict:
    """One ikev2d run under cProfile (stats written when the daemon exits on SIGTERM)."""
    out = pathlib.Path(prof["out"])

    def wrap(daemon) -> None:
        from testbed.ikev2d import daemon_argv

        # .venv/bin/ikev2d is a Python script: cProfile runs it as __main__
        argv = [sys.executable, "-m", "cProfile", "-o", str(out), *daemon_argv(daemon.config_path)]
        daemon.control_socket.unlink(missing_ok=True)
        daemon.proc = daemon.netns_set.spawn(daemon.ns, argv, log_path=str(daemon.log_path))
        daemon.wait_ready(60)

    r = handshake_run(topo, workdir, "ikev2d", prof["proposal"], prof["n"], c, wrap=wrap)
    r["profile_out"] = str(out)
    _say(r)
    return r


def _say(r: dict) -> None:
    keys = ("responder", "proposal", "n", "rep", "ok", "failed", "handshakes_per_s",
            "cpu_ms_per_handshake", "latency_ms_p50", "rss_kb_per_client", "mbit_s",
            "responder_cpu_s")  # fmt: skip
    print("  ".join(f"{k}={r[k]}" for k in keys if k in r), flush=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
