"""Escapes kept as regression inputs: tests/fuzz/crashers/<signature hash>.json.

A crasher names its seed, how many of the seed's steps were played first (`prefix`), the
session's randomness and the ops (fuzz.mutate) that made the responder fail. Encrypted ops
keep their plaintext, so they are sealed again with the keys of the session that replays them:
a crasher stays meaningful when the responder's randomness or key derivation changes.
"""

from __future__ import annotations

import hashlib
import json
import pathlib
import re
import traceback

from .seeds import CRASHERS, Seed, _from_json, _to_json
from .session import Session
from .target import Escape, InvariantBroken

__all__ = ["build", "load_crashers", "reproduce", "save_crasher", "signature"]

_SRC = re.compile(r"src/ikev2d/(.+)$")


def build(seed: Seed, prefix: int, rng: int) -> Session:
    """A session with the seed's first `prefix` steps played (they may escape too; what
    the responder sends is checked from then on: the seeds' own answers are known good)."""
    session = Session(seed, rng)
    session.target.strict = False
    for step in seed.steps[:prefix]:
        session.play(step)
    session.target.strict = True
    return session


def signature(escape: Escape) -> str:
    """What makes two escapes the same bug: the exception and where in src/ it was raised,
    or the invariant's message without its numbers."""
    if isinstance(escape, InvariantBroken):
        return "invariant: " + re.sub(r"[0-9a-f]{6,}|\d+", "N", str(escape))[:80]
    cause = escape.__cause__ or escape
    where = "?"
    for frame in traceback.extract_tb(cause.__traceback__):
        m = _SRC.search(frame.filename.replace("\\", "/"))
        if m:
            where = f"{m.group(1)}:{frame.lineno} {frame.name}"
    return f"{type(cause).__name__} at {where}"


def reproduce(doc: dict, seeds: dict[str, Seed]) -> Escape | None:
    """Run a crasher; the escape it still causes, or None."""
    try:
        session = build(seeds[doc["seed"]], doc["prefix"], doc["rng"])
        for op in doc["ops"]:
            session.apply(op)
    except Escape as e:
        return e
    return None


def save_crasher(doc: dict, escape: Escape, directory: pathlib.Path = CRASHERS) -> pathlib.Path:
    sig = signature(escape)
    name = hashlib.sha256(sig.encode()).hexdigest()[:12]
    path = directory / f"{name}.json"
    if not path.exists():
        directory.mkdir(parents=True, exist_ok=True)
        cause = escape.__cause__ or escape
        text = "".join(traceback.format_exception(cause)).strip().splitlines()[-12:]
        record = {"signature": sig, **doc, "traceback": text}
        path.write_text(json.dumps(_to_json(record), indent=1) + "\n")
    return path


def load_crashers(directory: pathlib.Path = CRASHERS) -> list[tuple[pathlib.Path, dict]]:
    return [(p, _from_json(json.loads(p.read_text()))) for p in sorted(directory.glob("*.json"))]
