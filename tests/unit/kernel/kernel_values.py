"""A ChildTunnel with plain defaults for the message tests of this folder."""

from __future__ import annotations

from ikev2d.kernel.tunnel import OWNED_REQIDS, ChildTunnel, EspTransform, SaKeys

REQID = OWNED_REQIDS.start + 9


def make_tunnel(**changes) -> ChildTunnel:
    """198.51.100.1 (us) <-> 192.0.2.2, cbc(aes)+hmac(sha256), LAN -> 10.10.10.5/32."""
    args = dict(
        local="198.51.100.1", remote="192.0.2.2",
        inbound=SaKeys(0xC0000001, b"k" * 16, b"i" * 32),
        outbound=SaKeys(0xC1000002, b"K" * 16, b"I" * 32),
        transform=EspTransform("cbc(aes)", integ="hmac(sha256)", integ_trunc_bits=128),
        local_ts=("192.168.1.0/24",), remote_ts=("10.10.10.5/32",), reqid=REQID,
    )  # fmt: skip
    args.update(changes)
    return ChildTunnel(**args)
