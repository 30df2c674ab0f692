"""The memory floor of any Python IKE daemon built on `cryptography`: the interpreter, what
ikev2d imports from `cryptography` for a handshake, one X25519 exchange, one HMAC-SHA256 and
one AES-CBC set-up. Prints this process's VmRSS in kB (one line) afterwards.

    python -m bench.floor

bench.footprint runs it with each Python next to ikev2d: ikev2d - floor is ikev2d's own cost.
Only the standard library and `cryptography`, so it runs with any of the project's venvs.
"""

from __future__ import annotations

from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.asymmetric import x25519
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

__all__ = ["main"]


def _vm_rss_kb() -> int:
    with open("/proc/self/status", encoding="ascii") as status:  # no pathlib: not in the floor
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise KeyError("VmRSS")


def main() -> int:
    ours, theirs = x25519.X25519PrivateKey.generate(), x25519.X25519PrivateKey.generate()
    shared = ours.exchange(theirs.public_key())
    mac = hmac.HMAC(shared, hashes.SHA256())
    mac.update(b"floor")
    key = mac.finalize()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(bytes(16))).encryptor()
    encryptor.update(bytes(32))
    print(_vm_rss_kb(), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
