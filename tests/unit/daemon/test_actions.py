"""Events → kernel actions and client records, on the in-memory datapath; nothing secret logged."""

from __future__ import annotations

import json
import os

from daemon_support import LogCapture

from ikev2d.compat import Logger
from ikev2d.daemon.actions import MAX_FAILURES, Actions, soft_lifetime, tunnel_from_spec
from ikev2d.daemon.memory_datapath import MemoryDatapath
from ikev2d.daemon.status import client_view, write_snapshot
from ikev2d.ike import events as ev
from ikev2d.kernel.tunnel import EspTransform, UdpEncap

KEY_IN, KEY_OUT = bytes(range(36)), bytes(range(100, 136))


def spec(spi=0xC0000101, *, aead=True, encap=None, lifetime=3600) -> ev.ChildSaSpec:
    return ev.ChildSaSpec(
        local=("198.51.100.1", 4500 if encap else 500),
        remote=("203.0.113.7", 4500 if encap else 500),
        encap=encap,
        inbound_spi=spi,
        outbound_spi=0x12345678,
        encr_xfrm="rfc4106(gcm(aes))" if aead else "cbc(aes)",
        encr_key_in=KEY_IN,
        encr_key_out=KEY_OUT,
        icv_bits=128,
        integ_xfrm=None if aead else "hmac(sha256)",
        integ_key_in=b"" if aead else b"\x11" * 32,
        integ_key_out=b"" if aead else b"\x22" * 32,
        esn=False,
        local_ts=("192.168.1.0/24",),
        remote_ts=("10.10.10.2/32",),
        lifetime=lifetime,
        algorithms="aes256gcm16" if aead else "aes256-sha256",
    )


class Setup:
    def __init__(self) -> None:
        self.dp = MemoryDatapath()
        self.out = LogCapture()
        self.failed: list[int] = []
        self.actions = Actions(
            self.dp, Logger("debug", stream=self.out), lambda: 1700000000.0, self.failed.append
        )


def established(handle=7, identity="alice@home", nat=True):
    return ev.IkeSaEstablished(
        handle, identity, ("203.0.113.7", 4500), "10.10.10.2", nat, "aes256-sha256-modp2048"
    )


def test_tunnel_from_spec_aead_and_cbc():
    t = tunnel_from_spec(spec(encap=(4500, 4501)), 0x1C2E0005)
    assert t.transform == EspTransform("rfc4106(gcm(aes))", icv_bits=128)
    assert t.inbound.spi == 0xC0000101 and t.outbound.spi == 0x12345678
    assert t.inbound.encr_key == KEY_IN and t.outbound.encr_key == KEY_OUT
    assert t.encap == UdpEncap(4500, 4501) and t.reqid == 0x1C2E0005
    assert [str(n) for n in t.local_ts] == ["192.168.1.0/24"]
    t = tunnel_from_spec(spec(aead=False), 0x1C2E0006)
    assert t.transform == EspTransform("cbc(aes)", integ="hmac(sha256)", integ_trunc_bits=128)
    assert t.inbound.integ_key == b"\x11" * 32 and t.outbound.integ_key == b"\x22" * 32
    assert t.encap is None
    assert (t.lifetimes.soft_seconds, t.lifetimes.hard_seconds) == (3300, 3600)


def test_soft_lifetime_is_below_the_hard_one():
    assert soft_lifetime(28800) == 28500
    assert soft_lifetime(600) == 540
    assert soft_lifetime(5) == 4
    assert soft_lifetime(1) == 1


def test_install_and_remove_follow_the_events():
    s = Setup()
    s.actions.apply(established())
    s.actions.apply(ev.ChildSaInstalled(7, spec()))
    assert list(s.dp.installed) == [0xC0000101]
    client = s.actions.clients[7]
    assert client.tunnels == [0xC0000101] and client.esp_algorithms == "aes256gcm16"
    s.actions.apply(ev.ChildSaRemoved(7, spec()))
    assert s.dp.installed == {} and s.actions.tunnels == {} and client.tunnels == []
    s.actions.apply(ev.ChildSaRemoved(7, spec()))  # twice: nothing more to remove
    assert [op for op in s.dp.journal if op[0] == "remove"] == [("remove", 0xC0000101)]
    s.actions.apply(ev.IkeSaTerminated(7, "alice@home", "deleted by the client"))
    assert s.actions.clients == {}
    assert "client alice@home (203.0.113.7:4500) disconnected: deleted by the client" in s.out.text


def test_connected_log_line_names_what_an_owner_needs_and_no_key():
    s = Setup()
    s.actions.apply(established())
    s.actions.apply(ev.ChildSaInstalled(7, spec(aead=False)))
    assert (
        "client alice@home (203.0.113.7:4500, NAT) connected, address 10.10.10.2, "
        "aes256-sha256-modp2048" in s.out.text
    )
    for secret in (KEY_IN, KEY_OUT, b"\x11" * 32, b"\x22" * 32):
        assert secret.hex() not in s.out.text and repr(secret)[2:-1] not in s.out.text


def test_a_refused_install_asks_to_delete_the_ike_sa():
    s = Setup()
    s.dp.refuse_install = True
    s.actions.apply(established())
    s.actions.apply(ev.ChildSaInstalled(7, spec()))
    assert s.failed == [7] and s.actions.tunnels == {}
    assert "Operation not permitted" in s.out.text


def test_failures_are_kept_bounded_and_in_plain_words():
    s = Setup()
    for i in range(MAX_FAILURES + 5):
        s.actions.apply(ev.AuthenticationFailed(("192.0.2.1", 500 + i), f"u{i}", "wrong key"))
    s.actions.apply(ev.NegotiationFailed(("192.0.2.9", 500), "offered aes128-sha1-modp1024"))
    failures = list(s.actions.failures)
    assert len(failures) == MAX_FAILURES
    assert failures[0].identity == "u6" and failures[-1].identity == ""
    assert failures[-2].reason == "authentication failed: wrong key"
    assert failures[-1].reason == "negotiation failed: offered aes128-sha1-modp1024"
    assert failures[-1].remote == "192.0.2.9:500"


def test_failures_carry_the_code_of_the_event():
    s = Setup()
    s.actions.apply(ev.AuthenticationFailed(("192.0.2.1", 500), "eve", "wrong key", "psk_wrong"))
    s.actions.apply(ev.NegotiationFailed(("192.0.2.9", 500), "no IKE proposal", "ike_proposal"))
    assert [f.code for f in s.actions.failures] == ["psk_wrong", "ike_proposal"]


def test_the_connection_id_stays_when_the_ike_sa_is_rekeyed():
    s = Setup()
    s.actions.apply(established(handle=0x1234))
    assert client_view(s.actions.clients[0x1234], None)["id"] == "0000000000001234"
    s.actions.apply(ev.IkeSaRekeyed(0x1234, 0x9999))
    assert client_view(s.actions.clients[0x9999], None)["id"] == "0000000000001234"


def test_a_peer_chosen_identity_cannot_forge_log_lines():
    s = Setup()
    s.actions.apply(established(identity="eve\nikev2d info: client root connected"))
    assert s.out.text.count("\n") == 1 and "eve\\nikev2d" in s.out.text


def test_unknown_events_are_ignored():
    s = Setup()

    class Novel(ev.Event):
        __slots__ = ()

    s.actions.apply(Novel())
    assert "ignored event Novel" in s.out.text


def test_snapshot_is_replaced_atomically(tmp_path):
    s = Setup()
    s.actions.apply(established())
    status = {"running": True, "pid": 42, "clients": [client_view(s.actions.clients[7], None)]}
    path = write_snapshot(str(tmp_path), {"running": True, "pid": 42, "clients": []})
    with open(path) as old:  # a reader holding the old file keeps the old content
        write_snapshot(str(tmp_path), status)
        assert json.load(old)["clients"] == []
    with open(path) as new:
        text = new.read()
    assert json.loads(text) == status
    assert text.index('"running"') < text.index('"pid"') < text.index('"clients"')
    assert os.listdir(tmp_path) == ["status.json"]  # no temporary file left
    assert oct(os.stat(path).st_mode & 0o777) == "0o644"
    client = json.loads(text)["clients"][0]
    assert client["identity"] == "alice@home" and client["bytes_in"] == 0
    assert client["since"] == 1700000000 and client["nat"] is True


def test_snapshot_streams_an_iterator_of_clients_as_the_same_json(tmp_path):
    views = [{"identity": f"user{k}@home", "virtual_ip": f"10.10.10.{k}"} for k in range(3)]
    listed = {"running": True, "pid": 42, "clients": views, "failures": [], "listen": ["a"]}
    streamed = dict(listed, clients=iter(views))
    expected = json.dumps(listed, separators=(", ", ": ")) + "\n"
    with open(write_snapshot(str(tmp_path), streamed)) as f:
        assert f.read() == expected
    empty = dict(listed, clients=iter(()))
    with open(write_snapshot(str(tmp_path), empty)) as f:
        assert json.load(f)["clients"] == []
