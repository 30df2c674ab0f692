"""The SA payload (RFC 7296 §3.3): proposals, transforms and transform attributes."""

import struct
from dataclasses import dataclass
from typing import ClassVar

from .buffer import Buffer
from .enums import PayloadType, ProtocolId, TransformAttr
from .errors import ParseError
from .payloads import Payload

__all__ = ["Attribute", "Proposal", "SaPayload", "Transform"]

_PROPOSAL = struct.Struct("!BxHBBBB")  # last/more, length, number, protocol, spi size, count
_TRANSFORM = struct.Struct("!BxHBxH")  # last/more, length, type, id
_ATTR = struct.Struct("!HH")
_MORE_PROPOSALS, _MORE_TRANSFORMS, _LAST = 2, 3, 0
_AF_TV = 0x8000  # attribute format bit: type/value (2-byte value inline)
_KEY_LENGTH_TV = _AF_TV | TransformAttr.KEY_LENGTH
_SPI_SIZES: dict[int, tuple[int, ...]] = {
    ProtocolId.IKE: (0, 8),
    ProtocolId.AH: (4,),
    ProtocolId.ESP: (4,),
}


@dataclass(slots=True, frozen=True)
class Attribute:
    """A transform attribute other than KEY_LENGTH: `value` is an int for TV format (AF=1),
    bytes for TLV format."""

    attr_type: int
    value: int | bytes

    def encode(self) -> bytes:
        if isinstance(self.value, int):
            return _ATTR.pack(_AF_TV | self.attr_type, self.value)
        return _ATTR.pack(self.attr_type, len(self.value)) + self.value


@dataclass(slots=True, frozen=True)
class Transform:
    """One transform (§3.3.2). `key_length` is the KEY_LENGTH attribute in bits, if present.

    KEY_LENGTH is always encoded first; other attributes (none are registered for IKEv2) are
    kept in `attributes` so a proposal carrying them can be recognised and rejected.
    """

    transform_type: int
    transform_id: int
    key_length: int | None = None
    attributes: "tuple[Attribute, ...]" = ()

    def encode(self, last: bool) -> bytes:
        attrs = b""
        if self.key_length is not None:
            attrs = _ATTR.pack(_KEY_LENGTH_TV, self.key_length)
        if self.attributes:
            attrs += b"".join(a.encode() for a in self.attributes)
        head = _TRANSFORM.pack(
            _LAST if last else _MORE_TRANSFORMS,
            8 + len(attrs),
            self.transform_type,
            self.transform_id,
        )
        return head + attrs

    @classmethod
    def parse(cls, buf: Buffer) -> "tuple[Transform, bool]":
        """One transform; returns it and whether more transforms follow."""
        more, length, ttype, tid = buf.pull_struct(_TRANSFORM, "transform header")
        if more not in (_LAST, _MORE_TRANSFORMS):
            raise ParseError(f"transform last/more field {more}")
        if length == 8 or (length == 12 and buf.peek_uint16() == _KEY_LENGTH_TV):
            # The common shapes (no attribute, or just KEY_LENGTH) are shared instances:
            # decoding an SA then costs no object construction. The cache is bounded.
            common_length = (
                buf.pull_struct(_ATTR, "transform attribute")[1] if length == 12 else None
            )
            key = (ttype, tid, common_length)
            t = _COMMON.get(key)
            if t is None:
                t = cls(ttype, tid, common_length)
                if len(_COMMON) < _COMMON_MAX:
                    _COMMON[key] = t
            return t, more == _MORE_TRANSFORMS
        if length < 8:
            raise ParseError(f"transform length {length} < 8")
        abuf = buf.pull_window(length - 8, "transform attributes")
        key_length: int | None = None
        attrs: list[Attribute] = []
        while not abuf.eof():
            atype, aval = abuf.pull_struct(_ATTR, "transform attribute")
            if atype == _KEY_LENGTH_TV:
                if key_length is not None or attrs:
                    raise ParseError("KEY_LENGTH attribute repeated or not first")
                key_length = aval
            elif atype & _AF_TV:
                attrs.append(Attribute(atype & 0x7FFF, aval))
            elif atype == TransformAttr.KEY_LENGTH:
                raise ParseError("KEY_LENGTH attribute in TLV format")
            else:
                attrs.append(Attribute(atype, abuf.pull_bytes(aval, "attribute value")))
        return cls(ttype, tid, key_length, tuple(attrs)), more == _MORE_TRANSFORMS


_COMMON: dict[tuple[int, int, int | None], Transform] = {}
_COMMON_MAX = 1024


@dataclass(slots=True, frozen=True)
class Proposal:
    """One proposal (§3.3.1): number (from 1), protocol (ProtocolId), SPI and transforms."""

    number: int
    protocol: int
    spi: bytes
    transforms: "tuple[Transform, ...]"

    @property
    def spi_int(self) -> int | None:
        return int.from_bytes(self.spi, "big") if self.spi else None

    def of_type(self, transform_type: int) -> "list[Transform]":
        return [t for t in self.transforms if t.transform_type == transform_type]

    def encode(self, last: bool) -> bytes:
        ts = self.transforms
        n = len(ts)
        body = b"".join(t.encode(i == n - 1) for i, t in enumerate(ts))
        head = _PROPOSAL.pack(
            _LAST if last else _MORE_PROPOSALS,
            8 + len(self.spi) + len(body),
            self.number,
            self.protocol,
            len(self.spi),
            n,
        )
        return head + self.spi + body

    @classmethod
    def parse(cls, buf: Buffer) -> "tuple[Proposal, bool]":
        more, length, number, protocol, spi_size, count = buf.pull_struct(
            _PROPOSAL, "proposal header"
        )
        if more not in (_LAST, _MORE_PROPOSALS):
            raise ParseError(f"proposal last/more field {more}")
        if length < 8:
            raise ParseError(f"proposal length {length} < 8")
        pbuf = buf.pull_window(length - 8, "proposal")
        allowed = _SPI_SIZES.get(protocol)
        if allowed is not None and spi_size not in allowed:
            raise ParseError(f"proposal SPI size {spi_size} for protocol {protocol}")
        spi = pbuf.pull_bytes(spi_size, "proposal SPI")
        if count == 0:
            raise ParseError("proposal without transforms")
        transforms = []
        for i in range(count):
            t, t_more = Transform.parse(pbuf)
            if t_more != (i < count - 1):
                raise ParseError("transform last/more field disagrees with transform count")
            transforms.append(t)
        if not pbuf.eof():
            raise ParseError(f"{pbuf.remaining()} bytes after the last transform")
        return cls(number, protocol, spi, tuple(transforms)), more == _MORE_PROPOSALS


@dataclass(slots=True, frozen=True)
class SaPayload(Payload):
    payload_type: ClassVar[int] = PayloadType.SA
    proposals: "tuple[Proposal, ...]"
    critical: bool = False

    @classmethod
    def parse(cls, buf: Buffer, critical: bool) -> "SaPayload":
        proposals: list[Proposal] = []
        more = True
        while more:
            p, more = Proposal.parse(buf)
            expected = proposals[-1].number + 1 if proposals else None
            if p.number == 0 or (expected is not None and p.number != expected):
                raise ParseError(f"proposal number {p.number} out of sequence")
            proposals.append(p)
        if len(proposals) > 1 and proposals[0].number != 1:
            raise ParseError("first of several proposals must be number 1")
        if not buf.eof():
            raise ParseError(f"{buf.remaining()} bytes after the last proposal")
        return cls(tuple(proposals), critical)

    def body(self) -> bytes:
        ps = self.proposals
        n = len(ps)
        return b"".join(p.encode(i == n - 1) for i, p in enumerate(ps))
