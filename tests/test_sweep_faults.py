"""nbstream.sweep end to end against loopback servers the tests start: which faults are
retried (in-stream server errors, stalls, 409, Retry-After honoured), pacing per provider,
the concurrency cap, crash resume and a priced cost. Every wait is for a state; a
deadline is only a hang guard."""

from __future__ import annotations

import asyncio
import time

import pandas as pd
import pytest

import nbstream
from tests._fault_server import FaultServer, answer_for
from tests._wait import wait_for

ROWS = pd.DataFrame({"q": ["first question here", "second question here"]})
# where each wire format is served: chat under /v1, Anthropic's /v1/messages under the root
WIRE = {"chat": "/v1", "anthropic": ""}




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
                            idle_timeout=3.0, cache=False, display=False, session=session, jitter_seed=1)
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
    ("\u00b2", None, False), ("\u0665\u0660\u0663", None, False),  # digits, but not ASCII ones: no status
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
def test_a_provider_held_back_does_not_stall_the_others(session, tracked, monkeypatch, held_by, a_faults, pace):
    """Provider A (chat, OPENAI_BASE_URL) is held; every row of provider B (Anthropic's
    format, ANTHROPIC_BASE_URL) completes while A has sent no more than its first requests.
    The sweep is then stopped: A's hold never ends by itself."""

    rows = pd.DataFrame({"q": [f"row {i}" for i in range(3)]})
    with FaultServer(lambda _n, _p: a_faults, retry_after="3600") as a, FaultServer(lambda _n, _p: "ok") as b:
        monkeypatch.setenv("OPENAI_BASE_URL", a.base_url)
        monkeypatch.setenv("ANTHROPIC_BASE_URL", b.url)

        def b_done() -> int:
            return sum(1 for r in list(tracked) if r.base_url == b.url and r.status == "done")

        async def main() -> pd.DataFrame:
            task = asyncio.ensure_future(nbstream.asweep(
                "{q}", data=rows, models=["fault", "anthropic:fault"], concurrency=2, retries=10, cache=False,
                display=False, session=session, jitter_seed=4, **pace))
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


# ---- the concurrency cap, retried statuses, Retry-After -----------------------------------------
@pytest.mark.parametrize("models", [["fault"], ["fault", "anthropic:fault"]], ids=["one provider", "two providers"])
def test_a_sweep_streams_at_most_concurrency_requests_at_once_and_reaches_it(session, monkeypatch, models):
    """Every request holds mid-answer until released: the sweep fills its 3 slots and sends
    no fourth; released, it answers every row and was never above 3. With two providers
    (one server behind both, chat and Anthropic's format) the cap is the sweep's, not each
    provider's."""
    import threading

    rows = pd.DataFrame({"q": [f"row {i} of six" for i in range(6)]})
    with FaultServer(lambda _n, _p: "hold") as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        monkeypatch.setenv("ANTHROPIC_BASE_URL", server.url)
        server.release.clear()
        result: list[pd.DataFrame] = []
        worker = threading.Thread(target=lambda: result.append(nbstream.sweep(
            "{q}", data=rows, models=models, concurrency=3, cache=False, display=False, session=session)))
        worker.start()
        try:
            wait_for(lambda: server.holding >= 3)
            assert server.max_in_flight == 3 and len(server.log) == 3
        finally:
            server.release.set()
            worker.join(60)
        assert server.max_in_flight == 3 and len(server.log) == 6 * len(models)
        assert (result[0]["status"] == "done").all()
        assert len({e.path for e in server.log}) == len(models)


@pytest.mark.parametrize("status", ["408", "409", "500", "503"])
def test_a_retryable_status_is_retried_end_to_end(session, status):
    sent: set[str] = set()

    def faults(_n: int, prompt: str) -> str:
        first = prompt not in sent
        sent.add(prompt)
        return status if first else "ok"

    with FaultServer(faults) as server:
        df = nbstream.sweep("{q}", data=ROWS, models="fault", retries=1, base_url=server.base_url, cache=False,
                            display=False, session=session, jitter_seed=5)
        assert list(df["status"]) == ["done", "done"] and list(df["attempts"]) == [2, 2]
        assert list(df["text"]) == [answer_for(q) for q in ROWS["q"]]
        assert [e.action for e in server.log].count(status) == 2 and len(server.log) == 4


def test_the_retry_after_a_429_waits_at_least_what_retry_after_said(session):
    """A lower bound only: the retry arrives no sooner than 1 s after the 429's request
    arrived (the 429 itself left later still), however slow the machine."""
    with FaultServer(lambda n, _p: "429" if n == 0 else "ok", retry_after="1") as server:
        df = nbstream.sweep("{q}", data=ROWS.head(1), models="fault", base_url=server.base_url, cache=False,
                            display=False, session=session, jitter_seed=6)
        assert list(df["status"]) == ["done"] and list(df["attempts"]) == [2]
        limited, retry = server.log
        assert limited.action == "429" and retry.action == "ok"
        assert retry.at - limited.at >= 1.0


# ---- crash resume -----------------------------------------------------------------------------
CRASHING = """
import sys
import pandas as pd
import nbstream
rows = pd.DataFrame({"q": [f"q{i} crash" for i in range(6)]})
nbstream.sweep("{q}", data=rows, models="fault", concurrency=2, base_url=sys.argv[1], cache=sys.argv[2],
               display=False)
"""


def test_a_sweep_killed_mid_way_resumes_from_the_cache_sending_only_the_rest(session, tmp_path):
    """A sweep in a child process answers rows 0-1, then holds rows 2-3 mid-answer; it is
    killed (SIGKILL: no cleanup) once both answers are in the cache. The re-run answers
    those two from the cache and sends the four others."""
    import os
    import signal
    import subprocess
    import sys

    rows = pd.DataFrame({"q": [f"q{i} crash" for i in range(6)]})
    cache = tmp_path / "cache"

    def recordings() -> list:
        return [p for p in cache.rglob("*.jsonl") if not p.name.startswith(".tmp")] if cache.exists() else []

    with FaultServer(lambda n, _p: "ok" if n < 2 else "hold") as server:
        server.release.clear()
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([os.getcwd(), os.environ.get("PYTHONPATH", "")])}
        child = subprocess.Popen([sys.executable, "-c", CRASHING, server.base_url, str(cache)], env=env,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            wait_for(lambda: (len(recordings()) == 2 and server.holding == 2) or child.poll() is not None)
            assert child.poll() is None, child.stderr.read().decode() if child.stderr else ""
            child.send_signal(signal.SIGKILL)
            child.wait(30)
        finally:
            if child.poll() is None:
                child.kill()
                child.wait(30)
            if child.stderr:
                child.stderr.close()
        server.release.set()
        assert len(server.log) == 4
        df = nbstream.sweep("{q}", data=rows, models="fault", concurrency=2, base_url=server.base_url, cache=cache,
                            display=False, session=session)
        assert list(df["cached"]) == [True, True, False, False, False, False]
        assert (df["status"] == "done").all() and list(df["text"]) == [answer_for(q) for q in rows["q"]]
        assert sorted(e.prompt for e in server.log[4:]) == sorted(rows["q"][2:])


# ---- a priced cost -----------------------------------------------------------------------------
def test_a_cached_answer_recorded_from_api_openai_com_gets_its_price(session, tmp_path):
    """The cache holds a recording of a gpt-4o answer from api.openai.com (1000 tokens in,
    500 out) under the key of the request this sweep makes: the row is answered from it,
    nothing is sent, and cost_usd is the model's price for those tokens."""
    import json

    from nbstream.sweeps import plan, runner
    from nbstream.sweeps.cache import Cache, key

    openai = "https://api.openai.com/v1"
    call = {"base_url": openai, "api_key": "sk-test-not-used-0123456789"}
    (job,) = runner.jobs(plan.make("{q}", ROWS.head(1), "gpt-4o"))
    _run, req = runner._prepare(job, session, call, None)  # the request the sweep will make, as it keys it
    path = Cache(tmp_path).path(key(req.url, req.body, None, req.headers))
    path.parent.mkdir(parents=True)
    usage = {"prompt_tokens": 1000, "completion_tokens": 500, "total_tokens": 1500}
    chunks = [{"id": "c1", "object": "chat.completion.chunk", "model": "gpt-4o-2024-08-06",
               "choices": [{"index": 0, "delta": {"role": "assistant", "content": "Hi"}, "finish_reason": None}]},
              {"id": "c1", "object": "chat.completion.chunk", "model": "gpt-4o-2024-08-06",
               "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
              {"id": "c1", "object": "chat.completion.chunk", "model": "gpt-4o-2024-08-06", "choices": [],
               "usage": usage}]
    lines = [{"nbstream_record": 1, "api": "chat", "model": "gpt-4o", "base_url": openai}]
    lines += [{"t": 0.01 * i, "read": i, "event": "", "data": json.dumps(c)} for i, c in enumerate(chunks)]
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n", encoding="utf-8")

    df = nbstream.sweep("{q}", data=ROWS.head(1), models="gpt-4o", retries=0, cache=tmp_path, display=False,
                        session=session, **call)
    assert list(df["cached"]) == [True] and list(df["status"]) == ["done"]
    # gpt-4o-2024-08-06: $2.50 per million input tokens, $10.00 per million output
    assert df["cost_usd"].iloc[0] == pytest.approx(1000 * 2.50e-6 + 500 * 10.00e-6, rel=1e-9)


# ---- a hold, a Stop and the shared slots --------------------------------------------------------
def test_a_row_waiting_for_a_slot_when_its_provider_answers_429_waits_out_the_retry_after(
        session, tracked, monkeypatch):
    """A answers every request 429 with an hour's Retry-After; B's first answer holds both
    slots' worth of time. A's second row passed A's gate before the 429 and waits for a
    slot: when the 429 frees one, it must not go out inside the hour."""
    rows = pd.DataFrame({"q": ["row 0", "row 1"]})
    with FaultServer(lambda _n, _p: "429", retry_after="3600") as a, \
            FaultServer(lambda n, _p: "hold" if n == 0 else "ok") as b:
        monkeypatch.setenv("OPENAI_BASE_URL", a.base_url)
        monkeypatch.setenv("ANTHROPIC_BASE_URL", b.url)
        b.release.clear()

        def b_done() -> int:
            return sum(1 for r in list(tracked) if r.base_url == b.url and r.status == "done")

        async def main() -> None:
            task = asyncio.ensure_future(nbstream.asweep(
                "{q}", data=rows, models=["fault", "anthropic:fault"], concurrency=2, retries=3, cache=False,
                display=False, session=session, jitter_seed=1))
            end = time.monotonic() + 30  # hang guards: we wait for states
            while not (a.log and b.holding):
                assert time.monotonic() < end and not task.done()
                await asyncio.sleep(0.01)
            b.release.set()  # B's rows end: each frees a slot A's second row could take
            while b_done() < 2:
                assert time.monotonic() < end and not task.done()
                await asyncio.sleep(0.01)
            task.cancel()
            await task

        asyncio.run(main())
        assert len(a.log) == 1, f"A got a request {a.log[-1].at - a.log[0].at:.3f} s into its hour's hold"


def test_a_stop_while_a_row_reads_its_cache_ends_it_without_waiting_for_its_providers_pace(
        session, tracked, monkeypatch, tmp_path):
    """rpm=1: row 0 takes the minute's one request and holds mid-answer; row 1 is still
    reading a cache recording (a miss) when Stop comes. It must end there, not wait a
    minute for the bucket after Stop's cancels have passed."""
    import threading
    from pathlib import Path

    from nbstream.engine import replay
    from nbstream.sweeps import cache

    reading, read_done, calls = threading.Event(), threading.Event(), []

    def damaged(path, *args, **kwargs):
        calls.append(path)
        if len(calls) > 1:  # row 1's read lasts until the test lets it end
            reading.set()
            read_done.wait(60)
        raise ValueError("a damaged recording: a miss")

    monkeypatch.setattr(replay, "prepare", damaged)
    monkeypatch.setattr(cache.Cache, "get", lambda self, digest: Path(tmp_path / "recording"))
    rows = pd.DataFrame({"q": ["row 0", "row 1"]})
    with FaultServer(lambda _n, _p: "hold") as server:
        server.release.clear()

        async def main() -> pd.DataFrame:
            task = asyncio.ensure_future(nbstream.asweep(
                "{q}", data=rows, models="fault", base_url=server.base_url, concurrency=2, rpm=1,
                cache=tmp_path, display=False, session=session, jitter_seed=1))
            end = time.monotonic() + 30  # hang guards: we wait for states
            while not (reading.is_set() and server.holding):
                assert time.monotonic() < end and not task.done()
                await asyncio.sleep(0.01)
            task.cancel()  # Stop
            while not (tracked and tracked[0].status == "cancelled"):  # Stop's cancels have run
                assert time.monotonic() < end
                await asyncio.sleep(0.01)
            read_done.set()
            done, _ = await asyncio.wait({task}, timeout=30)
            assert done, "the stopped sweep waited for its provider's rpm bucket"
            return task.result()

        try:
            df = asyncio.run(main())
        finally:
            read_done.set()
            server.release.set()
        assert list(df["status"]) == ["cancelled"] and len(server.log) == 1
