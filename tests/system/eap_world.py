"""Shared set-up of the EAP and certificate system tests (issue 5).

One road-warrior topology with three phones and ONE ikev2d serving all of them (auth_mode
eap, a PSK too, users, its PKI in a temp dir that the daemon creates on its first start;
`use_mode("cert")` reloads it with auth_mode cert for the certificate clients: the server
accepts only the method of auth_mode):

    phone1  charon-cmd --profile ikev2-eap (dave), trusting only our CA (--cert ca.pem),
            connecting to the server by name (vpn.example.test, from its own /etc/hosts)
    phone2  charon + swanctl: EAP-MSCHAPv2 users (carol; erin with a wrong password) with the
            CA only in swanctl/x509ca/, and certificate clients loaded from PKCS#12 files in
            swanctl/pkcs12/: frank (`ikev2ctl pki issue`), grace and ivan (issued, later
            revoked), henry (issued by the same CA three years ago: expired)
    phone3  charon + swanctl: a PSK client

Every charon runs kernel-netlink (real kernel ESP); the world is built once per module.
"""

from __future__ import annotations

import datetime as dt
import os
import pathlib
import re
import shutil
import struct
from dataclasses import dataclass

from tunnel_world import PSK, SERVER_ESP, SERVER_IKE, client_xfrm, swanctl_conf, wait_for

from harness import NetnsSet
from harness.charon_cmd import CharonCmd
from harness.ikev2d import Ikev2d
from harness.proc import run
from harness.strongswan import Charon
from harness.topology import LAN_NET, NAT_OUTSIDE, ROUTER_WAN, RoadWarrior, build_road_warrior
from ikev2d.auth import ca as pki
from ikev2d.pki_files import PkiStore

__all__ = [
    "CERT_CLIENTS",
    "CONFIG_BASE",
    "P12_PASSWORD",
    "PASSWORDS",
    "PSK_ID",
    "SERVER_NAME",
    "WRONG_PASSWORD",
    "EapWorld",
    "IkeDatagram",
    "cert_conn_name",
    "ike_datagrams",
]

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
}
USERS = [{"name": name, "password": pw} for name, pw in PASSWORDS.items()]


def _eap_conn(name: str, user: str) -> str:
    return f"""  {name} {{
    version = 2
    remote_addrs = {ROUTER_WAN}
    vips = 0.0.0.0
    proposals = aes256-sha256-modp2048
    fragmentation = yes
    local {{
      auth = eap-mschapv2
      id = {user}
      eap_id = {user}
    }}
    remote {{
      auth = pubkey
      id = {SERVER_NAME}
    }}
    children {{
      {name} {{
        remote_ts = {LAN_NET}
        esp_proposals = aes256gcm16
      }}
    }}
  }}
"""


def _cert_conn(name: str, identity: str) -> str:
    return f"""  {name} {{
    version = 2
    remote_addrs = {ROUTER_WAN}
    vips = 0.0.0.0
    proposals = aes256gcm16-prfsha384-curve25519
    fragmentation = yes
    local {{
      auth = pubkey
      id = {identity}
    }}
    remote {{
      auth = pubkey
      id = {SERVER_NAME}
    }}
    children {{
      {name} {{
        remote_ts = {LAN_NET}
        esp_proposals = aes256-sha256
      }}
    }}
  }}
"""


def cert_conn_name(identity: str) -> str:
    return "cert-" + identity.split("@")[0]


def phone2_swanctl() -> str:
    """EAP users (the wrong password for erin) and the certificate clients."""
    conns = _eap_conn("eap-carol", "carol") + _eap_conn("eap-erin", "erin")
    conns += "".join(_cert_conn(cert_conn_name(i), i) for i in CERT_CLIENTS)
    secrets = (
        f'  eap-carol {{\n    id = carol\n    secret = "{PASSWORDS["carol"]}"\n  }}\n'
        f'  eap-erin {{\n    id = erin\n    secret = "{WRONG_PASSWORD}"\n  }}\n'
    )
    for identity in CERT_CLIENTS:
        user = identity.split("@")[0]
        secrets += (
            f'  pkcs12-{user} {{\n    file = {user}.p12\n    secret = "{P12_PASSWORD}"\n  }}\n'
        )
    return f"connections {{\n{conns}}}\nsecrets {{\n{secrets}}}\n"


@dataclass
class EapWorld:
    netns: NetnsSet
    topo: RoadWarrior
    daemon: Ikev2d
    pki_dir: pathlib.Path
    cmd: CharonCmd  # phone1
    swan: Charon  # phone2
    psk_phone: Charon  # phone3
    config: dict

    @classmethod
    def build(cls, workdir: pathlib.Path, root: pathlib.Path | None = None) -> EapWorld:
        """`root`: phone2's and phone3's strongSwan from that root (strongSwan 6); phone1's
        charon-cmd is always this machine's."""
        from tunnel_world import ClientConn

        netns = NetnsSet()
        try:
            topo = build_road_warrior(netns, phones=3)
            topo.router.ip("route", "replace", "default", "via", NAT_OUTSIDE)
            swan = Charon(topo.phones[1], workdir / "phone2", netns, root=root)
            psk_phone = Charon(topo.phones[2], workdir / "phone3", netns, root=root)
            swan.launch()
            psk_phone.write_swanctl_conf(swanctl_conf([ClientConn("psk", PSK_ID)]))
            psk_phone.launch()
            pki_dir = workdir / "pki"  # does not exist yet: the daemon creates it
            config = {**CONFIG_BASE, "pki_dir": str(pki_dir)}
            daemon = Ikev2d(topo.router, workdir / "ikev2d", netns)
            daemon.configure(users=USERS, **config)
            daemon.start()
            cmd = CharonCmd(topo.phones[0], workdir / "phone1", netns,
                            hosts={SERVER_NAME: ROUTER_WAN})  # fmt: skip
            world = cls(netns, topo, daemon, pki_dir, cmd, swan, psk_phone, config)
            world._client_credentials()
            swan.write_swanctl_conf(phone2_swanctl())
            for charon in (swan, psk_phone):
                charon.wait_ready()
                charon.load_all()
        except BaseException:
            netns.teardown()
            raise
        return world

    def _client_credentials(self) -> None:
        """The CA to phone1 and phone2; PKCS#12 files: frank and grace through the real
        `ikev2ctl pki issue`, henry's made here with a past date by the same CA."""
        ca_pem = self.pki_dir / "ca.pem"
        shutil.copy(ca_pem, self.cmd.workdir / "ca.pem")
        shutil.copy(ca_pem, self.swan.swanctl_dir / "x509ca" / "ca.pem")
        target = self.swan.swanctl_dir / "pkcs12"
        for identity, kind in CERT_CLIENTS.items():
            user = identity.split("@")[0]
            if kind == "expired":
                authority = PkiStore(self.pki_dir).load_ca()
                past = dt.datetime.now(dt.UTC) - EXPIRED_AGE
                issued = pki.issue_client_cert(authority, identity, past, os.urandom)
                p12 = pki.client_pkcs12(issued, authority.certificate, P12_PASSWORD.encode())
                (target / f"{user}.p12").write_bytes(p12)
                continue
            self.pki("issue", identity, "--password", P12_PASSWORD)
            shutil.copy(self.pki_dir / "clients" / f"{identity}.p12", target / f"{user}.p12")

    def use_mode(self, mode: str) -> None:
        """Have the daemon accept `mode` (eap or cert): rewrite its config and reload it."""
        if self.config["auth_mode"] == mode:
            return
        self.config = {**self.config, "auth_mode": mode}
        self.daemon.configure(users=USERS, **self.config)
        self.daemon.ctl("reload")

    def pki(self, *args: str) -> str:
        """The real `ikev2ctl pki --dir <ours> ARGS...` (offline: no daemon involved)."""
        from harness.ikev2d import ctl_argv

        argv = ctl_argv(self.daemon.control_socket, "pki", "--dir", str(self.pki_dir), *args)
        return run(argv, timeout=60).stdout

    def teardown(self) -> None:
        self.cmd.stop()
        self.daemon.cleanup()
        self.netns.teardown()

    # --- state probes
    def clients(self) -> list[dict]:
        return self.daemon.status()["clients"]

    def router_xfrm(self) -> str:
        return client_xfrm(self.topo.router)

    def reset(self) -> None:
        """No client left: charon-cmd stopped, every swanctl IKE SA terminated (forced)."""
        self.cmd.stop()
        for charon in (self.swan, self.psk_phone):
            for ike_id in re.findall(r"^\S+: #(\d+),", charon.list_sas(), flags=re.MULTILINE):
                charon.swanctl("--terminate", "--ike-id", ike_id, "--force", check=False)

    def assert_router_clean(self, timeout: float = 10.0) -> None:
        wait_for(lambda: not self.clients(), timeout, "daemon has no client", self.logs)
        wait_for(lambda: not self.router_xfrm(), timeout, "router XFRM state/policy empty",
                 lambda: self.router_xfrm() + "\n" + self.logs())  # fmt: skip

    def logs(self) -> str:
        return "\n".join([
            f"--- ikev2d.log ---\n{self.daemon.log_tail(80)}",
            f"--- charon-cmd phone1 ---\n{self.cmd.log_tail(40)}",
            f"--- charon.log phone2 ---\n{self.swan.log_tail(40)}",
            f"--- charon.log phone3 ---\n{self.psk_phone.log_tail(20)}",
        ])  # fmt: skip


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
