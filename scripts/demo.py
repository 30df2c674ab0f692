"""`make demo`: one live tunnel, strongSwan "phone" -> ikev2d -> LAN host, then tear-down.

Run by scripts/demo.sh inside a kernel with ESP (tests/espvm/run-in-esp-kernel), as root:

    phone 192.0.2.2 --- 192.0.2.1 [nat box] 198.51.100.2 --- 198.51.100.1 [router] 192.168.1.1
                                                                  ikev2d          |
                                                                        192.168.1.2 [lan]

The router runs ikev2d with a built-in Omada-style default configuration (PSK, pool
10.10.10.0/24, the default proposals) and a PSK generated for this run; the phone is a Debian
strongSwan charon with kernel ESP. DEMO_NAT=1 puts the phone behind the NAT box (ESP-in-UDP).
Exit status 0 on success; on failure the relevant logs are printed and the status is 1.
"""

from __future__ import annotations

import os
import pathlib
import re
import secrets
import shutil
import sys
import tempfile
import time

from testbed.swanctl import Conn
from testbed.topology import LAN_HOST, LAN_NET, ROUTER_WAN
from testbed.world import Phone, World

POOL = "10.10.10.0/24"
PING_COUNT = 3


class DemoFailed(Exception):
    pass


def say(text: str) -> None:
    print(f"==> {text}", flush=True)


def masked(secret: str) -> str:
    return f"{secret[:3]}...{secret[-2:]} ({len(secret)} characters, random for this run)"


def default_config(psk: str) -> dict[str, object]:
    """The built-in demo configuration: what the LuCI page would save with a PSK typed in
    (everything else at its default; the server identity is its WAN address)."""
    return {
        "psk": psk,
        "server_address": ROUTER_WAN,
        "pool": POOL,
        "local_subnet": [LAN_NET],
        "log_level": "info",
    }


def phone(psk: str) -> Phone:
    """The phone: strongSwan, expecting the router's WAN address as the server's identity."""
    return Phone([Conn("home", "phone@example.test", secret=psk, remote_id=ROUTER_WAN)])


def ping(ns, dst: str) -> int:
    """Echo replies received out of PING_COUNT."""
    argv = ["ping", "-n", "-c", str(PING_COUNT), "-i", "0.2", "-W", "2", dst]
    out = ns.run(argv, check=False, timeout=20).stdout
    found = re.search(r"(\d+) received", out)
    return int(found.group(1)) if found else 0


def run_demo(workdir: pathlib.Path, nat: bool) -> None:
    world = None
    try:
        where = "behind the NAT box" if nat else "routed, no NAT"
        say(f"building topology (namespaces phone, nat box, router, lan; phone {where}) and "
            "starting the strongSwan phone (charon, kernel ESP)")  # fmt: skip
        psk = secrets.token_urlsafe(18)
        world = World.build(workdir, [phone(psk)], nat=nat)
        topo = world.topo

        say(f"starting ikev2d in the router (WAN {ROUTER_WAN}, pool {POOL}, PSK {masked(psk)})")
        daemon = world.use(default_config(psk))
        listening = ", ".join(daemon.status()["listen"])
        say(f"ikev2d is up, listening on {listening}")

        say("phone connecting (IKE aes256-sha256-modp2048, ESP aes256-sha256)")
        charon = world.phones[0]
        out = charon.swanctl("--initiate", "--child", "home", "--timeout", "20", check=False)
        vip = re.search(r"installing new virtual IP (\S+)", out.out)
        if not out.ok or not vip:
            raise DemoFailed(f"the phone could not connect:\n{out.out}")
        vip = vip.group(1)
        say(f"phone connected, virtual IP {vip}")

        got = ping(topo.phone, LAN_HOST)
        say(f"ping {LAN_HOST} through the tunnel: {got}/{PING_COUNT} replies")
        back = ping(topo.lan, vip)
        say(f"ping the phone ({vip}) from the LAN host: {back}/{PING_COUNT} replies")
        if got != PING_COUNT or back != PING_COUNT:
            raise DemoFailed("pings through the tunnel were lost")

        say("ikev2ctl status")
        print(daemon.ctl("status").stdout.rstrip(), flush=True)
        [client] = daemon.status()["clients"]
        if client["packets_in"] < 2 * PING_COUNT or client["packets_out"] < 2 * PING_COUNT:
            raise DemoFailed(f"the kernel SA counters did not count the pings: {client}")
        esp = "ESP-in-UDP (NAT)" if client["nat"] else "ESP"
        say(f"kernel SAs carried it as {esp}: {client['packets_in']} packets in, "
            f"{client['packets_out']} out")  # fmt: skip

        say("stopping ikev2d (SIGTERM): it deletes the phone's SA and its kernel state")
        rc = daemon.stop()
        left = topo.router.batch(["xfrm state", "xfrm policy"]).stdout.strip()
        if rc != 0 or left:
            raise DemoFailed(f"ikev2d exited {rc}; XFRM left in the router:\n{left}")
        deadline = time.monotonic() + 5
        while "received DELETE for IKE_SA home" not in charon.log_text():
            if time.monotonic() > deadline:
                raise DemoFailed("the phone never saw the Delete")
            time.sleep(0.05)
        say("phone got the Delete; router has no XFRM state or policy left")
    except Exception:
        if world is not None:
            print(world.logs(), file=sys.stderr)
        raise
    finally:
        say("tearing down")
        if world is not None:
            world.teardown()


def main() -> int:
    if os.geteuid() != 0:
        print("demo: needs root (network namespaces, XFRM)", file=sys.stderr)
        return 1
    nat = os.environ.get("DEMO_NAT", "0") == "1"
    start = time.monotonic()
    workdir = pathlib.Path(tempfile.mkdtemp(prefix="ikev2d-demo-"))
    try:
        run_demo(workdir, nat)
    except Exception as exc:
        print(f"!! demo failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    say(f"demo OK in {time.monotonic() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
