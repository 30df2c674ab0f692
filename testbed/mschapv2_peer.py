"""The client side of EAP-MSCHAPv2 (what Windows and strongSwan do), written from RFC 2759
and the EAP encapsulation, for unit tests of our server. Not used against real peers."""

from __future__ import annotations

import struct

from ikev2d.auth import mschapv2 as ms
from ikev2d.auth.md4 import md4

__all__ = ["MschapV2Peer"]


class MschapV2Peer:
    def __init__(self, name: str, password: str, peer_challenge: bytes = b"P" * 16):
        self.name, self.password, self.peer_challenge = name, password, peer_challenge
        self.expected_auth = None
        self.nt_response = None

    def answer(self, request: bytes) -> bytes:
        """The EAP-Response to one EAP-Request (Challenge, Success or Failure)."""
        code, ident, length, eap_type, opcode, ms_id, ms_len = struct.unpack_from(
            "!BBHBBBH", request
        )
        assert (code, eap_type, length, ms_len) == (1, 26, len(request), len(request) - 5)
        body = request[9:]
        if opcode == 1:
            assert body[0] == 16
            return self._response(ident, ms_id, body[1:17])
        if opcode == 3:
            text = body.decode("ascii")
            assert text.startswith(self.expected_auth + " M=")
            return struct.pack("!BBHBB", 2, ident, 6, 26, 3)
        if opcode == 4:
            fields = dict(tok.split("=", 1) for tok in body.decode("ascii").split(" ")[:4])
            assert fields["E"] == "691" and fields["R"] == "1" and fields["V"] == "3"
            return self._response(ident, ms_id, bytes.fromhex(fields["C"]))
        raise AssertionError(opcode)

    def _response(self, ident: int, ms_id: int, challenge: bytes) -> bytes:
        name = self.name.encode()
        self.nt_response = ms.generate_nt_response(
            challenge, self.peer_challenge, self.name, self.password
        )
        self.expected_auth = ms.generate_authenticator_response(
            self.password, self.nt_response, self.peer_challenge, challenge, self.name
        )
        value = self.peer_challenge + bytes(8) + self.nt_response + b"\x00"
        ms_part = struct.pack("!BBHB", 2, ms_id, 4 + 1 + 49 + len(name), 49) + value + name
        return struct.pack("!BBHB", 2, ident, 5 + len(ms_part), 26) + ms_part

    def msk(self) -> bytes:
        hash_hash = md4(ms.nt_password_hash(self.password))
        return ms.msk(hash_hash, self.nt_response)
