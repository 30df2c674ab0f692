"""The IKE UDP sockets: 500 and 4500 per listen address, the local address of each datagram
(IP_PKTINFO / IPV6_RECVPKTINFO) and replies sent from that address, non-ESP marker on 4500.

A datagram on the NAT-T port is IKE only behind the 4-byte non-ESP marker (RFC 3948 §2.2); a
NAT-keepalive (0xFF) or ESP that the kernel did not take is dropped here. On the way out the
marker is added back on the NAT-T socket.
"""

from __future__ import annotations

import errno
import socket
import struct
from collections.abc import Callable, Iterable

from ikev2d.compat import Logger
from ikev2d.wire.nat_t import add_non_esp_marker, split_udp4500

__all__ = ["IkeSocket", "IkeSockets", "address_text", "listens_on", "open_ike_sockets"]

IP_PKTINFO = getattr(socket, "IP_PKTINFO", 8)  # <linux/in.h>; not exported by every Python
IPV6_RECVPKTINFO = getattr(socket, "IPV6_RECVPKTINFO", 49)
IPV6_PKTINFO = getattr(socket, "IPV6_PKTINFO", 50)
_IN_PKTINFO = struct.Struct("=i4s4s")  # ipi_ifindex, ipi_spec_dst, ipi_addr
_IN6_PKTINFO = struct.Struct("=16sI")  # ipi6_addr, ipi6_ifindex
_ANCILLARY = socket.CMSG_SPACE(_IN6_PKTINFO.size)
MAX_DATAGRAM = 65535
_MSG_TRUNC = getattr(socket, "MSG_TRUNC", 0x20)

Address = tuple[str, int]
Prepare = Callable[[socket.socket, bool], None]  # Datapath.prepare_ike_socket


def address_text(addr: Address) -> str:
    host, port = addr[0], addr[1]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class IkeSocket:
    """One bound UDP socket. ``natt`` marks the NAT-T port (non-ESP marker framing)."""

    __slots__ = ("_buf", "_view", "bound", "device", "family", "natt", "sock")

    def __init__(self, sock: socket.socket, natt: bool) -> None:
        self.sock = sock
        self.family = sock.family
        self.natt = natt
        self.bound: Address = sock.getsockname()[:2]
        self._buf = bytearray(MAX_DATAGRAM)
        self._view = memoryview(self._buf)
        self.device: int | None = None  # the interface the last datagram arrived on

    def fileno(self) -> int:
        return self.sock.fileno()

    def receive(self) -> tuple[bytes, Address, Address] | None:
        """(IKE message, remote, local) of one waiting datagram; None when nothing (more) is
        waiting. Datagrams that are not IKE come back as (b"", remote, local). ``device``
        is then the index of the interface it arrived on (None if the kernel did not say)."""
        try:
            size, ancdata, flags, remote = self.sock.recvmsg_into([self._buf], _ANCILLARY)
        except (BlockingIOError, InterruptedError):
            return None
        local = (self._local_ip(ancdata), self.bound[1])
        remote = (remote[0], remote[1])
        if flags & _MSG_TRUNC:
            return b"", remote, local
        if not self.natt:
            return bytes(self._view[:size]), remote, local
        # a keepalive, or ESP the kernel did not decapsulate, is no IKE message: b""
        return split_udp4500(self._view[:size]) or b"", remote, local

    def _local_ip(self, ancdata) -> str:
        for level, kind, data in ancdata:
            if level == socket.IPPROTO_IP and kind == IP_PKTINFO and len(data) >= 12:
                self.device = _IN_PKTINFO.unpack_from(data)[0]
                return socket.inet_ntop(socket.AF_INET, data[8:12])
            if level == socket.IPPROTO_IPV6 and kind == IPV6_PKTINFO and len(data) >= 20:
                self.device = _IN6_PKTINFO.unpack_from(data)[1]
                return socket.inet_ntop(socket.AF_INET6, data[:16])
        self.device = None
        return self.bound[0]

    def send(self, message: bytes, local: Address, remote: Address) -> None:
        """Send an IKE message from ``local``'s address (raises OSError)."""
        data = add_non_esp_marker(message) if self.natt else message
        if self.family == socket.AF_INET6:
            info = _IN6_PKTINFO.pack(socket.inet_pton(socket.AF_INET6, local[0]), 0)
            cmsg = (socket.IPPROTO_IPV6, IPV6_PKTINFO, info)
        else:
            info = _IN_PKTINFO.pack(0, socket.inet_aton(local[0]), bytes(4))
            cmsg = (socket.IPPROTO_IP, IP_PKTINFO, info)
        self.sock.sendmsg([data], [cmsg], 0, remote)

    def close(self) -> None:
        self.sock.close()


def _open_one(ip: str, port: int, natt: bool, prepare: Prepare) -> IkeSocket:
    family = socket.AF_INET6 if ":" in ip else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        if family == socket.AF_INET6:
            # Separate v4 and v6 sockets: IPv4 then arrives with IPv4 pktinfo, never mapped.
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.setsockopt(socket.IPPROTO_IPV6, IPV6_RECVPKTINFO, 1)
        else:
            sock.setsockopt(socket.IPPROTO_IP, IP_PKTINFO, 1)
        prepare(sock, natt)
        sock.bind((ip, port))
        sock.setblocking(False)
        return IkeSocket(sock, natt)
    except BaseException:
        sock.close()
        raise


def open_ike_sockets(
    listen: Iterable[object], port: int, natt_port: int, prepare: Prepare, log: Logger
) -> list[IkeSocket]:
    """Bind ``port`` and ``natt_port`` on every listen address.

    The IPv6 wildcard is skipped (with a log line) when the kernel has no IPv6; any other
    failure raises OSError after closing what was opened.
    """
    opened: list[IkeSocket] = []
    try:
        for address in listen:
            ip = str(address)
            try:
                for p, natt in ((port, False), (natt_port, True)):
                    opened.append(_open_one(ip, p, natt, prepare))
            except OSError as exc:
                no_v6 = exc.errno in (errno.EAFNOSUPPORT, errno.EADDRNOTAVAIL)
                if ip == "::" and no_v6:
                    log.info("IPv6 is not available: listening on IPv4 only")
                    for s in [s for s in opened if s.family == socket.AF_INET6]:
                        s.close()
                        opened.remove(s)
                    continue
                where = f"[{ip}]:{p}" if ":" in ip else f"{ip}:{p}"  # the port too: which one
                raise OSError(exc.errno, f"cannot listen on {where}: {exc.strerror}") from None
    except BaseException:
        for s in opened:
            s.close()
        raise
    return opened


def listens_on(sockets: Iterable[IkeSocket], address: str) -> bool:
    """Whether one of `sockets` receives IKE sent to `address` (bound to it, or to the
    wildcard of its family)."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    wildcard = "::" if family == socket.AF_INET6 else "0.0.0.0"  # noqa: S104 - a comparison
    return any(s.family == family and s.bound[0] in (address, wildcard) for s in sockets)


class IkeSockets:
    """The server's IKE sockets; a reply leaves from the socket of the address it answers."""

    def __init__(self, log: Logger) -> None:
        self.sockets: list[IkeSocket] = []
        self._log = log

    def open(self, listen: Iterable[object], port: int, natt_port: int, prepare: Prepare) -> None:
        self.sockets = open_ike_sockets(listen, port, natt_port, prepare, self._log)

    def listen(self) -> list[str]:
        """The address:port of each socket, as status lists them."""
        return [address_text(s.bound) for s in self.sockets]

    def listens_on(self, address: str) -> bool:
        return listens_on(self.sockets, address)

    def send(self, data: bytes, local: Address, remote: Address) -> None:
        s = self._socket_for(local)
        if s is None:
            self._log.error(f"no socket for {address_text(local)}: dropped a message")
            return
        try:
            s.send(data, local, remote)
        except OSError as exc:  # UDP: the responder retransmits what matters
            self._log.debug(f"send to {address_text(remote)} failed: {exc}")

    def _socket_for(self, local: Address) -> IkeSocket | None:
        fallback = None
        v6 = ":" in local[0]
        for s in self.sockets:
            if s.bound[1] != local[1] or (s.family == socket.AF_INET6) != v6:
                continue
            if s.bound[0] == local[0]:
                return s
            if s.bound[0] in ("0.0.0.0", "::"):  # noqa: S104 - matching the wildcard bind
                fallback = s
        return fallback

    def close(self) -> None:
        for s in self.sockets:
            s.close()
        self.sockets = []
