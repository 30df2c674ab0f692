"""Post-quantum IKEv2 against strongSwan 6 (issue 14 part 3): RFC 9370 additional key exchanges
with ML-KEM, in IKE_INTERMEDIATE (RFC 9242) and, on rekeys, IKE_FOLLOWUP_KE, with kernel ESP.

The phone is strongSwan 6 from a Debian root (scripts/strongswan6-root.sh; Debian 13's 6.0.1
cannot run ML-KEM, see there), chrooted in the phone namespace. What it negotiated is read from
`swanctl --list-sas`, not from its log.

Run with (about 2 minutes):
    tests/espvm/run-in-esp-kernel .venv/bin/python -m pytest tests/system/test_pq_strongswan6.py
"""

from __future__ import annotations

import re

import pytest

from testbed.probes import BackgroundPing, dumps
from testbed.proc import wait_for
from testbed.swanctl import Conn
from testbed.topology import LAN_HOST
from testbed.world import MAIN_CONFIG, SERVER_IKE, Phone, World, phone_id

pytestmark = pytest.mark.espvm

PQ = "aes256-sha256-x25519-ke1_mlkem768"
PHONE = [
    Conn("pq", phone_id(1), proposals=PQ, esp=PQ),
    Conn("pq1024", phone_id(1), proposals="aes256-sha256-x25519-ke1_mlkem1024"),
    Conn("classic", phone_id(1), proposals="aes256-sha256-x25519"),
    # the phone never rekeys first: every rekey of this one is the server's
    Conn("steady", phone_id(1), proposals=PQ, esp=PQ, ike_rekey=7200, child_rekey=7200),
]
CONFIG = {**MAIN_CONFIG, "ike_proposal": ["aes256-sha256-curve25519", *SERVER_IKE]}

# swanctl --list-sas: "pq: #1, ESTABLISHED, IKEv2, 0123456789abcdef_i* fedcba9876543210_r",
# then indented lines; a Child SA: "  pq: #2, reqid 1, INSTALLED, TUNNEL, ESP:AES_CBC-256/..."
_IKE = re.compile(r"^(\S+): #(\d+), (\w+), IKEv2, [0-9a-f]{16}_i(\*?) [0-9a-f]{16}_r(\*?)\n"
                  r"(?:  (?!\S+: #).*\n)*?  ([A-Z][A-Z0-9_/-]+)\n", re.M)  # fmt: skip
_CHILD = re.compile(r"^  (\S+): #(\d+), reqid \d+, (\w+), TUNNEL[^,]*, ESP:(\S+)", re.M)


def ike_sas(charon) -> list[dict]:
    return [{"name": m[1], "id": int(m[2]), "state": m[3], "phone_initiated": m[4] == "*",
             "algorithms": m[6]} for m in _IKE.finditer(charon.list_sas() + "\n")]  # fmt: skip


def child_sas(charon) -> list[dict]:
    return [{"name": m[1], "id": int(m[2]), "state": m[3], "algorithms": m[4]}
            for m in _CHILD.finditer(charon.list_sas())]  # fmt: skip


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    with World.build(tmp_path_factory.mktemp("pq"), [Phone(PHONE, strongswan=6)]) as w:
        yield w


def connect(w: World, conn: str) -> None:
    out = w.phones[0].initiate(conn)
    (ike,) = [s for s in ike_sas(w.phones[0]) if s["name"] == conn]
    assert ike["state"] == "ESTABLISHED", out + w.logs()
    assert [c for c in child_sas(w.phones[0]) if c["state"] == "INSTALLED"], out + w.logs()


def ping_lan(w: World) -> None:
    ping = w.topo.phone.ping(LAN_HOST, count=1, check=False)
    assert "1 received" in ping.stdout, ping.stdout + w.logs()


def test_x25519_with_mlkem768_connects_and_carries_traffic(clean):
    w = clean
    w.use(CONFIG)
    connect(w, "pq")
    (ike,) = ike_sas(w.phones[0])
    assert ike["algorithms"].endswith("/CURVE_25519/KE1_ML_KEM_768"), ike
    (client,) = w.clients()
    assert client["ike"] == "aes256-sha256-curve25519-ke1_mlkem768", dumps(client)
    ping_lan(w)


def test_mlkem1024_in_fragmented_intermediate_exchanges(clean):
    w = clean
    w.use(CONFIG)
    connect(w, "pq1024")  # a 1568-byte key and ciphertext: both messages in two fragments
    (ike,) = ike_sas(w.phones[0])
    assert ike["algorithms"].endswith("/KE1_ML_KEM_1024"), ike
    ping_lan(w)


def test_client_rekeys_repeat_the_mlkem_exchange(clean):
    w = clean
    w.use(CONFIG)
    charon = w.phones[0]
    connect(w, "pq")
    (first,) = child_sas(charon)
    assert "KE1" not in first["algorithms"]  # IKE_AUTH's Child SA has no key exchange of its own

    # Child SA with PFS: CREATE_CHILD_SA (x25519), then IKE_FOLLOWUP_KE (ML-KEM-768)
    charon.swanctl("--rekey", "--child", "pq")
    rekeyed = wait_for(lambda: [c for c in child_sas(charon) if c["id"] != first["id"]
                                and c["state"] == "INSTALLED"], 15, "the rekeyed Child SA",
                       w.logs)  # fmt: skip
    assert rekeyed[0]["algorithms"].endswith("/CURVE_25519/KE1_ML_KEM_768"), rekeyed
    wait_for(lambda: "+ke1_mlkem768" in w.clients()[0]["esp"], 5, "the daemon's Child SA",
             w.logs)  # fmt: skip
    ping_lan(w)

    # the IKE SA: CREATE_CHILD_SA, then IKE_FOLLOWUP_KE; the Child SAs move over
    (old,) = ike_sas(charon)
    handle = w.clients()[0]["id"]
    charon.swanctl("--rekey", "--ike", "pq")
    new = wait_for(lambda: [s for s in ike_sas(charon) if s["id"] != old["id"]
                            and s["state"] == "ESTABLISHED"], 15, "the rekeyed IKE SA",
                   w.logs)  # fmt: skip
    assert new[0]["algorithms"].endswith("/CURVE_25519/KE1_ML_KEM_768"), new
    wait_for(lambda: len(ike_sas(charon)) == 1, 10, "the old IKE SA deleted", w.logs)
    (client,) = w.clients()
    assert client["id"] == handle and client["ike"].endswith("-ke1_mlkem768"), dumps(client)
    ping_lan(w)


def test_server_rekeys_repeat_the_mlkem_exchange(clean):
    """With 60 s lifetimes the server replaces both SAs itself, each with IKE_FOLLOWUP_KE."""
    w = clean
    d = w.use({**CONFIG, "ike_lifetime": 60, "child_lifetime": 60})
    charon = w.phones[0]
    connect(w, "steady")
    (first,) = child_sas(charon)
    ping = BackgroundPing(w.netns, w.topo.phone, d.workdir / "ping-pq.log", 150, 0.5)

    def ours() -> bool:
        ike = ike_sas(charon)
        children = child_sas(charon)
        return (len(ike) == 1 and not ike[0]["phone_initiated"] and len(children) == 1
                and children[0]["id"] != first["id"])  # fmt: skip

    wait_for(ours, 90, "the server's IKE and Child SA rekeys", w.logs)
    (ike,), (child,) = ike_sas(charon), child_sas(charon)
    assert ike["algorithms"].endswith("/CURVE_25519/KE1_ML_KEM_768"), ike
    assert child["algorithms"].endswith("/CURVE_25519/KE1_ML_KEM_768"), child
    sent, received = ping.result()
    assert received == sent, w.logs()  # make before break, with the extra exchange too


def test_required_refuses_a_client_without_mlkem_and_preferred_accepts_it(clean):
    w = clean
    charon = w.phones[0]
    w.use({**CONFIG, "post_quantum": "required"})
    out = charon.swanctl("--initiate", "--child", "classic", "--timeout", "10", check=False,
                         timeout=20)  # fmt: skip
    assert not out.ok and not ike_sas(charon), out.out
    failures = w.daemon.status()["failures"]
    assert failures and failures[-1]["code"] == "ike_proposal_pq", dumps(failures)
    connect(w, "pq")  # with ML-KEM it connects
    w.reset()

    w.use({**CONFIG, "post_quantum": "preferred"})
    connect(w, "classic")
    (ike,) = ike_sas(charon)
    assert ike["algorithms"].endswith("/CURVE_25519"), ike
    ping_lan(w)
