"""DPD probes only idle clients: the real Daemon loop on loopback, stepped turn by turn on an
injected clock, reads the (in-memory) kernel's inbound ESP counters every dpd_delay/2 and spares
the client whose counters rise; a client whose counters stand still gets an empty
INFORMATIONAL request (RFC 7296 §1.4) once dpd_delay has passed."""

from __future__ import annotations

import socket

import pytest
from daemon_support import LogCapture, server_table

from ikev2d.compat import Logger
from ikev2d.daemon.loop import Daemon
from ikev2d.policy.config import from_mapping
from ikev2d.wire.enums import ExchangeType, IdType
from testbed.ike_initiator import Initiator

DPD = 10  # seconds
STEP = DPD / 4  # the fake clock's step: finer than the counter poll (dpd_delay/2)
T0 = 1000.0


class Clock:
    """The daemon's monotonic clock, moved by hand."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


class SteppedDaemon:
    """The real Daemon, not in a thread: each turn waits at most a few real milliseconds."""

    def __init__(self, tmp_path, datapath, **server) -> None:
        self.clock = Clock()
        config = from_mapping({"server": server_table(tmp_path, **server)})
        self.log = LogCapture()
        self.daemon = Daemon(config, datapath=datapath, log=Logger("debug", stream=self.log),
                             clock=self.clock)  # fmt: skip
        self.daemon.start()
        self.ike = ("127.0.0.1", config.port)

    def turns(self, n: int = 5) -> None:
        for _ in range(n):
            self.daemon.run_once(max_wait=0.01)

    def advance_to(self, t: float) -> None:
        self.clock.now = t
        self.turns()

    def close(self) -> None:
        self.daemon.shutdown()
        self.daemon.close()


class Phone:
    """A loopback UDP socket and an in-memory initiator; reads never block."""

    def __init__(self, d: SteppedDaemon, name: bytes) -> None:
        self.d = d
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.setblocking(False)
        self.ike = Initiator(address=self.sock.getsockname(), server=d.ike,
                             identity=(IdType.FQDN, name))  # fmt: skip

    def received(self) -> list[bytes]:
        got = []
        for _ in range(100):  # bounded
            try:
                got.append(self.sock.recv(65535))
            except BlockingIOError:
                return got
        return got

    def exchange(self, message: bytes) -> bytes:
        self.sock.sendto(message, self.d.ike)
        for _ in range(500):  # bounded: ~5 s of real time at most
            self.d.turns(1)
            if got := self.received():
                (reply,) = got
                return reply
        raise AssertionError("no reply from the daemon")

    def connect(self) -> None:
        # IKE_SA_INIT { SA, KE, Ni, N(NAT_D) } -->   <-- { SA, KE, Nr, N(NAT_D) }
        self.ike.init_response(self.exchange(self.ike.init_request()))
        # IKE_AUTH { IDi, AUTH, CP, SA, TSi, TSr } -->   <-- { IDr, AUTH, CP, SA, TSi, TSr }
        _, inner = self.ike.open(self.exchange(self.ike.auth_request()))
        assert self.ike.verify_responder_auth(inner)

    def liveness_checks(self, *, answer: bool) -> list[tuple[float, int]]:
        """Each request received now must be an empty INFORMATIONAL (a liveness check);
        answered (`answer`) and counted. Returns (daemon's clock, message ID) per datagram:
        a retransmission repeats the message ID."""
        seen = []
        for data in self.received():
            header, inner = self.ike.open(data)
            assert header.exchange == ExchangeType.INFORMATIONAL and not header.response
            assert inner == []
            seen.append((self.d.clock.now, header.message_id))
            if answer:
                # <-- { }   { } -->
                self.sock.sendto(self.ike.ack(header), self.d.ike)
                self.d.turns()
        return seen

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def world(tmp_path, datapath):
    d = SteppedDaemon(tmp_path, datapath, dpd_delay=DPD, retransmit_timeout=2, retransmit_tries=2)
    busy, idle = Phone(d, b"busy.example.test"), Phone(d, b"idle.example.test")
    busy.connect()
    idle.connect()
    yield d, busy, idle
    d.close()
    busy.close()
    idle.close()


def inbound_spi(datapath, phone: Phone) -> int:
    (tunnel,) = [t for t in datapath.installed.values() if t.outbound.spi == phone.ike.child_spi]
    return tunnel.inbound.spi


def test_a_client_sending_esp_gets_no_liveness_check_an_idle_one_does(world, datapath):
    d, busy, idle = world
    busy_in, idle_in = inbound_spi(datapath, busy), inbound_spi(datapath, idle)
    probes_busy, probes_idle = [], []
    steps = int(3 * DPD / STEP)
    for n in range(1, steps + 1):
        datapath.count(busy_in, 1000, 10)  # ESP keeps arriving
        datapath.count(datapath.installed[idle_in].outbound.spi, 700, 7)  # only we send to it
        d.advance_to(T0 + n * STEP)
        probes_busy += busy.liveness_checks(answer=True)
        probes_idle += idle.liveness_checks(answer=True)
    assert probes_busy == [], d.log.text
    # the idle client: checked once every dpd_delay, the first dpd_delay after IKE_AUTH
    assert [t for t, _ in probes_idle] == [T0 + DPD, T0 + 2 * DPD, T0 + 3 * DPD], d.log.text
    assert len({mid for _, mid in probes_idle}) == 3  # three checks, not retransmissions
    assert len(d.daemon.actions.clients) == 2


def test_a_client_whose_traffic_stops_is_checked_a_dpd_delay_later(world, datapath):
    d, busy, idle = world
    busy_in = inbound_spi(datapath, busy)
    t = T0
    for n in range(1, int(2 * DPD / STEP) + 1):  # 20 s of ESP: no check
        datapath.count(busy_in, 1000, 10)
        t = T0 + n * STEP
        d.advance_to(t)
        assert busy.liveness_checks(answer=True) == []
        idle.liveness_checks(answer=True)
    stopped = t  # the counters stand still from here on
    probes = []
    for n in range(1, int(2 * DPD / STEP) + 1):
        d.advance_to(stopped + n * STEP)
        probes += busy.liveness_checks(answer=False)
    # the last poll that saw the counters rise was at most dpd_delay/2 before they stopped
    first_time, first_mid = probes[0]
    assert {mid for _, mid in probes} == {first_mid}, probes  # one check (and its resends)
    assert stopped < first_time <= stopped + DPD, (stopped, probes)


def test_an_unanswered_check_of_an_idle_client_ends_it_while_the_busy_one_stays(world, datapath):
    d, busy, idle = world
    busy_in, idle_in = inbound_spi(datapath, busy), inbound_spi(datapath, idle)
    for n in range(1, int(4 * DPD / STEP) + 1):  # 10 s idle + retransmissions (2, 4, 8 s ...)
        datapath.count(busy_in, 1000, 10)
        d.advance_to(T0 + n * STEP)
        busy.liveness_checks(answer=True)
        idle.received()  # the phone is gone: nothing answers
        if len(d.daemon.actions.clients) == 1:
            break
    names = [c.identity for c in d.daemon.actions.clients.values()]
    assert names == ["busy.example.test"], d.log.text
    assert idle_in not in datapath.installed and busy_in in datapath.installed
    assert "stopped answering" in d.log.text
