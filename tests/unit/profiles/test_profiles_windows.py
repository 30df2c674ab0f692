"""The PowerShell script: cmdlets, parameter values matching a server proposal, quoting."""

from __future__ import annotations

import base64
import re

import pytest
from profiles_support import make_config

from ikev2d.profiles import ProfileError, render_profile
from ikev2d.profiles.windows import ps_quote


def _script(cfg, user="alice", **kw) -> str:
    prof = render_profile(cfg, "windows", user, **kw)
    assert prof.filename.endswith(".ps1")
    assert prof.data.startswith(b"\xef\xbb\xbf")  # BOM: Windows PowerShell 5 reads UTF-8
    return prof.data.decode("utf-8-sig")


def _params(script: str, cmdlet: str) -> dict[str, str]:
    line = next(ln for ln in script.splitlines() if ln.startswith(cmdlet + " "))
    return dict(re.findall(r"-(\w+)(?:[ :](\$?'[^']*'|\S+))?", line[len(cmdlet) :]))


def test_eap_script(eap_config, ca_pem):
    s = _script(eap_config, ca_pem=ca_pem)
    add = _params(s, "Add-VpnConnection")
    assert add["TunnelType"] == "Ikev2"
    assert add["AuthenticationMethod"] == "Eap"
    assert add["ServerAddress"] == "$Server"
    assert "$Server = 'vpn.example.com'" in s
    ipsec = _params(s, "Set-VpnConnectionIPsecConfiguration")
    assert {k: ipsec[k] for k in ("EncryptionMethod", "IntegrityCheckMethod", "DHGroup")} == {
        "EncryptionMethod": "AES256",
        "IntegrityCheckMethod": "SHA256",
        "DHGroup": "Group14",
    }
    assert ipsec["CipherTransformConstants"] == "AES256"
    assert ipsec["AuthenticationTransformConstants"] == "SHA256128"
    assert ipsec["PfsGroup"] == "None"
    assert "Cert:\\LocalMachine\\Root" in s and "Import-Certificate" in s
    ca_b64 = re.search(r"\$CaBase64 = '([^']+)'", s).group(1)
    assert b"\n".join(ca_pem.split(b"\n")[1:-2]).replace(b"\n", b"") == ca_b64.encode()
    base64.b64decode(ca_b64, validate=True)
    # split tunnel: one route per LAN subnet
    route = _params(s, "Add-VpnConnectionRoute")
    assert route["DestinationPrefix"] == "'192.168.1.0/24'"
    assert "-SplitTunneling:$true" in s


def test_full_tunnel_has_no_routes(ca_pem):
    cfg = make_config(
        auth_mode="eap", local_subnet=["0.0.0.0/0"], dns=["1.1.1.1"], users=[{"name": "alice"}]
    )
    s = _script(cfg, ca_pem=ca_pem)
    assert "Add-VpnConnectionRoute" not in s
    assert "-SplitTunneling:$false" in s


def test_gcm_and_pfs_mapping(ca_pem):
    cfg = make_config(
        auth_mode="eap",
        users=[{"name": "alice"}],
        ike_proposal=["aes256-sha256-curve25519", "aes128gcm16-prfsha384-ecp384"],
        esp_proposal=["chacha20poly1305", "aes256gcm16-ecp256"],
    )
    ipsec = _params(_script(cfg, ca_pem=ca_pem), "Set-VpnConnectionIPsecConfiguration")
    assert ipsec["EncryptionMethod"] == "GCMAES128"
    assert ipsec["IntegrityCheckMethod"] == "SHA384"
    assert ipsec["DHGroup"] == "ECP384"
    assert ipsec["CipherTransformConstants"] == ipsec["AuthenticationTransformConstants"]
    assert ipsec["CipherTransformConstants"] == "GCMAES256"
    assert ipsec["PfsGroup"] == "ECP256"


def test_no_windows_proposal_fails(ca_pem):
    cfg = make_config(auth_mode="eap", users=[{"name": "a"}],
                      ike_proposal=["aes256-sha256-curve25519"])  # fmt: skip
    with pytest.raises(ProfileError, match="Windows"):
        _script(cfg, "a", ca_pem=ca_pem)


def test_psk_mode_is_refused(psk_config, ca_pem):
    with pytest.raises(ProfileError, match="pre-shared"):
        render_profile(psk_config, "windows", ca_pem=ca_pem)


def test_cert_mode_imports_pkcs12(ca_pem):
    cfg = make_config(auth_mode="cert")
    s = _script(cfg, p12=b"p12-bytes", p12_password="it's", ca_pem=ca_pem)
    assert _params(s, "Add-VpnConnection")["AuthenticationMethod"] == "MachineCertificate"
    assert "Import-PfxCertificate" in s and "Cert:\\LocalMachine\\My" in s
    assert f"'{base64.b64encode(b'p12-bytes').decode()}'" in s
    assert "-String 'it''s'" in s


def test_quoting_of_hostile_names(eap_config, ca_pem):
    s = _script(eap_config, ca_pem=ca_pem, name="x'; Remove-Item C:\\ -Recurse; '\u2019")
    assert "$Name = 'x''; Remove-Item C:\\ -Recurse; ''\u2019\u2019'" in s
    # the name appears nowhere else unquoted
    assert s.count("Remove-Item C:") == 1


def test_ps_quote():
    assert ps_quote("a'b") == "'a''b'"
    assert ps_quote("$env:x `n") == "'$env:x `n'"
    with pytest.raises(ProfileError):
        ps_quote("a\nb")
