"""The fuzzer in `make test`: its seeds still drive the responder as recorded, every kept
crasher is harmless now, a short fixed-seed campaign finds nothing, and the fuzzer does find
a bug when there is one."""

from __future__ import annotations

import pytest

from fuzz.campaign import campaign
from fuzz.crashers import load_crashers, reproduce
from fuzz.seeds import COMMAND, PLAIN, SEALED, load_seeds
from fuzz.session import Session
from ikev2d.crypto import mlkem
from ikev2d.wire.enums import AuthMethod, ExchangeType, NotifyType, ProtocolId
from ikev2d.wire.message import decode_payloads
from ikev2d.wire.payloads import AuthPayload, DeletePayload, NotifyPayload
from ikev2d.wire.sa import SaPayload

SEEDS = load_seeds()
SHORT_RUN = 4000
AUTH_KINDS = {
    AuthMethod.SHARED_KEY_MIC: "AUTH psk or MSK",
    None: "AUTH none",
    AuthMethod.DIGITAL_SIGNATURE: "AUTH signature",
}


@pytest.mark.parametrize("seed", SEEDS, ids=lambda s: s.name)
def test_seed_replays_as_recorded(seed):
    if _needs_mlkem(seed) and not mlkem.available_methods():
        pytest.skip("this cryptography has no ML-KEM (OpenWrt 24.10's): the server takes none")
    # every recorded step, re-keyed, makes the responder emit what it did with strongSwan
    assert Session(seed).replay() == []


def _needs_mlkem(seed) -> bool:
    return any(s.exchange in (ExchangeType.IKE_INTERMEDIATE, ExchangeType.IKE_FOLLOWUP_KE)
               for s in seed.steps)  # fmt: skip


def test_a_wrong_secret_breaks_the_replay():
    # the replay check is not vacuous: with another PSK the client is refused at IKE_AUTH
    import dataclasses

    seed = next(s for s in SEEDS if s.name == "psk-lifecycle")
    differences = Session(dataclasses.replace(seed, psk="not-the-psk-0123456789")).replay()
    assert "AuthenticationFailed" in differences[0]


def _inner(seed):
    for step in seed.steps:
        if step.kind == SEALED:
            yield step, decode_payloads(step.first, step.data)


def test_seeds_hold_every_kind_of_exchange():
    kinds = set()
    for seed in SEEDS:
        kinds |= {"IKE_SA_INIT"} if any(s.kind == PLAIN for s in seed.steps) else set()
        kinds |= {f"command {s.command}" for s in seed.steps if s.kind == COMMAND}
        kinds |= {"over IPv6"} if ":" in seed.steps[0].src[0] else set()
        for step, inner in _inner(seed):
            types = {type(p) for p in inner}
            notes = {p.notify_type for p in inner if isinstance(p, NotifyPayload)}
            auth = next((p.method for p in inner if isinstance(p, AuthPayload)), None)
            sa = next((p for p in inner if isinstance(p, SaPayload)), None)
            if step.exchange == ExchangeType.IKE_AUTH:
                kinds.add(AUTH_KINDS.get(auth, "?"))
                kinds |= {"EAP"} if "EapPayload" in {t.__name__ for t in types} else set()
            if step.fragments:
                kinds.add("SKF fragments")
            if step.exchange in (ExchangeType.IKE_INTERMEDIATE, ExchangeType.IKE_FOLLOWUP_KE):
                kinds.add(ExchangeType(step.exchange).name)
            if step.exchange == ExchangeType.CREATE_CHILD_SA and sa is not None:
                ike = sa.proposals[0].protocol == ProtocolId.IKE
                kinds.add(
                    ("IKE rekey" if ike else "Child SA") + (" answered" if step.response else "")
                )
            if step.exchange == ExchangeType.INFORMATIONAL:
                if DeletePayload in types:
                    kinds.add("Delete")
                if not inner:
                    kinds.add("empty INFORMATIONAL (DPD)")
                if NotifyType.UPDATE_SA_ADDRESSES in notes:
                    kinds.add("MOBIKE")
    assert kinds >= {
        "IKE_SA_INIT", "AUTH psk or MSK", "AUTH none", "AUTH signature", "EAP", "SKF fragments",
        "Child SA", "IKE rekey", "Child SA answered", "IKE rekey answered", "Delete",
        "empty INFORMATIONAL (DPD)", "MOBIKE", "command expire-soft", "command disconnect",
        "IKE_INTERMEDIATE", "IKE_FOLLOWUP_KE", "over IPv6",
    }  # fmt: skip


def test_kept_crashers_no_longer_escape():
    seeds = {s.name: s for s in SEEDS}
    for path, doc in load_crashers():
        escape = reproduce(doc, seeds)
        assert escape is None, f"{path.name} ({doc['signature']}) still escapes: {escape!r}"


def test_short_fixed_seed_campaign_finds_nothing(tmp_path):
    stats = campaign(SHORT_RUN, seconds=600, jobs=1, rng_seed=20261204, crash_dir=tmp_path)
    assert stats.inputs == SHORT_RUN
    assert stats.harness_errors == {}  # the fuzzer itself works
    assert stats.escapes == {}, f"escapes, kept in {tmp_path}: {stats.escapes}"


def test_the_fuzzer_finds_a_planted_bug(tmp_path, monkeypatch):
    # a responder that chokes on a second Delete payload in one INFORMATIONAL
    from ikev2d.ike import exchanges

    real = exchanges.handle_informational

    def planted(sa, inner):
        if sum(isinstance(p, DeletePayload) for p in inner) > 1:
            raise KeyError("planted")
        return real(sa, inner)

    monkeypatch.setattr(exchanges, "handle_informational", planted)
    stats = campaign(3000, seconds=600, jobs=1, rng_seed=7, crash_dir=tmp_path)

    (signature,) = stats.escapes
    assert signature.startswith("KeyError")
    ((_, doc),) = load_crashers(tmp_path)
    assert reproduce(doc, {s.name: s for s in SEEDS}) is not None  # the kept input replays it
    monkeypatch.setattr(exchanges, "handle_informational", real)
    assert reproduce(doc, {s.name: s for s in SEEDS}) is None
