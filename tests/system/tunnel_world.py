"""Shared set-up of the tunnel system tests: topology, our daemon in the router, strongSwan phones.

A `World` is one road-warrior topology (tests/harness/topology.py) with ikev2d running in the
router namespace and a charon (kernel-netlink, real kernel ESP) in each phone namespace, every
phone loaded with all client connections of `client_connections()`. Tests share a world per
module (process starts are slow under user-mode-linux) and call `world.use(config)` to have
the daemon run with a given configuration: it is restarted only when the configuration changes.
"""

from __future__ import annotations

import json
import pathlib
import re
import struct
import time
from dataclasses import dataclass, field

from harness import NetnsSet
from harness.ikev2d import Ikev2d
from harness.netns import drain
from harness.strongswan import Charon
from harness.topology import LAN_NET, NAT_OUTSIDE, ROUTER_WAN, RoadWarrior, build_road_warrior

__all__ = [
    "ESP_FOR",
    "MAIN_CONFIG",
    "PSK",
    "SERVER_ESP",
    "SERVER_IKE",
    "WRONG_PSK",
    "ClientConn",
    "World",
    "client_xfrm",
    "drain",
    "dumps",
    "esp_packets",
    "phone_id",
    "sa_packets",
    "wait_for",
]

PSK = "Tq8-vZ3k-Lw9p-Hx2m-Rb7c"  # strong enough for the daemon's check; only in namespaces
WRONG_PSK = "Nd4-Yf6s-Gj1u-Ke5q-Pa0w"
SERVER_ID = "vpn.example.test"
SERVER_IKE = [
    "aes256-sha256-modp2048",
    "aes256-sha256-ecp256",
    "aes256gcm16-prfsha384-curve25519",
    "chacha20poly1305-prfsha256-curve25519",
    "aes128-sha256-modp3072",
]
SERVER_ESP = ["aes256-sha256", "aes256gcm16", "chacha20poly1305"]
# the ESP proposal each IKE proposal's client offers (every ESP suite gets used)
ESP_FOR = {
    "aes256-sha256-modp2048": "aes256-sha256",
    "aes256-sha256-ecp256": "aes256gcm16",
    "aes256gcm16-prfsha384-curve25519": "aes256gcm16",
    "chacha20poly1305-prfsha256-curve25519": "chacha20poly1305",
    "aes128-sha256-modp3072": "aes256-sha256",
}

# Omada "Client-to-LAN": PSK, FQDN local ID, any remote ID, pool 10.10.10.0/24
MAIN_CONFIG: dict[str, object] = {
    "psk": PSK,
    "local_id_type": "fqdn",
    "local_id": SERVER_ID,
    "remote_id_type": "any",
    "pool": "10.10.10.0/24",
    "local_subnet": [LAN_NET],
    "ike_proposal": SERVER_IKE,
    "esp_proposal": SERVER_ESP,
}


def phone_id(index: int) -> str:
    return f"phone{index}@example.test"


@dataclass(frozen=True)
class ClientConn:
    """One swanctl connection (and its CHILD_SA, same name) of a phone."""

    name: str
    local_id: str
    remote_id: str = SERVER_ID
    proposals: str = "aes256-sha256-modp2048"
    esp: str = "aes256-sha256"
    secret: str | None = None  # a PSK for this local ID only (else the phone's default)
    remote_addrs: str = ROUTER_WAN
    vips: str = "0.0.0.0"  # "0.0.0.0, ::" asks for both families
    remote_ts: str = LAN_NET
    local_ts: str = ""  # "": strongSwan's default (dynamic: its virtual IPs)

    def swanctl(self) -> str:
        return f"""  {self.name} {{
    version = 2
    remote_addrs = {self.remote_addrs}
    vips = {self.vips}
    proposals = {self.proposals}
    local {{
      auth = psk
      id = {self.local_id}
    }}
    remote {{
      auth = psk
      id = {self.remote_id}
    }}
    children {{
      {self.name} {{
        remote_ts = {self.remote_ts}{self._local_ts_line}
        esp_proposals = {self.esp}
      }}
    }}
  }}
"""

    @property
    def _local_ts_line(self) -> str:
        return f"\n        local_ts = {self.local_ts}" if self.local_ts else ""


def swanctl_conf(conns: list[ClientConn]) -> str:
    """swanctl.conf with `conns` and one secret per key, bound to the local IDs using it (an
    ID-less secret would compete with the specific one: strongSwan picks by match quality)."""
    owners: dict[str, list[str]] = {}
    for conn in conns:
        ids = owners.setdefault(conn.secret or PSK, [])
        if conn.local_id not in ids:
            ids.append(conn.local_id)
    secrets = []
    for n, (secret, ids) in enumerate(owners.items()):
        id_lines = "".join(f"    id-{i} = {local_id}\n" for i, local_id in enumerate(ids))
        secrets.append(f'  ike-{n} {{\n{id_lines}    secret = "{secret}"\n  }}\n')
    return (
        "connections {\n" + "".join(c.swanctl() for c in conns) + "}\n"
        "secrets {\n" + "".join(secrets) + "}\n"
    )


@dataclass
class World:
    """A topology with the daemon in the router and one charon per phone."""

    netns: NetnsSet
    topo: RoadWarrior
    daemon: Ikev2d
    phones: list[Charon]
    config: dict | None = field(default=None)

    @classmethod
    def build(
        cls, workdir: pathlib.Path, conns: list[list[ClientConn]], *, nat: bool = False,
        ipv6: bool = False, root: pathlib.Path | None = None,
    ) -> World:  # fmt: skip
        """`conns[i]` are the connections of phone i+1. Starts every charon: this machine's
        strongSwan, or with `root` that of a chroot (harness.strongswan.strongswan6_root)."""
        netns = NetnsSet()
        try:
            topo = build_road_warrior(netns, phones=len(conns), nat=nat, ipv6=ipv6)
            # a router has a default route upstream: the way back to the clients' pool
            # addresses, which the XFRM policies then divert into the tunnel
            topo.router.ip("route", "replace", "default", "via", NAT_OUTSIDE)
            phones = []
            for i, (ns, phone_conns) in enumerate(zip(topo.phones, conns, strict=True), 1):
                charon = Charon(ns, workdir / f"phone{i}", netns, root=root)
                charon.write_swanctl_conf(swanctl_conf(phone_conns))
                charon.launch()
                phones.append(charon)
            daemon = Ikev2d(topo.router, workdir / "ikev2d", netns)
            for charon in phones:
                charon.wait_ready()
                charon.load_all()
        except BaseException:
            netns.teardown()
            raise
        return cls(netns, topo, daemon, phones)

    def use(self, config: dict) -> Ikev2d:
        """Have the daemon running with `config` (restarted only if it differs)."""
        if self.config != config or not self.daemon.running:
            if self.daemon.running:
                self.daemon.stop()
            self.daemon.configure(**config)
            self.config = dict(config)
            self.daemon.start()
        return self.daemon

    def teardown(self) -> None:
        self.daemon.cleanup()
        self.netns.teardown()

    # --- state probes
    def clients(self) -> list[dict]:
        return self.daemon.status()["clients"]

    def router_xfrm(self) -> str:
        """The router's XFRM state and policies of clients: "" when clean."""
        return client_xfrm(self.topo.router)

    def reset(self) -> None:
        """Back to no client: every phone's IKE SAs terminated (forced, no waiting)."""
        for charon in self.phones:
            for ike_id in re.findall(r"^\S+: #(\d+),", charon.list_sas(), flags=re.MULTILINE):
                charon.swanctl("--terminate", "--ike-id", ike_id, "--force", check=False)

    def logs(self) -> str:
        """Every log, for failure messages."""
        parts = [f"--- ikev2d.log ---\n{self.daemon.log_tail(80)}"]
        for i, charon in enumerate(self.phones, 1):
            parts.append(f"--- charon.log phone{i} ---\n{charon.log_tail(40)}")
        return "\n".join(parts)


def client_xfrm(router) -> str:
    """`ip xfrm state` and `ip xfrm policy` of `router` (one process) without the pool's
    block policies, which stay while the daemon runs: "" when no client is left."""
    text = router.batch(["xfrm state", "xfrm policy"]).stdout
    entries = re.split(r"^(?=src )", text, flags=re.MULTILINE)
    return "".join(e for e in entries if "action block" not in e).strip()


def sa_packets(state_text: str) -> dict[int, tuple[int, int]]:
    """SPI -> (bytes, packets) from `ip -s xfrm state`."""
    found = {}
    for block in re.split(r"^src ", state_text, flags=re.MULTILINE)[1:]:
        spi = re.search(r"spi (0x[0-9a-f]+)", block)
        counts = re.search(r"(\d+)\(bytes\), (\d+)\(packets\)", block)
        if spi and counts:
            found[int(spi.group(1), 16)] = (int(counts.group(1)), int(counts.group(2)))
    return found


def esp_packets(packets: list[bytes], *, udp_port: int | None = None) -> list[tuple[int, bytes]]:
    """(SPI, ESP payload) of the ESP packets among raw IPv4 packets: IP protocol 50, or, with
    `udp_port`, UDP to that port carrying ESP (not IKE's non-ESP marker, not a keepalive)."""
    found = []
    for packet in packets:
        ihl = (packet[0] & 0x0F) * 4
        proto = packet[9]
        if udp_port is None and proto == 50:
            esp = packet[ihl:]
        elif udp_port is not None and proto == 17:
            _sport, dport = struct.unpack_from("!HH", packet, ihl)
            esp = packet[ihl + 8 :]
            if dport != udp_port or len(esp) < 8 or esp[:4] == b"\0\0\0\0":
                continue
        else:
            continue
        found.append((struct.unpack_from("!I", esp)[0], esp))
    return found


def wait_for(predicate, timeout: float, what: str, logs) -> object:
    """Poll `predicate` (bounded); on timeout fail with `what` and the logs."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout}s\n{logs()}")
        time.sleep(0.05)


def dumps(obj) -> str:
    return json.dumps(obj, indent=1, sort_keys=True)
