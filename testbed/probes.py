"""What the tests observe of a world: the kernel's XFRM state, packets on the wire, pings.

Parsers of `ip xfrm` output and of raw IPv4 packets (from `Netns.raw_socket`), and bounded
pings from a namespace. Plain library code, no pytest.
"""

from __future__ import annotations

import json
import pathlib
import re
import struct
from dataclasses import dataclass

from .netns import Netns, NetnsSet
from .topology import LAN_HOST

__all__ = [
    "BackgroundPing",
    "IkeDatagram",
    "client_xfrm",
    "dumps",
    "esp_packets",
    "ike_datagrams",
    "ping_loss",
    "sa_packets",
    "spis",
    "xfrm_stat",
]

_PING_SUMMARY = re.compile(r"(\d+) packets transmitted, (\d+) received")


def dumps(obj) -> str:
    """JSON for failure messages."""
    return json.dumps(obj, indent=1, sort_keys=True)


# --- the kernel's XFRM state ---------------------------------------------------------------
def client_xfrm(router: Netns) -> str:
    """`ip xfrm state` and `ip xfrm policy` of `router` (one process) without the pool's
    block policies, which stay while the daemon runs: "" when no client is left."""
    text = router.batch(["xfrm state", "xfrm policy"]).stdout
    entries = re.split(r"^(?=src )", text, flags=re.MULTILINE)
    return "".join(e for e in entries if "action block" not in e).strip()


def spis(xfrm_state: str) -> set[int]:
    """The SPIs of `ip xfrm state` output."""
    return {int(s, 16) for s in re.findall(r"spi (0x[0-9a-f]+)", xfrm_state)}


def sa_packets(state_text: str) -> dict[int, tuple[int, int]]:
    """SPI -> (bytes, packets) from `ip -s xfrm state`."""
    found = {}
    for block in re.split(r"^src ", state_text, flags=re.MULTILINE)[1:]:
        spi = re.search(r"spi (0x[0-9a-f]+)", block)
        counts = re.search(r"(\d+)\(bytes\), (\d+)\(packets\)", block)
        if spi and counts:
            found[int(spi.group(1), 16)] = (int(counts.group(1)), int(counts.group(2)))
    return found


def xfrm_stat(ns: Netns, counter: str) -> int:
    """One counter of the namespace's /proc/net/xfrm_stat (XfrmInNoPols, XfrmInPolBlock ...)."""
    stats = ns.run(["cat", "/proc/net/xfrm_stat"]).stdout
    found = re.search(rf"^{counter}\s+(\d+)", stats, re.MULTILINE)
    assert found, stats
    return int(found.group(1))


# --- packets on the wire -------------------------------------------------------------------
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


@dataclass(frozen=True, slots=True)
class IkeDatagram:
    """One IKE message in a captured IPv4/UDP packet (its IP total length, IKE header)."""

    ip_length: int
    sport: int
    message_id: int
    exchange: int
    response: bool
    first_payload: int
    fragment: tuple[int, int] | None  # (number, total) when the first payload is SKF


def ike_datagrams(packets: list[bytes]) -> list[IkeDatagram]:
    """The IKE messages among raw IPv4 UDP packets (ports 500/4500; no ESP, no keepalive)."""
    found = []
    for packet in packets:
        ihl = (packet[0] & 0x0F) * 4
        if packet[9] != 17 or len(packet) < ihl + 8 + 28:
            continue
        sport, dport = struct.unpack_from("!HH", packet, ihl)
        ike = ihl + 8
        if 4500 in (sport, dport):
            if packet[ike : ike + 4] != b"\0\0\0\0":
                continue  # ESP in UDP or a keepalive
            ike += 4
        elif 500 not in (sport, dport):
            continue
        first, _ver, exchange, flags, msg_id = struct.unpack_from("!BBBBI", packet, ike + 16)
        fragment = None
        if first == 53 and len(packet) >= ike + 28 + 8:  # SKF: generic header, number, total
            fragment = struct.unpack_from("!HH", packet, ike + 28 + 4)
        total_len = struct.unpack_from("!H", packet, 2)[0]
        found.append(IkeDatagram(total_len, sport, msg_id, exchange, bool(flags & 0x20),
                                 first, fragment))  # fmt: skip
    return found


# --- pings ---------------------------------------------------------------------------------
def _ping_argv(count: int, interval: float, size: int, dst: str) -> list[str]:
    return ["ping", "-n", "-q", "-c", str(count), "-i", str(interval), "-s", str(size),
            "-W", "2", dst]  # fmt: skip


def _summary(out: str) -> tuple[int, int]:
    found = _PING_SUMMARY.search(out)
    assert found, out
    return int(found.group(1)), int(found.group(2))


def ping_loss(
    ns: Netns, count: int, interval: float = 0.2, size: int = 56, dst: str = LAN_HOST
) -> tuple[int, int]:
    """(sent, received) of `count` pings from `ns` to `dst` (the LAN host; bounded)."""
    argv = _ping_argv(count, interval, size, dst)
    return _summary(ns.run(argv, check=False, timeout=count * interval + 15).stdout)


class BackgroundPing:
    """`count` pings from `ns` to the LAN host in the background; `result()` waits."""

    def __init__(
        self, netns: NetnsSet, ns: Netns, log: pathlib.Path, count: int, interval=0.2, size=56
    ):
        self.log = log
        log.unlink(missing_ok=True)
        self.timeout = count * interval + 20
        self.proc = netns.spawn(ns, _ping_argv(count, interval, size, LAN_HOST), log_path=str(log))

    def result(self) -> tuple[int, int]:
        """(sent, received)."""
        self.proc.wait(timeout=self.timeout)
        return _summary(self.log.read_text())
