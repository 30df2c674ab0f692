"""The first real tunnel: strongSwan phones against our daemon, with kernel ESP (issue 3).

Real charon + swanctl clients (kernel-netlink) in phone namespaces, ikev2d with the real
XfrmDatapath in the router namespace, a LAN host behind it. One world per module: the daemon
is restarted only when a test needs another configuration.

Run with: tests/espvm/run-in-esp-kernel .venv/bin/python -m pytest tests/system -q
"""

from __future__ import annotations

import ipaddress
import re

import pytest

from testbed.netns import drain
from testbed.probes import dumps, esp_packets, sa_packets
from testbed.proc import wait_for
from testbed.swanctl import Conn
from testbed.topology import LAN_HOST, NAT_OUTSIDE, ROUTER_WAN
from testbed.world import MAIN_CONFIG, SERVER_IKE, Phone, World, phone_id

pytestmark = pytest.mark.espvm

WRONG_PSK = "Nd4-Yf6s-Gj1u-Ke5q-Pa0w"
# the ESP proposal each IKE proposal's client offers (every ESP suite gets used)
ESP_FOR = {
    "aes256-sha256-modp2048": "aes256-sha256",
    "aes256-sha256-ecp256": "aes256gcm16",
    "aes256gcm16-prfsha384-curve25519": "aes256gcm16",
    "chacha20poly1305-prfsha256-curve25519": "chacha20poly1305",
    "aes128-sha256-modp3072": "aes256-sha256",
}
PATTERN = "c0ffee5aa5c0ffee"  # ping payload: must never be seen in clear on the wire
POOL = ipaddress.ip_network("10.10.10.0/24")

# strongSwan's names of what it negotiated (swanctl --list-sas), and the kernel's (ip xfrm)
IKE_SHOWN = {
    "aes256-sha256-modp2048": "AES_CBC-256/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/MODP_2048",
    "aes256-sha256-ecp256": "AES_CBC-256/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/ECP_256",
    "aes256gcm16-prfsha384-curve25519": "AES_GCM_16-256/PRF_HMAC_SHA2_384/CURVE_25519",
    "chacha20poly1305-prfsha256-curve25519": "CHACHA20_POLY1305/PRF_HMAC_SHA2_256/CURVE_25519",
    "aes128-sha256-modp3072": "AES_CBC-128/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/MODP_3072",
}
XFRM_ALGS = {
    "aes256-sha256": ("cbc(aes)", "hmac(sha256)"),
    "aes256gcm16": ("rfc4106(gcm(aes))",),
    "chacha20poly1305": ("rfc7539esp(chacha20,poly1305)",),
}


def proposal_conn(proposal: str) -> str:
    return "p-" + proposal.split("-")[0] + "-" + proposal.split("-")[-1]


# Server configurations of the identity cases: (server options, phone connection, IDi shown)
ID_CASES = {
    # ipv4 local ID, any remote ID (the phone uses an ipv4 ID too)
    "ipv4": (
        {"local_id_type": "ipv4", "local_id": ROUTER_WAN},
        Conn("id-ipv4", "192.0.2.2", remote_id=ROUTER_WAN),
        "192.0.2.2",
    ),
    # user-fqdn local ID; only the key-id "phone-key-1" may connect
    "user-fqdn": (
        {"local_id_type": "user-fqdn", "local_id": "server@example.test",
         "remote_id_type": "key-id", "remote_id": "phone-key-1"},
        Conn("id-ufqdn", "keyid:phone-key-1", remote_id="userfqdn:server@example.test"),
        "phone-key-1",
    ),
    # key-id local ID; only the fqdn phone1.example.test may connect
    "key-id": (
        {"local_id_type": "key-id", "local_id": "ikev2d-router",
         "remote_id_type": "fqdn", "remote_id": "phone1.example.test"},
        Conn("id-keyid", "fqdn:phone1.example.test", remote_id="keyid:ikev2d-router"),
        "phone1.example.test",
    ),
}  # fmt: skip
# the fqdn local ID with a specific remote ID: phone1@example.test only
FQDN_SPECIFIC = {"remote_id_type": "user-fqdn", "remote_id": phone_id(1)}

PHONE1 = [
    *(Conn(proposal_conn(p), phone_id(1), proposals=p, esp=ESP_FOR[p]) for p in SERVER_IKE),
    # first KE group modp4096, which the server does not accept: INVALID_KE_PAYLOAD(modp2048)
    Conn("invalidke", phone_id(1), proposals="aes256-sha256-modp4096, aes256-sha256-modp2048"),
    Conn("wrongpsk", "wrong-psk@example.test", secret=WRONG_PSK),
    Conn("home", phone_id(1)),
    Conn("other", "other@example.test"),
    Conn("id-mismatch", "fqdn:phone9.example.test", remote_id="keyid:ikev2d-router"),
    *(case[1] for case in ID_CASES.values()),
]
PHONE2 = [Conn("home", phone_id(2))]


@pytest.fixture(scope="module")
def world(tmp_path_factory, peer):
    phones = [Phone(PHONE1, strongswan=peer), Phone(PHONE2, strongswan=peer)]
    with World.build(tmp_path_factory.mktemp("tunnel"), phones) as w:
        yield w


def connect(w: World, phone: int, conn: str) -> str:
    """swanctl --initiate on phone `phone` (1-based); returns the virtual IP it installed."""
    vip = w.connect(conn, phone)
    assert ipaddress.ip_address(vip) in POOL
    return vip


def assert_phone_deleted(w: World, phone: int, conn: str, timeout: float = 5.0) -> None:
    """The phone received our Delete for its IKE SA and has no SA left."""
    charon = w.phones[phone - 1]
    pattern = rf"received DELETE for IKE_SA {conn}\[\d+\]"
    wait_for(lambda: re.search(pattern, charon.log_text()), timeout,
             f"phone{phone} saw the Delete of {conn}", w.logs)  # fmt: skip
    wait_for(lambda: not re.search(r"^\S+: #\d+", charon.list_sas(), re.MULTILINE), timeout,
             f"phone{phone} has no SA", w.logs)  # fmt: skip


# --- proposals ---------------------------------------------------------------------------
@pytest.mark.parametrize("proposal", SERVER_IKE)
def test_proposal_negotiates_and_carries_traffic(clean, proposal):
    w, conn, esp = clean, proposal_conn(proposal), ESP_FOR[proposal]
    w.use(MAIN_CONFIG)

    vip = connect(w, 1, conn)

    sas = w.phones[0].list_sas()
    assert IKE_SHOWN[proposal] in sas, sas
    [client] = w.clients()
    assert client["identity"] == phone_id(1) and client["virtual_ip"] == vip, dumps(client)
    assert not client["nat"] and client["remote_ip"] == "192.0.2.2", dumps(client)
    state = w.topo.router.ip("xfrm", "state").stdout
    for alg in XFRM_ALGS[esp]:
        assert state.count(alg) == 2, f"{alg} expected in both SAs:\n{state}"
    ping = w.topo.phone.ping(LAN_HOST, count=1, check=False)
    assert "1 received" in ping.stdout, ping.stdout + w.logs()

    # the phone ends it: the daemon answers the Delete and removes the kernel state
    w.phones[0].swanctl("--terminate", "--ike", conn)
    w.assert_router_clean()


# --- key exchange group the server does not take first ------------------------------------
def test_invalid_ke_round_trip(clean):
    w = clean
    w.use(MAIN_CONFIG)

    connect(w, 1, "invalidke")

    log = w.phones[0].log_text()
    # strongSwan 6 says "key exchange method" where 5.9 says "DH group"
    assert re.search(r"peer didn't accept (DH group|key exchange method) MODP_4096, it "
                     "requested MODP_2048", log), w.logs()  # fmt: skip
    assert "/MODP_2048" in w.phones[0].list_sas()
    w.phones[0].swanctl("--terminate", "--ike", "invalidke")
    w.assert_router_clean()


# --- wrong pre-shared key --------------------------------------------------------------------
def test_wrong_psk_is_refused_and_leaves_nothing(clean):
    w = clean
    w.use(MAIN_CONFIG)

    out = w.phones[0].swanctl("--initiate", "--child", "wrongpsk", "--timeout", "15",
                              check=False, timeout=25)  # fmt: skip

    assert not out.ok, out.out
    assert "received AUTHENTICATION_FAILED notify error" in out.out, out.out + w.logs()
    status = w.daemon.ctl_status_json()
    assert status["clients"] == [], dumps(status)
    assert w.router_xfrm() == "", w.router_xfrm()
    assert any(f["identity"] == "wrong-psk@example.test" for f in status["failures"]), dumps(status)
    assert WRONG_PSK not in w.daemon.log_text() and MAIN_CONFIG["psk"] not in w.daemon.log_text()


# --- two clients, traffic both ways, ESP on the wire, counters, disconnect --------------------
def test_two_clients_traffic_both_ways_and_disconnect(clean):
    w = clean
    w.use(MAIN_CONFIG)
    # both handshakes at the same time
    second = w.phones[1].initiate_background("home", timeout=20)
    vip1 = connect(w, 1, "home")
    assert second.wait(timeout=30) == 0, w.logs()
    vip2 = re.search(r"installing new virtual IP (\S+)", w.phones[1].log_text())
    assert vip2, w.logs()
    vip2 = vip2.group(1)
    assert vip1 != vip2 and ipaddress.ip_address(vip2) in POOL
    by_id = {c["identity"]: c for c in w.clients()}
    assert {k: c["virtual_ip"] for k, c in by_id.items()} == {phone_id(1): vip1,
                                                              phone_id(2): vip2}  # fmt: skip
    table = w.daemon.ctl("status").stdout  # the human table
    assert phone_id(1) in table and vip2 in table, table
    before = w.topo.router.ip("-s", "xfrm", "state").stdout
    inbound_spis = set(_spis_to(before, ROUTER_WAN))
    assert len(inbound_spis) == 2, before

    router_esp, phone1_esp = w.topo.router.raw_socket(50), w.topo.phones[0].raw_socket(50)
    with router_esp, phone1_esp:
        drain(router_esp), drain(phone1_esp)
        for ns, dst in ((w.topo.phones[0], LAN_HOST), (w.topo.phones[1], LAN_HOST),
                        (w.topo.lan, vip1), (w.topo.lan, vip2)):  # fmt: skip
            ping = ns.run(["ping", "-n", "-c", "3", "-i", "0.2", "-W", "2", "-p", PATTERN, dst],
                          check=False, timeout=15)  # fmt: skip
            assert "3 received" in ping.stdout, f"{ns.name} -> {dst}\n{ping.stdout}{w.logs()}"
        at_router = esp_packets(drain(router_esp))
        at_phone1 = esp_packets(drain(phone1_esp))

    # every ESP packet reaching the router is for one of its inbound SAs and is encrypted:
    # 3 echo requests + 3 echo replies from each phone
    assert len(at_router) >= 12 and {spi for spi, _ in at_router} == inbound_spis, at_router
    assert len(at_phone1) >= 6, at_phone1
    for _spi, esp in at_router + at_phone1:
        assert bytes.fromhex(PATTERN) not in esp
    after = sa_packets(w.topo.router.ip("-s", "xfrm", "state").stdout)
    assert len(after) == 4 and all(pk >= 6 for _b, pk in after.values()), after
    for client in w.clients():
        assert client["packets_in"] >= 6 and client["packets_out"] >= 6, dumps(client)
        assert client["bytes_in"] >= 6 * 84 and client["bytes_out"] >= 6 * 84, dumps(client)
    cli = {c["identity"]: c for c in w.daemon.ctl_status_json()["clients"]}
    assert cli[phone_id(1)]["packets_in"] >= 6, dumps(cli)

    # kick phone2 by identity and phone1 by virtual IP
    w.daemon.ctl("disconnect", phone_id(2))
    assert_phone_deleted(w, 2, "home")
    assert [c["identity"] for c in w.clients()] == [phone_id(1)]
    w.daemon.ctl("disconnect", vip1)
    assert_phone_deleted(w, 1, "home")
    w.assert_router_clean()
    assert w.daemon.ctl_status_json()["clients"] == []


def _spis_to(state_text: str, dst: str) -> list[int]:
    """SPIs of the SAs whose outer destination is `dst`."""
    return [int(m.group(1), 16) for m in re.finditer(
        rf"^src \S+ dst {re.escape(dst)}\n\s+proto esp spi (0x[0-9a-f]+)", state_text, re.M
    )]  # fmt: skip


# --- identities ------------------------------------------------------------------------------
@pytest.mark.parametrize("case", list(ID_CASES))
def test_local_id_type_and_remote_id(clean, case):
    w = clean
    options, conn, shown = ID_CASES[case]
    w.use({**MAIN_CONFIG, **options})

    connect(w, 1, conn.name)  # the phone checks our IDr against its remote id

    [client] = w.clients()
    assert shown in client["identity"], dumps(client)
    w.phones[0].swanctl("--terminate", "--ike", conn.name)
    w.assert_router_clean()
    if case == "key-id":  # a phone with another identity is refused
        out = w.phones[0].swanctl("--initiate", "--child", "id-mismatch", "--timeout", "15",
                                  check=False, timeout=25)  # fmt: skip
        assert not out.ok and "AUTHENTICATION_FAILED" in out.out, out.out + w.logs()
        w.assert_router_clean()


def test_fqdn_local_id_with_specific_remote_id(clean):
    w = clean
    w.use({**MAIN_CONFIG, **FQDN_SPECIFIC})

    connect(w, 1, "home")
    out = w.phones[0].swanctl("--initiate", "--child", "other", "--timeout", "15",
                              check=False, timeout=25)  # fmt: skip

    assert not out.ok and "AUTHENTICATION_FAILED" in out.out, out.out + w.logs()
    assert [c["identity"] for c in w.clients()] == [phone_id(1)]
    w.phones[0].swanctl("--terminate", "--ike", "home")
    w.assert_router_clean()


# --- daemon stop -----------------------------------------------------------------------------
def test_sigterm_deletes_clients_and_kernel_state(clean):
    w = clean
    w.use(MAIN_CONFIG)
    connect(w, 1, "home")
    connect(w, 2, "home")
    assert len(w.clients()) == 2
    assert w.router_xfrm() != ""

    rc = w.daemon.stop()

    assert rc == 0, w.logs()
    assert w.router_xfrm() == "", w.router_xfrm()
    assert_phone_deleted(w, 1, "home")
    assert_phone_deleted(w, 2, "home")


# --- behind NAT: ESP in UDP on 4500 ----------------------------------------------------------
@pytest.fixture(scope="module")
def nat_world(tmp_path_factory):
    phones = [Phone([Conn("home", phone_id(1))])]
    with World.build(tmp_path_factory.mktemp("nat"), phones, nat=True) as w:
        yield w


def test_nat_traversal_esp_in_udp(nat_world, request):
    w = nat_world
    try:
        _nat_case(w)
    except BaseException:
        print(w.logs())
        raise


def _nat_case(w: World) -> None:
    w.use(MAIN_CONFIG)
    vip = connect(w, 1, "home")
    [client] = w.clients()
    assert client["nat"] and client["remote_ip"] == NAT_OUTSIDE, dumps(client)
    state = w.topo.router.ip("xfrm", "state").stdout
    assert state.count("encap type espinudp") == 2, state
    inbound = set(_spis_to(state, ROUTER_WAN))

    udp = w.topo.router.raw_socket(17)
    with udp:
        drain(udp)
        for ns, dst in ((w.topo.phone, LAN_HOST), (w.topo.lan, vip)):
            ping = ns.run(["ping", "-n", "-c", "3", "-i", "0.2", "-W", "2", "-p", PATTERN, dst],
                          check=False, timeout=15)  # fmt: skip
            assert "3 received" in ping.stdout, f"{ns.name} -> {dst}\n{ping.stdout}{w.logs()}"
        wire = esp_packets(drain(udp), udp_port=4500)
    assert len(wire) >= 6 and {spi for spi, _ in wire} == inbound, wire
    assert all(bytes.fromhex(PATTERN) not in esp for _spi, esp in wire)
    [client] = w.clients()
    assert client["packets_in"] >= 6 and client["packets_out"] >= 6, dumps(client)

    w.daemon.ctl("disconnect", phone_id(1))
    assert_phone_deleted(w, 1, "home")
    w.assert_router_clean()
