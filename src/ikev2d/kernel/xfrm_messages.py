"""NETLINK_XFRM message layouts on pyroute2's netlink message classes.

pyroute2 has no XFRM SA/policy API, so the structures of ``include/uapi/linux/xfrm.h`` are
declared here as ``nlmsg``/``nla`` subclasses with flat ``fields`` (nested C structs are
spelled out field by field, with explicit padding) and ``nla_map`` tables. Only the parts both
pyroute2 0.7.9 and 0.9.x share are used: ``fields``, ``nla_map``, ``encode()``/``decode()``,
``get_attr()`` and the ``cls(data=..., offset=...)`` constructor.

Sizes match the kernel on every ABI that aligns ``__u64`` to 8 bytes (x86_64, arm, mips):
``xfrm_usersa_info`` 224, ``xfrm_userpolicy_info`` 168, ``xfrm_user_tmpl`` 64. The tail
padding is derived from the platform's ``__u64`` alignment, so i386 (alignment 4) gets its
220/164 byte variants as its kernel expects.

Byte order: addresses, SPIs and ports are network order (``__be*`` in xfrm.h), everything
else is host order.
"""

from __future__ import annotations

import struct

from ikev2d.kernel._pyroute2 import nla, nlmsg, nlmsg_base

# requests are packed by the compiled encoder (same bytes as pyroute2's encode(), ~20x faster)
from ikev2d.kernel.xfrm_codec import encode_request as new_message

__all__ = [
    "IPPROTO_ESP",
    "UDP_ENCAP_ESPINUDP",
    "USERPOLICY_INFO_FIELDS",
    "USERPOLICY_INFO_SIZE",
    "USERSA_INFO_SIZE",
    "XFRMA",
    "XFRMNLGRP_EXPIRE",
    "XFRM_MODE_TUNNEL",
    "XFRM_MSG",
    "XFRM_POLICY_ALLOW",
    "XFRM_POLICY_BLOCK",
    "XFRM_POLICY_FWD",
    "XFRM_POLICY_IN",
    "XFRM_POLICY_OUT",
    "XFRM_STATE_ESN",
    "decode_message",
    "new_message",
    "user_tmpl",
    "xfrm_user_expire",
    "xfrm_user_polexpire",
    "xfrm_userpolicy_id",
    "xfrm_userpolicy_info",
    "xfrm_usersa_id",
    "xfrm_usersa_info",
]

IPPROTO_ESP = 50
XFRM_MODE_TUNNEL = 1
XFRM_STATE_ESN = 128
XFRM_POLICY_IN, XFRM_POLICY_OUT, XFRM_POLICY_FWD = 0, 1, 2
XFRM_POLICY_ALLOW, XFRM_POLICY_BLOCK = 0, 1
XFRM_SHARE_ANY = 0
XFRMNLGRP_EXPIRE = 2
UDP_ENCAP_ESPINUDP = 2
XFRM_INF = (1 << 64) - 1


class XFRM_MSG:
    """Message types (enum in xfrm.h, starting at XFRM_MSG_BASE = 0x10)."""

    NEWSA = 0x10
    DELSA = 0x11
    GETSA = 0x12
    NEWPOLICY = 0x13
    DELPOLICY = 0x14
    GETPOLICY = 0x15
    ALLOCSPI = 0x16
    ACQUIRE = 0x17
    EXPIRE = 0x18
    UPDPOLICY = 0x19
    UPDSA = 0x1A
    POLEXPIRE = 0x1B
    FLUSHSA = 0x1C
    FLUSHPOLICY = 0x1D
    MIGRATE = 0x21


class XFRMA:
    """Attribute types (enum xfrm_attr_type_t)."""

    ALG_AUTH = 1
    ALG_CRYPT = 2
    ALG_COMP = 3
    ENCAP = 4
    TMPL = 5
    SA = 6
    POLICY = 7
    SEC_CTX = 8
    LTIME_VAL = 9
    REPLAY_VAL = 10
    REPLAY_THRESH = 11
    ETIMER_THRESH = 12
    SRCADDR = 13
    COADDR = 14
    LASTUSED = 15
    POLICY_TYPE = 16
    MIGRATE = 17
    ALG_AEAD = 18
    KMADDRESS = 19
    ALG_AUTH_TRUNC = 20
    MARK = 21
    TFCPAD = 22
    REPLAY_ESN_VAL = 23
    SA_EXTRA_FLAGS = 24
    PROTO = 25
    ADDRESS_FILTER = 26
    PAD = 27
    OFFLOAD_DEV = 28
    SET_MARK = 29
    SET_MARK_MASK = 30
    IF_ID = 31


# alignof(__u64) on this ABI: 8 on x86_64/arm/mips, 4 on i386.
_U64_ALIGN = struct.calcsize("@BQ") - 8


def _tail(size: int) -> int:
    """Padding that rounds a struct holding __u64 members up to its alignment."""
    return -size % _U64_ALIGN


# struct xfrm_selector (56 bytes)
SELECTOR_FIELDS = (
    ("sel_daddr", "16s"),
    ("sel_saddr", "16s"),
    ("sel_dport", ">H"),
    ("sel_dport_mask", ">H"),
    ("sel_sport", ">H"),
    ("sel_sport_mask", ">H"),
    ("sel_family", "H"),
    ("sel_prefixlen_d", "B"),
    ("sel_prefixlen_s", "B"),
    ("sel_proto", "B"),
    ("__sel_pad", "3x"),
    ("sel_ifindex", "i"),
    ("sel_user", "I"),
)
# struct xfrm_lifetime_cfg (64 bytes)
LIFETIME_CFG_FIELDS = tuple(
    (name, "Q")
    for name in (
        "soft_byte_limit",
        "hard_byte_limit",
        "soft_packet_limit",
        "hard_packet_limit",
        "soft_add_expires_seconds",
        "hard_add_expires_seconds",
        "soft_use_expires_seconds",
        "hard_use_expires_seconds",
    )
)
# struct xfrm_lifetime_cur (32 bytes)
LIFETIME_CUR_FIELDS = (
    ("cur_bytes", "Q"),
    ("cur_packets", "Q"),
    ("cur_add_time", "Q"),
    ("cur_use_time", "Q"),
)
# struct xfrm_id (24 bytes) + xfrm_address_t saddr + lifetimes + struct xfrm_stats + tail
_USERSA_HEAD = 56 + 24 + 16 + 64 + 32 + 12 + 4 + 4 + 2 + 1 + 1 + 1
USERSA_INFO_SIZE = _USERSA_HEAD + _tail(_USERSA_HEAD)
USERSA_INFO_FIELDS = (
    *SELECTOR_FIELDS,
    ("id_daddr", "16s"),
    ("id_spi", ">I"),
    ("id_proto", "B"),
    ("__id_pad", "3x"),
    ("saddr", "16s"),
    *LIFETIME_CFG_FIELDS,
    *LIFETIME_CUR_FIELDS,
    ("stats_replay_window", "I"),
    ("stats_replay", "I"),
    ("stats_integrity_failed", "I"),
    ("seq", "I"),
    ("reqid", "I"),
    ("family", "H"),
    ("mode", "B"),
    ("replay_window", "B"),
    ("flags", "B"),
    ("__tail", f"{_tail(_USERSA_HEAD)}x"),
)
_USERPOLICY_HEAD = 56 + 64 + 32 + 4 + 4 + 4
USERPOLICY_INFO_SIZE = _USERPOLICY_HEAD + _tail(_USERPOLICY_HEAD)
USERPOLICY_INFO_FIELDS = (
    *SELECTOR_FIELDS,
    *LIFETIME_CFG_FIELDS,
    *LIFETIME_CUR_FIELDS,
    ("priority", "I"),
    ("index", "I"),
    ("dir", "B"),
    ("action", "B"),
    ("flags", "B"),
    ("share", "B"),
    ("__tail", f"{_tail(_USERPOLICY_HEAD)}x"),
)
# struct xfrm_user_tmpl (64 bytes, 4-byte aligned)
USER_TMPL_FIELDS = (
    ("id_daddr", "16s"),
    ("id_spi", ">I"),
    ("id_proto", "B"),
    ("__id_pad", "3x"),
    ("family", "H"),
    ("__pad0", "2x"),
    ("saddr", "16s"),
    ("reqid", "I"),
    ("mode", "B"),
    ("share", "B"),
    ("optional", "B"),
    ("__pad1", "x"),
    ("aalgos", "I"),
    ("ealgos", "I"),
    ("calgos", "I"),
)
USER_TMPL_SIZE = 64
_TMPL_STRUCT = struct.Struct("=16s4sB3xH2x16sIBBBxIII")


def user_tmpl(**values: object) -> bytes:
    """One struct xfrm_user_tmpl (XFRMA_TMPL carries an array of them, no NLA headers)."""
    merged = {name: 0 for name, _ in USER_TMPL_FIELDS if not name.startswith("__")}
    merged.update(values)
    return _TMPL_STRUCT.pack(
        merged["id_daddr"] or b"",
        struct.pack(">I", merged["id_spi"]),
        merged["id_proto"],
        merged["family"],
        merged["saddr"] or b"",
        merged["reqid"],
        merged["mode"],
        merged["share"],
        merged["optional"],
        merged["aalgos"],
        merged["ealgos"],
        merged["calgos"],
    )


def parse_user_tmpls(data: bytes | bytearray | memoryview) -> list[dict[str, object]]:
    """The struct xfrm_user_tmpl array of an XFRMA_TMPL payload (partial tail ignored)."""
    names = [n for n, _ in USER_TMPL_FIELDS if not n.startswith("__")]
    out = []
    for off in range(0, len(data) - USER_TMPL_SIZE + 1, USER_TMPL_SIZE):
        values = list(_TMPL_STRUCT.unpack_from(data, off))
        values[1] = struct.unpack(">I", values[1])[0]
        out.append(dict(zip(names, values, strict=True)))
    return out


class _Algo(nla):
    """struct xfrm_algo / xfrm_algo_auth / xfrm_algo_aead: fixed head, then the key.

    The key is variable length, which pyroute2's ``fields`` cannot express, so it is appended
    after the fixed fields on encode and sliced off the NLA payload on decode.
    """

    __slots__ = ()
    fields: tuple[tuple[str, str], ...] = (("alg_name", "64s"), ("alg_key_len", "I"))

    def ft_encode(self, offset):
        key = bytes(self.get("alg_key") or b"")
        self["alg_key_len"] = len(key) * 8
        offset, _ = super().ft_encode(offset)
        # super() padded to 4; drop that padding before the key, re-pad after it.
        fixed = struct.calcsize("".join(f for _, f in self.fields))
        offset = self.offset + 4 + fixed
        del self.data[offset:]
        self.data.extend(key)
        offset += len(key)
        diff = -offset % 4
        self.data.extend(b"\0" * diff)
        return offset + diff, diff

    def ft_decode(self, offset):
        super().ft_decode(offset)
        fixed = struct.calcsize("".join(f for _, f in self.fields))
        start = self.offset + 4 + fixed
        nbytes = min(self["alg_key_len"] // 8, max(self.length - 4 - fixed, 0))
        self["alg_key"] = bytes(self.data[start : start + nbytes])
        self["alg_name"] = self["alg_name"].split(b"\0", 1)[0].decode("ascii", "replace")


class _XfrmNlas:
    """NLA classes shared by the SA and policy messages (nested into each message class)."""

    class xfrm_algo(_Algo):
        __slots__ = ()
        fields = (("alg_name", "64s"), ("alg_key_len", "I"))

    class xfrm_algo_auth(_Algo):
        __slots__ = ()
        fields = (("alg_name", "64s"), ("alg_key_len", "I"), ("alg_trunc_len", "I"))

    class xfrm_algo_aead(_Algo):
        __slots__ = ()
        fields = (("alg_name", "64s"), ("alg_key_len", "I"), ("alg_icv_len", "I"))

    class xfrm_encap_tmpl(nla):
        __slots__ = ()
        fields = (
            ("encap_type", "H"),
            ("encap_sport", ">H"),
            ("encap_dport", ">H"),
            ("__pad", "2x"),
            ("encap_oa", "16s"),
        )

    class xfrm_replay_state_esn(nla):
        __slots__ = ()
        # bmp[bmp_len] follows; we only ever send an all-zero bitmap, see encode_esn().
        fields = (
            ("bmp_len", "I"),
            ("oseq", "I"),
            ("seq", "I"),
            ("oseq_hi", "I"),
            ("seq_hi", "I"),
            ("replay_window", "I"),
            ("bmp", "s"),
        )

        def ft_decode(self, offset):
            head = struct.unpack_from("6I", self.data, offset)
            for name, value in zip((f for f, _ in self.fields[:6]), head, strict=True):
                self[name] = value
            del self["attrs"]

    class xfrm_replay_state(nla):
        """XFRMA_REPLAY_VAL: struct xfrm_replay_state (sequence numbers, 32-bit bitmap)."""

        __slots__ = ()
        fields = (("oseq", "I"), ("seq", "I"), ("bitmap", "I"))

    class xfrm_mark(nla):
        __slots__ = ()
        fields = (("value", "I"), ("mask", "I"))

    class xfrm_address(nla):
        __slots__ = ()
        fields = (("addr", "16s"),)

    class xfrm_user_tmpls(nla):
        """XFRMA_TMPL: a bare array of struct xfrm_user_tmpl; value is the raw bytes."""

        __slots__ = ()
        fields = (("raw", "s"),)

        def ft_decode(self, offset):
            self["templates"] = parse_user_tmpls(
                bytes(self.data[offset : self.offset + self.length])
            )
            del self["attrs"]

    class xfrm_lifetime_cur(nla):
        __slots__ = ()
        fields = LIFETIME_CUR_FIELDS

    class xfrm_u32(nla):
        __slots__ = ()
        fields = (("value", "I"),)

    class xfrm_hex(nla):  # anything we carry but never read
        __slots__ = ()
        fields = (("raw", "s"),)

        def ft_decode(self, offset):
            del self["attrs"]


_NLA_MAP = (
    (XFRMA.ALG_AUTH, "XFRMA_ALG_AUTH", "xfrm_algo"),
    (XFRMA.ALG_CRYPT, "XFRMA_ALG_CRYPT", "xfrm_algo"),
    (XFRMA.ALG_COMP, "XFRMA_ALG_COMP", "xfrm_algo"),
    (XFRMA.ENCAP, "XFRMA_ENCAP", "xfrm_encap_tmpl"),
    (XFRMA.TMPL, "XFRMA_TMPL", "xfrm_user_tmpls"),
    (XFRMA.SA, "XFRMA_SA", "xfrm_hex"),
    (XFRMA.POLICY, "XFRMA_POLICY", "xfrm_hex"),
    (XFRMA.SEC_CTX, "XFRMA_SEC_CTX", "xfrm_hex"),
    (XFRMA.LTIME_VAL, "XFRMA_LTIME_VAL", "xfrm_lifetime_cur"),
    (XFRMA.REPLAY_VAL, "XFRMA_REPLAY_VAL", "xfrm_replay_state"),
    (XFRMA.SRCADDR, "XFRMA_SRCADDR", "xfrm_address"),
    (XFRMA.POLICY_TYPE, "XFRMA_POLICY_TYPE", "xfrm_hex"),
    (XFRMA.MIGRATE, "XFRMA_MIGRATE", "xfrm_hex"),
    (XFRMA.ALG_AEAD, "XFRMA_ALG_AEAD", "xfrm_algo_aead"),
    (XFRMA.ALG_AUTH_TRUNC, "XFRMA_ALG_AUTH_TRUNC", "xfrm_algo_auth"),
    (XFRMA.MARK, "XFRMA_MARK", "xfrm_mark"),
    (XFRMA.TFCPAD, "XFRMA_TFCPAD", "xfrm_u32"),
    (XFRMA.REPLAY_ESN_VAL, "XFRMA_REPLAY_ESN_VAL", "xfrm_replay_state_esn"),
    (XFRMA.SA_EXTRA_FLAGS, "XFRMA_SA_EXTRA_FLAGS", "xfrm_u32"),
    (XFRMA.PROTO, "XFRMA_PROTO", "xfrm_hex"),
    (XFRMA.SET_MARK, "XFRMA_SET_MARK", "xfrm_u32"),
    (XFRMA.SET_MARK_MASK, "XFRMA_SET_MARK_MASK", "xfrm_u32"),
    (XFRMA.IF_ID, "XFRMA_IF_ID", "xfrm_u32"),
)


def encode_esn(replay_window: int) -> dict[str, object]:
    """Value for XFRMA_REPLAY_ESN_VAL: a fresh state with a zero bitmap of the window's size."""
    bmp_len = (replay_window + 31) // 32
    return {
        "bmp_len": bmp_len,
        "oseq": 0,
        "seq": 0,
        "oseq_hi": 0,
        "seq_hi": 0,
        "replay_window": replay_window,
        "bmp": b"\0" * (4 * bmp_len),
    }


# Each message class derives straight from nlmsg: pyroute2 caches the compiled nla_map on the
# class, and a subclass of an already compiled class would silently reuse its parent's table.
class xfrm_usersa_info(nlmsg, _XfrmNlas):
    """NEWSA / UPDSA requests, and NEWSA replies to GETSA and dumps."""

    __slots__ = ()
    fields = USERSA_INFO_FIELDS
    nla_map = _NLA_MAP


class xfrm_usersa_id(nlmsg, _XfrmNlas):
    """GETSA / DELSA requests (24 bytes)."""

    __slots__ = ()
    fields = (
        ("daddr", "16s"),
        ("spi", ">I"),
        ("family", "H"),
        ("proto", "B"),
        ("__pad", "x"),
    )
    nla_map = _NLA_MAP


class xfrm_userpolicy_info(nlmsg, _XfrmNlas):
    """NEWPOLICY / UPDPOLICY requests and NEWPOLICY replies."""

    __slots__ = ()
    fields = USERPOLICY_INFO_FIELDS
    nla_map = _NLA_MAP


class xfrm_userpolicy_id(nlmsg, _XfrmNlas):
    """DELPOLICY / GETPOLICY requests (64 bytes)."""

    __slots__ = ()
    fields = (*SELECTOR_FIELDS, ("index", "I"), ("dir", "B"), ("__pad", "3x"))
    nla_map = _NLA_MAP


class xfrm_user_expire(nlmsg, _XfrmNlas):
    """XFRM_MSG_EXPIRE multicast: the SA's usersa_info and whether the limit was hard."""

    __slots__ = ()
    _head = USERSA_INFO_SIZE + 1
    fields = (*USERSA_INFO_FIELDS, ("hard", "B"), ("__pad_hard", f"{_tail(_head)}x"))
    nla_map = _NLA_MAP


class xfrm_user_polexpire(nlmsg, _XfrmNlas):
    """XFRM_MSG_POLEXPIRE multicast."""

    __slots__ = ()
    _head = USERPOLICY_INFO_SIZE + 1
    fields = (*USERPOLICY_INFO_FIELDS, ("hard", "B"), ("__pad_hard", f"{_tail(_head)}x"))
    nla_map = _NLA_MAP


def fields_size(cls: type[nlmsg_base]) -> int:
    """Size of a message class's fixed part, as the kernel's sizeof() of the struct."""
    return sum(struct.calcsize("=" + f.lstrip("<>=!@")) for _, f in cls.fields if f != "s")


def decode_message(cls, data: bytes | bytearray, offset: int = 0):
    """Decode one message of a known class from a receive buffer."""
    msg = cls(data=data if isinstance(data, bytearray) else bytearray(data), offset=offset)
    msg.decode()
    return msg
