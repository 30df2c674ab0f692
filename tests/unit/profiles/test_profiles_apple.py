"""The .mobileconfig parses as a plist and carries one proposal the server accepts."""

from __future__ import annotations

import plistlib

import pytest
from cryptography import x509
from profiles_support import PSK, make_config

from ikev2d.crypto.mlkem import available_methods
from ikev2d.profiles import ProfileError, render_profile

HAVE_MLKEM = bool(available_methods())
# post_quantum defaults to preferred: with ML-KEM on this machine the IKE SA asks for it
PQ = {"PostQuantumKeyExchangeMethods": [36]} if HAVE_MLKEM else {}


def _vpn(profile):
    doc = plistlib.loads(profile.data)
    vpn = [p for p in doc["PayloadContent"] if p["PayloadType"] == "com.apple.vpn.managed"]
    assert len(vpn) == 1
    return doc, vpn[0]


def test_psk_profile_fields(psk_config):
    prof = render_profile(psk_config, "ios", "alice")
    assert prof.filename == "vpn.example.com-alice.mobileconfig"
    assert prof.mime == "application/x-apple-aspen-config"
    doc, vpn = _vpn(prof)
    assert doc["PayloadType"] == "Configuration"
    ike = vpn["IKEv2"]
    assert vpn["VPNType"] == "IKEv2"
    assert ike["RemoteAddress"] == "vpn.example.com"
    assert ike["RemoteIdentifier"] == "vpn.example.com"
    assert ike["LocalIdentifier"] == "alice"
    assert ike["AuthenticationMethod"] == "SharedSecret"
    assert ike["SharedSecret"] == PSK
    assert ike["IKESecurityAssociationParameters"] == {
        "EncryptionAlgorithm": "AES-256",
        "IntegrityAlgorithm": "SHA2-256",
        "DiffieHellmanGroup": 14,
        "LifeTimeInMinutes": 240,
        **PQ,
    }
    child = ike["ChildSecurityAssociationParameters"]
    assert (child["EncryptionAlgorithm"], child["IntegrityAlgorithm"]) == ("AES-256", "SHA2-256")
    assert child["LifeTimeInMinutes"] == 60
    assert ike["EnablePFS"] is False
    assert "OnDemandEnabled" not in ike
    # nothing but the VPN payload in PSK mode
    assert len(doc["PayloadContent"]) == 1


def test_uuids_stable_per_server_and_user(psk_config):
    a1 = plistlib.loads(render_profile(psk_config, "ios", "alice").data)
    a2 = plistlib.loads(render_profile(psk_config, "macos", "alice").data)
    b = plistlib.loads(render_profile(psk_config, "ios", "bob").data)
    assert a1["PayloadUUID"] == a2["PayloadUUID"]
    assert a1["PayloadUUID"] != b["PayloadUUID"]
    uuids = [a1["PayloadUUID"]] + [p["PayloadUUID"] for p in a1["PayloadContent"]]
    assert len(set(uuids)) == len(uuids)
    assert all(u[14] == "5" for u in uuids)  # version 5


def test_best_apple_proposal_is_chosen():
    # the server prefers a group Apple cannot use in a profile? no: curve25519 is 31 on Apple.
    cfg = make_config(
        ike_proposal=["aes192-sha256-modp2048", "aes256gcm16-prfsha384-ecp384"],
        esp_proposal=["aes192-sha256", "aes256gcm16"],
    )
    ike = _vpn(render_profile(cfg, "macos"))[1]["IKEv2"]
    assert ike["IKESecurityAssociationParameters"]["EncryptionAlgorithm"] == "AES-256-GCM"
    assert ike["IKESecurityAssociationParameters"]["IntegrityAlgorithm"] == "SHA2-384"
    assert ike["IKESecurityAssociationParameters"]["DiffieHellmanGroup"] == 20
    assert ike["ChildSecurityAssociationParameters"]["EncryptionAlgorithm"] == "AES-256-GCM"


def test_no_apple_proposal_fails_clearly():
    cfg = make_config(ike_proposal=["aes192-sha256-modp2048"])
    with pytest.raises(ProfileError, match=r"IKE proposals.*iOS/macOS"):
        render_profile(cfg, "ios")


def test_pfs_group_from_esp_proposal():
    cfg = make_config(esp_proposal=["aes256-sha256-ecp256"])
    ike = _vpn(render_profile(cfg, "ios"))[1]["IKEv2"]
    assert ike["EnablePFS"] is True
    assert ike["ChildSecurityAssociationParameters"]["DiffieHellmanGroup"] == 19


def test_on_demand_rules(psk_config):
    ike = _vpn(render_profile(psk_config, "ios", on_demand=True))[1]["IKEv2"]
    assert ike["OnDemandEnabled"] == 1
    assert ike["OnDemandRules"] == [{"Action": "Connect"}]


def test_eap_profile_has_ca_and_no_password(eap_config, ca_pem):
    prof = render_profile(eap_config, "ios", "alice", ca_pem=ca_pem)
    doc, vpn = _vpn(prof)
    ike = vpn["IKEv2"]
    assert ike["AuthenticationMethod"] == "None"
    assert ike["ExtendedAuthEnabled"] is True
    assert ike["AuthName"] == "alice"
    assert "AuthPassword" not in ike and b"pw-alice" not in prof.data
    roots = [p for p in doc["PayloadContent"] if p["PayloadType"] == "com.apple.security.root"]
    assert len(roots) == 1
    cert = x509.load_der_x509_certificate(roots[0]["PayloadContent"])
    assert cert == x509.load_pem_x509_certificate(ca_pem)


def test_eap_needs_known_enabled_user_and_ca(eap_config, ca_pem):
    with pytest.raises(ProfileError, match="--user"):
        render_profile(eap_config, "ios", None, ca_pem=ca_pem)
    with pytest.raises(ProfileError, match="no user 'carol'"):
        render_profile(eap_config, "ios", "carol", ca_pem=ca_pem)
    with pytest.raises(ProfileError, match="disabled"):
        render_profile(eap_config, "ios", "bob", ca_pem=ca_pem)
    with pytest.raises(ProfileError, match="CA certificate"):
        render_profile(eap_config, "ios", "alice")


def test_cert_profile_references_pkcs12(ca_pem):
    cfg = make_config(auth_mode="cert")
    p12 = b"\x30\x82fake-pkcs12"
    doc, vpn = _vpn(render_profile(cfg, "ios", "alice", ca_pem=ca_pem, p12=p12, p12_password="x"))
    ike = vpn["IKEv2"]
    assert ike["AuthenticationMethod"] == "Certificate"
    pk = [p for p in doc["PayloadContent"] if p["PayloadType"] == "com.apple.security.pkcs12"]
    assert pk[0]["PayloadContent"] == p12 and pk[0]["Password"] == "x"
    assert ike["PayloadCertificateUUID"] == pk[0]["PayloadUUID"]
    with pytest.raises(ProfileError, match="PKCS#12"):
        render_profile(cfg, "ios", "alice", ca_pem=ca_pem)


def test_hostile_strings_are_escaped():
    cfg = make_config(
        psk="</string><key>x</key>&amp;<![CDATA[ ]]>-Long-Enough-1",
        remote_id_type="key-id",
        remote_id="<img src=x onerror=alert(1)>",
    )
    prof = render_profile(cfg, "ios", name="a & <b>")
    _, vpn = _vpn(prof)
    assert vpn["IKEv2"]["SharedSecret"] == "</string><key>x</key>&amp;<![CDATA[ ]]>-Long-Enough-1"
    assert vpn["IKEv2"]["LocalIdentifier"] == "<img src=x onerror=alert(1)>"
    assert vpn["UserDefinedName"] == "a & <b>"


def test_needs_server_address():
    cfg = make_config(server_address=None)
    with pytest.raises(ProfileError, match="server_address"):
        render_profile(cfg, "ios")


def test_ipv4_server_identity():
    cfg = make_config(server_address="203.0.113.7")
    ike = _vpn(render_profile(cfg, "ios"))[1]["IKEv2"]
    assert ike["RemoteAddress"] == ike["RemoteIdentifier"] == "203.0.113.7"


# --- post-quantum (iOS/macOS 26) ---------------------------------------------------------------
@pytest.mark.skipif(not HAVE_MLKEM, reason="this cryptography has no ML-KEM (tested below)")
@pytest.mark.parametrize(("mode", "fallback"), [("preferred", True), ("required", False)])
def test_post_quantum_asks_for_mlkem768_once(mode, fallback):
    ike = _vpn(render_profile(make_config(post_quantum=mode), "ios"))[1]["IKEv2"]
    # one entry: each is one additional key exchange (ADDKE1..7), not a list of alternatives
    assert ike["IKESecurityAssociationParameters"]["PostQuantumKeyExchangeMethods"] == [36]
    assert "PostQuantumKeyExchangeMethods" not in ike["ChildSecurityAssociationParameters"]
    assert ike["AllowPostQuantumKeyExchangeFallback"] is fallback


@pytest.mark.skipif(not HAVE_MLKEM, reason="this cryptography has no ML-KEM (tested below)")
def test_post_quantum_on_child_rekeys_with_pfs():
    cfg = make_config(esp_proposal=["aes256-sha256-curve25519"])
    ike = _vpn(render_profile(cfg, "macos"))[1]["IKEv2"]
    assert ike["EnablePFS"] is True
    assert ike["ChildSecurityAssociationParameters"]["PostQuantumKeyExchangeMethods"] == [36]


def test_post_quantum_off_or_unavailable_asks_for_nothing():
    for cfg in [make_config(post_quantum="off")] + ([] if HAVE_MLKEM else [make_config()]):
        ike = _vpn(render_profile(cfg, "ios"))[1]["IKEv2"]
        assert "PostQuantumKeyExchangeMethods" not in ike["IKESecurityAssociationParameters"]
        assert "AllowPostQuantumKeyExchangeFallback" not in ike
