"""daemon.credentials: which configurations load the server's certificates, and when the PKI
code is not even imported (a PSK router without a PKI directory)."""

from __future__ import annotations

import subprocess
import sys

from daemon_support import LogCapture, server_table

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


def test_psk_loads_an_existing_ca_and_eap_creates_one(tmp_path):
    pki = tmp_path / "pki"
    log = Logger("debug", stream=LogCapture())
    eap = _config(tmp_path, pki_dir=str(pki), auth_mode="cert", server_address="vpn.example.test")
    created = load_credentials(eap, log, 1.7e9)
    assert created is not None and (pki / "ca.pem").exists()
    loaded = load_credentials(_config(tmp_path, pki_dir=str(pki)), log, 1.7e9)
    assert loaded is not None and loaded.ca == created.ca and loaded.can_sign


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
