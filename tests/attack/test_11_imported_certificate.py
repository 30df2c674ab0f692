"""Item 11: an imported server certificate was silently destroyed.

With ca.pem and an imported server.pem but no CA key, auth_mode eap "re-initialised" the PKI
and overwrote both, contrary to docs/certificates.md ("use a certificate you already have").
A certificate from an outside CA must work, nothing the owner placed is ever overwritten, and
the PKI directory survives a sysupgrade.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest
from attack_support import NOW, PHONE, SERVER, Client, config, roundtrip
from cryptography.hazmat.primitives.serialization import Encoding

from ikev2d.auth import ca as pki
from ikev2d.compat import Logger
from ikev2d.daemon.credentials import load_credentials
from ikev2d.ike.responder import Responder
from ikev2d.pki_files import PkiStore, pki_main
from ikev2d.wire.enums import ExchangeType, IdType
from ikev2d.wire.payloads import CertPayload, IdiPayload
from testbed.mschapv2_peer import MschapV2Peer  # noqa: F401 - the EAP peer of connect_eap

ROOT = Path(__file__).resolve().parents[2]


class _Log:
    def __init__(self):
        self.lines = []

    def write(self, text):
        self.lines.append(text)

    def flush(self):
        pass


def _outside_pki(directory: Path, with_ca_pem: bool) -> dict[str, bytes]:
    """An ACME-like certificate for vpn.example.test from someone else's CA (no CA key here)."""
    outside = pki.make_ca("Outside Root", NOW - dt.timedelta(days=30), os.urandom, "ecdsa-p256")
    server = pki.issue_server_cert(outside, ["vpn.example.test"], NOW - dt.timedelta(days=1),
                                   os.urandom, "ecdsa-p256")  # fmt: skip
    directory.mkdir()
    files = {"server.pem": pki.cert_pem(server.certificate), "server.key": pki.key_pem(
        server.private_key)}  # fmt: skip
    if with_ca_pem:
        files["ca.pem"] = pki.cert_pem(outside.certificate)
    for name, data in files.items():
        (directory / name).write_bytes(data)
    return files


@pytest.mark.parametrize("with_ca_pem", [True, False])
def test_item11_a_certificate_from_an_outside_ca_is_used_and_never_overwritten(
    tmp_path, with_ca_pem
):
    pki_dir = tmp_path / "pki"
    placed = _outside_pki(pki_dir, with_ca_pem)
    cfg = config(auth_mode="eap", pki_dir=str(pki_dir), server_address="vpn.example.test")
    log = _Log()
    creds = load_credentials(cfg, Logger("debug", stream=log), NOW.timestamp())
    # nothing the owner placed changed, nothing was added
    assert {p.name: p.read_bytes() for p in pki_dir.iterdir()} == placed, "".join(log.lines)
    assert creds is not None and creds.can_sign, "".join(log.lines)
    # an EAP client is answered with the imported certificate
    r = Responder(cfg, rng=os.urandom, allocate_spi=lambda local, remote: 0xC0000100,
                  credentials=creds, wall_clock=NOW.timestamp)  # fmt: skip
    client = Client()
    (resp,) = roundtrip(r, client.init_request())
    client.init_response(resp)
    first = [IdiPayload(IdType.RFC822_ADDR, b"alice@phone"), *client.auth_request_payloads()]
    (resp,) = roundtrip(r, client._protect(ExchangeType.IKE_AUTH, first), PHONE, SERVER)
    cert = next(p for p in client.open(resp)[1] if type(p) is CertPayload)
    assert pki.cert_pem(creds.chain[0]) == placed["server.pem"]
    assert cert.data == creds.chain[0].public_bytes(Encoding.DER)


def test_item11_pki_init_never_replaces_what_the_owner_placed(tmp_path, capsys):
    pki_dir = tmp_path / "pki"
    placed = _outside_pki(pki_dir, with_ca_pem=False)
    assert pki_main(["--dir", str(pki_dir), "init", "--name", "vpn.example.test"]) == 1
    assert "already" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in pki_dir.iterdir()} == placed
    assert not PkiStore(pki_dir).exists()


def test_item11_the_pki_directory_is_kept_by_sysupgrade():
    """OpenWrt's sysupgrade keeps what /lib/upgrade/keep.d/* lists (find: directories too)."""
    keep = ROOT / "files/lib/upgrade/keep.d/ikev2d"
    kept = [line.strip() for line in keep.read_text().splitlines() if line.strip()[:1] == "/"]
    default_pki = config().pki_dir
    assert any(default_pki.startswith(k.rstrip("/") + "/") or default_pki == k for k in kept)
    makefile = (ROOT / "package/ikev2d/Makefile").read_text()
    assert "lib/upgrade/keep.d" in makefile  # the SDK build installs it too
