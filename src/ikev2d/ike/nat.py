"""NAT detection (RFC 7296 §2.23): NAT_DETECTION_*_IP hashes."""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterable

from ikev2d.crypto.digests import digest
from ikev2d.wire.enums import NotifyType
from ikev2d.wire.payloads import NotifyPayload, Payload

__all__ = ["nat_detected", "nat_detection_hash"]


def nat_detection_hash(spi_i: bytes, spi_r: bytes, address: tuple[str, int]) -> bytes:
    """SHA-1(SPIi | SPIr | IP | port), the data of a NAT_DETECTION_*_IP notify."""
    ip, port = address
    # SHA-1 is what the RFC prescribes; not a security use
    return digest("sha1", spi_i + spi_r + _packed(ip) + port.to_bytes(2, "big"))


@functools.lru_cache(maxsize=256)
def _packed(ip: str) -> bytes:
    """Parsing an address text is slow and the same few (ours, NATs) come again and again."""
    return ipaddress.ip_address(ip).packed


def nat_detected(
    payloads: Iterable[Payload],
    spi_i: bytes,
    spi_r: bytes,
    src: tuple[str, int],
    dst: tuple[str, int],
) -> tuple[bool, bool] | None:
    """(peer behind a NAT, we behind a NAT) from a message's NAT_DETECTION_* notifies, the
    SPIs being those of its header; None when it carries none (no NAT detection, §2.23)."""
    sources, dest = [], None
    for p in payloads:
        if isinstance(p, NotifyPayload):
            if p.notify_type == NotifyType.NAT_DETECTION_SOURCE_IP:
                sources.append(p.data)
            elif p.notify_type == NotifyType.NAT_DETECTION_DESTINATION_IP and dest is None:
                dest = p.data
    if not sources and dest is None:
        return None
    peer = nat_detection_hash(spi_i, spi_r, src) not in sources
    ours = dest is not None and dest != nat_detection_hash(spi_i, spi_r, dst)
    return peer, ours
