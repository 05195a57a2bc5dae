"""nbstream.sweep end to end against loopback servers the tests start: which faults are
retried (in-stream server errors, stalls, 409, Retry-After honoured), pacing per provider,
the concurrency cap, crash resume and a priced cost. Every wait is for a state; a
deadline is only a hang guard."""

from __future__ import annotations

import time

import pandas as pd
import pytest

import nbstream
from nbstream import Session
from tests._fault_server import FaultServer, answer_for

ROWS = pd.DataFrame({"q": ["first question here", "second question here"]})
# where each wire format is served: chat under /v1, Anthropic's /v1/messages under the root
WIRE = {"chat": "/v1", "anthropic": ""}


@pytest.fixture
def session():
    s = Session()
    yield s
    s.close()


def _wait_for(condition, deadline: float = 60.0) -> None:
    end = time.monotonic() + deadline
    while not condition():
        assert time.monotonic() < end, "the state was never reached"
        time.sleep(0.01)


# ---- in-stream faults ---------------------------------------------------------------------------
@pytest.mark.parametrize("api", ["chat", "anthropic"])
@pytest.mark.parametrize("fault", ["error:overloaded_error", "error:api_error", "error:server_error",
                                   "error:rate_limit_error", "stall"])
def test_a_stream_that_fails_midway_with_server_trouble_is_retried_and_answered_afresh(session, api, fault):
    """Each row's first request breaks after its first word (an error event, or silence
    past idle_timeout); the retry's whole answer is the row's, the broken part not mixed in."""
    first_of = set()

    def faults(_n: int, prompt: str) -> str:
        if prompt in first_of:
            return "ok"
        first_of.add(prompt)
        return fault

    with FaultServer(faults) as server:
        df = nbstream.sweep("{q}", data=ROWS, models="fault", api=api, base_url=server.url + WIRE[api], retries=2,
                            idle_timeout=1.0, cache=False, display=False, session=session, seed=1)
        assert list(df["status"]) == ["done", "done"], df["error"].tolist()
        assert list(df["text"]) == [answer_for(q) for q in ROWS["q"]]
        assert list(df["attempts"]) == [2, 2] and len(server.log) == 4
        assert all(e.path.endswith("/messages" if api == "anthropic" else "/chat/completions") for e in server.log)


@pytest.mark.parametrize("api", ["chat", "anthropic"])
@pytest.mark.parametrize("kind", ["invalid_request_error", "authentication_error", "permission_error"])
def test_an_error_event_that_says_the_request_is_wrong_is_not_retried(session, api, kind):
    with FaultServer(lambda _n, _p: f"error:{kind}") as server:
        df = nbstream.sweep("{q}", data=ROWS.head(1), models="fault", api=api, base_url=server.url + WIRE[api],
                            retries=3, cache=False, display=False, session=session)
        assert list(df["status"]) == ["error"] and list(df["attempts"]) == [1] and len(server.log) == 1
        assert kind in df["error"].iloc[0]


@pytest.mark.parametrize(("code", "kind", "retried"), [
    (None, "overloaded_error", True), ("server_error", None, True), ("503", None, True), ("429", None, True),
    (None, "invalid_request_error", False), ("400", None, False), (None, None, False),
])
def test_an_error_event_is_retried_when_its_code_or_type_says_server_trouble(code, kind, retried):
    from nbstream import errors
    from nbstream.sweeps.pacing import retryable

    assert retryable(errors.StreamError("x", code=code, type=kind)) is retried


# ---- pacing is per provider ---------------------------------------------------------------------
@pytest.mark.parametrize(("held_by", "a_faults", "pace"), [
    ("a Retry-After hold", "429", {}),  # every request to A: 429, Retry-After an hour
    ("an exhausted rpm bucket", "500", {"rpm": 3}),  # A's retries use up its 3 requests a minute
])
def test_a_provider_held_back_does_not_stall_the_others(session, monkeypatch, held_by, a_faults, pace):
    """Provider A (chat, OPENAI_BASE_URL) is held; every row of provider B (Anthropic's
    format, ANTHROPIC_BASE_URL) completes while A has sent no more than its first requests.
    The sweep is then stopped: A's hold never ends by itself."""
    import asyncio

    rows = pd.DataFrame({"q": [f"row {i}" for i in range(3)]})
    with FaultServer(lambda _n, _p: a_faults, retry_after="3600") as a, FaultServer(lambda _n, _p: "ok") as b:
        monkeypatch.setenv("OPENAI_BASE_URL", a.base_url)
        monkeypatch.setenv("ANTHROPIC_BASE_URL", b.url)

        tracked: list[nbstream.Run] = []
        track = session.track
        monkeypatch.setattr(session, "track", lambda run: track(run) if tracked.append(run) is None else run)

        def b_done() -> int:
            return sum(1 for r in list(tracked) if r.base_url == b.url and r.status == "done")

        async def main() -> pd.DataFrame:
            task = asyncio.ensure_future(nbstream.asweep(
                "{q}", data=rows, models=["fault", "anthropic:fault"], concurrency=2, retries=10, cache=False,
                display=False, session=session, seed=4, **pace))
            end = time.monotonic() + 30  # a hang guard: held workers would keep B waiting an hour
            while b_done() < 3:
                assert time.monotonic() < end and not task.done(), f"B stalled behind A ({held_by})"
                await asyncio.sleep(0.01)
            task.cancel()
            return await task

        df = asyncio.run(main())
        assert len(a.log) <= 3, f"A was not held by {held_by}"
        assert len(b.log) == 3
        answered = df[df["model"] == "anthropic:fault"]
        assert list(answered["status"]) == ["done"] * 3
        assert list(answered["text"]) == [answer_for(q) for q in rows["q"]]
