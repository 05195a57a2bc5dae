"""Pacing a sweep: how many streams at once, how fast per provider, and when to retry.

Per provider (an endpoint) a :class:`Gate` holds the concurrency limit and optional
requests- and tokens-per-minute buckets. A 429 halves that provider's limit (down to 1)
and holds every request to it for the ``Retry-After`` it sent; each success raises the
limit by one again (additive increase, multiplicative decrease, as TCP does) — so a rate
limit storm slows the sweep instead of failing it. Retries back off exponentially with
full jitter, never less than ``Retry-After``, on 429, 408, 409, 5xx, lost connections,
a stream that went silent (idle timeout) and a server-trouble error event inside the
stream (overloaded, api/server error, rate limit) only; any other 4xx, or an error event
that says the request is wrong, is the request's fault and is never retried. A 429 does not use up
the ``retries`` budget (the server asked us to wait, not said we were wrong): a row gives
up after :data:`RATE_LIMIT_RETRIES` 429s in a row.
"""

from __future__ import annotations

import asyncio
import random
from asyncio import sleep
from dataclasses import dataclass, field
from time import monotonic

from nbstream import errors

__all__ = ["RATE_LIMIT_RETRIES", "Bucket", "Gate", "Pacer", "backoff", "retryable"]

RETRY_STATUSES = frozenset({408, 409, 429})
BASE_S = 0.5  # the first retry waits up to this; each next one doubles it
MAX_S = 30.0
RATE_LIMIT_RETRIES = 20


# An error event inside the stream whose code or type says "server trouble" (Anthropic's
# overloaded_error / api_error, OpenAI's server_error, a rate limit met mid-stream), as
# opposed to "your request is wrong" (invalid_request_error...), which is never retried.
SERVER_TROUBLE = frozenset({"overloaded_error", "overloaded", "api_error", "server_error", "internal_error",
                            "internal_server_error", "service_unavailable", "timeout_error", "rate_limit_error",
                            "rate_limit_exceeded", "UNAVAILABLE", "INTERNAL", "RESOURCE_EXHAUSTED"})


def retryable(error: BaseException | None) -> bool:
    """Whether a run that ended with ``error`` is worth sending again."""
    if isinstance(error, errors.HTTPStatusError):
        return error.status in RETRY_STATUSES or error.status >= 500
    if isinstance(error, errors.StreamError):
        said = {error.code, error.type}
        # a numeric code is an HTTP status carried in the event (Gemini's {"code": 503})
        return bool(said & SERVER_TROUBLE) or any(s is not None and s.isascii() and s.isdigit() and (
            int(s) in RETRY_STATUSES or 500 <= int(s) < 600) for s in said)
    return isinstance(error, (errors.ConnectError, errors.ConnectTimeout, errors.FirstByteTimeout,
                              errors.IdleTimeout, errors.IncompleteStreamError))


def backoff(attempt: int, retry_after: float | None, rng: random.Random) -> float:
    """Seconds to wait before the next attempt: what the server's ``Retry-After`` asked plus
    a little jitter (so the held requests do not all return at once), else full jitter
    over an exponential ceiling."""
    if retry_after is not None and retry_after >= 0:
        return min(retry_after, 3600.0) + rng.uniform(0, BASE_S / 5)
    return rng.uniform(0, min(MAX_S, BASE_S * 2 ** max(attempt - 1, 0)))


@dataclass
class Bucket:
    """A token bucket refilled at ``per_minute`` units a minute, holding at most a minute's
    worth; :meth:`take` waits until ``n`` are there (a debit may leave it negative)."""

    per_minute: float
    level: float = field(init=False)
    stamp: float = field(init=False)

    def __post_init__(self) -> None:
        self.level = self.per_minute
        self.stamp = monotonic()

    def _refill(self) -> None:
        now = monotonic()
        self.level = min(self.per_minute, self.level + (now - self.stamp) * self.per_minute / 60.0)
        self.stamp = now

    async def take(self, n: float) -> None:
        n = min(n, self.per_minute)  # a request larger than a minute's budget waits a full minute at most
        while True:
            self._refill()
            if self.level >= n:
                self.level -= n
                return
            await sleep((n - self.level) * 60.0 / self.per_minute)

    def debit(self, n: float) -> None:
        self._refill()
        self.level -= n

    def refund(self, n: float) -> None:
        """Give back what :meth:`take` took for a request that never went out."""
        self._refill()
        self.level = min(self.per_minute, self.level + min(n, self.per_minute))


class Gate:
    """One provider's pacing: an adaptive concurrency limit (at most ``cap``), a hold
    after a 429, and the optional rpm / tpm buckets."""

    def __init__(self, cap: int, rpm: float | None, tpm: float | None) -> None:
        self.cap = cap
        self.limit = cap
        self.active = 0
        self.hold_until = 0.0
        self.rpm = Bucket(rpm) if rpm else None
        self.tpm = Bucket(tpm) if tpm else None
        self._changed = asyncio.Condition()

    async def enter(self, tokens: float) -> None:
        """Wait for a free slot under the limit, the end of any hold, and the buckets."""
        async with self._changed:
            await self._changed.wait_for(lambda: self.active < self.limit)
            self.active += 1
        try:
            while (wait := self.hold_until - monotonic()) > 0:
                await sleep(wait)
            if self.rpm is not None:
                await self.rpm.take(1)
            if self.tpm is not None:
                await self.tpm.take(tokens)
        except BaseException:
            await self.leave()
            raise

    def held(self) -> bool:
        """Whether a request entered now would break this provider's pace: a hold after a
        429 is on, or more are in than the limit allows (it was halved meanwhile)."""
        return self.hold_until > monotonic() or self.active > self.limit

    async def back_out(self, tokens: float) -> None:
        """Leave without sending: the place, the request and its ``tokens`` go back."""
        if self.rpm is not None:
            self.rpm.refund(1)
        if self.tpm is not None:
            self.tpm.refund(tokens)
        await self.leave()

    async def leave(self, *, output_tokens: float = 0.0) -> None:
        if self.tpm is not None and output_tokens:
            self.tpm.debit(output_tokens)
        async with self._changed:
            self.active -= 1
            self._changed.notify_all()

    async def succeeded(self) -> None:
        if self.limit < self.cap:
            async with self._changed:
                self.limit += 1
                self._changed.notify_all()

    def rate_limited(self, retry_after: float | None) -> None:
        self.limit = max(1, self.limit // 2)
        if retry_after is not None and retry_after > 0:
            self.hold_until = max(self.hold_until, monotonic() + min(retry_after, 3600.0))


class Pacer:
    """The gates of every provider a sweep talks to, made on first use."""

    def __init__(self, concurrency: int, rpm: float | None = None, tpm: float | None = None,
                 seed: int | None = None) -> None:
        self.concurrency, self.rpm, self.tpm = concurrency, rpm, tpm
        self.gates: dict[str, Gate] = {}
        self.rng = random.Random(seed)

    def gate(self, provider: str) -> Gate:
        gate = self.gates.get(provider)
        if gate is None:
            gate = self.gates[provider] = Gate(self.concurrency, self.rpm, self.tpm)
        return gate
