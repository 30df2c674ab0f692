"""A road-warrior world for the lifecycle tests: phones whose charon retransmits quickly and
whose connections carry lifecycle options (rekey times, DPD, MOBIKE), ikev2d optionally with
--save-keys. Built on tunnel_world/harness; imported by tests/system/test_lifecycle*.py."""

from __future__ import annotations

import pathlib
import re
from dataclasses import dataclass

from tunnel_world import MAIN_CONFIG, ClientConn, World, swanctl_conf

from harness import NetnsSet
from harness.ikev2d import Ikev2d, daemon_argv
from harness.strongswan import Charon
from harness.topology import LAN_HOST, NAT_OUTSIDE, build_road_warrior

__all__ = [
    "FAST_CHARON",
    "BackgroundPing",
    "LifeConn",
    "SaveKeysIkev2d",
    "build_world",
    "ping_loss",
    "spis",
]

# strongSwan resends after 1 s, 1.4 s, 2 s ...: packet-loss tests stay short
FAST_CHARON = "retransmit_timeout = 1.0\n  retransmit_base = 1.4\n  retransmit_tries = 6"


@dataclass(frozen=True)
class LifeConn(ClientConn):
    """A ClientConn with lifecycle options: IKE and Child rekey times (0: strongSwan's
    defaults), MOBIKE on or off."""

    ike_rekey: int = 0
    child_rekey: int = 0
    mobike: bool = True

    def swanctl(self) -> str:
        text = super().swanctl()
        extra = f"    mobike = {'yes' if self.mobike else 'no'}\n"
        # lifetimes well past the rekey times: a rekey, never an expiry, replaces the SAs
        if self.ike_rekey:
            extra += f"    rekey_time = {self.ike_rekey}s\n    over_time = 30s\n    rand_time = 0\n"
        text = text.replace("    vips = 0.0.0.0\n", "    vips = 0.0.0.0\n" + extra, 1)
        if self.child_rekey:
            text = text.replace(
                f"        esp_proposals = {self.esp}\n",
                f"        esp_proposals = {self.esp}\n        rekey_time = {self.child_rekey}s\n"
                f"        life_time = {self.child_rekey + 30}s\n        rand_time = 0\n",
            )
        return text


class SaveKeysIkev2d(Ikev2d):
    """ikev2d started with --save-keys DIR (when `save_keys` is set)."""

    save_keys: pathlib.Path | None = None

    def launch(self) -> None:
        if self.save_keys is None:
            super().launch()
            return
        import harness.ikev2d as h

        original = h.daemon_argv
        h.daemon_argv = lambda cfg: [*daemon_argv(cfg), "--save-keys", str(self.save_keys)]
        try:
            super().launch()
        finally:
            h.daemon_argv = original


def build_world(
    workdir: pathlib.Path, conns: list[list[ClientConn]], *, nat=False, root=None
) -> World:
    """World.build with fast-retransmitting charons and a SaveKeysIkev2d; `root`: the
    phones' strongSwan from that root (strongSwan 6)."""
    netns = NetnsSet()
    try:
        topo = build_road_warrior(netns, phones=len(conns), nat=nat)
        topo.router.ip("route", "replace", "default", "via", NAT_OUTSIDE)
        phones = []
        for i, (ns, phone_conns) in enumerate(zip(topo.phones, conns, strict=True), 1):
            charon = Charon(ns, workdir / f"phone{i}", netns, extra_conf=FAST_CHARON, root=root)
            charon.write_swanctl_conf(swanctl_conf(phone_conns))
            charon.launch()
            phones.append(charon)
        daemon = SaveKeysIkev2d(topo.router, workdir / "ikev2d", netns)
        for charon in phones:
            charon.wait_ready()
            charon.load_all()
    except BaseException:
        netns.teardown()
        raise
    return World(netns, topo, daemon, phones)


def ping_loss(ns, count: int, interval: float = 0.2, size: int = 56) -> tuple[int, int]:
    """(sent, received) of `count` pings from `ns` to the LAN host (bounded)."""
    argv = ["ping", "-n", "-q", "-c", str(count), "-i", str(interval), "-s", str(size),
            "-W", "2", LAN_HOST]  # fmt: skip
    out = ns.run(argv, check=False, timeout=count * interval + 15).stdout
    m = re.search(r"(\d+) packets transmitted, (\d+) received", out)
    assert m, out
    return int(m.group(1)), int(m.group(2))


class BackgroundPing:
    """`count` pings from `ns` to the LAN host in the background; `result()` waits."""

    def __init__(self, netns: NetnsSet, ns, log: pathlib.Path, count: int, interval=0.2, size=56):
        argv = ["ping", "-n", "-q", "-c", str(count), "-i", str(interval), "-s", str(size),
                "-W", "2", LAN_HOST]  # fmt: skip
        self.log = log
        log.unlink(missing_ok=True)
        self.timeout = count * interval + 20
        self.proc = netns.procs.spawn(ns.cmd(argv), log_path=str(log))

    def result(self) -> tuple[int, int]:
        """(sent, received)."""
        self.proc.wait(timeout=self.timeout)
        out = self.log.read_text()
        m = re.search(r"(\d+) packets transmitted, (\d+) received", out)
        assert m, out
        return int(m.group(1)), int(m.group(2))


def spis(xfrm_state: str) -> set[int]:
    return {int(s, 16) for s in re.findall(r"spi (0x[0-9a-f]+)", xfrm_state)}


MAIN = dict(MAIN_CONFIG)
