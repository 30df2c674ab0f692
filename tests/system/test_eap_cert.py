"""EAP-MSCHAPv2, certificates and IKE fragmentation against real strongSwan (issue 5).

One ikev2d (auth_mode eap, a PSK as well, users, the PKI it creates itself on first start;
reloaded with auth_mode cert for the certificate clients) serves charon-cmd, charon+swanctl
EAP and certificate clients, and refuses a PSK client, all with kernel ESP; see eap_world.py
for who is who.

Run with: tests/espvm/run-in-esp-kernel .venv/bin/python -m pytest tests/system/test_eap_cert.py
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import re

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID
from eap_world import (
    CERT_CLIENTS,
    P12_PASSWORD,
    PASSWORDS,
    PSK_ID,
    SERVER_NAME,
    WRONG_PASSWORD,
    EapWorld,
    cert_conn_name,
    ike_datagrams,
)
from tunnel_world import PSK, drain, dumps, wait_for

from harness.topology import LAN_HOST, LAN_NET, ROUTER_WAN
from ikev2d.auth import ca as pki

pytestmark = pytest.mark.espvm

POOL = ipaddress.ip_network("10.10.10.0/24")
IKE_AUTH = 35
ESTABLISHED_CMD = r"CHILD_SA cmd\{\d+\} established"


@pytest.fixture(scope="module")
def world(tmp_path_factory, peer_root):
    w = EapWorld.build(tmp_path_factory.mktemp("eapcert"), root=peer_root)
    yield w
    w.teardown()


@pytest.fixture
def clean(world, request):
    """The world with no client after the test; every log printed on failure."""
    yield world
    rep = getattr(request.node, "rep_call", None)
    if rep is None or rep.failed:
        print(world.logs())
    world.reset()


def charon_cmd_eap(w: EapWorld, *, ca: str = "ca.pem", user: str = "dave") -> None:
    """Start charon-cmd on phone1: EAP-MSCHAPv2 as `user` to the server BY NAME, trusting
    only the certificate file `ca` (its --cert)."""
    w.cmd.start("--host", SERVER_NAME, "--profile", "ikev2-eap", "--identity", user,
                "--cert", str(w.cmd.workdir / ca), "--remote-ts", LAN_NET,
                password=PASSWORDS[user])  # fmt: skip


def installed_vip(log: str) -> str:
    found = re.findall(r"installing new virtual IP (\d+\.\d+\.\d+\.\d+)", log)
    assert found, log[-3000:]
    assert ipaddress.ip_address(found[-1]) in POOL, found
    return found[-1]


def assert_pings_lan(w: EapWorld, phone: int) -> None:
    ns = w.topo.phones[phone - 1]
    ping = ns.ping(LAN_HOST, count=2, check=False)
    assert "2 received" in ping.stdout, f"phone{phone} -> {LAN_HOST}\n{ping.stdout}{w.logs()}"


def assert_server_verified_with_our_ca(log: str, w: EapWorld) -> None:
    """strongSwan checked our server certificate for SERVER_NAME up to our CA, and our
    signature with it."""
    ca_subject = PkiCa(w).subject
    assert f'using certificate "O=ikev2d, CN={SERVER_NAME}"' in log, log
    assert f'using trusted ca certificate "{ca_subject}"' in log, log
    assert "reached self-signed root ca with a path length of 0" in log, log
    assert re.search(rf"authentication of '{re.escape(SERVER_NAME)}' with \S+ successful", log), log


def failures_of(w: EapWorld, identity: str) -> list[dict]:
    """The failures `ikev2ctl status --json` lists for `identity`."""
    return [f for f in w.daemon.ctl_status_json()["failures"] if f["identity"] == identity]


def last_failure(w: EapWorld, identity: str) -> dict:
    mine = failures_of(w, identity)
    assert mine, dumps(w.daemon.status())
    return mine[-1]


class PkiCa:
    """Our generated CA as strongSwan prints it (its subject, RDNs in order)."""

    def __init__(self, w: EapWorld) -> None:
        cert = x509.load_pem_x509_certificate((w.pki_dir / "ca.pem").read_bytes())
        self.cert = cert
        self.subject = ", ".join(
            f"{'O' if a.oid == x509.NameOID.ORGANIZATION_NAME else 'CN'}={a.value}"
            for a in cert.subject
        )


# --- the PKI the daemon made -----------------------------------------------------------------
def test_daemon_created_pki_for_the_server_name(world):
    """auth_mode eap with no PKI: the daemon made the CA and a server certificate whose
    subjectAltName is the name clients connect to (serverAuth + ikeIntermediate)."""
    log = world.daemon.log_text()
    assert f"created the CA and a server certificate for {SERVER_NAME}" in log, log
    server = x509.load_pem_x509_certificate((world.pki_dir / "server.pem").read_bytes())
    ca = PkiCa(world).cert
    assert server.issuer == ca.subject
    server.verify_directly_issued_by(ca)
    san = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == [SERVER_NAME]
    ekus = server.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.SERVER_AUTH in ekus and pki.IKE_INTERMEDIATE in ekus
    assert (world.pki_dir / "ca.key").stat().st_mode & 0o777 == 0o600
    assert (world.pki_dir / "server.key").stat().st_mode & 0o777 == 0o600
    # phone2 trusts exactly this CA and nothing else
    assert [p.name for p in (world.swan.swanctl_dir / "x509ca").iterdir()] == ["ca.pem"]


# --- EAP: charon-cmd + swanctl at once; the PSK left in the configuration lets nobody in ------
def test_eap_clients_connect_at_once_and_a_psk_client_is_refused(clean):
    w = clean
    w.use_mode("eap")
    # phone1: charon-cmd, phone2: swanctl EAP (carol), phone3: swanctl PSK, started together
    charon_cmd_eap(w)
    carol = w.swan.initiate_background("eap-carol", timeout=40)
    psk = w.psk_phone.swanctl("--initiate", "--child", "psk", "--timeout", "30",
                              check=False, timeout=40)  # fmt: skip
    assert not psk.ok and "received AUTHENTICATION_FAILED notify error" in psk.out, psk.out
    assert "not accepted (auth_mode eap)" in last_failure(w, PSK_ID)["reason"]
    assert carol.wait(timeout=50) == 0, w.logs()
    w.cmd.wait_log(ESTABLISHED_CMD, timeout=50)

    vips = {
        "dave": installed_vip(w.cmd.log_text()),
        "carol": installed_vip(w.swan.log_text()),
    }
    assert len(set(vips.values())) == 2, vips
    clients = {c["identity"]: c["virtual_ip"] for c in w.clients()}
    assert clients == vips, dumps(w.clients()) + w.logs()
    for phone in (1, 2):
        assert_pings_lan(w, phone)

    # both EAP clients validated our certificate chain with our CA only, then did MSCHAPv2
    for log in (w.cmd.log_text(), w.swan.log_text()):
        assert_server_verified_with_our_ca(log, w)
        assert "EAP method EAP_MSCHAPV2 succeeded, MSK established" in log, log
    # charon-cmd connected by name: its peer is the name, resolved to the router
    assert re.search(rf"initiating IKE_SA cmd\[\d+\] to {re.escape(ROUTER_WAN)}", w.cmd.log_text())
    daemon_log = w.daemon.log_text()
    for secret in (*PASSWORDS.values(), PSK):
        assert secret not in daemon_log

    w.reset()
    w.assert_router_clean()


# --- the certificate-bearing IKE_AUTH response is fragmented -----------------------------------
def test_certificate_response_is_fragmented_and_reassembled(clean):
    """RSA-2048 certificate + signature + EAP-Identity: ~1.4 kB, more than fragment_size
    1280, so the first IKE_AUTH response goes out as several SKF datagrams (RFC 7383), each
    within 1280 bytes, which strongSwan reassembles."""
    w = clean
    w.use_mode("eap")
    with w.topo.phones[1].raw_socket(17) as udp:
        drain(udp)
        out = w.swan.initiate("eap-carol", timeout=30)
        seen = ike_datagrams(drain(udp))
    assert re.search(r"CHILD_SA eap-carol\{\d+\} established", out), out + w.logs()

    responses = [d for d in seen if d.exchange == IKE_AUTH and d.response and d.message_id == 1]
    assert len(responses) >= 2, responses
    fragments = sorted(d.fragment for d in responses if d.fragment is not None)
    total = fragments[0][1]
    assert total >= 2 and fragments == [(n, total) for n in range(1, total + 1)], responses
    assert all(d.ip_length <= 1280 for d in responses), responses
    assert all(d.sport in (500, 4500) for d in responses)
    log = w.swan.log_text()
    assert f"received fragment #1 of {total}, waiting for complete IKE message" in log, log
    assert re.search(rf"received fragment #{total} of {total}, reassembled fragmented IKE "
                     r"message \(\d+ bytes\)", log), log  # fmt: skip
    assert_pings_lan(w, 2)


# --- trust: only our CA ----------------------------------------------------------------------
def test_client_trusting_another_ca_refuses_our_server(clean):
    """Control for the chain checks above: with a different CA as its only trust anchor,
    charon-cmd does not accept our server (so it really validates the chain)."""
    w = clean
    w.use_mode("eap")
    decoy = pki.make_ca("decoy CA", dt.datetime.now(dt.UTC), os.urandom)
    (w.cmd.workdir / "decoy.pem").write_bytes(pki.cert_pem(decoy.certificate))
    charon_cmd_eap(w, ca="decoy.pem")
    w.cmd.wait_exit(timeout=40)
    log = w.cmd.log_text()
    assert f"no trusted RSA public key found for '{SERVER_NAME}'" in log, log
    assert "EAP method EAP_MSCHAPV2 succeeded" not in log
    # it said so: the daemon lists why, as a hint for the router owner
    wait_for(lambda: failures_of(w, "dave"), 10, "dave's failure in status", w.logs)
    assert "refused the server's authentication" in last_failure(w, "dave")["reason"]
    assert not w.clients()


# --- wrong password ----------------------------------------------------------------------------
def test_wrong_password_is_refused_and_leaves_nothing(clean):
    w = clean
    w.use_mode("eap")
    out = w.swan.swanctl("--initiate", "--child", "eap-erin", "--timeout", "30",
                         check=False, timeout=40)  # fmt: skip

    assert not out.ok, out.out
    # our MSCHAPv2 Failure request (E=691, retry allowed) reached the client, which gave up
    log = w.swan.log_text()
    assert "EAP-MS-CHAPv2 failed with error ERROR_AUTHENTICATION_FAILURE" in log, log
    assert "EAP_MSCHAPV2 method failed" in out.out, out.out + w.logs()
    # ... and told us so (INFORMATIONAL { N(AUTHENTICATION_FAILED) }): answered, SA dropped
    wait_for(lambda: failures_of(w, "erin"), 10, "erin's failure in status", w.logs)
    status = w.daemon.ctl_status_json()
    assert status["clients"] == [], dumps(status)
    assert w.router_xfrm() == "", w.router_xfrm()
    [failure] = failures_of(w, "erin")
    assert "wrong password" in failure["reason"] and failure["remote"].startswith("192.0.2.3")
    daemon_log = w.daemon.log_text()
    assert "client erin (192.0.2.3:4500) failed to authenticate: EAP-MSCHAPv2: wrong password" in (
        daemon_log
    ), daemon_log
    assert WRONG_PASSWORD not in daemon_log and PASSWORDS["erin"] not in daemon_log
    assert "retransmit" not in w.swan.log_text(), "our answer to its INFORMATIONAL was lost"


# --- certificate clients -----------------------------------------------------------------------
def connect_cert(w: EapWorld, identity: str) -> str:
    w.use_mode("cert")
    out = w.swan.initiate(cert_conn_name(identity), timeout=30)
    conn = cert_conn_name(identity)
    assert re.search(rf"CHILD_SA {conn}\{{\d+\}} established", out), out + w.logs()
    return out


def refused_cert(w: EapWorld, identity: str) -> str:
    w.use_mode("cert")
    conn = cert_conn_name(identity)
    out = w.swan.swanctl("--initiate", "--child", conn, "--timeout", "30",
                         check=False, timeout=40)  # fmt: skip
    assert not out.ok, out.out
    assert "received AUTHENTICATION_FAILED notify error" in out.out, out.out + w.logs()
    assert not w.clients() and w.router_xfrm() == "", w.router_xfrm() + w.logs()
    return out.out


def test_pkcs12_certificate_client_connects(clean):
    w = clean
    identity = "frank@example.test"
    out = connect_cert(w, identity)

    log = w.swan.log_text()
    assert re.search(rf"authentication of '{re.escape(identity)}' \(myself\) with \S+ successful",
                     log), log  # fmt: skip
    assert_server_verified_with_our_ca(log, w)
    # certificate + RSA signature: the client fragments its IKE_AUTH request, which we
    # reassembled (RFC 7383 in the other direction)
    assert re.search(r"splitting IKE message \(\d+ bytes\) into [2-9] fragments", out), out
    vip = installed_vip(out)
    assert {c["identity"]: c["virtual_ip"] for c in w.clients()} == {identity: vip}
    assert_pings_lan(w, 2)
    assert P12_PASSWORD not in w.daemon.log_text()


def test_revoked_certificate_is_refused(clean):
    """`ikev2ctl pki revoke`, then a daemon restart: the client that connected before is
    refused (its serial is in revoked.txt)."""
    w = clean
    identity = "grace@example.test"
    assert CERT_CLIENTS[identity] == "revoked"
    connect_cert(w, identity)  # accepted while not revoked
    w.reset()
    w.assert_router_clean()

    said = w.pki("revoke", identity)
    assert re.search(r"revoked serial [0-9a-f]+", said), said
    w.daemon.stop()
    w.daemon.start()
    refused_cert(w, identity)
    assert "is revoked" in last_failure(w, identity)["reason"]


def test_reload_applies_a_revocation(clean):
    w = clean
    identity = "ivan@example.test"
    connect_cert(w, identity)
    w.reset()
    w.assert_router_clean()

    w.pki("revoke", identity)
    w.daemon.ctl("reload")  # what `pki revoke` tells the owner to do
    refused_cert(w, identity)


def test_expired_certificate_is_refused(clean):
    w = clean
    identity = "henry@example.test"
    assert CERT_CLIENTS[identity] == "expired"
    refused_cert(w, identity)
    assert "expired" in last_failure(w, identity)["reason"]
