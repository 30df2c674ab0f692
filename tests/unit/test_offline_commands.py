"""`ikev2ctl profile|pki|check` read the files and never need a running daemon."""

from __future__ import annotations

import json
import os
import plistlib
import stat

from ikev2d.cli import ctl_main

PSK = "correct horse battery staple 42"


def write_config(tmp_path, **extra) -> str:
    path = tmp_path / "ikev2d.toml"
    lines = ["[server]", "enabled = true", f'psk = "{PSK}"', 'server_address = "vpn.example.org"',
             'local_subnet = ["192.168.1.0/24"]', f'pki_dir = "{tmp_path / "pki"}"']  # fmt: skip
    lines += [f"{k} = {json.dumps(v)}" for k, v in extra.items()]
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def test_check_validates_and_reports_the_clients(tmp_path, capsys):
    config = write_config(tmp_path)
    assert ctl_main(["--config", config, "check", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["valid"] is True
    assert json.dumps(report["clients"])  # the platform table, as data
    assert ctl_main(["--config", config, "check"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("configuration OK") and "iOS" in text and "Windows" in text


def test_check_of_a_bad_configuration_is_one_line_and_exit_2(tmp_path, capsys):
    config = write_config(tmp_path, pool="10.10.10.0/33")
    assert ctl_main(["--config", config, "check"]) == 2
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and out[0].startswith("server.pool:")


def test_profile_writes_a_private_file(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = write_config(tmp_path)
    assert ctl_main(["--config", config, "profile", "--platform", "ios", "--out", "p.plist"]) == 0
    path = tmp_path / "p.plist"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600  # it carries the PSK
    plist = plistlib.loads(path.read_bytes())
    vpn = next(p for p in plist["PayloadContent"] if p["PayloadType"] == "com.apple.vpn.managed")
    assert vpn["IKEv2"]["RemoteAddress"] == "vpn.example.org"


def test_pki_commands_use_the_configured_directory(tmp_path, capsys):
    config = write_config(tmp_path)
    pki = tmp_path / "pki"
    assert ctl_main(["--config", config, "--pki-dir", str(pki), "pki", "init",
                     "--name", "vpn.example.org", "--key-type", "ecdsa-p256"]) == 0  # fmt: skip
    assert (pki / "ca.pem").exists() and stat.S_IMODE(os.stat(pki / "ca.key").st_mode) == 0o600
    assert ctl_main(["--pki-dir", str(pki), "pki", "show"]) == 0
    assert "vpn.example.org" in capsys.readouterr().out


def test_pki_init_writes_where_profile_reads_the_configured_pki_dir(tmp_path, capsys):
    # pki_dir set elsewhere than its default, no --pki-dir: both take it from the configuration
    config = write_config(tmp_path, auth_mode="eap")
    with open(config, "a") as f:
        f.write('[[user]]\nname = "alice"\npassword = "a long enough password 7"\n')
    assert ctl_main(["--config", config, "pki", "init", "--name", "vpn.example.org",
                     "--key-type", "ecdsa-p256"]) == 0  # fmt: skip
    assert (tmp_path / "pki" / "ca.pem").exists()
    out = tmp_path / "alice.mobileconfig"
    assert ctl_main(["--config", config, "profile", "--platform", "ios", "--user", "alice",
                     "--out", str(out)]) == 0, capsys.readouterr().err  # fmt: skip
    assert (tmp_path / "pki" / "ca.pem").read_bytes().strip().splitlines()[1] in out.read_bytes()


def test_pki_reads_pki_dir_alone_from_an_unfinished_configuration(tmp_path, capsys):
    uci = tmp_path / "ikev2d"
    uci.write_text("config ikev2d 'server'\n\toption auth_mode 'cert'\n"
                   f"\toption pki_dir '{tmp_path / 'ca'}'\n")  # fmt: skip
    # no key, no users, no LAN to take local_subnet from: `check` refuses, `pki` works
    network = ["--network", str(tmp_path / "no-network")]
    assert ctl_main(["--uci", str(uci), *network, "check"]) == 2
    assert ctl_main(["--uci", str(uci), *network, "pki", "init", "--name", "vpn.example.org",
                     "--key-type", "ecdsa-p256"]) == 0  # fmt: skip
    assert (tmp_path / "ca" / "server.pem").exists()
    uci.write_text(f"config ikev2d 'server'\n\toption pki_dir 'relative/{tmp_path}'\n")
    capsys.readouterr()
    assert ctl_main(["--uci", str(uci), "pki", "show"]) == 2
    assert capsys.readouterr().out.startswith("server.pki_dir: ")


def test_daemon_commands_still_go_to_the_socket(tmp_path, capsys):
    # not an offline command: ikev2ctl asks the daemon, which is not running
    assert ctl_main(["--socket", str(tmp_path / "none.sock"), "status"]) == 1
    assert "not running" in capsys.readouterr().err
