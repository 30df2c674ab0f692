"""EAP-MSCHAPv2, certificates and IKE fragmentation against real strongSwan (issue 5).

One ikev2d (auth_mode eap, a PSK as well, users, its PKI in a temp dir that the daemon creates
on its first start; reloaded with auth_mode cert for the certificate clients: the server
accepts only the method of auth_mode) serves three phones, all with kernel ESP:

    phone1  charon-cmd --profile ikev2-eap (dave), trusting only our CA (--cert ca.pem),
            connecting to the server by name (vpn.example.test, from its own /etc/hosts)
    phone2  charon + swanctl: EAP-MSCHAPv2 users (carol; erin with a wrong password) with the
            CA only in swanctl/x509ca/, and certificate clients loaded from PKCS#12 files in
            swanctl/pkcs12/: frank (`ikev2ctl pki issue`), grace and ivan (issued, later
            revoked), henry (issued by the same CA three years ago: expired)
    phone3  charon + swanctl: a PSK client, refused

Run with: tests/espvm/run-in-esp-kernel .venv/bin/python -m pytest tests/system/test_eap_cert.py
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import pathlib
import re
import shutil

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from ikev2d.auth import ca as pki
from ikev2d.pki_files import PkiStore
from testbed.charon_cmd import CharonCmd
from testbed.ikev2d import ctl_argv
from testbed.netns import drain
from testbed.probes import dumps, ike_datagrams
from testbed.proc import run, wait_for
from testbed.strongswan import Charon
from testbed.swanctl import PSK, Conn, swanctl_conf
from testbed.topology import LAN_HOST, LAN_NET, ROUTER_WAN
from testbed.world import SERVER_ESP, SERVER_IKE, Phone, World

pytestmark = pytest.mark.espvm

POOL = ipaddress.ip_network("10.10.10.0/24")
IKE_AUTH = 35
ESTABLISHED_CMD = r"CHILD_SA cmd\{\d+\} established"
SERVER_NAME = "vpn.example.test"
PASSWORDS = {"dave": "d4ve-Secret-77", "carol": "c4rol-Secret-88", "erin": "er1n-Secret-99"}
WRONG_PASSWORD = "not-erins-password"
P12_PASSWORD = "p12-Pass-4711"
PSK_ID = "phone3@example.test"
# certificate clients: name -> what happens to its certificate
CERT_CLIENTS = {"frank@example.test": "valid", "grace@example.test": "revoked",
                "henry@example.test": "expired", "ivan@example.test": "revoked"}  # fmt: skip
EXPIRED_AGE = dt.timedelta(days=3 * 365)  # older than CLIENT_VALIDITY (730 days)

CONFIG_BASE: dict[str, object] = {
    "auth_mode": "eap",
    "server_address": SERVER_NAME,  # the CA's server certificate is made for this name
    "local_id_type": "fqdn",
    "local_id": SERVER_NAME,
    "remote_id_type": "any",
    "psk": PSK,  # left in the configuration: PSK clients must still be refused
    "pool": "10.10.10.0/24",
    "local_subnet": [LAN_NET],
    "ike_proposal": SERVER_IKE,
    "esp_proposal": SERVER_ESP,
    "fragmentation": True,
    "fragment_size": 1280,
    "users": [{"name": name, "password": pw} for name, pw in PASSWORDS.items()],
}


def _user(identity: str) -> str:
    return identity.split("@")[0]


def cert_conn_name(identity: str) -> str:
    return "cert-" + _user(identity)


def _eap_conn(user: str, password: str) -> Conn:
    return Conn(f"eap-{user}", user, auth="eap-mschapv2", secret=password, remote_id=SERVER_NAME,
                esp="aes256gcm16", fragmentation=True)  # fmt: skip


def _cert_conn(identity: str) -> Conn:
    return Conn(cert_conn_name(identity), identity, auth="pubkey", p12=f"{_user(identity)}.p12",
                secret=P12_PASSWORD, remote_id=SERVER_NAME,
                proposals="aes256gcm16-prfsha384-curve25519", fragmentation=True)  # fmt: skip


# phone2: the EAP users (the wrong password for erin) and the certificate clients
PHONE2 = [_eap_conn("carol", PASSWORDS["carol"]), _eap_conn("erin", WRONG_PASSWORD),
          *(_cert_conn(identity) for identity in CERT_CLIENTS)]  # fmt: skip


@pytest.fixture(scope="module")
def world(tmp_path_factory, peer):
    """phone1's charon-cmd is always this machine's; `peer` runs phone2's and phone3's."""
    workdir = tmp_path_factory.mktemp("eapcert")
    phones = [
        Phone(charon_cmd=True, hosts={SERVER_NAME: ROUTER_WAN}),
        Phone(strongswan=peer),
        Phone([Conn("psk", PSK_ID)], strongswan=peer),
    ]
    with World.build(workdir, phones) as w:
        w.use({**CONFIG_BASE, "pki_dir": str(workdir / "pki")})  # the daemon makes the PKI
        _client_credentials(w)
        w.phones[1].write_swanctl_conf(swanctl_conf(PHONE2))
        w.phones[1].load_all()
        yield w


def cmd(w: World) -> CharonCmd:
    return w.phones[0]


def swan(w: World) -> Charon:
    return w.phones[1]


def _client_credentials(w: World) -> None:
    """The CA to phone1 and phone2; PKCS#12 files: frank, grace and ivan through the real
    `ikev2ctl pki issue`, henry's made here with a past date by the same CA."""
    ca_pem = pki_dir(w) / "ca.pem"
    shutil.copy(ca_pem, cmd(w).workdir / "ca.pem")
    shutil.copy(ca_pem, swan(w).swanctl_dir / "x509ca" / "ca.pem")
    for identity, kind in CERT_CLIENTS.items():
        p12 = swan(w).swanctl_dir / "pkcs12" / f"{_user(identity)}.p12"
        if kind == "expired":
            authority = PkiStore(pki_dir(w)).load_ca()
            past = dt.datetime.now(dt.UTC) - EXPIRED_AGE
            issued = pki.issue_client_cert(authority, identity, past, os.urandom)
            p12.write_bytes(pki.client_pkcs12(issued, authority.certificate, P12_PASSWORD.encode()))
            continue
        pki_command(w, "issue", identity, "--password", P12_PASSWORD)
        shutil.copy(pki_dir(w) / "clients" / f"{identity}.p12", p12)


def pki_dir(w: World) -> pathlib.Path:
    return pathlib.Path(w.config["pki_dir"])


def pki_command(w: World, *args: str) -> str:
    """The real `ikev2ctl pki --dir <ours> ARGS...` (offline: no daemon involved)."""
    return run(ctl_argv(None, "pki", "--dir", str(pki_dir(w)), *args), timeout=60).stdout


def use_mode(w: World, mode: str) -> None:
    """Have the daemon accept `mode` (eap or cert): rewrite its config and reload it."""
    w.reload({**w.config, "auth_mode": mode})


def charon_cmd_eap(w: World, *, ca: str = "ca.pem", user: str = "dave") -> None:
    """Start charon-cmd on phone1: EAP-MSCHAPv2 as `user` to the server BY NAME, trusting
    only the certificate file `ca` (its --cert)."""
    cmd(w).start("--host", SERVER_NAME, "--profile", "ikev2-eap", "--identity", user,
                "--cert", str(cmd(w).workdir / ca), "--remote-ts", LAN_NET,
                password=PASSWORDS[user])  # fmt: skip


def installed_vip(log: str) -> str:
    found = re.findall(r"installing new virtual IP (\d+\.\d+\.\d+\.\d+)", log)
    assert found, log[-3000:]
    assert ipaddress.ip_address(found[-1]) in POOL, found
    return found[-1]


def assert_pings_lan(w: World, phone: int) -> None:
    ns = w.topo.phones[phone - 1]
    ping = ns.ping(LAN_HOST, count=2, check=False)
    assert "2 received" in ping.stdout, f"phone{phone} -> {LAN_HOST}\n{ping.stdout}{w.logs()}"


def assert_server_verified_with_our_ca(log: str, w: World) -> None:
    """strongSwan checked our server certificate for SERVER_NAME up to our CA, and our
    signature with it."""
    ca_subject = PkiCa(w).subject
    assert f'using certificate "O=ikev2d, CN={SERVER_NAME}"' in log, log
    assert f'using trusted ca certificate "{ca_subject}"' in log, log
    assert "reached self-signed root ca with a path length of 0" in log, log
    assert re.search(rf"authentication of '{re.escape(SERVER_NAME)}' with \S+ successful", log), log


def failures_of(w: World, identity: str) -> list[dict]:
    """The failures `ikev2ctl status --json` lists for `identity`."""
    return [f for f in w.daemon.ctl_status_json()["failures"] if f["identity"] == identity]


def last_failure(w: World, identity: str) -> dict:
    mine = failures_of(w, identity)
    assert mine, dumps(w.daemon.status())
    return mine[-1]


class PkiCa:
    """Our generated CA as strongSwan prints it (its subject, RDNs in order)."""

    def __init__(self, w: World) -> None:
        cert = x509.load_pem_x509_certificate((pki_dir(w) / "ca.pem").read_bytes())
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
    server = x509.load_pem_x509_certificate((pki_dir(world) / "server.pem").read_bytes())
    ca = PkiCa(world).cert
    assert server.issuer == ca.subject
    server.verify_directly_issued_by(ca)
    san = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == [SERVER_NAME]
    ekus = server.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.SERVER_AUTH in ekus and pki.IKE_INTERMEDIATE in ekus
    assert (pki_dir(world) / "ca.key").stat().st_mode & 0o777 == 0o600
    assert (pki_dir(world) / "server.key").stat().st_mode & 0o777 == 0o600
    # phone2 trusts exactly this CA and nothing else
    assert [p.name for p in (swan(world).swanctl_dir / "x509ca").iterdir()] == ["ca.pem"]


# --- EAP: charon-cmd + swanctl at once; the PSK left in the configuration lets nobody in ------
def test_eap_clients_connect_at_once_and_a_psk_client_is_refused(clean):
    w = clean
    use_mode(w, "eap")
    # phone1: charon-cmd, phone2: swanctl EAP (carol), phone3: swanctl PSK, started together
    charon_cmd_eap(w)
    carol = swan(w).initiate_background("eap-carol", timeout=40)
    psk = w.phones[2].swanctl("--initiate", "--child", "psk", "--timeout", "30",
                              check=False, timeout=40)  # fmt: skip
    assert not psk.ok and "received AUTHENTICATION_FAILED notify error" in psk.out, psk.out
    assert "not accepted (auth_mode eap)" in last_failure(w, PSK_ID)["reason"]
    assert carol.wait(timeout=50) == 0, w.logs()
    cmd(w).wait_log(ESTABLISHED_CMD, timeout=50)

    vips = {
        "dave": installed_vip(cmd(w).log_text()),
        "carol": installed_vip(swan(w).log_text()),
    }
    assert len(set(vips.values())) == 2, vips
    clients = {c["identity"]: c["virtual_ip"] for c in w.clients()}
    assert clients == vips, dumps(w.clients()) + w.logs()
    for phone in (1, 2):
        assert_pings_lan(w, phone)

    # both EAP clients validated our certificate chain with our CA only, then did MSCHAPv2
    for log in (cmd(w).log_text(), swan(w).log_text()):
        assert_server_verified_with_our_ca(log, w)
        assert "EAP method EAP_MSCHAPV2 succeeded, MSK established" in log, log
    # charon-cmd connected by name: its peer is the name, resolved to the router
    assert re.search(rf"initiating IKE_SA cmd\[\d+\] to {re.escape(ROUTER_WAN)}", cmd(w).log_text())
    daemon_log = w.daemon.log_text()
    for secret in (*PASSWORDS.values(), PSK):
        assert secret not in daemon_log

    w.reset()
    w.assert_router_clean(10)


# --- the certificate-bearing IKE_AUTH response is fragmented -----------------------------------
def test_certificate_response_is_fragmented_and_reassembled(clean):
    """RSA-2048 certificate + signature + EAP-Identity: ~1.4 kB, more than fragment_size
    1280, so the first IKE_AUTH response goes out as several SKF datagrams (RFC 7383), each
    within 1280 bytes, which strongSwan reassembles."""
    w = clean
    use_mode(w, "eap")
    with w.topo.phones[1].raw_socket(17) as udp:
        drain(udp)
        out = swan(w).initiate("eap-carol", timeout=30)
        seen = ike_datagrams(drain(udp))
    assert re.search(r"CHILD_SA eap-carol\{\d+\} established", out), out + w.logs()

    responses = [d for d in seen if d.exchange == IKE_AUTH and d.response and d.message_id == 1]
    assert len(responses) >= 2, responses
    fragments = sorted(d.fragment for d in responses if d.fragment is not None)
    total = fragments[0][1]
    assert total >= 2 and fragments == [(n, total) for n in range(1, total + 1)], responses
    assert all(d.ip_length <= 1280 for d in responses), responses
    assert all(d.sport in (500, 4500) for d in responses)
    log = swan(w).log_text()
    assert f"received fragment #1 of {total}, waiting for complete IKE message" in log, log
    assert re.search(rf"received fragment #{total} of {total}, reassembled fragmented IKE "
                     r"message \(\d+ bytes\)", log), log  # fmt: skip
    assert_pings_lan(w, 2)


# --- trust: only our CA ----------------------------------------------------------------------
def test_client_trusting_another_ca_refuses_our_server(clean):
    """Control for the chain checks above: with a different CA as its only trust anchor,
    charon-cmd does not accept our server (so it really validates the chain)."""
    w = clean
    use_mode(w, "eap")
    decoy = pki.make_ca("decoy CA", dt.datetime.now(dt.UTC), os.urandom)
    (cmd(w).workdir / "decoy.pem").write_bytes(pki.cert_pem(decoy.certificate))
    charon_cmd_eap(w, ca="decoy.pem")
    cmd(w).wait_exit(timeout=40)
    log = cmd(w).log_text()
    assert f"no trusted RSA public key found for '{SERVER_NAME}'" in log, log
    assert "EAP method EAP_MSCHAPV2 succeeded" not in log
    # it said so: the daemon lists why, as a hint for the router owner
    wait_for(lambda: failures_of(w, "dave"), 10, "dave's failure in status", w.logs)
    assert "refused the server's authentication" in last_failure(w, "dave")["reason"]
    assert not w.clients()


# --- wrong password ----------------------------------------------------------------------------
def test_wrong_password_is_refused_and_leaves_nothing(clean):
    w = clean
    use_mode(w, "eap")
    out = swan(w).swanctl("--initiate", "--child", "eap-erin", "--timeout", "30",
                         check=False, timeout=40)  # fmt: skip

    assert not out.ok, out.out
    # our MSCHAPv2 Failure request (E=691, retry allowed) reached the client, which gave up
    log = swan(w).log_text()
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
    assert "retransmit" not in swan(w).log_text(), "our answer to its INFORMATIONAL was lost"


# --- certificate clients -----------------------------------------------------------------------
def connect_cert(w: World, identity: str) -> str:
    use_mode(w, "cert")
    out = swan(w).initiate(cert_conn_name(identity), timeout=30)
    conn = cert_conn_name(identity)
    assert re.search(rf"CHILD_SA {conn}\{{\d+\}} established", out), out + w.logs()
    return out


def refused_cert(w: World, identity: str) -> str:
    use_mode(w, "cert")
    conn = cert_conn_name(identity)
    out = swan(w).swanctl("--initiate", "--child", conn, "--timeout", "30",
                         check=False, timeout=40)  # fmt: skip
    assert not out.ok, out.out
    assert "received AUTHENTICATION_FAILED notify error" in out.out, out.out + w.logs()
    assert not w.clients() and w.router_xfrm() == "", w.router_xfrm() + w.logs()
    return out.out


def test_pkcs12_certificate_client_connects(clean):
    w = clean
    identity = "frank@example.test"
    out = connect_cert(w, identity)

    log = swan(w).log_text()
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
    w.assert_router_clean(10)

    said = pki_command(w, "revoke", identity)
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
    w.assert_router_clean(10)

    pki_command(w, "revoke", identity)
    w.daemon.ctl("reload")  # what `pki revoke` tells the owner to do
    refused_cert(w, identity)


def test_expired_certificate_is_refused(clean):
    w = clean
    identity = "henry@example.test"
    assert CERT_CLIENTS[identity] == "expired"
    refused_cert(w, identity)
    assert "expired" in last_failure(w, identity)["reason"]
