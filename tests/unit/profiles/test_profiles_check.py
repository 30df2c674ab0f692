"""``check_report``: which platforms the configuration admits, and what to change."""

from __future__ import annotations

import datetime
import io
import json
import os
from contextlib import redirect_stderr, redirect_stdout

from profiles_support import make_config

from ikev2d.profiles import check_main, check_report, format_report, profile_main


def _by(report):
    return {p["platform"]: p for p in report["platforms"]}


def test_default_config():
    r = _by(check_report(make_config()))
    for name in ("ios", "macos", "android"):
        assert r[name]["ok"], r[name]
        assert r[name]["fixes"] == []
    assert r["ios"]["ike"] == "aes256-sha256-modp2048"
    # Android puts MODP4096 first; it reaches modp2048 through INVALID_KE_PAYLOAD
    assert r["android"]["ike"] == "aes256-sha256-modp2048"
    win = r["windows"]
    assert not win["ok"] and not win["proposals_ok"] and not win["auth_ok"]
    assert "legacy_proposals" in win["fixes"][0] and "PowerShell" in win["fixes"][0]
    assert not r["android-sswan"]["ok"] and r["android-sswan"]["proposals_ok"]


def test_legacy_admits_windows_proposals():
    cfg = make_config(auth_mode="eap", legacy_proposals=True, users=[{"name": "a"}])
    win = _by(check_report(cfg))["windows"]
    assert win["ok"], win
    assert win["ike"] == "aes256-sha256-modp1024"
    assert win["esp"] == "aes256-sha1"


def test_macos_needs_modp2048():
    cfg = make_config(ike_proposal=["aes256-sha256-ecp256", "aes256gcm16-prfsha256-curve25519"])
    r = _by(check_report(cfg))
    assert not r["macos"]["ok"] and ".mobileconfig" in r["macos"]["fixes"][0]
    assert r["ios"]["ok"]  # iOS also offers ECP256
    assert r["android"]["ike"] == "aes256gcm16-prfsha256-curve25519"


def test_android_refuses_ecp_only():
    cfg = make_config(ike_proposal=["aes256-sha256-ecp256"], esp_proposal=["aes256gcm16"])
    r = _by(check_report(cfg))
    assert not r["android"]["proposals_ok"]
    assert r["android"]["esp"] == "aes256gcm16"


def test_check_main_prints_table_and_json():
    cfg = make_config()
    out = io.StringIO()
    with redirect_stdout(out):
        assert check_main([], cfg) == 0
    text = out.getvalue()
    assert "Windows" in text and "CHANGE" in text and "iOS" in text
    out = io.StringIO()
    with redirect_stdout(out):
        check_main(["--json"], cfg)
    assert json.loads(out.getvalue())["auth_mode"] == "psk"


def test_profile_main_writes_private_file(tmp_path, ca_pem):
    cfg = make_config(auth_mode="eap", users=[{"name": "alice"}])
    (tmp_path / "ca.pem").write_bytes(ca_pem)
    out = tmp_path / "alice.sswan"
    err = io.StringIO()
    with redirect_stderr(err):
        rc = profile_main(["--platform", "android-sswan", "--user", "alice", "--out", str(out)],
                          cfg, pki_dir=str(tmp_path))  # fmt: skip
    assert rc == 0, err.getvalue()
    assert json.loads(out.read_bytes())["local"]["eap_id"] == "alice"
    assert os.stat(out).st_mode & 0o777 == 0o600


def test_profile_main_reports_errors(tmp_path):
    err = io.StringIO()
    with redirect_stderr(err):
        rc = profile_main(["--platform", "windows", "--out", str(tmp_path / "x")],
                          make_config(), pki_dir=str(tmp_path))  # fmt: skip
    assert rc == 2
    assert "pre-shared" in err.getvalue()
    assert not (tmp_path / "x").exists()


def test_profile_command_is_json_safe(psk_config):
    import base64

    from ikev2d.profiles import profile_command

    res = profile_command(psk_config, "ios", "alice")
    json.dumps(res)
    assert res["filename"] == "vpn.example.com-alice.mobileconfig"
    assert res["contains_secret"] is True
    assert base64.b64decode(res["data"]).startswith(b"<?xml")
    assert profile_command(psk_config, "ios", "")["filename"].endswith("-ios.mobileconfig")


def test_each_client_gets_the_identity_it_asks_for():
    cfg = make_config(server_address="203.0.113.7", local_id=["vpn.example.com"])
    r = check_report(cfg)
    ids = {name: p["identity"] for name, p in _by(r).items()}
    # Android asks for the address as typed, Apple and the strongSwan app for the profile's ID
    assert ids["android"] == {"asks": "203.0.113.7 (ipv4)", "answered": "203.0.113.7",
                              "ok": True, "fix": None}  # fmt: skip
    assert ids["ios"]["asks"] == "vpn.example.com (fqdn)" and ids["ios"]["answered"] == (
        "vpn.example.com"
    )
    assert ids["windows"]["asks"] == "none" and ids["windows"]["answered"] == "vpn.example.com"
    assert r["identities"]["answers"] == [
        "vpn.example.com (fqdn)", "203.0.113.7 (ipv4)", "the address a client reaches"
    ]  # fmt: skip


def test_certificate_modes_need_a_certificate_naming_the_identity(tmp_path):
    from ikev2d.auth import ca as pki
    from ikev2d.pki_files import PkiStore
    from ikev2d.profiles.identities import certificate_state

    cfg = make_config(auth_mode="cert", server_address="203.0.113.7", local_id=["vpn.example.com"])
    assert certificate_state(cfg, str(tmp_path / "none")) is None
    assert all(p["identity"]["ok"] for p in _by(check_report(cfg)).values())
    now = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    PkiStore(tmp_path).init(["vpn.example.com"], "ecdsa-p256", now)  # an older install
    ours = certificate_state(cfg, str(tmp_path))
    assert ours == {"names": ["vpn.example.com"], "ours": True, "missing": ["203.0.113.7"]}
    r = _by(check_report(cfg, ours))
    assert r["ios"]["ok"]  # asks for vpn.example.com, which the certificate names
    assert not r["android"]["ok"] and "reissues" in r["android"]["fixes"][-1]
    assert not r["windows"]["identity"]["ok"]  # Windows checks the address it connects to
    other = pki.make_ca("acme", now, os.urandom, "ecdsa-p256")
    acme = pki.issue_server_cert(other, ["*.example.com"], now, os.urandom, "ecdsa-p256")
    (tmp_path / "c.pem").write_bytes(pki.cert_pem(acme.certificate))
    (tmp_path / "k.pem").write_bytes(pki.key_pem(acme.private_key))
    PkiStore(tmp_path).import_server(tmp_path / "c.pem", tmp_path / "k.pem")
    imported = certificate_state(cfg, str(tmp_path))
    assert imported["ours"] is False and imported["missing"] == ["203.0.113.7"]  # wildcard ok
    r = _by(check_report(cfg, imported))
    assert r["ios"]["ok"] and "import one that does" in r["android"]["identity"]["fix"]
    out = io.StringIO()
    with redirect_stdout(out):
        check_main([], cfg, imported)
    assert "server certificate (imported) names: *.example.com; lacks 203.0.113.7" in (
        out.getvalue()
    )


def test_a_key_id_answer_cannot_be_certified():
    cfg = make_config(auth_mode="cert", local_id_type="key-id", local_id=["router one"])
    ios = _by(check_report(cfg))["ios"]
    assert ios["identity"]["answered"] == "router one" and not ios["ok"]
    assert "no certificate can name" in ios["identity"]["fix"]


# --- post_quantum --------------------------------------------------------------------------------
def test_post_quantum_in_the_report():
    from ikev2d.crypto.mlkem import available_methods

    have = bool(available_methods())
    report = check_report(make_config())
    pq = report["post_quantum"]
    assert pq["mode"] == "preferred" and pq["offered"] is have
    assert pq["methods"] == (["mlkem768", "mlkem1024"] if have else [])
    assert pq["warning"] is None  # preferred: a router without ML-KEM still serves everyone
    assert (pq["why_not"] is None) is have
    by = _by(report)
    assert by["ios"]["post_quantum"] is have and by["windows"]["post_quantum"] is False
    assert by["ios"]["ok"]  # preferred refuses nobody
    off = check_report(make_config(post_quantum="off"))["post_quantum"]
    assert off == {"mode": "off", "methods": off["methods"], "offered": False, "why_not": None,
                   "warning": None}  # fmt: skip


def test_post_quantum_required_refuses_clients_without_mlkem():
    from ikev2d.crypto.mlkem import available_methods

    by = _by(check_report(make_config(post_quantum="required")))
    assert not by["android"]["ok"]
    assert any("post_quantum required refuses" in f for f in by["android"]["fixes"])
    assert by["ios"]["ok"] is bool(available_methods())


def test_without_mlkem_the_report_and_the_check_say_why():
    from ikev2d.cli import _runtime_warnings
    from ikev2d.crypto.mlkem import available_methods

    have = bool(available_methods())
    preferred = check_report(make_config(post_quantum="preferred"))
    required = make_config(post_quantum="required")
    warning = check_report(required)["post_quantum"]["warning"]
    if have:
        assert warning is None and _runtime_warnings(required) == []
        return
    # ikev2ctl check says why; ikev2d --check (LuCI's Save & Apply) warns only for required
    why = preferred["post_quantum"]["why_not"]
    assert "cryptography" in why and "ML-KEM" in why
    assert "offered to no client" in format_report(preferred)
    assert preferred["post_quantum"]["warning"] is None
    assert _runtime_warnings(make_config(post_quantum="preferred")) == []
    assert "every client is refused" in warning and _runtime_warnings(required) == [warning]


def test_ipv6_inside_is_routed_refused_or_off():
    routed = check_report(make_config(pool6="fd00:99::/64",
                                      local_subnet=["192.168.1.0/24", "fd00:1::/64"]))  # fmt: skip
    assert routed["ipv6"] == {"mode": "routed", "pool6": "fd00:99::/64",
                              "subnets": ["fd00:1::/64"], "masquerade": False}  # fmt: skip
    full = make_config(pool6="fd00:99::/64", local_subnet=["0.0.0.0/0"], dns=["192.168.1.1"],
                       masquerade=True)  # fmt: skip
    assert check_report(full)["ipv6"]["masquerade"] is True
    assert check_report(full)["ipv6"]["subnets"] == ["::/0"]
    refused = make_config(local_subnet=["0.0.0.0/0"], dns=["192.168.1.1"], masquerade=True)
    assert check_report(refused)["ipv6"]["mode"] == "refused"
    assert check_report(make_config())["ipv6"]["mode"] == "off"
    out = io.StringIO()
    with redirect_stdout(out):
        check_main([], refused)
    assert "IPv6 inside: refused" in out.getvalue()
