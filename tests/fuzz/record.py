"""Re-record the fuzzer's seeds from Debian's strongSwan (needs root): `scripts/record-fuzz-seeds`.

Each scenario starts one charon (kernel-libipsec: ESP in userspace, so this machine's kernel
needs no ESP) in a phone namespace, talking to our responder behind real UDP sockets in a
router namespace (`fuzz.recorder.Pump`), drives it with swanctl and daemon commands, and saves
what the client sent as tests/fuzz/seeds/<scenario>.json. libipsec fakes the client's NAT
detection, so every seed is a client "behind NAT" that floats to port 4500.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import os
import pathlib
import random
import socket
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from ikev2d.auth import ca as pki
from ikev2d.wire.enums import ExchangeType
from testbed import NetnsSet
from testbed.proc import wait_until
from testbed.strongswan import KERNEL_LIBIPSEC, Charon, strongswan6_root

from .recorder import Pump, to_steps
from .seeds import SEEDS, Seed, save_seed
from .target import Target, make_responder

PHONE, ROUTER, MOVED = "192.0.2.2", "192.0.2.1", "192.0.2.42"
PHONE6, ROUTER6 = "2001:db8:1::2", "2001:db8:1::1"
SERVER_ID = "vpn.example.test"
PSK = "fuzz-Seed-Psk-4711-Qx9"
USER, PASSWORD = "dave", "d4ve-Secret-77"
CLIENT_ID = "phone@example.test"
CHARON_FAST = (
    "threads = 16\n  retransmit_timeout = 1.0\n  retransmit_base = 1.4\n  retransmit_tries = 4"
)

BASE_SERVER = {
    "enabled": True, "psk": PSK, "auth_mode": "psk", "local_id_type": "fqdn",
    "local_id": SERVER_ID, "local_subnet": ["192.168.1.0/24"], "dns": ["192.168.1.1"],
    "ike_proposal": ["aes256-sha256-modp2048", "aes256gcm16-prfsha384-curve25519",
                     "chacha20poly1305-prfsha256-curve25519"],
    "esp_proposal": ["aes256-sha256", "aes256gcm16", "chacha20poly1305"],
}  # fmt: skip


@dataclass
class Scenario:
    name: str
    description: str
    server: dict
    local: str  # swanctl "local { }" body
    proposals: str
    esp: str
    actions: Callable[[Recording], None]
    charon_conf: str = ""
    extra_conn: str = ""
    users: list = field(default_factory=list)
    strongswan6: bool = False  # the chrooted strongSwan 6 (ML-KEM) instead of this machine's
    ipv6: bool = False  # IKE over IPv6, and an IPv6 address inside the tunnel too

    @property
    def addresses(self) -> tuple[str, str, str]:
        """(phone, router, prefix length) of the link between them."""
        return (PHONE6, ROUTER6, "64") if self.ipv6 else (PHONE, ROUTER, "24")


@dataclass
class Recording:
    """One scenario being recorded: the client, the pump, the phone namespace."""

    swan: Charon
    pump: Pump
    phone: object
    mark: int = 0  # transcript length when the last action started

    def swanctl(self, *args: str) -> str:
        self.mark = len(self.pump.records)
        return self.swan.swanctl(*args).out

    def command(self, name: str) -> None:
        self.mark = len(self.pump.records)
        self.pump.command(name)

    def wait_for(self, exchange: int, count: int = 1, timeout: float = 15.0, **fields) -> None:
        """Until `count` client messages of `exchange` (with these header fields) arrived
        since the last action started."""
        from ikev2d.wire.message import peek_header

        def matching() -> int:
            n = 0
            for rec in list(self.pump.records)[self.mark :]:
                if rec.kind != "in":
                    continue
                h = peek_header(rec.data)
                if h.exchange == exchange and all(getattr(h, k) == v for k, v in fields.items()):
                    n += 1
            return n

        wait_until(lambda: matching() >= count, timeout, what=f"exchange {exchange} x{count}")

    def settle(self, seconds: float = 0.5) -> None:
        time.sleep(seconds)


def _conn(sc: Scenario) -> str:
    return f"""connections {{
  fuzz {{
    version = 2
    remote_addrs = {sc.addresses[1]}
    vips = {"0.0.0.0,::" if sc.ipv6 else "0.0.0.0"}
    proposals = {sc.proposals}
    fragmentation = yes
    mobike = yes
    dpd_delay = 3s
{sc.extra_conn}    local {{
{sc.local}
    }}
    remote {{
      auth = {"psk" if "psk" in sc.local else "pubkey"}
      id = {SERVER_ID}
    }}
    children {{
      fuzz {{
        remote_ts = 192.168.1.0/25{",fd00:1::/64" if sc.ipv6 else ""}
        esp_proposals = {sc.esp}
      }}
      extra {{
        remote_ts = 192.168.1.128/25
        esp_proposals = {sc.esp}
      }}
    }}
  }}
}}
secrets {{
  ike-psk {{
    secret = "{PSK}"
  }}
  eap-{USER} {{
    id = {USER}
    secret = "{PASSWORD}"
  }}
}}
"""


# -- the scenarios ---------------------------------------------------------------------------
def psk_lifecycle(s: Recording) -> None:
    s.swanctl("--initiate", "--child", "fuzz", "--timeout", "15")
    s.wait_for(ExchangeType.INFORMATIONAL, response=False)  # the client's DPD
    s.swanctl("--rekey", "--child", "fuzz")
    s.wait_for(ExchangeType.INFORMATIONAL, response=False)  # it deletes the old Child SA
    s.swanctl("--rekey", "--ike", "fuzz")
    s.wait_for(ExchangeType.INFORMATIONAL, response=False)  # it deletes the old IKE SA
    s.swanctl("--initiate", "--child", "extra", "--timeout", "15")
    s.swanctl("--terminate", "--child", "extra", "--timeout", "15")
    s.phone.run(["sh", "-c", "echo 1 > /proc/sys/net/ipv4/conf/wan0/promote_secondaries"])
    s.mark = len(s.pump.records)
    s.phone.batch([f"addr add {MOVED}/24 dev wan0", f"addr del {PHONE}/24 dev wan0"])
    s.wait_for(ExchangeType.INFORMATIONAL, response=False, timeout=20)  # UPDATE_SA_ADDRESSES
    s.settle(1.0)
    s.command("expire-soft")  # our own Child SA rekey
    s.wait_for(ExchangeType.CREATE_CHILD_SA, response=True)
    s.wait_for(ExchangeType.INFORMATIONAL, response=True)  # to our Delete of the old one
    s.swanctl("--terminate", "--ike", "fuzz", "--timeout", "15")
    s.settle()


def eap_pfs(s: Recording) -> None:
    s.swanctl("--initiate", "--child", "fuzz", "--timeout", "15")
    s.swanctl("--rekey", "--child", "fuzz")
    s.wait_for(ExchangeType.INFORMATIONAL, response=False)
    s.swanctl("--terminate", "--ike", "fuzz", "--timeout", "15")
    s.settle()


def cert_fragments(s: Recording) -> None:
    s.swanctl("--initiate", "--child", "fuzz", "--timeout", "15")
    s.swanctl("--rekey", "--ike", "fuzz")
    s.wait_for(ExchangeType.INFORMATIONAL, response=False)
    s.swanctl("--terminate", "--ike", "fuzz", "--timeout", "15")
    s.settle()


def server_initiated(s: Recording) -> None:
    s.swanctl("--initiate", "--child", "fuzz", "--timeout", "15")
    s.mark = len(s.pump.records)
    s.pump.jump(61)  # past child_lifetime: we rekey the Child SA
    s.wait_for(ExchangeType.INFORMATIONAL, response=True)  # our Delete of the old one answered
    s.mark = len(s.pump.records)
    s.pump.jump(61)  # past ike_lifetime: we rekey the IKE SA
    s.wait_for(ExchangeType.INFORMATIONAL, response=True)
    s.settle()
    s.command("disconnect")
    s.wait_for(ExchangeType.INFORMATIONAL, response=True)
    s.settle()


def ipv6(s: Recording) -> None:
    s.swanctl("--initiate", "--child", "fuzz", "--timeout", "15")
    s.swanctl("--rekey", "--child", "fuzz")
    s.wait_for(ExchangeType.INFORMATIONAL, response=False)
    s.swanctl("--initiate", "--child", "extra", "--timeout", "15")
    s.swanctl("--terminate", "--ike", "fuzz", "--timeout", "15")
    s.settle()


def mlkem(s: Recording) -> None:
    s.swanctl("--initiate", "--child", "fuzz", "--timeout", "15")
    s.swanctl("--rekey", "--child", "fuzz")
    s.wait_for(ExchangeType.INFORMATIONAL, response=False)
    s.swanctl("--rekey", "--ike", "fuzz")
    s.wait_for(ExchangeType.INFORMATIONAL, response=False)
    s.swanctl("--terminate", "--ike", "fuzz", "--timeout", "15")
    s.settle()


SCENARIOS = [
    Scenario(
        "psk-lifecycle",
        "PSK client (aes256-sha256-modp2048): IKE_SA_INIT, IKE_AUTH with CP, DPD, Child rekey, "
        "IKE rekey, a second Child SA created and deleted, MOBIKE address update, our own "
        "Child rekey and Delete answered, Delete of the IKE SA",
        {}, f"      auth = psk\n      id = {CLIENT_ID}", "aes256-sha256-modp2048",
        "aes256-sha256", psk_lifecycle,
    ),
    Scenario(
        "eap-mschapv2",
        "EAP-MSCHAPv2 client against a server certificate (EAP rounds; our IKE_AUTH answer "
        "in fragments), Child rekey with PFS (KE in CREATE_CHILD_SA), Delete",
        {"auth_mode": "eap", "esp_proposal": ["aes256-sha256-modp2048", "aes256-sha256"],
         "fragment_size": 576},
        f"      auth = eap-mschapv2\n      id = {USER}\n      eap_id = {USER}",
        "aes256-sha256-modp2048", "aes256-sha256-modp2048", eap_pfs,
        users=[{"name": USER, "password": PASSWORD}],
    ),
    Scenario(
        "cert-fragments",
        "certificate client (RSA, AES-GCM, curve25519) whose IKE_AUTH comes in SKF fragments "
        "(fragment_size 576, ours too), IKE rekey, Delete",
        {"auth_mode": "cert", "fragment_size": 576},
        f"      auth = pubkey\n      id = {CLIENT_ID}\n      certs = client.pem",
        "aes256gcm16-prfsha384-curve25519", "aes256gcm16",
        cert_fragments, charon_conf="fragment_size = 576",
    ),
    Scenario(
        "cookie-invalid-ke",
        "PSK client under cookie protection (cookie_threshold 0) offering a group we do not "
        "take first (COOKIE, INVALID_KE_PAYLOAD, then ChaCha20-Poly1305), then our own Child "
        "and IKE rekeys by lifetime, our DPD, and our Delete (disconnect)",
        {"cookie_threshold": 0, "child_lifetime": 60, "ike_lifetime": 120,
         "ike_proposal": ["chacha20poly1305-prfsha256-curve25519"]},
        f"      auth = psk\n      id = {CLIENT_ID}",
        "chacha20poly1305-prfsha256-ecp256,chacha20poly1305-prfsha256-curve25519",
        "chacha20poly1305", server_initiated,
    ),
    Scenario(
        "mlkem-intermediate",
        "strongSwan 6 client with ML-KEM-768 next to x25519 (RFC 9370): IKE_SA_INIT with "
        "ADDKE1, an IKE_INTERMEDIATE round in fragments, IKE_AUTH covering IntAuth, Child and "
        "IKE rekeys each followed by IKE_FOLLOWUP_KE, Delete",
        {"ike_proposal": ["aes256-sha256-curve25519"],
         "esp_proposal": ["aes256gcm16-curve25519", "aes256gcm16"]},
        f"      auth = psk\n      id = {CLIENT_ID}", "aes256-sha256-x25519-ke1_mlkem768",
        "aes256gcm16-x25519-ke1_mlkem768", mlkem, strongswan6=True,
    ),
    Scenario(
        "ipv6-dual-stack",
        "PSK client over IPv6 asking for an IPv4 and an IPv6 address (CP), IPv4 and IPv6 "
        "traffic selectors, Child rekey, a second Child SA, Delete",
        {"pool6": "fd00:99::/64", "local_subnet": ["192.168.1.0/24", "fd00:1::/64"],
         "ike_proposal": ["aes256gcm16-prfsha256-ecp256"],
         "dns": ["192.168.1.1", "fd00:1::1"]},
        f"      auth = psk\n      id = {CLIENT_ID}", "aes256gcm16-prfsha256-ecp256",
        "aes256gcm16", ipv6, ipv6=True,
    ),
]  # fmt: skip


# -- running one ---------------------------------------------------------------------------
def make_pki() -> dict:
    now = dt.datetime.now(dt.UTC)
    rng = os.urandom
    ca = pki.make_ca("ikev2d fuzz CA", now, rng, key_type="ecdsa-p256")
    server = pki.issue_server_cert(ca, [SERVER_ID], now, rng, "ecdsa-p256")
    client = pki.issue_client_cert(ca, CLIENT_ID, now, rng, "rsa2048")
    return {
        "ca": pki.cert_pem(ca.certificate).decode(),
        "server_cert": pki.cert_pem(server.certificate).decode(),
        "server_key": pki.key_pem(server.private_key).decode(),
        "client_cert": pki.cert_pem(client.certificate).decode(),
        "client_key": pki.key_pem(client.private_key).decode(),
    }


def record(sc: Scenario, workdir: pathlib.Path, pem: dict) -> Seed:
    seed = Seed(sc.name, sc.description,
                {"server": {**BASE_SERVER, **sc.server}, "user": sc.users}, (),
                wall_clock=time.time(), psk=PSK, password=PASSWORD, pem=pem)  # fmt: skip
    with NetnsSet() as nss:
        phone, router = nss.add("ph"), nss.add("rt")
        nss.veth(phone, "wan0", router, "wan0")
        phone_ip, router_ip, plen = sc.addresses
        for ns, ip in ((phone, phone_ip), (router, router_ip)):
            ns.ip("addr", "add", f"{ip}/{plen}", "dev", "wan0", "nodad")
        family = socket.AF_INET6 if sc.ipv6 else socket.AF_INET
        socks = {(router_ip, p): router.udp_socket(router_ip, p, family) for p in (500, 4500)}
        responder = make_responder(seed, random.Random(1).randbytes, time.time, export_keys=True)
        pump = Pump(Target(responder), socks, 4500)
        swan = Charon(phone, workdir / sc.name, nss, plugins=KERNEL_LIBIPSEC,
                      extra_conf=f"{CHARON_FAST}\n  {sc.charon_conf}",
                      root=strongswan6_root() if sc.strongswan6 else None)  # fmt: skip
        (swan.swanctl_dir / "x509ca" / "ca.pem").write_text(pem["ca"])
        (swan.swanctl_dir / "x509" / "client.pem").write_text(pem["client_cert"])
        (swan.swanctl_dir / "private" / "client.pem").write_text(pem["client_key"])
        swan.write_swanctl_conf(_conn(sc))
        pump.start()
        try:
            swan.start()
            swan.load_all()
            sc.actions(Recording(swan, pump, phone))
        except BaseException:
            print("\n".join(pump.log[-30:]), file=sys.stderr)
            print(swan.log_tail(60), file=sys.stderr)
            raise
        finally:
            pump.stop()
            swan.stop()
            for s in socks.values():
                s.close()
    steps, spis = to_steps(pump.records, pump.keys)
    return dataclasses.replace(seed, steps=tuple(steps), spis=tuple(spis))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenarios", nargs="*", help="names (default: all)")
    parser.add_argument("--out", type=pathlib.Path, default=SEEDS)
    args = parser.parse_args(argv)
    chosen = [s for s in SCENARIOS if not args.scenarios or s.name in args.scenarios]
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="fuzz-record-") as tmp:
        pem = make_pki()
        for sc in chosen:
            seed = record(sc, pathlib.Path(tmp), pem)
            path = args.out / f"{sc.name}.json"
            save_seed(seed, path)
            kinds = [s.kind if s.kind != "sealed" else f"sealed:{s.exchange}" for s in seed.steps]
            print(f"{path}: {len(seed.steps)} steps ({', '.join(kinds)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
