"""Generated client profiles really connect: their proposals and identities, fed to a strongSwan
client (kernel ESP), establish a tunnel to our daemon that carries traffic (issue 7).

The .mobileconfig's single IKE/Child proposal is translated back from Apple's names to
strongSwan keywords, with its RemoteIdentifier/LocalIdentifier/SharedSecret; the Android card's
server address, IPsec identifier and key are used the way Android's built-in client does (the
server address as the server's ID, an Android-like offer with MODP4096 first).

Run with: tests/espvm/run-in-esp-kernel .venv/bin/python -m pytest tests/system -q
"""

from __future__ import annotations

import json
import plistlib
import re

import pytest

from ikev2d.policy.config import from_mapping
from ikev2d.profiles import render_profile
from ikev2d.profiles.suites import APPLE
from testbed.probes import dumps
from testbed.swanctl import Conn
from testbed.topology import LAN_HOST, ROUTER_WAN
from testbed.world import MAIN_CONFIG, Phone, World

pytestmark = pytest.mark.espvm

APPLE_CONFIG = {**MAIN_CONFIG, "server_address": ROUTER_WAN}
GCM_CONFIG = {
    **APPLE_CONFIG,
    "ike_proposal": ["aes256gcm16-prfsha384-curve25519", "aes256-sha256-modp2048"],
    "esp_proposal": ["aes256gcm16", "aes256-sha256"],
}
# Android's built-in client takes the server address as the server's ID: no local_id
ANDROID_CONFIG = {k: v for k, v in APPLE_CONFIG.items() if k not in ("local_id", "local_id_type")}
ANDROID_OFFER = "aes256-sha256-modp4096-curve25519-modp3072-modp2048"


def _reverse(table: dict) -> dict:
    return {v: k for k, v in table.items()}


def apple_to_strongswan(ikev2: dict) -> tuple[str, str]:
    """(IKE, ESP) proposal strings from the profile's single IKE/Child SA parameters."""
    encr, integ = _reverse(APPLE.encr), _reverse(APPLE.integ)
    groups = _reverse(APPLE.ke)
    ike_p, child_p = (
        ikev2["IKESecurityAssociationParameters"],
        ikev2["ChildSecurityAssociationParameters"],
    )
    e = encr[ike_p["EncryptionAlgorithm"]]
    h = integ[ike_p["IntegrityAlgorithm"]]
    middle = f"prf{h}" if "gcm" in e or "chacha" in e else h
    ike = f"{e}-{middle}-{groups[ike_p['DiffieHellmanGroup']]}"
    ce = encr[child_p["EncryptionAlgorithm"]]
    esp = ce if ("gcm" in ce or "chacha" in ce) else f"{ce}-{integ[child_p['IntegrityAlgorithm']]}"
    return ike, esp


def mobileconfig_conn(name: str, server: dict) -> Conn:
    cfg = from_mapping({"server": server})
    doc = plistlib.loads(render_profile(cfg, "ios", f"{name}@example.test").data)
    [vpn] = [p for p in doc["PayloadContent"] if p["PayloadType"] == "com.apple.vpn.managed"]
    ikev2 = vpn["IKEv2"]
    assert ikev2["RemoteAddress"] == ROUTER_WAN
    ike, esp = apple_to_strongswan(ikev2)
    return Conn(
        name, ikev2["LocalIdentifier"], remote_id=ikev2["RemoteIdentifier"], proposals=ike,
        esp=esp, secret=ikev2["SharedSecret"],
    )  # fmt: skip


def android_conn(name: str, server: dict) -> Conn:
    card = json.loads(render_profile(from_mapping({"server": server}), "android", name).data)
    assert card["warnings"] == [], card
    fields = {f["label"]: f["value"] for f in card["fields"]}
    return Conn(
        name, fields["IPsec identifier"], remote_id=fields["Server address"],
        proposals=ANDROID_OFFER, esp="aes256-sha256", secret=fields["IPsec pre-shared key"],
    )  # fmt: skip


CASES = {
    "ios-default": (APPLE_CONFIG, mobileconfig_conn("iosdef", APPLE_CONFIG)),
    "ios-gcm": (GCM_CONFIG, mobileconfig_conn("iosgcm", GCM_CONFIG)),
    "android-card": (ANDROID_CONFIG, android_conn("android", ANDROID_CONFIG)),
}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    phones = [Phone([c for _, c in CASES.values()])]
    with World.build(tmp_path_factory.mktemp("profiles"), phones) as w:
        yield w


def test_translation_of_the_profiles():
    assert CASES["ios-default"][1].proposals == "aes256-sha256-modp2048"
    assert CASES["ios-default"][1].esp == "aes256-sha256"
    assert CASES["ios-default"][1].remote_id == "vpn.example.test"
    assert CASES["ios-gcm"][1].proposals == "aes256gcm16-prfsha384-curve25519"
    assert CASES["ios-gcm"][1].esp == "aes256gcm16"
    assert CASES["android-card"][1].remote_id == ROUTER_WAN


@pytest.mark.parametrize("case", list(CASES))
def test_profile_connects_and_carries_traffic(clean, case):
    config, conn = CASES[case]
    w = clean
    w.use(config)
    out = w.phones[0].initiate(conn.name)
    assert re.search(rf"CHILD_SA {conn.name}\{{\d+\}} established", out), out + w.logs()
    clients = w.wait_for(w.clients, 5, "daemon lists the client")
    assert clients[0]["identity"] == conn.local_id, dumps(clients)
    ping = w.topo.phone.ping(LAN_HOST, count=1, check=False)
    assert "1 received" in ping.stdout, ping.stdout + w.logs()
