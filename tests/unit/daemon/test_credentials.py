"""daemon.credentials: which configurations load the server's certificates, and when the PKI
code is not even imported (a PSK router without a PKI directory)."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys

from cryptography.hazmat.primitives.serialization import Encoding
from daemon_support import LogCapture, server_table

from ikev2d.auth import ca as pki_ca
from ikev2d.compat import Logger
from ikev2d.daemon.credentials import load_credentials
from ikev2d.policy.config import from_mapping


def _config(tmp_path, **options):
    return from_mapping({"server": server_table(tmp_path, **options)})


def test_psk_without_pki_dir_loads_nothing(tmp_path):
    log = LogCapture()
    config = _config(tmp_path, pki_dir=str(tmp_path / "absent"))
    assert load_credentials(config, Logger("debug", stream=log), 1.7e9) is None
    assert not (tmp_path / "absent").exists() and log.text == ""


def test_cert_creates_a_ca_eap_loads_it_and_psk_ignores_it(tmp_path):
    pki = tmp_path / "pki"
    log = Logger("debug", stream=LogCapture())
    cert = _config(tmp_path, pki_dir=str(pki), auth_mode="cert", server_address="vpn.example.test")
    created = load_credentials(cert, log, 1.7e9)
    assert created is not None and (pki / "ca.pem").exists()
    users = [{"name": "alice", "password": "pw"}]
    eap = from_mapping({"server": server_table(tmp_path, pki_dir=str(pki), auth_mode="eap"),
                        "user": users})  # fmt: skip
    loaded = load_credentials(eap, log, 1.7e9)
    assert loaded is not None and loaded.ca == created.ca and loaded.can_sign
    assert load_credentials(_config(tmp_path, pki_dir=str(pki)), log, 1.7e9) is None


def test_psk_start_path_does_not_import_the_pki_code(tmp_path):
    code = (
        "import sys\n"
        "from ikev2d.compat import Logger\n"
        "from ikev2d.daemon.credentials import load_credentials\n"
        "from ikev2d.policy.config import from_mapping\n"
        "c = from_mapping({'server': {'psk': 'Zq7-wX4k-Mv8p-Jy3n-Tc6d',\n"
        "    'local_id': 'vpn.example.test', 'local_id_type': 'fqdn',\n"
        f"    'local_subnet': ['192.168.1.0/24'],\n"
        f"    'pki_dir': {str(tmp_path / 'absent')!r}}}}})\n"
        "assert load_credentials(c, Logger(), 1.7e9) is None\n"
        "assert 'ikev2d.pki_files' not in sys.modules\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr


def _names(pki) -> list[str]:
    from ikev2d.pki_files import PkiStore, server_names

    return server_names(PkiStore(pki).load_server()[0][0])


def test_our_certificate_lacking_an_identity_is_reissued_an_imported_one_is_kept(tmp_path):
    from ikev2d.pki_files import PkiStore

    pki, log = tmp_path / "pki", LogCapture()
    logger = Logger("debug", stream=log)
    # an older install: the CA's server certificate names server_address only
    PkiStore(pki).init(["vpn.example.test"], "ecdsa-p256", dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    ca_before = (pki / "ca.pem").read_bytes()
    both = _config(tmp_path, pki_dir=str(pki), auth_mode="cert", listen=["0.0.0.0"],
                   server_address="vpn.example.test", local_id=["203.0.113.7"],
                   local_id_type="auto")  # fmt: skip
    creds = load_credentials(both, logger, 1.7e9)
    assert _names(pki) == ["vpn.example.test", "203.0.113.7"]
    assert (
        creds is not None
        and creds.chain[0].public_bytes(Encoding.PEM) == (pki / "server.pem").read_bytes()
    )
    assert (pki / "ca.pem").read_bytes() == ca_before  # clients keep trusting the same CA
    assert "reissued the server certificate" in log.text
    served = (pki / "server.pem").read_bytes()
    load_credentials(both, logger, 1.7e9)
    assert (pki / "server.pem").read_bytes() == served  # nothing lacking: left alone

    other = pki_ca.make_ca("someone else", dt.datetime(2026, 1, 1, tzinfo=dt.UTC), os.urandom)
    acme = pki_ca.issue_server_cert(other, ["vpn.example.test"],
                                    dt.datetime(2026, 1, 1, tzinfo=dt.UTC), os.urandom,
                                    "ecdsa-p256")  # fmt: skip
    (tmp_path / "c.pem").write_bytes(pki_ca.cert_pem(acme.certificate))
    (tmp_path / "k.pem").write_bytes(pki_ca.key_pem(acme.private_key))
    PkiStore(pki).import_server(tmp_path / "c.pem", tmp_path / "k.pem")
    imported = (pki / "server.pem").read_bytes()
    creds = load_credentials(both, logger, 1.7e9)
    assert (pki / "server.pem").read_bytes() == imported and creds is not None
    assert "imported server certificate does not name 203.0.113.7" in log.text


def test_a_new_ca_names_every_certifiable_identity(tmp_path):
    pki = tmp_path / "pki"
    config = _config(tmp_path, pki_dir=str(pki), auth_mode="cert",
                     server_address="vpn.example.test", local_id_type="auto",
                     local_id=["2001:db8::7", "ops@example.test"],
                     listen=["0.0.0.0", "192.0.2.1"])  # fmt: skip
    assert load_credentials(config, Logger("debug", stream=LogCapture()), 1.7e9) is not None
    assert _names(pki) == ["vpn.example.test", "2001:db8::7", "192.0.2.1"]
