"""strongSwan .sswan JSON and the Android built-in client's card (with its QR code)."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess

import pytest
from cryptography import x509
from profiles_support import PSK, make_config

from ikev2d.profiles import ProfileError, render_profile
from ikev2d.profiles.qr import QrError, qr_matrix, qr_svg


def test_sswan_eap(eap_config, ca_pem):
    prof = render_profile(eap_config, "android-sswan", "alice", ca_pem=ca_pem)
    assert prof.mime == "application/vnd.strongswan.profile"
    assert prof.filename.endswith(".sswan")
    doc = json.loads(prof.data)
    assert doc["type"] == "ikev2-eap"
    assert doc["remote"]["addr"] == doc["remote"]["id"] == "vpn.example.com"
    cert = x509.load_der_x509_certificate(base64.b64decode(doc["remote"]["cert"]))
    assert cert == x509.load_pem_x509_certificate(ca_pem)
    assert doc["local"] == {"eap_id": "alice"}
    assert doc["ike-proposal"] == "aes256-sha256-modp2048"
    assert doc["esp-proposal"] == "aes256-sha256"
    assert doc["split-tunneling"] == {"subnets": "192.168.1.0/24"}
    assert len(doc["uuid"]) == 36 and doc["uuid"] == doc["uuid"].lower()
    again = json.loads(render_profile(eap_config, "android-sswan", "alice", ca_pem=ca_pem).data)
    assert again["uuid"] == doc["uuid"]
    assert b"pw-alice" not in prof.data


def test_sswan_cert(ca_pem):
    cfg = make_config(auth_mode="cert", local_subnet=["0.0.0.0/0"], dns=["192.168.1.1"])
    doc = json.loads(render_profile(cfg, "android-sswan", "alice", ca_pem=ca_pem, p12=b"P").data)
    assert doc["type"] == "ikev2-cert"
    assert base64.b64decode(doc["local"]["p12"]) == b"P"
    assert "split-tunneling" not in doc
    assert doc["dns-servers"] == "192.168.1.1"


def test_sswan_refuses_psk(psk_config):
    with pytest.raises(ProfileError, match="strongSwan"):
        render_profile(psk_config, "android-sswan")


def test_android_card_psk(psk_config):
    prof = render_profile(psk_config, "android", "phone")
    card = json.loads(prof.data)
    fields = {f["label"]: f for f in card["fields"]}
    assert fields["Type"]["value"] == "IKEv2/IPSec PSK"
    assert fields["Server address"]["value"] == "vpn.example.com"
    assert fields["IPsec identifier"]["value"] == "phone"
    assert fields["IPsec pre-shared key"] == {
        "label": "IPsec pre-shared key",
        "value": PSK,
        "secret": True,
    }
    assert card["warnings"] == []
    assert PSK in card["qr_text"]
    svg = base64.b64decode(card["qr_svg"]).decode()
    assert svg.startswith("<svg") and "<script" not in svg


def test_android_card_needs_no_local_id_equal_to_the_address():
    # Android expects the typed address as IDr; it is always one of the server's identities
    cfg = make_config(local_id="other.example.com")
    card = json.loads(render_profile(cfg, "android").data)
    assert card["warnings"] == []
    typed = next(f["value"] for f in card["fields"] if f["label"] == "Server address")
    assert typed in {str(i) for i in cfg.server_identities()}


def test_unknown_platform(psk_config):
    with pytest.raises(ProfileError, match="unknown platform"):
        render_profile(psk_config, "symbian")


def _decode(matrix, tmp_path) -> str:
    n, q, s = len(matrix), 4, 6
    size = (n + 2 * q) * s
    rows = []
    for y in range(size):
        my = y // s - q
        rows.append(" ".join(
            "1" if 0 <= my < n and 0 <= x // s - q < n and matrix[my][x // s - q] else "0"
            for x in range(size)
        ))  # fmt: skip
    path = tmp_path / "qr.pbm"
    path.write_text(f"P1\n{size} {size}\n" + "\n".join(rows) + "\n")
    out = subprocess.run(
        ["zbarimg", "-q", "--raw", str(path)], capture_output=True, text=True, check=True
    )
    return out.stdout.rstrip("\n")


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("a", 21),
        ("x" * 100, 41),
        ("Ü-€-" * 30, 57),
        ("Ü" * 20, 29),
        ("z" * 213, 57),
        ("é" * 60, 45),
    ],
)
def test_qr_decodes(text, size, tmp_path):
    assert shutil.which("zbarimg"), "zbar-tools (zbarimg) is needed to check the QR encoder"
    m = qr_matrix(text)
    assert len(m) == size
    assert _decode(m, tmp_path) == text


def test_qr_too_long():
    with pytest.raises(QrError):
        qr_matrix("z" * 214)
    with pytest.raises(QrError):
        qr_matrix("é" * 107)  # 214 bytes: "z" * 214 does not fit either
    assert qr_svg("a").count("<path") == 1


def test_split_tunnel_routes_name_ipv6_networks_only_with_pool6(ca_pem):
    subnets = ["192.168.1.0/24", "fd00:1::/64"]
    with6 = make_config(auth_mode="eap", users=[{"name": "alice"}], pool6="fd00:99::/64",
                        local_subnet=subnets)  # fmt: skip
    without = make_config(auth_mode="eap", users=[{"name": "alice"}], local_subnet=subnets)
    for cfg, expected in ((with6, "192.168.1.0/24 fd00:1::/64"), (without, "192.168.1.0/24")):
        doc = json.loads(render_profile(cfg, "android-sswan", "alice", ca_pem=ca_pem).data)
        assert doc["split-tunneling"]["subnets"] == expected
