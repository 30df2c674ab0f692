"""The server answers with the identity each client asks for (issue 14), against strongSwan
clients configured as each platform: remote id = the address (Android typed an IP), = the name
(Apple's RemoteIdentifier, Android typed a name), absent (Windows), for PSK, EAP-MSCHAPv2 and
certificates.

The PKI is an older install's: made before the start by `ikev2ctl pki init` for the name only.
The configuration lists the name and the address as local_id, so the daemon reissues the
server certificate (same CA) to name both before any client comes. The server accepts only
the method of auth_mode: each method's clients are served after a reload into that mode.

Run with:
    tests/espvm/run-in-esp-kernel .venv/bin/python -m pytest tests/system/test_server_identity.py
"""

from __future__ import annotations

import re
import shutil

import pytest
from cryptography import x509

from testbed.ikev2d import ctl_argv
from testbed.proc import run
from testbed.swanctl import PSK, Conn, swanctl_conf
from testbed.topology import LAN_NET, ROUTER_WAN
from testbed.world import SERVER_ESP, SERVER_IKE, Phone, World

pytestmark = pytest.mark.espvm

NAME = "vpn.example.test"
USER, PASSWORD = "dave", "d4ve-Secret-77"
CLIENT = "laptop@example.test"
P12_PASSWORD = "p12-Pass-4711"
# what the client asks for (None: no IDr) -> what it must be answered with
ASKED = {"ip": ROUTER_WAN, "name": NAME, "none": None}
ANSWERED = {"ip": ROUTER_WAN, "name": NAME, "none": NAME}  # none: the first local_id
METHODS = ("psk", "eap", "cert")
CREDENTIALS = {
    "psk": {"secret": PSK},
    "eap": {"auth": "eap-mschapv2", "secret": PASSWORD},
    "cert": {"auth": "pubkey", "p12": "laptop.p12", "secret": P12_PASSWORD},
}


def _conn(method: str, form: str) -> Conn:
    local_id = USER if method == "eap" else CLIENT
    return Conn(f"{method}-{form}", local_id, remote_id=ASKED[form], fragmentation=True,
                **CREDENTIALS[method])  # fmt: skip


def _pki(pki_dir, *args: str) -> None:
    """The real `ikev2ctl pki --dir DIR ARGS...` (offline: no daemon involved)."""
    run(ctl_argv(None, "pki", "--dir", str(pki_dir), *args), timeout=120)


def _server(pki_dir, mode: str) -> dict:
    return dict(
        users=[{"name": USER, "password": PASSWORD}], auth_mode=mode, psk=PSK,
        server_address=NAME, local_id_type="auto", local_id=[NAME, ROUTER_WAN],
        pki_dir=str(pki_dir), local_subnet=[LAN_NET], ike_proposal=SERVER_IKE,
        esp_proposal=SERVER_ESP,
    )  # fmt: skip


@pytest.fixture(scope="module")
def pki_dir(tmp_path_factory):
    """An older install's PKI: the CA's server certificate names the name only."""
    pki_dir = tmp_path_factory.mktemp("pki") / "pki"
    _pki(pki_dir, "init", "--name", NAME, "--key-type", "ecdsa-p256")
    _pki(pki_dir, "issue", CLIENT, "--password", P12_PASSWORD, "--key-type", "ecdsa-p256")
    return pki_dir


@pytest.fixture(scope="module")
def world(tmp_path_factory, pki_dir):
    with World.build(tmp_path_factory.mktemp("identity"), [Phone()]) as w:
        phone = w.phones[0]
        shutil.copy(pki_dir / "ca.pem", phone.swanctl_dir / "x509ca" / "ca.pem")
        shutil.copy(
            pki_dir / "clients" / f"{CLIENT}.p12", phone.swanctl_dir / "pkcs12" / "laptop.p12"
        )
        phone.write_swanctl_conf(swanctl_conf(_conn(m, f) for m in METHODS for f in ASKED))
        phone.load_all()
        w.use(_server(pki_dir, "eap"))
        yield w


def test_the_older_certificate_was_reissued_to_name_the_address_too(world, pki_dir):
    log = world.daemon.log_text()
    assert f"reissued the server certificate so that it names {NAME}, {ROUTER_WAN}" in log, log
    cert = x509.load_pem_x509_certificate((pki_dir / "server.pem").read_bytes())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [str(a) for a in san.get_values_for_type(x509.IPAddress)] == [ROUTER_WAN]
    assert san.get_values_for_type(x509.DNSName) == [NAME, ROUTER_WAN]  # Windows: also dNSName


@pytest.mark.parametrize("form", list(ASKED))
@pytest.mark.parametrize("method", METHODS)
def test_client_is_answered_with_the_identity_it_asks_for(clean, pki_dir, method, form):
    w, name = clean, f"{method}-{form}"
    w.reload(_server(pki_dir, method))  # the server accepts only the method of auth_mode
    out = w.phones[0].initiate(name, timeout=30)
    assert re.search(rf"CHILD_SA {name}\{{\d+\}} established", out), out + w.logs()
    sas = w.phones[0].list_sas()  # the identity strongSwan accepted for the server
    found = re.search(rf"^{name}: #\d+, ESTABLISHED.*?\n\s+remote '([^']*)'", sas,
                      flags=re.MULTILINE | re.DOTALL)  # fmt: skip
    assert found and found.group(1) == ANSWERED[form], sas + w.logs()
    if method != "psk":  # strongSwan checked our certificate for that identity
        assert re.search(rf"authentication of '{re.escape(ANSWERED[form])}' with \S+ "
                         "successful", out), out  # fmt: skip
