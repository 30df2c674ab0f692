"""A PSK daemon starts without `cryptography` (issue 8: idle RSS) and loads it with its first
client: that first handshake, in a fresh interpreter, must work like any other."""

from __future__ import annotations

import json
import subprocess
import sys

from ikev2d.wire.enums import ExchangeType
from testbed.ike_initiator import Initiator, vip

SERVER = ("198.51.100.1", 500)
PHONE = ("192.0.2.10", 500)

# A Daemon as `ikev2d` builds it (PSK, no PKI directory), then: one line of sys.modules, and
# for each hex datagram read from stdin one line with the hex responses.
_DAEMON = """
import json, sys
from ikev2d.daemon.loop import Daemon
from ikev2d.daemon.memory_datapath import MemoryDatapath
from ikev2d.policy.config import from_mapping

config = from_mapping({"server": {
    "psk": "correct horse battery staple 42", "local_id": "vpn.example.test",
    "local_id_type": "fqdn", "local_subnet": ["192.168.1.0/24"], "pki_dir": sys.argv[1]}})
daemon = Daemon(config, datapath=MemoryDatapath())
print(json.dumps(sorted(sys.modules)), flush=True)
for line in sys.stdin:
    daemon.responder.receive_datagram(
        bytes.fromhex(line), ("192.0.2.10", 500), ("198.51.100.1", 500), 0.0)
    out = daemon.responder.datagrams_to_send()
    print(" ".join(data.hex() for data, _, _ in out), flush=True)
    print(json.dumps(sorted(sys.modules)), flush=True)
"""

# the default initiator proposes aes256-sha256-modp2048
_LOADED_WITH_FIRST_CLIENT = (
    "cryptography",
    "cryptography.hazmat.primitives.asymmetric.dh",
    "cryptography.hazmat.primitives.hmac",
)


def _cryptography_own_modules() -> set[str]:
    """What importing cryptography's backend loads by itself (cryptography 41 imports X.509,
    and with it hashlib and hmac, from its OpenSSL backend)."""
    code = "import cryptography.hazmat.backends.openssl, json, sys\n"
    code += "print(json.dumps(list(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, check=True)  # fmt: skip
    return set(json.loads(out.stdout))


def test_psk_daemon_loads_cryptography_with_its_first_client_and_answers_it(tmp_path):
    proc = subprocess.Popen(
        [sys.executable, "-c", _DAEMON, str(tmp_path / "no-pki")],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:

        def exchange(datagram: bytes) -> tuple[list[bytes], set[str]]:
            proc.stdin.write(datagram.hex() + "\n")
            proc.stdin.flush()
            answers = [bytes.fromhex(h) for h in proc.stdout.readline().split()]
            return answers, set(json.loads(proc.stdout.readline()))

        at_start = set(json.loads(proc.stdout.readline()))
        for name in (*_LOADED_WITH_FIRST_CLIENT, "hashlib", "hmac", "_hashlib"):
            assert name not in at_start, name
        client = Initiator()
        # IKE_SA_INIT { SAi1, KEi, Ni, N(NAT_D) } -->
        (resp,), after_init = exchange(client.init_request())
        client.init_response(resp)
        assert set(_LOADED_WITH_FIRST_CLIENT) <= after_init
        # IKE_AUTH { IDi, AUTH, CP, SAi2, TSi, TSr } -->
        (resp,), after_auth = exchange(client.auth_request())
        header, inner = client.open(resp)
        assert header.exchange == ExchangeType.IKE_AUTH and header.response
        assert client.verify_responder_auth(inner)
        assert vip(inner).is_private
        # cryptography does all hashing: the standard library's second OpenSSL stays out
        ours = {"hashlib", "hmac", "_hashlib"} & after_auth - _cryptography_own_modules()
        assert not ours
    finally:
        proc.stdin.close()
        proc.wait(timeout=60)
        proc.stdout.close()
