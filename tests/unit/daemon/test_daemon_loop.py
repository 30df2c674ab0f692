"""The real event loop on loopback ports, driven by the in-memory initiator of tests/unit/ike,
on the in-memory datapath: IKE on 500 and 4500, the non-ESP marker, kernel actions, control,
stop."""

from __future__ import annotations

import os
import socket
import time

from ikev2d.daemon.loop import router_memory
from ikev2d.daemon.memory_datapath import MemoryDatapath
from ikev2d.kernel.tunnel import EspTransform, UdpEncap
from ikev2d.wire.enums import IdType, NotifyType, ProtocolId
from ikev2d.wire.message import decode_message
from ikev2d.wire.nat_t import NON_ESP_MARKER
from ikev2d.wire.payloads import DeletePayload
from testbed.ike_initiator import Initiator, vip


class Phone:
    """A UDP socket on 127.0.0.1 and an initiator speaking through it."""

    def __init__(self, server, *, natt: bool = False, nat: bool = False, **initiator) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(5)
        self.server, self.natt = server, natt
        # Behind a NAT the phone's own address (in its NAT-D hash) is not the one we see.
        address = ("192.168.0.100", 4500) if nat else self.sock.getsockname()
        self.ike = Initiator(address=address, server=server, **initiator)

    def send(self, message: bytes) -> None:
        self.sock.sendto(NON_ESP_MARKER + message if self.natt else message, self.server)

    def receive(self) -> bytes:
        data, sender = self.sock.recvfrom(65535)
        assert sender == self.server  # replies come from the address we talked to
        if self.natt:
            assert data[:4] == NON_ESP_MARKER
            return data[4:]
        return data

    def exchange(self, message: bytes) -> bytes:
        self.send(message)
        return self.receive()

    def connect(self):
        self.ike.init_response(self.exchange(self.ike.init_request()))
        _, inner = self.ike.open(self.exchange(self.ike.auth_request()))
        assert self.ike.verify_responder_auth(inner)
        return inner

    def nothing_more(self, wait: float = 0.3) -> bool:
        self.sock.settimeout(wait)
        try:
            self.sock.recvfrom(65535)
        except TimeoutError:
            return True
        finally:
            self.sock.settimeout(5)
        return False

    def close(self) -> None:
        self.sock.close()


def wait_for(predicate, timeout: float = 5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.01)
    raise AssertionError("condition not reached")


def test_connect_on_500_installs_the_tunnel_and_shows_in_status(start_daemon, datapath):
    d = start_daemon()
    phone = Phone(d.ike, identity=(IdType.RFC822_ADDR, b"alice@home"))
    inner = phone.connect()
    address = str(vip(inner))
    # IKE_AUTH's response leaves only after the Child SA is in the kernel
    (tunnel,) = datapath.installed.values()
    keys = phone.ike.child_keys()
    assert tunnel.outbound.spi == phone.ike.child_spi
    assert tunnel.inbound.encr_key == keys.encr_i and tunnel.outbound.encr_key == keys.encr_r
    assert tunnel.inbound.integ_key == keys.integ_i and tunnel.outbound.integ_key == keys.integ_r
    assert tunnel.transform == EspTransform("cbc(aes)", integ="hmac(sha256)", integ_trunc_bits=128)
    assert str(tunnel.local) == "127.0.0.1" and tunnel.encap is None
    assert [str(n) for n in tunnel.remote_ts] == [f"{address}/32"]
    assert [str(n) for n in tunnel.local_ts] == ["192.168.1.0/24"]
    assert tunnel.lifetimes.hard_seconds >= d.config.child_lifetime
    assert 0 < tunnel.lifetimes.soft_seconds < tunnel.lifetimes.hard_seconds
    # the inbound SPI is for ESP from the client to us
    assert [op for op in datapath.journal if op[0] == "allocate_spi"] == [
        ("allocate_spi", "127.0.0.1 -> 127.0.0.1")
    ]
    # its route is told the interface the IKE_AUTH came in on (lo here): kernel.routes
    assert datapath.route_devices == {address: socket.if_nametoindex("lo")}

    datapath.count(tunnel.inbound.spi, 1000, 10)
    datapath.count(tunnel.outbound.spi, 2000, 20)
    (client,) = d.control({"cmd": "clients"})["result"]
    assert client["identity"] == "alice@home" and client["virtual_ip"] == address
    assert client["remote"] == f"127.0.0.1:{phone.sock.getsockname()[1]}"
    assert client["nat"] is False
    assert client["ike"] == "aes256-sha256-modp2048" and client["esp"] == "aes256-sha256"
    assert (client["bytes_in"], client["packets_in"]) == (1000, 10)
    assert (client["bytes_out"], client["packets_out"]) == (2000, 20)
    assert abs(client["since"] - time.time()) < 5
    snap = wait_for(lambda: d.snapshot() if d.snapshot()["clients"] else None)
    assert snap["running"] is True and snap["pid"] == os.getpid()
    assert snap["clients"][0]["identity"] == "alice@home"
    assert "client alice@home (127.0.0.1:" in d.log.text and f"address {address}" in d.log.text
    phone.close()


def test_disconnect_by_virtual_ip_sends_delete_and_removes_kernel_state(start_daemon, datapath):
    d = start_daemon()
    phone = Phone(d.ike)
    address = str(vip(phone.connect()))
    (tunnel,) = datapath.installed.values()
    reply = d.control({"cmd": "disconnect", "target": address})
    assert reply == {"ok": True, "result": {"disconnected": ["phone@example.test"]}}
    header, inner = phone.ike.open(phone.receive())
    assert not header.response and isinstance(inner[0], DeletePayload)
    assert inner[0].protocol == ProtocolId.IKE
    assert datapath.installed == {} and ("remove", tunnel.inbound.spi) in datapath.journal
    assert d.snapshot()["clients"] == []
    again = d.control({"cmd": "disconnect", "target": address})
    assert again["ok"] is False and address in again["error"]
    # the lease was released: the same identity connects again and gets its address back
    other = Phone(d.ike)
    assert str(vip(other.connect())) == address
    phone.close()
    other.close()


def test_disconnect_by_connection_id_ends_only_that_connection(start_daemon, datapath):
    # two devices with the same identity (PSK profiles once all said "client")
    d = start_daemon()
    first, second = Phone(d.ike), Phone(d.ike)
    first.connect()
    second.connect()
    clients = d.control({"cmd": "status"})["result"]["clients"]
    assert [c["identity"] for c in clients] == ["phone@example.test"] * 2
    ids = [c["id"] for c in clients]
    assert len(set(ids)) == 2 and all(len(i) == 16 for i in ids)
    reply = d.control({"cmd": "disconnect", "id": ids[0]})
    assert reply == {"ok": True, "result": {"disconnected": ["phone@example.test"]}}
    _, inner = first.ike.open(first.receive())
    assert isinstance(inner[0], DeletePayload)
    assert second.nothing_more()
    assert [c["id"] for c in d.control({"cmd": "status"})["result"]["clients"]] == ids[1:]
    again = d.control({"cmd": "disconnect", "id": ids[0]})
    assert again["ok"] is False and "ended" in again["error"]
    first.close()
    second.close()


def test_nat_t_port_strips_and_adds_the_marker_and_ignores_keepalives(start_daemon, datapath):
    d = start_daemon()
    phone = Phone(d.natt, natt=True, nat=True)
    phone.sock.sendto(b"\xff", d.natt)  # NAT-keepalive
    phone.sock.sendto(b"\x12\x34\x56\x78" + bytes(40), d.natt)  # ESP, not for us
    phone.sock.sendto(b"\0\0", d.natt)  # runt
    inner = phone.connect()  # Phone.receive checks every reply carries the marker
    assert phone.nothing_more()
    (tunnel,) = datapath.installed.values()
    client_port = phone.sock.getsockname()[1]
    assert tunnel.encap == UdpEncap(d.config.natt_port, client_port)
    (client,) = d.control({"cmd": "status"})["result"]["clients"]
    assert client["nat"] is True and client["virtual_ip"] == str(vip(inner))
    phone.close()


def test_ike_without_marker_on_the_nat_t_port_is_not_ike(start_daemon):
    d = start_daemon()
    phone = Phone(d.natt)  # sends plain IKE to 4500: that is ESP with SPI 0, i.e. garbage
    phone.send(phone.ike.init_request())
    assert phone.nothing_more()
    phone.close()


def test_wrong_psk_is_refused_and_listed_in_failures(start_daemon, datapath):
    d = start_daemon()
    phone = Phone(d.ike, identity=(IdType.FQDN, b"mallory.example.test"))
    phone.ike.init_response(phone.exchange(phone.ike.init_request()))
    _, inner = phone.ike.open(phone.exchange(phone.ike.auth_request(psk=b"wrong key " * 3)))
    assert inner[0].notify_type == NotifyType.AUTHENTICATION_FAILED
    assert datapath.installed == {}
    (failure,) = d.control({"cmd": "status"})["result"]["failures"]
    assert failure["identity"] == "mallory.example.test"
    assert failure["remote"] == f"127.0.0.1:{phone.sock.getsockname()[1]}"
    assert "authentication failed" in failure["reason"] and failure["code"] == "psk_wrong"
    assert "mallory.example.test" in d.log.text and "failed to authenticate" in d.log.text
    assert "wrong key" not in d.log.text
    phone.close()


def test_unacceptable_proposal_is_answered_and_listed(start_daemon):
    d = start_daemon()
    phone = Phone(d.ike, ike=("aes128-sha1-modp1024",))
    reply = decode_message(phone.exchange(phone.ike.init_request()))
    assert reply.notify(NotifyType.NO_PROPOSAL_CHOSEN)
    (failure,) = d.control({"cmd": "status"})["result"]["failures"]
    assert failure["identity"] == "" and "negotiation failed" in failure["reason"]
    assert "modp1024" in failure["reason"]
    # only weak algorithms offered (Windows' defaults): what legacy_proposals would let in
    assert failure["code"] == "ike_proposal_weak"
    phone.close()
    strong = Phone(d.ike, ike=("aes128-sha384-ecp384",))
    assert decode_message(strong.exchange(strong.ike.init_request())).notify(
        NotifyType.NO_PROPOSAL_CHOSEN
    )
    assert d.control({"cmd": "status"})["result"]["failures"][-1]["code"] == "ike_proposal"
    strong.close()


def test_kernel_refusing_the_tunnel_deletes_the_ike_sa(start_daemon, datapath):
    datapath.refuse_install = True
    d = start_daemon()
    phone = Phone(d.ike)
    phone.connect()
    _, inner = phone.ike.open(phone.receive())  # our Delete follows the IKE_AUTH reply
    assert isinstance(inner[0], DeletePayload)
    assert d.control({"cmd": "clients"})["result"] == []
    assert "cannot install the tunnel" in d.log.text
    phone.close()


def test_stop_deletes_clients_removes_kernel_state_and_cleans_up(start_daemon, datapath):
    d = start_daemon()
    phone = Phone(d.ike)
    phone.connect()
    assert len(datapath.installed) == 1 and datapath.flushes == 1  # stale state at start
    d.stop()
    _, inner = phone.ike.open(phone.receive())
    assert isinstance(inner[0], DeletePayload)
    assert datapath.installed == {} and datapath.flushes == 2 and datapath.closed
    snap = d.snapshot()
    assert snap["running"] is False and snap["clients"] == []
    assert not os.path.exists(d.config.control_socket)
    phone.close()


def test_kernel_expire_events_are_logged(start_daemon, datapath):
    from ikev2d.kernel.tunnel import SaExpired

    d = start_daemon()
    datapath.push_event(SaExpired(0xC0001234, "127.0.0.1", 0, True, 0, 0))
    wait_for(lambda: "c0001234" in d.log.text)
    assert "hard lifetime" in d.log.text


def test_two_clients_get_different_addresses(start_daemon, datapath):
    d = start_daemon()
    a = Phone(d.ike, identity=(IdType.FQDN, b"a.example.test"))
    b = Phone(d.ike, identity=(IdType.FQDN, b"b.example.test"))
    va, vb = vip(a.connect()), vip(b.connect())
    assert va != vb and len(datapath.installed) == 2
    names = {c["identity"] for c in d.control({"cmd": "clients"})["result"]}
    assert names == {"a.example.test", "b.example.test"}
    a.close()
    b.close()


def test_ike_sockets_are_prepared_for_the_kernel(start_daemon, datapath: MemoryDatapath):
    start_daemon()
    assert sorted(datapath.prepared) == [(socket.AF_INET, False), (socket.AF_INET, True)]


def test_router_memory_reads_memtotal_and_the_responder_gets_it(tmp_path, start_daemon):
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:         125432 kB\nMemFree:           60000 kB\n")
    assert router_memory(str(meminfo)) == 125432 * 1024
    assert router_memory(str(tmp_path / "absent")) is None
    meminfo.write_text("MemFree: 1 kB\n")
    assert router_memory(str(meminfo)) is None
    running = start_daemon()
    assert running.daemon.responder.memory_bytes == router_memory() > 0


def test_a_turn_reads_the_clock_once(tmp_path, datapath):
    """Where the clock has no vDSO (user-mode Linux, many MIPS routers) every read is a
    system call: a turn of the loop that answers an IKE_SA_INIT and an IKE_AUTH reads it
    once, and its timeout for the next turn comes from that read too."""
    from daemon_support import server_table

    from ikev2d.compat import Logger
    from ikev2d.daemon.loop import Daemon
    from ikev2d.policy.config import from_mapping

    reads = []

    def clock() -> float:
        reads.append(1)
        return time.monotonic()

    config = from_mapping({"server": server_table(tmp_path)})
    daemon = Daemon(config, datapath=datapath, log=Logger("error"), clock=clock)
    daemon.start()
    phone = Phone(("127.0.0.1", config.port), identity=(IdType.RFC822_ADDR, b"alice@home"))
    try:
        for request in (phone.ike.init_request, phone.ike.auth_request):
            phone.send(request())
            reads.clear()
            daemon.run_once(max_wait=5)
            assert len(reads) == 1
            answer = phone.receive()
            if request == phone.ike.init_request:
                phone.ike.init_response(answer)
        assert len(datapath.installed) == 1
    finally:
        phone.close()
        daemon.close()
