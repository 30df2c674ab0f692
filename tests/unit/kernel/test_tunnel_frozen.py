"""The datapath's value objects (kernel/tunnel.py): immutable, compared and hashed by value,
keys never in a repr, a replaced copy checked like a new one."""

from __future__ import annotations

import copy
import ipaddress
import pickle

import pytest

from ikev2d.kernel.tunnel import ChildTunnel, EspTransform, EventsLost, SaKeys, UdpEncap

KEY, INTEG = b"\x5a" * 16, b"\xa5" * 32


def _tunnel(**changes) -> ChildTunnel:
    values = dict(
        local="192.0.2.1", remote="192.0.2.2",
        inbound=SaKeys(0xC0000101, KEY, INTEG), outbound=SaKeys(0xC1000101, KEY, INTEG),
        transform=EspTransform("cbc(aes)", integ="hmac(sha256)", integ_trunc_bits=128),
        local_ts=("10.1.0.0/24",), remote_ts="10.10.10.5/32", reqid=0x1C2E0005,
    )  # fmt: skip
    return ChildTunnel(**(values | changes))


def test_values_are_immutable():
    tunnel = _tunnel()
    with pytest.raises(AttributeError):
        tunnel.reqid = 0x1C2E0006
    with pytest.raises(AttributeError):
        del tunnel.inbound
    with pytest.raises(AttributeError):
        tunnel.extra = 1  # slots: no other attribute either


def test_equal_by_value_and_hashable():
    assert _tunnel() == _tunnel() and hash(_tunnel()) == hash(_tunnel())
    assert _tunnel() != _tunnel(reqid=0x1C2E0006)
    assert UdpEncap() == UdpEncap(4500, 4500) != UdpEncap(4500, 4501)
    assert UdpEncap() != (4500, 4500)  # not a tuple
    assert EventsLost() == EventsLost() and len({EventsLost(), EventsLost()}) == 1


def test_strings_are_normalised():
    tunnel = _tunnel()
    assert tunnel.local == ipaddress.ip_address("192.0.2.1")
    assert tunnel.remote_ts == (ipaddress.ip_network("10.10.10.5/32"),)


def test_no_key_in_a_repr():
    text = repr(_tunnel())
    assert "0xc0000101" in text.lower() or "3221225729" in text  # the SPI is shown
    assert KEY.hex() not in text and repr(KEY) not in text and repr(INTEG) not in text
    assert "encr_key" not in text and "integ_key" not in text


def test_replace_checks_like_a_new_one():
    moved = _tunnel().replace(remote="198.51.100.7", encap=UdpEncap(4500, 4501))
    assert moved.remote == ipaddress.ip_address("198.51.100.7") and moved.inbound.encr_key == KEY
    with pytest.raises(ValueError, match="different families"):
        _tunnel().replace(remote="2001:db8::1")
    with pytest.raises(TypeError, match="no field spi"):
        _tunnel().replace(spi=1)
    with pytest.raises(ValueError, match="out of range"):
        SaKeys(0xFF, KEY)
    with pytest.raises(ValueError, match="AEAD"):
        EspTransform("cbc(aes)")


def test_copies_and_pickles_are_equal_and_still_immutable():
    tunnel = _tunnel(encap=UdpEncap(4500, 4501))
    pickled = pickle.loads(pickle.dumps(tunnel))  # noqa: S301 - our own bytes
    for twin in (copy.copy(tunnel), copy.deepcopy(tunnel), pickled):
        assert twin == tunnel and twin.inbound.encr_key == KEY
        with pytest.raises(AttributeError):
            twin.reqid = 0x1C2E0006
