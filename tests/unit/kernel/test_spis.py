"""Inbound SPIs chosen by the daemon (kernel.spis): in range, never one of ours twice."""

import itertools

import pytest

from ikev2d.kernel.spis import MAX_PENDING, SPI_RANGE, InboundSpis


def _repeating(*values: int):
    """An rng that returns these 32-bit values in turn, then again."""
    cycle = itertools.cycle(values)
    return lambda n: next(cycle).to_bytes(n, "big")


def test_spis_fall_in_the_range_whatever_the_random_bytes():
    spis = InboundSpis(_repeating(0, 0xFFFF_FFFF, 0x1234_5678))
    assert [spis.new() for _ in range(3)] == [
        SPI_RANGE.start, SPI_RANGE.start + 0x0FFF_FFFF, SPI_RANGE.start + 0x0234_5678,
    ]  # fmt: skip
    assert SPI_RANGE.stop <= 0x1_0000_0000 and SPI_RANGE.start >= 0x100


def test_a_pending_or_installed_spi_is_never_handed_out_again():
    spis = InboundSpis(_repeating(5, 5, 6, 5, 6, 7))
    first = spis.new()
    second = spis.new()  # 5 again: skipped
    assert second == SPI_RANGE.start + 6 != first
    spis.installed(first)
    assert spis.new() == SPI_RANGE.start + 7  # 5 installed, 6 pending
    spis.released(first)
    assert first not in spis
    assert spis.new() == first  # free again once its SA is gone


def test_a_broken_rng_is_an_error_not_a_duplicate():
    spis = InboundSpis(_repeating(9))
    spis.new()
    with pytest.raises(RuntimeError):
        spis.new()


def test_spis_of_negotiations_that_never_finished_are_forgotten_oldest_first():
    counter = itertools.count()
    spis = InboundSpis(lambda n: next(counter).to_bytes(n, "big"))
    handed = [spis.new() for _ in range(MAX_PENDING + 1)]
    assert handed[0] not in spis and all(spi in spis for spi in handed[1:])
    spis.installed(handed[1])
    for _ in range(MAX_PENDING):
        spis.new()
    assert handed[1] in spis  # an installed SPI is never forgotten
