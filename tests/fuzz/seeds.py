"""Recorded exchanges of real clients, kept small: the seeds of the responder fuzzer.

A seed is one client's whole conversation with the responder, as JSON: the server
configuration and credentials it ran with, and the client's messages in order. Encrypted
messages are stored as their decrypted payload chain (plus exchange, message ID, flags and how
they were fragmented): `fuzz.client.SeedClient` seals them again with the keys of the session
it drives, so a seed keeps working whatever the responder's randomness. Plain messages
(IKE_SA_INIT) are stored as sent. `scripts/record-fuzz-seeds` re-records them with strongSwan.
"""

from __future__ import annotations

import json
import pathlib
from dataclasses import asdict, dataclass, field

__all__ = ["CRASHERS", "SEEDS", "Seed", "Step", "load_seed", "load_seeds", "save_seed"]

HERE = pathlib.Path(__file__).resolve().parent
SEEDS = HERE / "seeds"
CRASHERS = HERE / "crashers"

Address = tuple[str, int]

PLAIN, SEALED, RETRANSMIT, COMMAND = "plain", "sealed", "retransmit", "command"


@dataclass(frozen=True)
class Step:
    """One thing that happened to the responder at time `t` (seconds since the start).

    kind plain: `data` is the message as sent. sealed: `data` is the decrypted inner payload
    chain starting with payload type `first`, sent on IKE SA number `sa` (0 = the first,
    each IKE rekey adds one) with the header fields given; `fragments` is the number of SKF
    fragments it came in (0: one SK payload). retransmit: the client's previous datagrams
    again. command: the daemon called `command` (see fuzz.target.COMMANDS).
    `events` names the events the responder emitted and `answered` whether it sent
    anything, when recorded: `fuzz.client.replay` checks a replay still does the same.
    """

    t: float
    kind: str
    src: Address = ("", 0)
    dst: Address = ("", 0)
    data: bytes = b""
    sa: int = 0
    exchange: int = 0
    message_id: int = 0
    initiator: bool = True
    response: bool = False
    first: int = 0
    fragments: int = 0
    command: str = ""
    events: tuple[str, ...] = ()
    answered: bool = False


@dataclass(frozen=True)
class Seed:
    name: str
    description: str
    config: dict  # from_mapping shape: {"server": {...}, "user": [...]}
    steps: tuple[Step, ...]
    wall_clock: float = 0.0  # the date the recording ran at (certificate validity)
    psk: str = ""  # what the client authenticated with
    password: str = ""  # EAP password
    pem: dict = field(default_factory=dict)  # ca, server_cert, server_key, client_key
    spis: tuple[tuple[bytes, bytes], ...] = ()  # (SPIi, SPIr) of each IKE SA as recorded


def _to_json(obj):
    if isinstance(obj, bytes):
        return {"hex": obj.hex()}
    if isinstance(obj, dict):
        return {k: _to_json(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_to_json(v) for v in obj]
    return obj


def _from_json(obj):
    if isinstance(obj, dict):
        if set(obj) == {"hex"}:
            return bytes.fromhex(obj["hex"])
        return {k: _from_json(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_from_json(v) for v in obj]
    return obj


def _tuples(value):
    return tuple(_tuples(v) for v in value) if isinstance(value, list) else value


def save_seed(seed: Seed, path: pathlib.Path) -> None:
    data = _to_json(asdict(seed))
    path.write_text(json.dumps(data, indent=1) + "\n")


def load_seed(path: pathlib.Path) -> Seed:
    data = _from_json(json.loads(path.read_text()))
    steps = []
    for raw in data.pop("steps"):
        raw = {k: _tuples(v) if k in ("src", "dst", "events") else v for k, v in raw.items()}
        steps.append(Step(**raw))
    data["spis"] = _tuples(data.get("spis", []))
    return Seed(steps=tuple(steps), **data)


def load_seeds(directory: pathlib.Path = SEEDS) -> list[Seed]:
    return [load_seed(p) for p in sorted(directory.glob("*.json"))]
