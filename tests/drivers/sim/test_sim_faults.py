"""Fault plans: parsing, and the injector's draws (seeded, bounded, never forging a frame)."""

from __future__ import annotations

import pytest

from drivers.idcard.codec import PREAMBLE, Response, ResponseDecoder, Status
from drivers.sim.faults import DEFAULT_PROBABILITY, FaultInjector, FaultPlan


def test_parse_spec() -> None:
    plan = FaultPlan.parse("noise, split,corrupt:0.1,SLOW:0.2")
    assert (plan.noise, plan.split, plan.corrupt, plan.slow) == (
        DEFAULT_PROBABILITY["noise"], DEFAULT_PROBABILITY["split"], 0.1, 0.2,
    )  # fmt: skip
    assert plan.active == ("noise", "split", "corrupt", "slow")
    assert FaultPlan.parse(str(plan)) == plan
    assert FaultPlan.parse("") == FaultPlan.parse(None) == FaultPlan()
    assert str(FaultPlan()) == "none"


@pytest.mark.parametrize(
    ("spec", "message"),
    [("bogus", "expected one of"), ("noise:lots", "expected a number"), ("drop:1.5", "[0, 1]")],
)
def test_parse_rejects(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        FaultPlan.parse(spec)


def test_same_seed_same_faults() -> None:
    frame = Response(Status.SUCCESS, bytes(range(200))).to_bytes()

    def draws(seed: int) -> list[object]:
        injector = FaultInjector(FaultPlan.parse("noise:1,split:1,corrupt:1"), seed)
        return [(injector.noise(), injector.chunks(frame), injector.corrupt(frame)) for _ in "abc"]

    assert draws(3) == draws(3) != draws(4)


def test_inactive_faults_never_fire() -> None:
    injector = FaultInjector(FaultPlan(noise=1.0), seed=1)
    assert all(injector.happens("noise") for _ in range(50))
    assert not any(injector.happens("drop") for _ in range(50))


def test_noise_never_holds_a_sync_sequence() -> None:
    injector = FaultInjector(FaultPlan(noise=1.0), seed=9)
    frame = Response(Status.SUCCESS).to_bytes()
    for _ in range(2000):
        noise = injector.noise()
        assert 1 <= len(noise) <= 24 and PREAMBLE[1:] not in noise
        # Noise in front of a frame never costs the frame.
        assert ResponseDecoder().feed(noise + frame) == [Response(Status.SUCCESS)]


def test_chunks_and_corruption() -> None:
    injector = FaultInjector(FaultPlan(split=1.0, corrupt=1.0), seed=2)
    frame = Response(Status.SUCCESS, bytes(2310)).to_bytes()
    pieces = injector.chunks(frame)
    assert b"".join(chunk for chunk, _ in pieces) == frame
    assert all(1 <= len(chunk) <= 64 and 0 <= pause < 0.005 for chunk, pause in pieces)
    corrupted = injector.corrupt(frame)
    assert corrupted[:-1] == frame[:-1] and corrupted[-1] != frame[-1]
    assert ResponseDecoder().feed(corrupted) == []


def test_garbled_bytes_never_decode() -> None:
    injector = FaultInjector(seed=4)
    frame = Response(Status.SUCCESS, bytes(100)).to_bytes()
    slower, faster = injector.garble(frame, 9600 / 115200), injector.garble(frame, 2.0)
    assert len(slower) < len(frame) < len(faster)
    assert ResponseDecoder().feed(slower + faster) == []
