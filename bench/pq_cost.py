"""What ML-KEM adds to a handshake on the server: CPU and bytes, x25519 alone against x25519 +
ML-KEM-768 (RFC 9370, one IKE_INTERMEDIATE exchange more), measured in-process.

    python -m bench.pq_cost [N]     # N handshakes per suite and round (default 300), 5 rounds

The sans-IO responder is driven by the in-memory initiator of the unit tests (PSK, CP, one
Child SA); only the responder's calls are timed (process CPU time), so the figure is the
server's cost per handshake, without sockets, kernel SAs or the client's work. The wire
figures count every datagram of IKE_SA_INIT, IKE_INTERMEDIATE and IKE_AUTH, both ways. The
end-to-end run against strongSwan 6 in the ESP kernel is bench.handshakes' "pq" part, whose
CPU figures on a shared machine vary far more than the difference measured here.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time

from ikev2d.ike.responder import Responder
from testbed.pq_initiator import ADDKE1, PqInitiator
from testbed.sans_io import PHONE, SERVER, Spis, make_config

__all__ = ["main", "measure"]

SUITES = {"x25519": (), "x25519+mlkem768": ((ADDKE1, (36,)),)}


def _handshake(r: Responder, client: PqInitiator, now: float) -> tuple[float, int, int]:
    """(responder CPU seconds, bytes both ways, datagrams both ways) of one handshake."""
    cpu = 0.0
    wire = count = 0

    def send(datagrams: list[bytes]) -> list[bytes]:
        nonlocal cpu, wire, count
        t = time.process_time()
        for d in datagrams:
            r.receive_datagram(d, PHONE, SERVER, now)
        out = [d for d, _, _ in r.datagrams_to_send()]
        cpu += time.process_time() - t
        wire += sum(map(len, datagrams)) + sum(map(len, out))
        count += len(datagrams) + len(out)
        return out

    (resp,) = send([client.init_request()])
    client.init_response(resp)
    while client.pending:
        client.intermediate_response(send(client.intermediate_request()))
    (resp,) = send([client.auth_request()])
    assert client.verify_responder_auth(client.open(resp)[1])
    while r.next_event() is not None:
        pass
    return cpu, wire, count


def measure(n: int, rounds: int = 5) -> dict:
    """Per suite: median over rounds of the mean responder CPU ms per handshake, and the
    bytes and datagrams of one handshake."""
    out = {}
    for name, addke in SUITES.items():
        per_round, wire = [], (0, 0)
        for _ in range(rounds):
            r = Responder(make_config(ike_proposal=["aes256-sha256-curve25519"],
                                      pool="10.10.0.0/16", fragmentation=True),
                          rng=os.urandom, allocate_spi=Spis())  # fmt: skip
            clients = [PqInitiator(ike=("aes256-sha256-curve25519",), addke=addke,
                                   fragments=True) for _ in range(n + 1)]  # fmt: skip
            _handshake(r, clients[0], 0.0)  # warm-up: first-use imports and OpenSSL loading
            total = 0.0
            for i, client in enumerate(clients[1:], 1):
                cpu, size, count = _handshake(r, client, float(i))
                total += cpu
                wire = (size, count)
            per_round.append(total * 1000 / n)
        out[name] = {
            "cpu_ms_per_handshake": round(statistics.median(per_round), 3),
            "rounds_ms": [round(v, 3) for v in per_round],
            "bytes_per_handshake": wire[0],
            "datagrams_per_handshake": wire[1],
        }
    base, pq = out["x25519"], out["x25519+mlkem768"]
    out["added"] = {
        "cpu_ms": round(pq["cpu_ms_per_handshake"] - base["cpu_ms_per_handshake"], 3),
        "cpu_ratio": round(pq["cpu_ms_per_handshake"] / base["cpu_ms_per_handshake"], 2),
        "bytes": pq["bytes_per_handshake"] - base["bytes_per_handshake"],
        "datagrams": pq["datagrams_per_handshake"] - base["datagrams_per_handshake"],
    }
    return out


def main(argv: list[str]) -> int:
    n = int(argv[0]) if argv else 300
    print(json.dumps(measure(n), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
