"""Item 16: PKCS#12 files made with cryptography 41 (OpenWrt 24.10) carried a MAC iteration
count of 1: a copied `.p12` with a user-chosen password was cheap to brute-force through its
MAC, whatever the key bags' 20000 PBE rounds. Every supported version now writes 20000 MAC
iterations. (`make test-oldest` runs this tier on cryptography 41.0.7 too.)
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess

import pytest
from attack_support import NOW, authority
from cryptography.hazmat.primitives.serialization import Encoding, pkcs12

from ikev2d.auth import ca as pki
from ikev2d.auth.pkcs12_mac import mac_iterations
from ikev2d.pki_files import PkiStore, pki_main


def test_item16_an_exported_pkcs12_costs_20000_iterations_per_guess(tmp_path):
    store = PkiStore(tmp_path / "pki")
    pki_main(["--dir", str(store.dir), "init", "--name", "vpn.example.test",
              "--key-type", "ecdsa-p256"], now=NOW)  # fmt: skip
    assert pki_main(["--dir", str(store.dir), "issue", "laptop", "--password", "hunter2",
                     "--key-type", "ecdsa-p256"], now=NOW) == 0  # fmt: skip
    p12 = (store.clients / "laptop.p12").read_bytes()
    assert mac_iterations(p12) >= 20000
    key, cert, _ = pkcs12.load_key_and_certificates(p12, b"hunter2")  # the MAC verifies
    assert "CN=laptop" in cert.subject.rfc4514_string() and key is not None
    with pytest.raises(ValueError):
        pkcs12.load_key_and_certificates(p12, b"hunter3")
    openssl = shutil.which("openssl")
    assert openssl, "openssl is needed (scripts/setup.sh installs it)"
    info = subprocess.run(
        [openssl, "pkcs12", "-info", "-noout", "-legacy", "-passin", "pass:hunter2"],
        input=p12, capture_output=True, timeout=60,
    )  # fmt: skip
    assert b"MAC: sha1, Iteration 20000" in info.stdout + info.stderr, info.stderr


def test_item16_a_non_ascii_password_is_derived_as_rfc_7292_says():
    ca, _ = authority()
    client = pki.issue_client_cert(ca, "tablet", NOW - dt.timedelta(days=1), os.urandom,
                                   "ecdsa-p256")  # fmt: skip
    password = "Grüße-Ω-2024".encode()
    p12 = pki.client_pkcs12(client, ca.certificate, password)
    _, cert, _ = pkcs12.load_key_and_certificates(p12, password)
    assert cert.public_bytes(Encoding.DER) == client.certificate.public_bytes(Encoding.DER)
