"""The datapath contract (``ikev2d.daemon.datapath.Datapath``) as checks that every
implementation must pass: the in-memory one and the kernel one.

- tests/unit/daemon/test_datapath_contract.py runs every check against ``MemoryDatapath``
  and the checks in ``WITHOUT_ESP`` against ``KernelDatapath`` in a throw-away namespace of
  this machine's kernel (XFRM netlink works here; ESP states do not);
- tests/system/test_datapath_contract.py runs ``WITH_ESP`` against ``KernelDatapath`` in the
  ESP kernel (user-mode-linux).

A check gets a ``Subject``: the datapath, and a view of what the contract's methods do not
return themselves (the routes and pool blocks in place). Plain library code, no pytest.

The namespace of the kernel subject (``prepare_namespace``)::

    d0: 192.0.2.1/24 (the IKE address; the client is 192.0.2.2), 198.51.100.1/24 (another one)
    d1: 10.1.0.1/24 (the LAN)
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import socket
from collections.abc import Callable, Iterator

from ikev2d.daemon.datapath import Datapath
from ikev2d.daemon.memory_datapath import MemoryDatapath
from ikev2d.kernel.spis import SPI_RANGE
from ikev2d.kernel.tunnel import (
    OWNED_REQIDS,
    REQID_LARVAL,
    ChildTunnel,
    EspTransform,
    SaKeys,
    UdpEncap,
)

from .netns import Netns

__all__ = ["WITHOUT_ESP", "WITH_ESP", "Subject", "kernel_subject", "memory_subject"]

LOCAL, OTHER_LOCAL, PEER, MOVED_PEER = "192.0.2.1", "198.51.100.1", "192.0.2.2", "192.0.2.9"
LAN, LAN_IP = "10.1.0.0/24", "10.1.0.1"
VIRTUAL_IP, VIRTUAL_IP6 = "10.10.10.5", "fd00:1:2:3::5"
_CLIENT_SPIS = itertools.count(0xC700_0001)  # the outbound SPIs a client would choose


@dataclasses.dataclass
class Subject:
    datapath: Datapath
    routed: Callable[[], set[str]]  # the virtual IPs our routes lead to
    blocked: Callable[[], set[str]]  # the pools whose clear packets are dropped


def tunnel(dp: Datapath, *, reqid: int | None = None, remote: str = PEER) -> ChildTunnel:
    """A Child SA for VIRTUAL_IP, its inbound SPI allocated as the daemon does."""
    return ChildTunnel(
        local=LOCAL, remote=remote,
        inbound=SaKeys(dp.allocate_spi(remote, LOCAL), b"k" * 16, b"i" * 32),
        outbound=SaKeys(next(_CLIENT_SPIS), b"K" * 16, b"I" * 32),
        transform=EspTransform("cbc(aes)", integ="hmac(sha256)", integ_trunc_bits=128),
        local_ts=(LAN,), remote_ts=(f"{VIRTUAL_IP}/32",),
        reqid=dp.allocate_reqid() if reqid is None else reqid,
    )  # fmt: skip


# -- what this machine's kernel can show (no ESP) ----------------------------------------------
def spis_are_ours_and_distinct_with_no_kernel_state(s: Subject) -> None:
    dp = s.datapath
    spis = [dp.allocate_spi(PEER, LOCAL) for _ in range(200)]
    assert len(set(spis)) == 200 and all(spi in SPI_RANGE for spi in spis), spis
    assert not set(spis) & set(dp.all_counters())  # the kernel sees an SPI with its SA only


def reqids_are_ours(s: Subject) -> None:
    first, second = s.datapath.allocate_reqid(), s.datapath.allocate_reqid()
    assert first != second
    assert all(r in OWNED_REQIDS and r != REQID_LARVAL for r in (first, second))


def a_route_per_virtual_ip(s: Subject) -> None:
    dp = s.datapath
    dp.add_client_route(VIRTUAL_IP, PEER, (LAN,))
    dp.add_client_route(VIRTUAL_IP6, PEER, (LAN, "fd00:1::/64"))
    dp.add_client_route(VIRTUAL_IP, PEER, (LAN,))  # again (the client moved): replaced
    assert s.routed() == {VIRTUAL_IP, VIRTUAL_IP6}
    dp.remove_client_route(VIRTUAL_IP)
    assert s.routed() == {VIRTUAL_IP6}
    dp.remove_client_route(VIRTUAL_IP)  # gone already: nothing to do
    dp.remove_client_route(VIRTUAL_IP6)
    assert s.routed() == set()


def addresses_beside_the_contacted_one(s: Subject) -> None:
    assert s.datapath.addresses_beside(LOCAL) == [OTHER_LOCAL]
    assert s.datapath.addresses_beside(LAN_IP) == []


def pool_blocks_follow_the_pools(s: Subject) -> None:
    dp = s.datapath
    dp.block_pool(["10.10.10.0/24", "fd00:1:2:3::/64"])
    assert s.blocked() == {"10.10.10.0/24", "fd00:1:2:3::/64"}
    dp.block_pool(["10.20.0.0/16"])  # a new pool replaces the blocks of the old
    assert s.blocked() == {"10.20.0.0/16"}
    dp.block_pool([])
    assert s.blocked() == set()


def flush_removes_everything_of_ours(s: Subject) -> None:
    dp = s.datapath
    assert dp.flush_owned() == 0  # a clean start
    dp.add_client_route(VIRTUAL_IP, PEER, (LAN,))
    dp.block_pool(["10.10.10.0/24"])
    assert dp.flush_owned() >= 2
    assert dp.all_counters() == {} and s.routed() == set() and s.blocked() == set()
    assert dp.flush_owned() == 0


def events_never_block(s: Subject) -> None:
    fd = s.datapath.fileno()
    assert fd is None or fd >= 0
    assert s.datapath.read_events() == []


def ike_sockets_can_be_prepared(s: Subject) -> None:
    for natt in (False, True):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            s.datapath.prepare_ike_socket(sock, natt)


def an_update_keeps_spis_and_reqid(s: Subject) -> None:
    old = tunnel(s.datapath)
    for changed in ({"reqid": old.reqid + 1}, {"inbound": SaKeys(old.inbound.spi + 1, b"k" * 16)}):
        try:
            s.datapath.update_child(old, old.replace(**changed))
        except ValueError:
            continue
        raise AssertionError(f"update_child accepted a change of {changed}")


WITHOUT_ESP: tuple[Callable[[Subject], None], ...] = (
    spis_are_ours_and_distinct_with_no_kernel_state,
    reqids_are_ours,
    a_route_per_virtual_ip,
    addresses_beside_the_contacted_one,
    pool_blocks_follow_the_pools,
    flush_removes_everything_of_ours,
    events_never_block,
    ike_sockets_can_be_prepared,
    an_update_keeps_spis_and_reqid,
)


# -- what needs ESP states ---------------------------------------------------------------------
def install_then_remove(s: Subject) -> None:
    dp = s.datapath
    t = tunnel(dp)
    dp.install_child(t)
    table = dp.all_counters()
    assert table[t.inbound.spi] == table[t.outbound.spi] == (0, 0), table
    dp.remove_child(t)
    assert not {t.inbound.spi, t.outbound.spi} & set(dp.all_counters())
    dp.remove_child(t)  # removed already: nothing to do


def outbound_sa_when_asked(s: Subject) -> None:
    dp = s.datapath
    t = tunnel(dp)
    dp.install_child(t, outbound=False)
    assert t.inbound.spi in dp.all_counters() and t.outbound.spi not in dp.all_counters()
    dp.install_outbound(t)
    assert {t.inbound.spi, t.outbound.spi} <= set(dp.all_counters())


def a_rekey_keeps_the_reqid_make_before_break(s: Subject) -> None:
    dp = s.datapath
    old = tunnel(dp)
    dp.install_child(old)
    new = tunnel(dp, reqid=old.reqid)
    dp.install_child(new, outbound=False)
    dp.install_outbound(new)
    dp.remove_child(old)
    table = dp.all_counters()
    assert {new.inbound.spi, new.outbound.spi} <= set(table)
    assert not {old.inbound.spi, old.outbound.spi} & set(table)


def a_client_moves(s: Subject) -> None:
    dp = s.datapath
    t = tunnel(dp)
    dp.install_child(t)
    moved = t.replace(remote=MOVED_PEER, encap=UdpEncap(4500, 4501))
    assert dp.update_child(t, moved) in ("migrate", "re-add")
    assert {t.inbound.spi, t.outbound.spi} <= set(dp.all_counters())
    back = moved.replace(remote=PEER, encap=None)  # NAT gone: plain ESP again
    assert dp.update_child(moved, back) in ("migrate", "re-add")
    dp.remove_child(back)
    assert not {t.inbound.spi, t.outbound.spi} & set(dp.all_counters())


def a_reqid_in_use_is_never_given_again(s: Subject) -> None:
    """Not even once the reqids went round their whole range (a router up for months)."""
    dp = s.datapath
    t = tunnel(dp)
    dp.install_child(t)
    given = [dp.allocate_reqid() for _ in range(len(OWNED_REQIDS) + 2)]
    assert t.reqid not in given and set(given) <= set(OWNED_REQIDS), t.reqid
    dp.remove_child(t)


def flush_removes_installed_tunnels(s: Subject) -> None:
    dp = s.datapath
    dp.install_child(tunnel(dp))
    dp.install_child(tunnel(dp), outbound=False)
    assert dp.flush_owned() >= 3  # three SAs, and the kernel's policies
    assert dp.all_counters() == {}


WITH_ESP: tuple[Callable[[Subject], None], ...] = (
    install_then_remove,
    outbound_sa_when_asked,
    a_rekey_keeps_the_reqid_make_before_break,
    a_client_moves,
    a_reqid_in_use_is_never_given_again,
    flush_removes_installed_tunnels,
)


# -- the subjects ------------------------------------------------------------------------------
@contextlib.contextmanager
def memory_subject() -> Iterator[Subject]:
    dp = MemoryDatapath()
    dp.neighbours = {LOCAL: [OTHER_LOCAL]}
    try:
        yield Subject(dp, lambda: set(dp.routes), lambda: set(dp.blocked_pools))
    finally:
        dp.close()


def prepare_namespace(ns: Netns) -> None:
    # veth pairs with both ends here: a kernel without the dummy module has veth (the tests)
    ns.batch([
        "link add d0 type veth peer name e0", "link set d0 up", "link set e0 up",
        f"addr add {LOCAL}/24 dev d0", f"addr add {OTHER_LOCAL}/24 dev d0",
        "link add d1 type veth peer name e1", "link set d1 up", "link set e1 up",
        f"addr add {LAN_IP}/24 dev d1",
    ])  # fmt: skip


def _routed(ns: Netns) -> set[str]:
    lines = ns.ip("route", "show", "proto", "194").stdout.splitlines()
    lines += ns.ip("-6", "route", "show", "proto", "194").stdout.splitlines()
    return {line.split()[0] for line in lines if line.strip()}


def _blocked(ns: Netns) -> set[str]:
    """The pools of the block policies (from the pool to anywhere, or the reverse)."""
    entries = ns.ip("xfrm", "policy").stdout.split("src ")[1:]
    ends = [e.split()[:3:2] for e in entries if "action block" in e]  # [src, dst]
    return {dst if src in ("0.0.0.0/0", "::/0") else src for src, dst in ends}


@contextlib.contextmanager
def kernel_subject(ns: Netns) -> Iterator[Subject]:
    """KernelDatapath in `ns` (made by prepare_namespace), closed afterwards."""
    from ikev2d.kernel.datapath import KernelDatapath

    with ns.entered():
        dp = KernelDatapath()
    try:
        yield Subject(dp, lambda: _routed(ns), lambda: _blocked(ns))
    finally:
        dp.close()
