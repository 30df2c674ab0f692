"""Socket options that make the IKE sockets coexist with our own XFRM policies.

``bypass_ike_socket(sock)`` installs per-socket policies (IP_XFRM_POLICY/IPV6_XFRM_POLICY,
a bare ``struct xfrm_userpolicy_info`` with action ALLOW, one for IN and one for OUT), as
strongSwan's kernel-netlink does. (IP_IPSEC_POLICY, one lower, is the PF_KEY variant that
expects a ``sadb_x_policy``; the XFRM key manager answers it with EOPNOTSUPP.) Socket policies
take precedence over the SPD, so IKE packets to and from a client are never caught by the
tunnel policies we install for its virtual IP.

``enable_udp_encap(sock)`` marks the port-4500 socket with UDP_ENCAP_ESPINUDP so the kernel
takes ESP-in-UDP (RFC 3948) packets off it and decapsulates them; only datagrams starting
with the four zero bytes of the non-ESP marker still reach the socket as IKE.
"""

from __future__ import annotations

import socket

from ikev2d.kernel import xfrm_messages as m

__all__ = [
    "IPV6_XFRM_POLICY",
    "IP_XFRM_POLICY",
    "UDP_ENCAP",
    "bypass_ike_socket",
    "bypass_policy",
    "enable_udp_encap",
]

IP_XFRM_POLICY = 17  # <linux/in.h>
IPV6_XFRM_POLICY = 35  # <linux/in6.h>
UDP_ENCAP = 100  # <linux/udp.h>
_NLMSG_HDR = 16


def bypass_policy(family: int, direction: int) -> bytes:
    """struct xfrm_userpolicy_info for a per-socket ALLOW policy (no netlink header)."""
    fields = {
        "sel_family": family,
        "dir": direction,
        "action": m.XFRM_POLICY_ALLOW,
        # Unlimited lifetimes, as a policy from ip-xfrm: a zero byte limit would mean "none".
        "soft_byte_limit": m.XFRM_INF,
        "hard_byte_limit": m.XFRM_INF,
        "soft_packet_limit": m.XFRM_INF,
        "hard_packet_limit": m.XFRM_INF,
    }
    encoded = m.new_message(m.xfrm_userpolicy_info, 0, 0, 0, fields)
    return encoded[_NLMSG_HDR : _NLMSG_HDR + m.USERPOLICY_INFO_SIZE]


def bypass_ike_socket(sock: socket.socket) -> None:
    """Exempt one IKE socket from IPsec policies in both directions."""
    if sock.family == socket.AF_INET6:
        level, option = socket.IPPROTO_IPV6, IPV6_XFRM_POLICY
    else:
        level, option = socket.IPPROTO_IP, IP_XFRM_POLICY
    for direction in (m.XFRM_POLICY_IN, m.XFRM_POLICY_OUT):
        sock.setsockopt(level, option, bypass_policy(sock.family, direction))


def enable_udp_encap(sock: socket.socket) -> None:
    """Let the kernel decapsulate ESP-in-UDP arriving on this (port 4500) socket."""
    sock.setsockopt(socket.IPPROTO_UDP, UDP_ENCAP, m.UDP_ENCAP_ESPINUDP)
