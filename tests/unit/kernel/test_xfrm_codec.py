"""The compiled XFRM encoder writes exactly what pyroute2's own encode() writes for the same
message classes, and the field readers take exactly what pyroute2's decode() reads."""

from __future__ import annotations

import ipaddress
import struct

import pytest
from kernel_values import make_tunnel

from ikev2d.kernel import xfrm_build as b
from ikev2d.kernel import xfrm_messages as m
from ikev2d.kernel.tunnel import (
    ChildTunnel,
    EspTransform,
    Lifetimes,
    SaKeys,
    UdpEncap,
)
from ikev2d.kernel.xfrm_codec import FieldReader, encode_request


def pyroute2_encode(cls, msg_type, flags, seq, fields, attrs=()) -> bytes:
    """The reference: pyroute2's generic encoder over the same classes."""
    msg = cls()
    for name, fmt in cls.fields:
        if not name.startswith("__"):
            msg[name] = fields.get(name, b"" if fmt.endswith("s") else 0)
    msg["header"] = {"type": msg_type, "flags": flags, "sequence_number": seq}
    msg["attrs"] = [list(a) for a in attrs]
    msg.encode()
    return bytes(msg.data)


GCM = EspTransform("rfc4106(gcm(aes))", icv_bits=128)
TUNNELS = {
    "cbc": make_tunnel(),
    "gcm-natt": make_tunnel(
        transform=GCM, encap=UdpEncap(4500, 61234),
        inbound=SaKeys(0xC0000011, b"G" * 36), outbound=SaKeys(0xC0000021, b"g" * 36),
    ),
    "esn-window": make_tunnel(
        transform=EspTransform("cbc(aes)", integ="hmac(sha512)", integ_trunc_bits=256,
                               esn=True, replay_window=1024),
        lifetimes=Lifetimes(soft_bytes=1 << 40, hard_bytes=1 << 41, soft_seconds=3000,
                            hard_seconds=3600),
    ),
    "ipv6-dual-ts": make_tunnel(
        local="2001:db8::1", remote="2001:db8:1::7",
        local_ts=("192.168.1.0/24", "fd00::/64"), remote_ts=("10.10.10.5/32", "fd10::5/128"),
    ),
}  # fmt: skip


def _requests(tunnel: ChildTunnel):
    """Every request the datapath builds for a tunnel, as (name, cls, type, flags, seq,
    fields, attrs) captured from the builders."""
    captured = []

    def capture(cls, msg_type, flags, seq, fields, attrs=()):
        captured.append((cls, msg_type, flags, seq, dict(fields), list(attrs)))
        return encode_request(cls, msg_type, flags, seq, fields, attrs)

    real, m.new_message = m.new_message, capture
    try:
        carried = b.SaRuntime(
            replay={"oseq": 7, "seq": 9, "bitmap": 0xFF}, esn=None,
            lifetime={"cur_bytes": 1234, "cur_packets": 5, "cur_add_time": 99, "cur_use_time": 0},
        )  # fmt: skip
        b.build_sa(tunnel, True, m.XFRM_MSG.NEWSA, 1)
        b.build_sa(tunnel, False, m.XFRM_MSG.UPDSA, 2, carried)
        for i, spec in enumerate(b.policy_specs(tunnel)):
            b.build_policy(spec, tunnel.reqid, m.XFRM_MSG.UPDPOLICY, 10 + i)
            b.build_delpolicy(spec.direction, 20 + i, spec=spec)
        b.build_getsa(tunnel.remote, tunnel.outbound.spi, 4)
        b.build_delsa(tunnel.local, tunnel.inbound.spi, 5)
        b.build_dump(m.XFRM_MSG.GETSA, 6)
        b.build_dump(m.XFRM_MSG.GETPOLICY, 7)
        move = b.Move(tunnel.local, tunnel.remote, tunnel.local,
                      ipaddress.ip_address(tunnel.remote) , tunnel.reqid)  # fmt: skip
        b.build_migrate(b.policy_specs(tunnel)[0], [move], (4500, 4500), 8)
    finally:
        m.new_message = real
    return captured


@pytest.mark.parametrize("name", sorted(TUNNELS))
def test_every_request_matches_pyroute2(name):
    requests = _requests(TUNNELS[name])
    assert len(requests) > 10
    for cls, msg_type, flags, seq, fields, attrs in requests:
        ours = encode_request(cls, msg_type, flags, seq, fields, attrs)
        theirs = pyroute2_encode(cls, msg_type, flags, seq, fields, attrs)
        assert ours == theirs, (cls.__name__, msg_type, [a[0] for a in attrs])


def test_keys_of_odd_length_are_padded_like_pyroute2():
    attrs = [("XFRMA_ALG_AEAD", {"alg_name": b"rfc4106(gcm(aes))", "alg_key": b"k" * 21,
                                 "alg_icv_len": 128})]  # fmt: skip
    ours = encode_request(m.xfrm_usersa_info, m.XFRM_MSG.NEWSA, 5, 1, {}, attrs)
    assert ours == pyroute2_encode(m.xfrm_usersa_info, m.XFRM_MSG.NEWSA, 5, 1, {}, attrs)
    assert len(ours) % 4 == 0
    (alg_key_len,) = struct.unpack_from("=I", ours, 16 + m.USERSA_INFO_SIZE + 4 + 64)
    assert alg_key_len == 21 * 8


def test_field_reader_reads_what_pyroute2_decodes():
    tunnel = TUNNELS["gcm-natt"]
    data = bytearray(b"\xee" * 8 + b.build_sa(tunnel, True, m.XFRM_MSG.NEWSA, 1))
    reader = FieldReader(m.xfrm_usersa_info, "id_daddr", "id_spi", "reqid", "family")
    decoded = m.decode_message(m.xfrm_usersa_info, data, 8)
    assert reader.read(data, 8) == (
        decoded["id_daddr"],
        decoded["id_spi"],
        decoded["reqid"],
        decoded["family"],
    )
    assert reader.read(data, 8)[1] == tunnel.inbound.spi


def test_field_reader_refuses_short_messages_and_bad_orders():
    reader = FieldReader(m.xfrm_usersa_info, "id_spi", "reqid")
    full = b.build_sa(TUNNELS["cbc"], True, m.XFRM_MSG.NEWSA, 1)
    short = struct.pack("=I", 40) + full[4:40]
    with pytest.raises(ValueError):
        reader.read(short, 0)  # the header claims 40 bytes
    lying = full[:60]
    with pytest.raises(ValueError):
        reader.read(lying, 0)  # the header claims more than the buffer holds
    with pytest.raises(ValueError):
        reader.read(full[:2], 0)  # not even a length
    with pytest.raises(ValueError):
        FieldReader(m.xfrm_usersa_info, "reqid", "id_spi")
