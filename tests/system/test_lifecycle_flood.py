"""A bounded IKE_SA_INIT flood from local addresses (a namespace of this test) while a real
strongSwan client connects: the daemon's memory stays bounded and the client gets in (it is
asked for a cookie, answers it, and is admitted). Issue 4, denial of service.

Run with:
    tests/espvm/run-in-esp-kernel .venv/bin/python -m pytest tests/system/test_lifecycle_flood.py
"""

from __future__ import annotations

import re
import sys
import time

import pytest

from testbed.probes import ping_loss
from testbed.proc import wait_for
from testbed.swanctl import Conn
from testbed.topology import ROUTER_WAN
from testbed.world import MAIN_CONFIG, Phone, World, phone_id

pytestmark = pytest.mark.espvm

PACKETS = 5000
RATE = 1000  # per second
SOURCES = [f"192.0.2.{100 + i}" for i in range(10)]

# Runs in the flooding namespace: IKE_SA_INIT requests (valid SA/KE/Ni, one key share reused)
# with random SPIi from the local SOURCES, rate-limited, at most PACKETS, at most 20 s.
FLOODER = """
import os, random, socket, sys, time
from ikev2d.crypto.dh import new_key_exchange
from ikev2d.policy.proposals import parse_proposal
from ikev2d.wire.enums import ExchangeType, ProtocolId
from ikev2d.wire.message import Header, Message, encode_message
from ikev2d.wire.payloads import KePayload, NoncePayload
from ikev2d.wire.sa import Proposal, SaPayload, Transform
target, count, rate, sources = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4:]
p = parse_proposal("aes256-sha256-modp2048", "ike")
sa = SaPayload((Proposal(1, ProtocolId.IKE, b"", tuple(
    Transform(int(t.type), int(t.id), t.key_bits) for t in p.transforms)),))
ke = KePayload(14, new_key_exchange(14).public_bytes())
socks = []
for s in sources:
    k = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    k.bind((s, 0))
    k.setblocking(False)
    socks.append(k)
print("flooding", flush=True)
start = time.monotonic()
sent = 0
while sent < count and time.monotonic() - start < 20:
    spi = os.urandom(8)
    msg = encode_message(Message(Header(spi, bytes(8), ExchangeType.IKE_SA_INIT, 0,
                                        initiator=True), (sa, ke, NoncePayload(os.urandom(32)))))
    try:
        random.choice(socks).sendto(msg, (target, 500))
    except BlockingIOError:
        pass
    sent += 1
    ahead = sent / rate - (time.monotonic() - start)
    if ahead > 0:
        time.sleep(ahead)
print("sent", sent, "in", round(time.monotonic() - start, 2), flush=True)
"""


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"VmRSS:\s+(\d+) kB", f.read()).group(1))


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    phones = [Phone([Conn("life", phone_id(1))], fast_retransmit=True), Phone()]  # 2: flooder
    with World.build(tmp_path_factory.mktemp("flood"), phones) as w:
        yield w


def test_init_flood_keeps_memory_bounded_and_lets_a_client_in(world, tmp_path):
    w = world
    # half-open limits from the VM's memory (1 GiB: 128, 16 per address); each flooding
    # address gets one half-open SA and then only cookies (cookie_threshold_per_ip 1), so
    # the ten of them stay below the derived cookie_threshold (32): a low one makes the
    # client come through a cookie too
    d = w.use({**MAIN_CONFIG, "cookie_threshold": 5})
    flood_ns = w.topo.phones[1]
    flood_ns.batch([f"addr add {a}/24 dev wan0" for a in SOURCES])
    before = rss_kib(d.proc.pid)
    log = tmp_path / "flood.log"
    argv = [sys.executable, "-c", FLOODER, ROUTER_WAN, str(PACKETS), str(RATE), *SOURCES]
    flood = w.netns.spawn(flood_ns, argv, log_path=str(log))
    # the flooder's own start (imports, key generation) is slow under UML: wait for it, then
    # give it a second so the half-open SAs are past cookie_threshold when the client comes
    wait_for(
        lambda: log.exists() and "flooding" in log.read_text(), 30, "the flood started", w.logs
    )
    time.sleep(1.0)
    peak = before
    try:
        out = w.phones[0].initiate("life", timeout=30)
        assert "established successfully" in out or "IKE_SA life" in out, out + w.logs()
        assert ping_loss(w.topo.phone, 2) == (2, 2)
        while flood.poll() is None:
            peak = max(peak, rss_kib(d.proc.pid))
            time.sleep(0.2)
    finally:
        w.netns.procs.stop(flood)
    assert "sent 5000" in log.read_text(), log.read_text()
    assert "received COOKIE" in w.phones[0].log_text() or "N(COOKIE)" in w.phones[0].log_text()
    # bounded: half-open SAs are capped and cookies keep the rest stateless
    assert peak - before < 16 * 1024, (before, peak)
    clients = wait_for(lambda: d.status()["clients"], 5, "client listed", w.logs)
    assert [c["identity"] for c in clients] == [phone_id(1)]
    status = d.status()
    assert status["running"]
    print(f"RSS before {before} KiB, peak during the flood {peak} KiB")
