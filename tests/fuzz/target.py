"""The responder under test: built from a seed, fed through its public surface only, and
checked after every input.

Anything the responder raises is an escape (the daemon loop would log it as an internal error
and the client would get no answer); so is a broken invariant (`InvariantBroken`): its
events contradict each other or its own view of the SAs, it sends something our codec cannot
decode, or it sends to an address nobody sent it anything from.
"""

from __future__ import annotations

import functools
import ipaddress
import json
import math
import random
from collections.abc import Callable

from ikev2d.ike import events as ev
from ikev2d.ike.credentials import Credentials
from ikev2d.ike.responder import Responder
from ikev2d.policy.config import ServerConfig, from_mapping
from ikev2d.wire.errors import ParseError
from ikev2d.wire.message import decode_message

from .seeds import Seed

__all__ = [
    "COMMANDS",
    "Escape",
    "InvariantBroken",
    "Target",
    "credentials_from_pem",
    "make_responder",
    "seeded_rng",
]

Address = tuple[str, int]
Datagram = tuple[bytes, Address, Address]


class Escape(Exception):
    """What the fuzzer hunts: an exception out of the responder (`__cause__` is it)."""


class InvariantBroken(Escape):
    """The responder did something it must never do (not an exception it raised)."""


_ENDINGS = (ev.IkeSaTerminated, ev.IkeSaRekeyed, ev.AuthenticationFailed)


class SpiCounter:
    """The kernel's SPI allocation, made predictable."""

    def __init__(self) -> None:
        self.next = 0xC0000100

    def __call__(self, local: str, remote: str) -> int:
        self.next += 1
        return self.next


def credentials_from_pem(pem: dict) -> Credentials | None:
    if not pem.get("server_cert"):
        return None
    return _credentials(pem["server_cert"], pem["server_key"], pem["ca"])


@functools.cache
def _credentials(server_cert: str, server_key: str, ca: str) -> Credentials:
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    cert = x509.load_pem_x509_certificate(server_cert.encode())
    key = load_pem_private_key(server_key.encode(), None)
    return Credentials((cert,), key, x509.load_pem_x509_certificate(ca.encode()), frozenset())


@functools.cache
def _config(text: str) -> ServerConfig:
    return from_mapping(json.loads(text))


def make_responder(
    seed: Seed, rng: Callable[[int], bytes], wall_clock: Callable[[], float] | None = None,
    export_keys: bool = False,
) -> Responder:  # fmt: skip
    """The responder the seed was recorded against (its config and credentials)."""
    return Responder(
        _config(json.dumps(seed.config, sort_keys=True)),
        rng=rng,
        allocate_spi=SpiCounter(),
        export_keys=export_keys,
        credentials=credentials_from_pem(seed.pem),
        wall_clock=wall_clock or (lambda: seed.wall_clock),
    )


def seeded_rng(value: int) -> Callable[[int], bytes]:
    """Reproducible randomness (a fuzz run must replay exactly; secrecy is not the point)."""
    return random.Random(value).randbytes


class Target:
    """One responder and the model of what its events said so far."""

    def __init__(self, responder: Responder) -> None:
        self.r = responder
        self.children: dict[int, set[int]] = {}  # established IKE SA handle -> inbound SPIs
        self.installed: set[int] = set()  # every inbound SPI ever installed
        self.heard: set[Address] = set()  # addresses that sent us something
        self.events: list[ev.Event] = []  # of the last call
        self.sent: list[Datagram] = []  # of the last call
        self.activity = 0  # datagrams sent and events emitted so far: "did anything change"
        self.bytes_in = self.bytes_out = 0  # reset by whoever measures amplification
        self.endings = 0  # IKE SAs ended, rekeyed or refused so far
        self.strict = True  # check every datagram it sends (off while replaying known steps)

    # -- inputs ------------------------------------------------------------------------------
    def deliver(self, data: bytes, src: Address, dst: Address, now: float) -> list[Datagram]:
        """One datagram, as the daemon hands it over (non-ESP marker removed), then timers."""
        self.heard.add(src)
        self.bytes_in += len(data)
        _guard(self.r.receive_datagram, data, src, dst, now)
        return self.tick(now)

    def tick(self, now: float) -> list[Datagram]:
        _guard(self.r.handle_timer, now)
        return self._drain(now)

    def command(self, name: str, now: float) -> list[Datagram]:
        _guard(COMMANDS[name], self, now)
        return self.tick(now)

    def expire(self, spi: int, hard: bool, now: float) -> list[Datagram]:
        """The kernel says a Child SA's lifetime ran out (any SPI: the kernel is not checked)."""
        _guard(self.r.handle_kernel_expire, spi, hard, now)
        return self.tick(now)

    # -- checks ------------------------------------------------------------------------------
    def _drain(self, now: float) -> list[Datagram]:
        self.sent = _guard(self.r.datagrams_to_send)
        self.events = []
        while (event := _guard(self.r.next_event)) is not None:
            self.events.append(event)
            self._follow(event)
            if isinstance(event, _ENDINGS):
                self.endings += 1
        if self.strict:
            for data, _local, remote in self.sent:
                self._check_datagram(data, remote)
        self.activity += len(self.sent) + len(self.events)
        self.bytes_out += sum(len(d) for d, _, _ in self.sent)
        when = _guard(self.r.get_timer)
        if when is not None and (not isinstance(when, float | int) or math.isnan(when)):
            raise InvariantBroken(f"get_timer() returned {when!r}")
        if when is not None and when <= now:
            raise InvariantBroken(f"a timer at {when} is due after handle_timer({now})")
        self._check_sas()
        return self.sent

    def _check_datagram(self, data: bytes, remote: Address) -> None:
        if remote not in self.heard:
            raise InvariantBroken(f"sent to {remote}, which never sent anything")
        try:
            decode_message(data)
        except ParseError as e:
            raise InvariantBroken(f"sent a message our own codec refuses: {e}") from None

    def _follow(self, e: ev.Event) -> None:
        kids = self.children
        if isinstance(e, ev.IkeSaEstablished):
            _expect(e.ike_sa not in kids, f"IKE SA {e.ike_sa:x} established twice")
            kids[e.ike_sa] = set()
        elif isinstance(e, ev.ChildSaInstalled):
            spi = e.child.inbound_spi
            _expect(e.ike_sa in kids, f"Child SA {spi:x} installed on a non-established IKE SA")
            _expect(spi not in self.installed, f"inbound SPI {spi:x} installed twice")
            _expect(e.replaces is None or e.replaces in self.installed, "replaces an unknown SA")
            kids[e.ike_sa].add(spi)
            self.installed.add(spi)
        elif isinstance(e, ev.ChildSaRemoved):
            spi = e.child.inbound_spi
            _expect(spi in kids.get(e.ike_sa, ()), f"Child SA {spi:x} removed but not installed")
            kids[e.ike_sa].discard(spi)
        elif isinstance(e, ev.ChildSaUpdated):
            _expect(e.old.inbound_spi in kids.get(e.ike_sa, ()), "an unknown Child SA updated")
            _expect(e.old.inbound_spi == e.new.inbound_spi, "an update changed the SPI")
        elif isinstance(e, ev.IkeSaRekeyed):
            _expect(e.old in kids and e.new not in kids, "IKE rekey of an unknown SA")
            kids[e.new] = kids.pop(e.old)
        elif isinstance(e, ev.IkeSaTerminated):
            _expect(e.ike_sa in kids, f"IKE SA {e.ike_sa:x} terminated but not established")
            _expect(not kids.pop(e.ike_sa), "an IKE SA ended with Child SAs still installed")

    def _check_sas(self) -> None:
        sas = _guard(lambda: list(self.r.ike_sas()))
        handles = {sa.handle for sa in sas}
        if handles != set(self.children):
            raise InvariantBroken(
                f"established IKE SAs {sorted(handles)} but events say {sorted(self.children)}"
            )
        vips = [sa.client.virtual_ip for sa in sas if sa.client.virtual_ip is not None]
        vips6 = [v for sa in sas if (v := sa.client.virtual_ip6) is not None]
        for leased in (vips, vips6):
            if len(leased) != len(set(leased)):
                raise InvariantBroken(f"one virtual IP leased to two IKE SAs: {leased}")
        if len(self.r.pool) < len(vips):
            raise InvariantBroken(
                f"{len(vips)} SAs hold virtual IPs, the pool lent {len(self.r.pool)}"
            )


def _guard(fn, *args):
    """Call into the responder; whatever it raises becomes an Escape."""
    try:
        return fn(*args)
    except Escape:
        raise
    except Exception as e:
        raise Escape(f"{type(e).__name__}: {e}") from e


def _expect(condition: bool, what: str) -> None:
    if not condition:
        raise InvariantBroken(what)


# -- what the daemon may call besides feeding datagrams ---------------------------------------
def _newest_child(t: Target) -> int | None:
    for spis in t.children.values():
        if spis:
            return max(spis)
    return None


def _expire(hard: bool):
    def run(t: Target, now: float) -> None:
        spi = _newest_child(t)
        if spi is not None:
            t.r.handle_kernel_expire(spi, hard, now)

    return run


def _disconnect(t: Target, now: float) -> None:
    for sa in list(t.r.ike_sas()):
        t.r.disconnect(sa, now)


def _reload(**change):
    """Reload with the configuration changed as an owner could (the same if no change)."""

    def run(t: Target, now: float) -> None:
        t.r.update_config(t.r.config.replace(**change), now)

    return run


def _traffic(t: Target, now: float) -> None:
    for handle in list(t.children):
        t.r.note_traffic(handle, now)


COMMANDS: dict[str, Callable[[Target, float], None]] = {
    "expire-soft": _expire(False),
    "expire-hard": _expire(True),
    "disconnect": _disconnect,
    "reload": _reload(),
    "reload-new-psk": _reload(psk="a-new-psk-after-a-leak-0042"),
    "reload-no-users": _reload(users=()),
    "reload-other-pool": _reload(pool=ipaddress.IPv4Network("10.99.0.0/28")),
    "reload-features-off": _reload(
        mobike=False, fragmentation=False, dpd_delay=0, cookie_threshold=0
    ),
    "traffic": _traffic,
    "shutdown": lambda t, now: t.r.shutdown(now),
}
