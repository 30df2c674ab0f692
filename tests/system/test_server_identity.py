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
from dataclasses import dataclass

import pytest
from cryptography import x509
from tunnel_world import PSK, SERVER_ESP, SERVER_IKE, wait_for

from harness import NetnsSet
from harness.ikev2d import Ikev2d, ctl_argv
from harness.proc import run
from harness.strongswan import Charon
from harness.topology import LAN_NET, NAT_OUTSIDE, ROUTER_WAN, build_road_warrior

pytestmark = pytest.mark.espvm

NAME = "vpn.example.test"
USER, PASSWORD = "dave", "d4ve-Secret-77"
CLIENT = "laptop@example.test"
P12_PASSWORD = "p12-Pass-4711"
# what the client asks for (None: no IDr) -> what it must be answered with
ASKED = {"ip": ROUTER_WAN, "name": NAME, "none": None}
ANSWERED = {"ip": ROUTER_WAN, "name": NAME, "none": NAME}  # none: the first local_id
METHODS = ("psk", "eap", "cert")


def _local(method: str) -> str:
    if method == "psk":
        return f"auth = psk\n      id = {CLIENT}"
    if method == "eap":
        return f"auth = eap-mschapv2\n      id = {USER}\n      eap_id = {USER}"
    return f"auth = pubkey\n      id = {CLIENT}"


def _conn(method: str, form: str) -> str:
    remote_auth = "psk" if method == "psk" else "pubkey"
    remote_id = f"\n      id = {ASKED[form]}" if ASKED[form] else ""
    return f"""  {method}-{form} {{
    version = 2
    remote_addrs = {ROUTER_WAN}
    vips = 0.0.0.0
    proposals = aes256-sha256-modp2048
    fragmentation = yes
    local {{
      {_local(method)}
    }}
    remote {{
      auth = {remote_auth}{remote_id}
    }}
    children {{
      {method}-{form} {{
        remote_ts = {LAN_NET}
        esp_proposals = aes256-sha256
      }}
    }}
  }}
"""


def swanctl_conf() -> str:
    conns = "".join(_conn(m, f) for m in METHODS for f in ASKED)
    return (
        f"connections {{\n{conns}}}\nsecrets {{\n"
        f'  ike-psk {{\n    id = {CLIENT}\n    secret = "{PSK}"\n  }}\n'
        f'  eap-{USER} {{\n    id = {USER}\n    secret = "{PASSWORD}"\n  }}\n'
        f'  pkcs12-laptop {{\n    file = laptop.p12\n    secret = "{P12_PASSWORD}"\n  }}\n}}\n'
    )


@dataclass
class IdentityWorld:
    netns: NetnsSet
    daemon: Ikev2d
    phone: Charon
    pki_dir: object
    mode: str = "eap"

    def use_mode(self, mode: str) -> None:
        """Have the daemon accept `mode` (auth_mode): rewrite its config and reload it."""
        if mode != self.mode:
            self.daemon.configure(**_server(self.pki_dir, mode))
            self.daemon.ctl("reload")
            self.mode = mode

    def logs(self) -> str:
        return (f"--- ikev2d.log ---\n{self.daemon.log_tail(60)}\n"
                f"--- charon.log ---\n{self.phone.log_tail(40)}")  # fmt: skip


def _pki(daemon: Ikev2d, pki_dir, *args: str) -> None:
    run(ctl_argv(daemon.control_socket, "pki", "--dir", str(pki_dir), *args), timeout=120)


def _server(pki_dir, mode: str) -> dict:
    return dict(
        users=[{"name": USER, "password": PASSWORD}], auth_mode=mode, psk=PSK,
        server_address=NAME, local_id_type="auto", local_id=[NAME, ROUTER_WAN],
        pki_dir=str(pki_dir), local_subnet=[LAN_NET], ike_proposal=SERVER_IKE,
        esp_proposal=SERVER_ESP,
    )  # fmt: skip


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("identity")
    netns = NetnsSet()
    try:
        topo = build_road_warrior(netns, phones=1)
        topo.router.ip("route", "replace", "default", "via", NAT_OUTSIDE)
        phone = Charon(topo.phones[0], workdir / "phone", netns)
        phone.launch()
        daemon = Ikev2d(topo.router, workdir / "ikev2d", netns)
        pki_dir = workdir / "pki"
        # an older install: the CA's server certificate names the name only
        _pki(daemon, pki_dir, "init", "--name", NAME, "--key-type", "ecdsa-p256")
        _pki(daemon, pki_dir, "issue", CLIENT, "--password", P12_PASSWORD,
             "--key-type", "ecdsa-p256")  # fmt: skip
        shutil.copy(pki_dir / "ca.pem", phone.swanctl_dir / "x509ca" / "ca.pem")
        shutil.copy(
            pki_dir / "clients" / f"{CLIENT}.p12", phone.swanctl_dir / "pkcs12" / "laptop.p12"
        )
        daemon.configure(**_server(pki_dir, "eap"))
        daemon.start()
        phone.write_swanctl_conf(swanctl_conf())
        phone.wait_ready()
        phone.load_all()
    except BaseException:
        netns.teardown()
        raise
    w = IdentityWorld(netns, daemon, phone, pki_dir)
    yield w
    daemon.cleanup()
    netns.teardown()


def test_the_older_certificate_was_reissued_to_name_the_address_too(world):
    log = world.daemon.log_text()
    assert f"reissued the server certificate so that it names {NAME}, {ROUTER_WAN}" in log, log
    cert = x509.load_pem_x509_certificate((world.pki_dir / "server.pem").read_bytes())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [str(a) for a in san.get_values_for_type(x509.IPAddress)] == [ROUTER_WAN]
    assert san.get_values_for_type(x509.DNSName) == [NAME, ROUTER_WAN]  # Windows: also dNSName


@pytest.mark.parametrize("form", list(ASKED))
@pytest.mark.parametrize("method", METHODS)
def test_client_is_answered_with_the_identity_it_asks_for(world, method, form):
    name = f"{method}-{form}"
    world.use_mode(method)
    try:
        out = world.phone.initiate(name, timeout=30)
        assert re.search(rf"CHILD_SA {name}\{{\d+\}} established", out), out + world.logs()
        sas = world.phone.list_sas()  # the identity strongSwan accepted for the server
        found = re.search(rf"^{name}: #\d+, ESTABLISHED.*?\n\s+remote '([^']*)'", sas,
                          flags=re.MULTILINE | re.DOTALL)  # fmt: skip
        assert found and found.group(1) == ANSWERED[form], sas + world.logs()
        if method != "psk":  # strongSwan checked our certificate for that identity
            assert re.search(rf"authentication of '{re.escape(ANSWERED[form])}' with \S+ "
                             "successful", out), out  # fmt: skip
    finally:
        world.phone.swanctl("--terminate", "--ike", name, "--force", check=False)
        wait_for(lambda: not world.daemon.status()["clients"], 10, "no client left", world.logs)
