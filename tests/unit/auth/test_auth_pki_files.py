"""`ikev2ctl pki ...` in a temporary directory: files, modes, messages, exit codes."""

import datetime as dt
import shutil
import stat
import subprocess

from cryptography import x509
from cryptography.hazmat.primitives.serialization import pkcs12

from ikev2d.pki_files import PkiStore, pki_main

NOW = dt.datetime(2025, 6, 1, tzinfo=dt.UTC)


def mode(path):
    return stat.S_IMODE(path.stat().st_mode)


def run(tmp_path, *argv):
    return pki_main(["--dir", str(tmp_path / "pki"), *argv], now=NOW)


def test_init_issue_revoke_renew_show(tmp_path, capsys):
    assert run(tmp_path, "init", "--name", "vpn.example.test", "--name", "192.0.2.1") == 0
    store = PkiStore(tmp_path / "pki")
    assert mode(store.ca_key) == 0o600 and mode(store.server_key) == 0o600
    assert mode(store.ca_pem) == 0o644
    assert run(tmp_path, "init", "--name", "x.test") == 1
    assert "already exists" in capsys.readouterr().err

    old_server = store.load_server()[0][0]
    assert run(tmp_path, "issue", "alice") == 0
    out = capsys.readouterr().out
    password = out.split("(shown once): ")[1].strip()
    p12 = store.clients / "alice.p12"
    assert mode(p12) == 0o600 and mode(store.clients) == 0o700
    _key, cert, extra = pkcs12.load_key_and_certificates(p12.read_bytes(), password.encode())
    assert extra[0] == store.load_ca().certificate
    assert "BEGIN" not in out  # no key material printed

    assert run(tmp_path, "issue", "bob", "--password", "given") == 0
    assert "shown once" not in capsys.readouterr().out
    assert run(tmp_path, "revoke", "alice") == 0
    assert store.revoked_serials() == {cert.serial_number}
    assert run(tmp_path, "revoke", "alice") == 0  # idempotent
    assert store.revoked_txt.read_text().count("\n") == 1

    ca_before = store.ca_pem.read_bytes()
    assert run(tmp_path, "renew") == 0
    new_server = store.load_server()[0][0]
    assert new_server.serial_number != old_server.serial_number
    assert new_server.issuer == old_server.issuer and store.ca_pem.read_bytes() == ca_before
    san = new_server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["vpn.example.test", "192.0.2.1"]
    assert mode(store.server_key) == 0o600

    capsys.readouterr()
    assert run(tmp_path, "show") == 0
    shown = capsys.readouterr().out
    assert "client alice" in shown and "revoked" in shown and "PRIVATE" not in shown
    assert not list(store.dir.glob(".*.tmp"))


def test_import_checks_key_and_blocks_plain_renew(tmp_path, capsys):
    assert run(tmp_path, "init", "--name", "vpn.example.test") == 0
    other = tmp_path / "other"
    assert pki_main(["--dir", str(other), "init", "--name", "acme.example.test"], now=NOW) == 0
    theirs = PkiStore(other)
    assert run(tmp_path, "import", str(theirs.server_pem), str(theirs.ca_key)) == 1
    assert "does not belong" in capsys.readouterr().err
    assert run(tmp_path, "import", str(theirs.server_pem), str(theirs.server_key)) == 0
    store = PkiStore(tmp_path / "pki")
    assert store.load_server()[0][0] == theirs.load_server()[0][0]
    assert mode(store.server_key) == 0o600
    assert run(tmp_path, "renew") == 1
    assert "imported" in capsys.readouterr().err
    assert run(tmp_path, "import", str(tmp_path / "missing.pem"), str(theirs.server_key)) == 1


def test_errors_and_usage(tmp_path, capsys):
    assert run(tmp_path, "issue", "alice") == 1
    assert "pki init" in capsys.readouterr().err
    assert run(tmp_path, "init") == 1
    assert run(tmp_path, "init", "--name", "bad name!") == 1
    assert run(tmp_path, "frobnicate") == 2
    assert run(tmp_path, "init", "--name", "vpn.example.test") == 0
    assert run(tmp_path, "issue", "../escape") == 1
    assert not (tmp_path / "pki" / "escape.p12").exists()
    assert run(tmp_path, "revoke", "nobody-zz") == 1


def test_strongswan_pki_reads_and_verifies_our_server_cert(tmp_path):
    assert shutil.which("pki"), "strongswan-pki is part of the test setup"
    assert run(tmp_path, "init", "--name", "vpn.example.test", "--name", "192.0.2.1") == 0
    store = PkiStore(tmp_path / "pki")
    printed = subprocess.run(
        ["pki", "--print", "--in", str(store.server_pem)],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout
    assert "serverAuth" in printed and "ikeIntermediate" in printed
    assert "vpn.example.test, 192.0.2.1, 192.0.2.1" in printed
    verified = subprocess.run(
        ["pki", "--verify", "--in", str(store.server_pem), "--cacert", str(store.ca_pem)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr
