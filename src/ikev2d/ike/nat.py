"""NAT detection (RFC 7296 §2.23): NAT_DETECTION_*_IP hashes."""

from __future__ import annotations

import functools
import hashlib
import ipaddress

__all__ = ["nat_detection_hash"]


def nat_detection_hash(spi_i: bytes, spi_r: bytes, address: tuple[str, int]) -> bytes:
    """SHA-1(SPIi | SPIr | IP | port), the data of a NAT_DETECTION_*_IP notify."""
    ip, port = address
    return hashlib.sha1(  # noqa: S324 - SHA-1 is what the RFC prescribes; not a security use
        spi_i + spi_r + _packed(ip) + port.to_bytes(2, "big")
    ).digest()


@functools.lru_cache(maxsize=256)
def _packed(ip: str) -> bytes:
    """Parsing an address text is slow and the same few (ours, NATs) come again and again."""
    return ipaddress.ip_address(ip).packed
