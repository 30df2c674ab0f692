"""Rekeys the server starts by itself, on time (issue 4): with ike_lifetime = child_lifetime =
60 s we replace the IKE SA (CREATE_CHILD_SA { SA, Ni, KEi }, a fresh DH) and the Child SA
(CREATE_CHILD_SA { N(REKEY_SA), SA, Ni, TSi, TSr }) 54-60 s after IKE_AUTH, under a running
ping, against a real strongSwan client (charon, kernel-netlink) that never rekeys first.

Run with (about 90 s):
    tests/espvm/run-in-esp-kernel .venv/bin/python -m pytest tests/system/test_lifecycle_rekey.py
"""

from __future__ import annotations

import re

import pytest

from testbed.probes import BackgroundPing, spis
from testbed.proc import wait_for
from testbed.swanctl import Conn
from testbed.world import MAIN_CONFIG, Phone, World, phone_id

pytestmark = pytest.mark.espvm

# the client's own rekeys are two hours away: every rekey in this test is ours
PHONE1 = [Conn("steady", phone_id(1), ike_rekey=7200, child_rekey=7200)]
SERVER = {**MAIN_CONFIG, "ike_lifetime": 60, "child_lifetime": 60}
PINGS, INTERVAL = 150, 0.5  # 75 s: past the latest rekey (60 s) and an old SA's hard end (67 s)

# swanctl --list-sas: "steady: #1, ESTABLISHED, IKEv2, 0123456789abcdef_i* fedcba9876543210_r"
_IKE_LINE = re.compile(
    r"^(\S+): #(\d+), (\w+), IKEv2, ([0-9a-f]{16})_i(\*?) ([0-9a-f]{16})_r(\*?)", re.MULTILINE
)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    phones = [Phone(PHONE1, fast_retransmit=True)]
    with World.build(tmp_path_factory.mktemp("rekey"), phones) as w:
        yield w


def charon_ike_sas(charon) -> list[dict]:
    """The phone's IKE SAs: name, unique id, state, SPIs and which SPI is the phone's own."""
    return [
        {"name": m[1], "id": int(m[2]), "state": m[3], "spi_i": m[4], "spi_r": m[6],
         "phone_initiated": m[5] == "*"}
        for m in _IKE_LINE.finditer(charon.list_sas())
    ]  # fmt: skip


def keyed_spis(ns) -> set[int]:
    """SPIs of the namespace's ESP SAs that carry keys. A larval SA (an SPI we allocated for a
    request that was then dropped, e.g. a Child rekey queued behind our IKE rekey and redone in
    the new IKE SA) has none, and the kernel drops it after xfrm_acq_expires (30 s)."""
    blocks = re.split(r"^src ", ns.ip("xfrm", "state").stdout, flags=re.MULTILINE)[1:]
    return {
        spi for block in blocks if re.search(r"^\s+(enc|aead) ", block, re.MULTILINE)
        for spi in spis(block)
    }  # fmt: skip


def test_server_rekeys_ike_sa_and_child_sa_on_time_under_ping_without_loss(world):
    w = world
    d = w.use(SERVER)
    charon = w.phones[0]
    out = charon.initiate("steady")
    vip = re.search(r"installing new virtual IP (\S+)", out)
    assert vip, out + w.logs()
    vip = vip.group(1)
    (first,) = charon_ike_sas(charon)
    assert first["phone_initiated"], first  # IKE_AUTH: the phone is the initiator
    first_router, first_phone = keyed_spis(w.topo.router), keyed_spis(w.topo.phone)
    assert len(first_router) == 2 and first_phone == first_router, (first_router, first_phone)

    ping = BackgroundPing(w.netns, w.topo.phone, d.workdir / "ping-rekey.log", PINGS, INTERVAL)
    sent, received = ping.result()
    assert (sent, received) == (PINGS, PINGS), w.logs()  # make-before-break, both rekeys

    # --- the IKE SA: rekeyed once, by us, with a KE each way; the old one gone on both sides
    rekeys = re.findall(r"IKE SA ([0-9a-f]{16}) rekeyed, now ([0-9a-f]{16})", d.log_text())
    assert len(rekeys) == 1, w.logs()
    ((old_handle, new_handle),) = rekeys
    assert old_handle == first["spi_r"]  # our SPI of the first IKE SA
    now_sas = wait_for(lambda: (s := charon_ike_sas(charon)) and len(s) == 1 and s, 5,
                       "one IKE SA on the phone", w.logs)  # fmt: skip
    (second,) = now_sas
    assert second["state"] == "ESTABLISHED" and second["name"] == "steady", second
    # we initiated the new IKE SA: its initiator SPI is ours, the phone's is the responder's
    assert (second["spi_i"], second["phone_initiated"]) == (new_handle, False), second
    assert {second["spi_i"], second["spi_r"]}.isdisjoint({first["spi_i"], first["spi_r"]})
    phone_log = charon.log_text()
    assert re.search(r"parsed CREATE_CHILD_SA request \d+ \[ SA No KE \]", phone_log), phone_log
    assert re.search(r"generating CREATE_CHILD_SA response \d+ \[ SA No KE \]", phone_log)
    assert re.search(r"IKE_SA steady\[\d+\] rekeyed between", phone_log), phone_log
    # --- the Child SA: rekeyed by us on time (no byte limit configured), old pair removed
    first_in = (first_router & {int(h, 16) for h in re.findall(
        r"Child SA in ([0-9a-f]{8}) out", d.log_text())}).pop()  # fmt: skip
    assert re.search(rf"installed, .*, rekeying {first_in:08x}$", d.log_text(), re.MULTILINE), (
        w.logs()
    )
    assert re.search(r"received DELETE for ESP CHILD_SA with SPI", phone_log), phone_log
    # the phone never started an exchange of its own after IKE_AUTH: no rekey, no DPD
    assert not re.search(r"generating CREATE_CHILD_SA request", phone_log), phone_log
    assert "closing expired" not in phone_log and "hard lifetime" not in d.log_text()
    router_now, phone_now = keyed_spis(w.topo.router), keyed_spis(w.topo.phone)
    assert len(router_now) == 2 and router_now.isdisjoint(first_router), (first_router, router_now)
    assert phone_now == router_now, (phone_now, router_now)

    # --- the client, as ikev2ctl status --json shows it: the same identity and address
    (client,) = d.ctl_status_json()["clients"]
    assert (client["identity"], client["virtual_ip"]) == (phone_id(1), vip), client

    # the new IKE SA carries our requests: a disconnect reaches the phone through it
    d.ctl("disconnect", phone_id(1))
    charon.wait_log(f"received DELETE for IKE_SA steady[{second['id']}]", timeout=10)
    wait_for(lambda: not charon_ike_sas(charon), 10, "phone's IKE SA gone", w.logs)
