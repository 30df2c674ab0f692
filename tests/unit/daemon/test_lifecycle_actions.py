"""Lifecycle events → kernel: make-before-break rekeys, IKE rekeys, MOBIKE moves, save-keys."""

from __future__ import annotations

import dataclasses

from daemon_support import LogCapture
from test_actions import KEY_IN, Setup, established, spec

from ikev2d.compat import Logger
from ikev2d.daemon.actions import Actions
from ikev2d.daemon.memory_datapath import MemoryDatapath
from ikev2d.daemon.savekeys import ESP_FILE, IKE_FILE, KeyWriter, esp_lines, ike_line
from ikev2d.ike import events as ev


def test_client_rekey_installs_inbound_first_outbound_before_the_old_goes():
    s = Setup()
    s.actions.apply(established())
    first = spec(0xC0000101)
    s.actions.apply(ev.ChildSaInstalled(7, first))
    new = dataclasses.replace(first, inbound_spi=0xC0000202, outbound_spi=0x0BADCAFE)
    # CREATE_CHILD_SA { N(REKEY_SA) ... } from the client: the new SA, outbound held back
    s.actions.apply(ev.ChildSaInstalled(7, new, replaces=0xC0000101))
    assert s.dp.journal == [("in", 0xC0000101), ("out", 0xC0000101), ("in", 0xC0000202)]
    old_reqid = s.dp.installed[0xC0000101].reqid
    assert s.dp.installed[0xC0000202].reqid == old_reqid  # same reqid: no policy change
    # the client's Delete for the old one: our new outbound SA goes in, then the old goes
    s.actions.apply(ev.ChildSaRemoved(7, first))
    assert s.dp.journal[3:] == [("out", 0xC0000202), ("remove", 0xC0000101)]
    assert s.actions.clients[7].tunnels == [0xC0000202]
    assert s.actions.waiting_outbound == {}


def test_a_rekeyed_child_removed_first_never_gets_its_outbound_sa():
    s = Setup()
    s.actions.apply(established())
    first = spec(0xC0000101)
    new = dataclasses.replace(first, inbound_spi=0xC0000202)
    s.actions.apply(ev.ChildSaInstalled(7, first))
    s.actions.apply(ev.ChildSaInstalled(7, new, replaces=0xC0000101))
    s.actions.apply(ev.ChildSaRemoved(7, new))  # lost a §2.8.1 collision
    s.actions.apply(ev.ChildSaRemoved(7, first))
    assert ("out", 0xC0000202) not in s.dp.journal and s.dp.installed == {}


def test_ike_rekey_moves_the_client_record():
    s = Setup()
    s.actions.apply(established(handle=7))
    s.actions.apply(ev.ChildSaInstalled(7, spec()))
    s.actions.apply(ev.IkeSaRekeyed(7, 99))
    assert list(s.actions.clients) == [99] and s.actions.clients[99].handle == 99
    assert s.actions.clients[99].tunnels == [0xC0000101]
    s.actions.apply(ev.IkeSaTerminated(99, "alice@home", "deleted by the client"))
    assert s.actions.clients == {}


def test_child_updated_moves_the_tunnel_and_the_client():
    s = Setup()
    s.actions.apply(established())
    old = spec(encap=None)
    s.actions.apply(ev.ChildSaInstalled(7, old))
    moved = dataclasses.replace(old, local=("198.51.100.1", 4500),
                                remote=("203.0.113.99", 4501), encap=(4500, 4501))  # fmt: skip
    before = s.dp.installed[0xC0000101]
    s.actions.apply(ev.ChildSaUpdated(7, old, moved))
    assert s.dp.journal[-1] == ("move", 0xC0000101)
    after = s.dp.installed[0xC0000101]
    assert str(before.remote) == "203.0.113.7" and str(after.remote) == "203.0.113.99"
    assert after.encap is not None and (after.encap.local_port, after.encap.remote_port) == (
        4500, 4501,
    )  # fmt: skip
    assert after.reqid == before.reqid and after.inbound == before.inbound
    assert s.actions.tunnels[0xC0000101] is after
    assert s.actions.clients[7].remote == ("203.0.113.99", 4501)
    assert "moved to 198.51.100.1:4500 <=> 203.0.113.99:4501" in s.out.text
    # removing it later removes the moved tunnel
    s.actions.apply(ev.ChildSaRemoved(7, moved))
    assert s.dp.installed == {} and s.dp.journal[-1] == ("remove", 0xC0000101)


def test_save_keys_lines_in_wiresharks_uat_format(tmp_path):
    ike = ev.IkeKeysDerived(bytes.fromhex("0102030405060708"), bytes.fromhex("a1a2a3a4a5a6a7a8"),
                            "aes256", b"\x01" * 32, b"\x02" * 32, "AUTH_HMAC_SHA2_256_128",
                            b"\x03" * 32, b"\x04" * 32)  # fmt: skip
    assert ike_line(ike) == (
        "0102030405060708,a1a2a3a4a5a6a7a8," + "01" * 32 + "," + "02" * 32
        + ',"AES-CBC-256 [RFC3602]",' + "03" * 32 + "," + "04" * 32
        + ',"HMAC_SHA2_256_128 [RFC4868]"\n'
    )  # fmt: skip
    gcm = dataclasses.replace(ike, encr="aes128gcm16", integ="NONE")
    assert '"AES-GCM-128 with 16 octet ICV [RFC5282]"' in ike_line(gcm)
    assert '"NONE [RFC4306]"' in ike_line(gcm)
    assert ike_line(dataclasses.replace(ike, encr="chacha20poly1305")).startswith("#")
    cbc = spec(aead=False)
    lines = esp_lines(cbc).splitlines()
    assert lines[0] == (
        '"IPv4","203.0.113.7","198.51.100.1","0xc0000101","AES-CBC [RFC3602]",'
        f'"0x{KEY_IN.hex()}","HMAC-SHA-256-128 [RFC4868]","0x{"11" * 32}"'
    )
    assert lines[1].startswith('"IPv4","198.51.100.1","203.0.113.7","0x12345678"')
    assert '"AES-GCM with 16 octet ICV [RFC4106]"' in esp_lines(spec())
    assert '"NULL",""' in esp_lines(spec())

    writer = KeyWriter(str(tmp_path / "keys"))
    a = Actions(MemoryDatapath(), Logger("debug", stream=LogCapture()), lambda: 0.0,
                key_writer=writer)  # fmt: skip
    a.apply(established())
    a.apply(ike)
    a.apply(ev.ChildSaInstalled(7, cbc))
    keys = tmp_path / "keys"
    assert (keys / IKE_FILE).read_text() == ike_line(ike)
    assert (keys / ESP_FILE).read_text() == esp_lines(cbc)
    assert (keys / ESP_FILE).stat().st_mode & 0o077 == 0  # secrets: owner only


def test_virtual_ip_route_follows_the_client():
    s = Setup()
    s.actions.apply(established())
    old = spec()
    s.actions.apply(ev.ChildSaInstalled(7, old))
    assert s.dp.routes == {"10.10.10.2": ("203.0.113.7", ("192.168.1.0/24",))}
    moved = dataclasses.replace(old, remote=("203.0.113.99", 4500))
    s.actions.apply(ev.ChildSaUpdated(7, old, moved))
    assert s.dp.routes["10.10.10.2"][0] == "203.0.113.99"
    s.actions.apply(ev.ChildSaRemoved(7, moved))
    s.actions.apply(ev.IkeSaTerminated(7, "alice@home", "deleted by the client"))
    assert s.dp.routes == {}


def test_byte_lifetime_soft_at_rekey_point_hard_a_bit_above():
    from ikev2d.daemon.actions import tunnel_from_spec

    t = tunnel_from_spec(dataclasses.replace(spec(), lifetime_bytes=100_000, soft_lifetime=50),
                         0x1C2E0005)  # fmt: skip
    lt = t.lifetimes
    assert (lt.soft_bytes, lt.hard_bytes, lt.soft_seconds, lt.hard_seconds) == (
        100_000, 110_000, 50, 3600,
    )  # fmt: skip
    assert tunnel_from_spec(spec(), 0x1C2E0005).lifetimes.hard_bytes is None
