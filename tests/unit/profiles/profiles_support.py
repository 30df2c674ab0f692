"""Configurations and a throw-away CA for the profile tests."""

from __future__ import annotations

import datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ikev2d.policy.config import from_mapping

PSK = "Correct-Horse-Battery-Staple-42x"


def make_config(**server):
    users = server.pop("users", [])
    base = {"psk": PSK, "server_address": "vpn.example.com", "local_subnet": ["192.168.1.0/24"]}
    base.update(server)
    if base.get("auth_mode") in ("eap", "cert"):
        base.pop("psk", None)
    base = {k: v for k, v in base.items() if v is not None}
    return from_mapping({"server": base, "user": users})


@pytest.fixture(scope="session")
def ca_pem() -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ikev2d test CA")])
    now = datetime.datetime(2025, 1, 1, tzinfo=datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


@pytest.fixture
def psk_config():
    return make_config()


@pytest.fixture
def eap_config():
    return make_config(
        auth_mode="eap",
        users=[{"name": "alice", "password": "pw-alice"}, {"name": "bob", "enabled": False}],
    )
