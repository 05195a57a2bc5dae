"""The sweep's rate caps, on a simulated clock: ``rpm`` lets a minute's worth of requests
through, then one per ``60/rpm`` seconds; ``tpm`` charges a request's prompt on entry and
its output on leaving, so a big answer delays the next request; a ``Retry-After`` holds
every request to that provider. No real time passes: the pacing module's ``monotonic``
and ``sleep`` (only its own names: the event loop's clock is untouched) are replaced by a
clock that only moves when slept on."""

from __future__ import annotations

import asyncio

import pytest

from nbstream.sweeps import pacing


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += max(seconds, 0.0)


@pytest.fixture
def clock(monkeypatch):
    fake = Clock()
    monkeypatch.setattr(pacing, "monotonic", fake.monotonic)
    monkeypatch.setattr(pacing, "sleep", fake.sleep)
    return fake


def test_rpm_lets_a_minutes_worth_through_at_once(clock):
    gate = pacing.Gate(cap=1000, rpm=60, tpm=None)

    async def main() -> None:
        for _ in range(60):
            await gate.enter(0)

    asyncio.run(main())
    assert clock.now == 1000.0 and clock.slept == []


def test_rpm_then_spaces_requests_sixty_over_rpm_seconds_apart(clock):
    gate = pacing.Gate(cap=1000, rpm=60, tpm=None)
    entered: list[float] = []

    async def main() -> None:
        for _ in range(70):
            await gate.enter(0)
            entered.append(clock.now)

    asyncio.run(main())
    gaps = [b - a for a, b in zip(entered[60:], entered[61:], strict=False)]
    assert gaps == pytest.approx([1.0] * 9)
    assert entered[-1] - entered[0] == pytest.approx(10.0)


def test_tpm_charges_the_answer_so_the_next_request_waits_for_it(clock):
    gate = pacing.Gate(cap=10, rpm=None, tpm=600)

    async def main() -> float:
        await gate.enter(100)  # prompt tokens: 500 of 600 left
        await gate.leave(output_tokens=800)  # the answer: the bucket is 300 in debt
        start = clock.now
        await gate.enter(100)  # needs 100: 400 tokens to refill at 10 a second
        return clock.now - start

    assert asyncio.run(main()) == pytest.approx(40.0)


def test_a_request_larger_than_a_minutes_budget_waits_at_most_a_minute(clock):
    bucket = pacing.Bucket(per_minute=100)

    async def main() -> None:
        await bucket.take(100)
        await bucket.take(10_000)

    asyncio.run(main())
    assert clock.now - 1000.0 == pytest.approx(60.0)


def test_retry_after_holds_every_request_to_that_provider(clock):
    gate = pacing.Gate(cap=8, rpm=None, tpm=None)
    gate.rate_limited(retry_after=7.5)

    async def main() -> float:
        await gate.enter(0)
        return clock.now

    assert asyncio.run(main()) == pytest.approx(1007.5)
    assert gate.limit == 4


def test_a_hostile_retry_after_is_capped_at_an_hour(clock):
    gate = pacing.Gate(cap=2, rpm=None, tpm=None)
    gate.rate_limited(retry_after=1e18)
    assert gate.hold_until - clock.now == pytest.approx(3600.0)


def test_successes_raise_a_halved_limit_back_to_its_cap(clock):
    gate = pacing.Gate(cap=8, rpm=None, tpm=None)
    gate.rate_limited(retry_after=None)
    gate.rate_limited(retry_after=None)
    assert gate.limit == 2

    async def main() -> None:
        for _ in range(10):
            await gate.succeeded()

    asyncio.run(main())
    assert gate.limit == 8


def test_a_request_that_backs_out_gives_its_rpm_and_tpm_budget_back(clock):
    """A row sent back to its gate (a 429's hold came while it waited for a stream slot)
    never went out: entering again must not pay for it twice."""
    gate = pacing.Gate(cap=10, rpm=2, tpm=1000)

    async def main() -> None:
        await gate.enter(400)
        await gate.back_out(400)
        await gate.enter(400)
        await gate.enter(400)  # the minute's 2 requests and 800 of its 1,000 tokens: no wait

    asyncio.run(main())
    assert clock.slept == [] and gate.active == 2
