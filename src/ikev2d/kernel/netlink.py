"""A plain netlink socket: requests with acks, dumps, and a non-blocking event feed.

One class for both families the kernel room speaks: NETLINK_XFRM (SAs, policies, expire events)
and NETLINK_ROUTE (the client routes of :mod:`ikev2d.kernel.routes`). The framing (nlmsghdr
walking, NLMSG_ERROR with extended-ack text) is small enough to do with ``struct`` here; the
XFRM payloads are encoded and decoded by the pyroute2 message classes of
:mod:`ikev2d.kernel.xfrm_messages`, the few rtnetlink ones by :mod:`ikev2d.kernel.rtnl`.
"""

from __future__ import annotations

import contextlib
import errno
import itertools
import socket
import struct
from collections.abc import Iterator

from ikev2d.kernel.errors import NetlinkError, XfrmError

__all__ = [
    "NETLINK_ROUTE",
    "NETLINK_XFRM",
    "NLM_F_ACK",
    "NLM_F_DUMP",
    "NLM_F_REQUEST",
    "NetlinkSocket",
    "Reply",
    "iter_messages",
]

NETLINK_ROUTE = 0
NETLINK_XFRM = 6
SOL_NETLINK = 270
NETLINK_ADD_MEMBERSHIP = 1
NETLINK_CAP_ACK = 10
NETLINK_EXT_ACK = 11

NLMSG_ERROR = 2
NLMSG_DONE = 3
NLM_F_REQUEST = 0x1
NLM_F_MULTI = 0x2
NLM_F_ACK = 0x4
NLM_F_DUMP = 0x300
NLM_F_CAPPED = 0x100
NLM_F_ACK_TLVS = 0x200
NLMSGERR_ATTR_MSG = 1

_HDR = struct.Struct("=IHHII")  # struct nlmsghdr
_RECV_SIZE = 1 << 16
# A dump of a big SAD arrives in many datagrams; this bounds the loop, not the table size.
_MAX_DATAGRAMS = 1 << 20
_TIMEOUT = 5.0

Reply = tuple[int, bytearray, int]  # (message type, receive buffer, offset of the message)


def iter_messages(buf: bytearray) -> Iterator[tuple[int, int, int, int]]:
    """(type, flags, seq, offset) of each netlink message in one datagram, bounds-checked."""
    offset = 0
    while offset + _HDR.size <= len(buf):
        length, mtype, flags, seq, _pid = _HDR.unpack_from(buf, offset)
        if length < _HDR.size or offset + length > len(buf):
            return  # truncated or corrupt: stop rather than read past the datagram
        yield mtype, flags, seq, offset
        offset += (length + 3) & ~3


def parse_error(buf: bytearray, offset: int) -> tuple[int, str | None]:
    """The (positive) errno of an NLMSG_ERROR and the kernel's extended-ack text if present."""
    length, _t, flags, _s, _p = _HDR.unpack_from(buf, offset)
    end = offset + length
    if end - offset < _HDR.size + 4:
        return errno.EPROTO, "short NLMSG_ERROR"
    (err,) = struct.unpack_from("=i", buf, offset + _HDR.size)
    text = None
    if flags & NLM_F_ACK_TLVS:
        pos = offset + _HDR.size + 4
        if flags & NLM_F_CAPPED:
            pos += _HDR.size
        else:
            (orig_len,) = struct.unpack_from("=I", buf, pos)
            pos += (orig_len + 3) & ~3
        while pos + 4 <= end:
            nla_len, nla_type = struct.unpack_from("=HH", buf, pos)
            if nla_len < 4 or pos + nla_len > end:
                break
            if nla_type & 0x3FFF == NLMSGERR_ATTR_MSG:
                raw = bytes(buf[pos + 4 : pos + nla_len])
                text = raw.split(b"\0", 1)[0].decode("utf-8", "replace") or None
            pos += (nla_len + 3) & ~3
    return -err, text


def _without_ack(data: bytes) -> bytes:
    """The request with NLM_F_ACK cleared (a refusal is still answered)."""
    length, mtype, flags, seq, pid = _HDR.unpack_from(data)
    if not flags & NLM_F_ACK:
        return data
    return _HDR.pack(length, mtype, flags & ~NLM_F_ACK, seq, pid) + data[_HDR.size :]


class NetlinkSocket:
    """One netlink socket of ``protocol``. ``groups`` makes it a non-blocking multicast listener.

    A refused request raises ``error`` (XfrmError for NETLINK_XFRM, RouteError for routes).
    """

    def __init__(
        self,
        groups: tuple[int, ...] = (),
        *,
        protocol: int = NETLINK_XFRM,
        error: type[NetlinkError] = XfrmError,
    ) -> None:
        self._error = error
        self._sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, protocol)
        self._seq = itertools.count(1)
        try:
            for opt in (NETLINK_CAP_ACK, NETLINK_EXT_ACK):
                # Kernels before 4.12 lack extended acks: plain errnos still work there.
                with contextlib.suppress(OSError):
                    self._sock.setsockopt(SOL_NETLINK, opt, 1)
            self._sock.bind((0, 0))
            for group in groups:
                self._sock.setsockopt(SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, group)
            if groups:
                self._sock.setblocking(False)
            else:
                # A blocking socket with kernel-side timeouts: Python's settimeout() would add
                # a poll() and two clock reads to every send and receive (six syscalls per
                # request instead of two; dear on a router, dearer still in user-mode Linux).
                timeval = struct.pack("@ll", int(_TIMEOUT), 0)
                self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, timeval)
                self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, timeval)
        except BaseException:
            self._sock.close()
            raise

    def fileno(self) -> int:
        return self._sock.fileno()

    def close(self) -> None:
        self._sock.close()

    def next_seq(self) -> int:
        return next(self._seq)

    def request(self, data: bytes, seq: int, operation: str) -> list[Reply]:
        """Send one request and collect its replies up to the ack (or NLMSG_DONE for dumps).

        Returns (type, buffer, offset) of each non-control reply; raises ``error`` (see the
        class) on a negative ack.
        """
        self._send(data, operation)
        replies: list[tuple[int, bytearray, int]] = []
        for _ in range(_MAX_DATAGRAMS):
            buf = self._receive(operation)
            for mtype, flags, mseq, offset in iter_messages(buf):
                if mseq != seq:
                    continue  # a late answer to an earlier request that timed out
                if mtype == NLMSG_ERROR:
                    err, text = parse_error(buf, offset)
                    if err:
                        raise self._error.from_errno(err, operation, text)
                    return replies
                if mtype == NLMSG_DONE:
                    return replies
                replies.append((mtype, buf, offset))
                if not flags & NLM_F_MULTI and not self._expects_ack(data):
                    return replies
        raise self._error(errno.EOVERFLOW, "reply never ended", operation)

    def request_batch(self, batch: list[tuple[bytes, int, str]]) -> list[NetlinkError | None]:
        """Send several acked requests in one datagram and collect every ack: one round
        trip instead of one per message (installing a client is five or six messages).

        Returns, in order, None for each request the kernel accepted and the error for each
        it refused; the kernel handles them one by one, so a refusal does not stop the rest.
        """
        if not batch:
            return []
        # Only the last request asks for an ack: the kernel answers a failing request with
        # NLMSG_ERROR whether or not it asked, handles the requests in order and queues the
        # answers in order, so when the last ack is here every refusal before it is too.
        # One datagram back instead of one per request.
        *head, (last, last_seq, _) = batch
        datagram = b"".join(_without_ack(data) for data, _, _ in head) + last
        if not self._expects_ack(last):
            raise ValueError("the last request of a batch must ask for an ack")
        self._send(datagram, "batch")
        results: dict[int, NetlinkError | None] = {}
        operations = {seq: operation for _, seq, operation in batch}
        for _ in range(_MAX_DATAGRAMS):
            if last_seq in results:
                break
            buf = self._receive("batch")
            for mtype, _flags, mseq, offset in iter_messages(buf):
                if mtype == NLMSG_ERROR and mseq in operations and mseq not in results:
                    err, text = parse_error(buf, offset)
                    op = operations[mseq]
                    results[mseq] = self._error.from_errno(err, op, text) if err else None
        return [results.get(seq) for _, seq, _ in batch]

    def _send(self, data: bytes, operation: str) -> None:
        try:
            self._sock.send(data)
        except BlockingIOError:  # SO_SNDTIMEO ran out
            raise self._error(errno.ETIMEDOUT, "the kernel took no request", operation) from None

    def _receive(self, operation: str) -> bytearray:
        try:
            return bytearray(self._sock.recv(_RECV_SIZE))
        except (BlockingIOError, TimeoutError):  # SO_RCVTIMEO ran out
            raise self._error(errno.ETIMEDOUT, "no answer from the kernel", operation) from None

    @staticmethod
    def _expects_ack(data: bytes) -> bool:
        return bool(_HDR.unpack_from(data)[2] & NLM_F_ACK)

    def receive_nowait(self) -> Iterator[Reply]:
        """Every message already queued on a listener socket, never blocking.

        Yields (-ENOBUFS, empty, 0) once if the kernel dropped events for lack of buffer space.
        """
        for _ in range(_MAX_DATAGRAMS):
            try:
                buf = bytearray(self._sock.recv(_RECV_SIZE, socket.MSG_DONTWAIT))
            except BlockingIOError:
                return
            except OSError as exc:
                if exc.errno == errno.ENOBUFS:
                    yield -errno.ENOBUFS, bytearray(), 0
                    continue
                raise
            for mtype, _flags, _seq, offset in iter_messages(buf):
                yield mtype, buf, offset
