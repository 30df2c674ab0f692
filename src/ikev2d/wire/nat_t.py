"""UDP port 4500 demultiplexing (RFC 3948 §2.2, RFC 7296 §2.23).

On port 4500 an IKE message is preceded by the 4-byte non-ESP marker (zeros, where ESP would
have its non-zero SPI); a single 0xFF byte is a NAT-keepalive. The daemon's IKE sockets
(daemon/udp.py) and the fuzz recorder frame with these.
"""

__all__ = ["NON_ESP_MARKER", "add_non_esp_marker", "split_udp4500"]

NON_ESP_MARKER = b"\x00\x00\x00\x00"


def split_udp4500(datagram: bytes | memoryview) -> bytes | None:
    """The IKE message inside a port-4500 datagram, or None for ESP, keepalives and runts."""
    if len(datagram) < 4 or datagram[:4] != NON_ESP_MARKER:
        return None
    return bytes(datagram[4:])


def add_non_esp_marker(message: bytes) -> bytes:
    return NON_ESP_MARKER + message
