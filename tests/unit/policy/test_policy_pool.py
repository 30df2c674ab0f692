"""AddressPool: sticky, never shared, fixed addresses, reserved ones, exhaustion, release."""

from ipaddress import IPv4Address as A

import pytest

from ikev2d.policy.pool import AddressPool, PoolError, PoolExhausted
from ikev2d.wire.enums import NotifyType


def test_network_and_broadcast_never_leased_and_exhaustion():
    pool = AddressPool("10.0.0.0/29")  # hosts .1 .. .6
    got = [pool.lease(f"c{i}") for i in range(6)]
    assert sorted(got) == [A(f"10.0.0.{i}") for i in range(1, 7)]
    with pytest.raises(PoolExhausted) as exc:
        pool.lease("one-too-many")
    assert exc.value.notify == NotifyType.INTERNAL_ADDRESS_FAILURE
    assert len(pool) == 6 and pool.capacity == 6


def test_never_shared_even_for_the_same_identity():
    pool = AddressPool("10.0.0.0/30")
    first, second = pool.lease("same"), pool.lease("same")
    assert first != second
    assert pool.in_use() == {A("10.0.0.1"): "same", A("10.0.0.2"): "same"}


def test_sticky_address_returns_to_the_same_identity():
    pool = AddressPool("10.10.10.0/24")
    a = pool.lease("alice")
    b = pool.lease("bob")
    pool.release(a)
    pool.release(b)
    c = pool.lease("carol")  # steered away from the addresses alice and bob had
    assert c not in (a, b)
    assert pool.lease("bob") == b
    assert pool.lease("alice") == a


def test_sticky_address_taken_when_nothing_else_is_free():
    pool = AddressPool("10.0.0.0/30")
    a = pool.lease("alice")
    pool.lease("bob")
    pool.release(a)
    assert pool.lease("carol") == a  # the only free one, though remembered for alice
    with pytest.raises(PoolExhausted):  # and alice finds no free address
        pool.lease("alice")


def test_sticky_memory_is_bounded():
    pool = AddressPool("10.0.0.0/24", sticky_limit=2)
    addrs = {}
    for key in ("a", "b", "c"):
        addrs[key] = pool.lease(key)
        pool.release(addrs[key])
    assert len(pool._last) == 2 and "a" not in pool._last


def test_fixed_addresses_belong_to_their_identity_only():
    pool = AddressPool("10.0.0.0/29", fixed={"alice": "10.0.0.1"})
    assert pool.capacity == 6
    others = [pool.lease(f"x{i}") for i in range(5)]
    assert A("10.0.0.1") not in others
    with pytest.raises(PoolExhausted):
        pool.lease("x5")  # .1 is free but fixed for alice
    assert pool.lease("alice") == A("10.0.0.1")
    with pytest.raises(PoolError, match="in use"):
        pool.lease("alice")
    pool.release("10.0.0.1")
    assert pool.lease("alice") == A("10.0.0.1")


def test_reserved_addresses_and_requested_address():
    pool = AddressPool("10.0.0.0/29", reserved=["10.0.0.1"])
    assert pool.lease("a", requested="10.0.0.1") != A("10.0.0.1")  # reserved: not honoured
    assert pool.lease("b", requested="10.0.0.5") == A("10.0.0.5")
    assert pool.lease("c", requested="10.0.0.5") != A("10.0.0.5")  # taken
    assert pool.lease("d", requested="192.0.2.1") in pool.network  # outside: ignored
    assert A("10.0.0.1") not in pool.in_use()


def test_release_is_idempotent_and_counts_stay_right():
    pool = AddressPool("10.0.0.0/30")
    a = pool.lease("a")
    pool.release(a)
    pool.release(a)
    pool.release("10.0.0.2")
    assert len(pool) == 0
    pool.lease("x")
    pool.lease("y")
    with pytest.raises(PoolExhausted):
        pool.lease("z")
    assert pool.owner("10.0.0.1") in ("x", "y")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"network": "10.0.0.0/31"}, "at least a /30"),
        ({"network": "10.0.0.0/24", "reserved": ["10.0.0.0"]}, "not a host address"),
        ({"network": "10.0.0.0/24", "fixed": {"a": "10.0.1.1"}}, "not a host address"),
        ({"network": "10.0.0.0/24", "fixed": {"a": "10.0.0.9", "b": "10.0.0.9"}}, "twice"),
    ],
)
def test_bad_construction(kwargs, match):
    with pytest.raises(ValueError, match=match):
        AddressPool(**kwargs)


def test_many_leases_in_a_large_pool_are_unique():
    pool = AddressPool("10.64.0.0/16")
    seen = {pool.lease(i) for i in range(5000)}
    assert len(seen) == 5000 and len(pool) == 5000
