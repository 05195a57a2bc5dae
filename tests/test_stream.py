"""nbstream.stream() / astream() over real loopback HTTP against the embedded demo endpoint:
every API, the Run's fields and statuses, the error taxonomy, cancel, and the config
precedence."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from _servers import FullBacklogServer, SilentServer, closed_port

import nbstream
from nbstream import errors
from nbstream.events import ErrorEvent, Meta, TextDelta

FAST = {"ttft": 0.01, "tps": 2000, "jitter": 0}


def go(server, prompt="Explain SSE", **kw):
    kw.setdefault("model", "demo")
    kw.setdefault("demo", dict(FAST))
    return nbstream.stream(prompt, base_url=server.base_url, **kw)


# ---- the happy path, per API -------------------------------------------------------------
def test_chat_stream_ends_done_with_text_usage_and_finish_reason(demo):
    run = go(demo)
    assert run.status == "done" and run.error is None
    assert len(run.text) > 100
    assert run.finish_reason == "stop"
    assert run.usage.output_tokens > 10 and run.usage.input_tokens > 0
    assert run.http_status == 200


def test_chat_text_equals_joined_text_deltas(demo):
    run = go(demo)
    assert run.text == "".join(e.text for e in run.events if isinstance(e, TextDelta))


def test_responses_api_streams_the_same_answer_as_chat(demo):
    chat = go(demo)
    responses = go(demo, api="responses")
    assert responses.status == "done"
    assert responses.text == chat.text
    assert responses.finish_reason == "completed"
    assert responses.usage.output_tokens == chat.usage.output_tokens


def test_ollama_native_api_streams_ndjson(demo):
    run = go(demo, api="ollama")
    assert run.status == "done"
    assert run.text == go(demo).text
    assert run.usage.server.get("eval_count") == run.usage.output_tokens


def test_system_prompt_and_messages_are_sent(demo):
    run = go(demo, system="Be brief.", prompt=None,
             messages=[{"role": "user", "content": "Explain SSE"}])
    assert run.status == "done"
    assert run.usage.input_tokens > go(demo).usage.input_tokens


def test_reasoning_arrives_separately_from_the_answer(demo):
    run = go(demo, model="demo-reasoning")
    assert run.reasoning and run.text
    assert run.reasoning not in run.text


def test_tool_call_arguments_are_reassembled_from_fragments(demo):
    run = go(demo, model="demo-tools")
    assert run.finish_reason == "tool_calls"
    (call,) = run.tool_calls
    assert call.name and call.id
    assert isinstance(json.loads(call.arguments), dict)


def test_several_choices_are_kept_apart(demo):
    run = go(demo, n=2)
    assert len(run.texts) == 2 and all(run.texts)
    assert run.text == run.texts[0]


def test_each_event_keeps_its_arrival_time_and_read_index(demo):
    run = go(demo, demo={"ttft": 0.05, "tps": 100, "jitter": 0})
    times = [r.message.t_ns for r in run.records]
    assert times == sorted(times) and times[0] > run.t0_ns
    assert run.t_headers_ns is not None and run.t0_ns < run.t_headers_ns <= times[0]
    assert [r.message.read_idx for r in run.records] == sorted(r.message.read_idx for r in run.records)


def test_model_name_with_provider_prefix_is_sent_unchanged(demo):
    run = go(demo, model="openai/gpt-5.2")
    assert run.status == "error"
    assert isinstance(run.error, errors.NotFoundError)
    assert "openai/gpt-5.2" in str(run.error)


# ---- stream_options fallback ---------------------------------------------------------
def test_server_rejecting_stream_options_is_retried_once_without_and_remembered(demo):
    from nbstream import demo as demo_mod

    server = demo_mod.serve()
    try:
        before = len(server.requests)
        first = nbstream.stream("hi", base_url=server.base_url, model="demo-no-stream-options", demo=FAST)
        assert first.status == "done" and first.text
        assert len(server.requests) - before == 2  # refused, then retried without
        second = nbstream.stream("hi", base_url=server.base_url, model="demo-no-stream-options", demo=FAST)
        assert second.status == "done"
        assert len(server.requests) - before == 3  # remembered: no second refusal
    finally:
        server.stop()


# ---- faults: clear errors, nothing lost ---------------------------------------------------
def test_in_band_error_ends_in_error_and_keeps_the_partial_answer(demo):
    run = go(demo, model="demo-error", demo={**FAST, "after": 5})
    assert run.status == "error"
    assert isinstance(run.error, errors.StreamError)
    assert run.text and len(run.text) < len(go(demo).text)


@pytest.mark.parametrize("api", ["chat", "anthropic", "gemini"])
def test_malformed_chunk_is_recorded_and_the_stream_continues(demo, api):
    run = go(demo, model="demo-malformed", demo={**FAST, "after": 5}, api=api)
    assert run.status == "done" and run.text == go(demo, api=api).text
    bad = [e for e in run.events if isinstance(e, ErrorEvent)]
    assert len(bad) == 1 and not bad[0].fatal
    assert bad[0].raw and len(bad[0].raw) <= 200


def test_disconnect_mid_answer_is_incomplete_with_partial_text(demo):
    run = go(demo, model="demo-disconnect", demo={**FAST, "after": 8})
    assert run.status == "incomplete"
    assert isinstance(run.error, errors.IncompleteStreamError)
    assert run.text and len(run.text) < len(go(demo).text)


def test_unauthorized_names_the_key_source_and_url_but_never_the_key(demo, monkeypatch):
    from nbstream import demo as demo_mod

    secret = "sk-test-secret-key-0123456789abcdef"
    server = demo_mod.serve(api_key="sk-the-right-one-0000000000")
    try:
        monkeypatch.setenv("OPENAI_API_KEY", secret)
        run = nbstream.stream("hi", base_url=server.base_url, model="demo")
    finally:
        server.stop()
    assert run.status == "error" and isinstance(run.error, errors.AuthenticationError)
    message = str(run.error)
    assert "OPENAI_API_KEY" in message and server.base_url in message
    for text in (message, repr(run), repr(run.error), repr(nbstream.config), str(run.__dict__)):
        assert secret not in text


def test_missing_key_is_reported_as_such(demo):
    from nbstream import demo as demo_mod

    server = demo_mod.serve(api_key="sk-the-right-one-0000000000")
    try:
        run = nbstream.stream("hi", base_url=server.base_url, model="demo")
    finally:
        server.stop()
    assert "no API key was sent" in str(run.error)


def test_rate_limit_carries_retry_after(demo):
    run = go(demo, model="demo-429", demo={"retry_after": 7})
    assert isinstance(run.error, errors.RateLimitError)
    assert run.error.retry_after == 7
    assert "Retry-After: 7 s" in str(run.error)


def test_server_error_carries_the_servers_own_message(demo):
    run = go(demo, model="demo-500")
    assert isinstance(run.error, errors.ServerError)
    assert run.error.status == 500 and run.error.server_message
    assert run.error.server_message in str(run.error)


def test_unknown_model_suggests_listing_models(demo):
    run = go(demo, model="no-such-model")
    assert isinstance(run.error, errors.NotFoundError)
    assert "/models" in str(run.error)


def test_connection_refused_names_the_url():
    url = f"http://127.0.0.1:{closed_port()}/v1"
    run = nbstream.stream("hi", base_url=url, model="m")
    assert isinstance(run.error, errors.ConnectError)
    assert url in str(run.error) and "refused" in str(run.error)


def test_unanswered_handshake_hits_the_connect_timeout():
    with FullBacklogServer() as server:
        run = nbstream.stream("hi", base_url=server.url + "/v1", model="m", connect_timeout=0.5)
    assert isinstance(run.error, errors.ConnectTimeout)
    assert "within 0.5 s (connect_timeout)" in str(run.error) and server.url in str(run.error)


def test_silent_server_hits_the_first_byte_timeout():
    with SilentServer() as server:
        run = nbstream.stream("hi", base_url=server.url + "/v1", model="m", first_byte_timeout=0.5)
    assert isinstance(run.error, errors.FirstByteTimeout)
    assert "within 0.5 s (first_byte_timeout)" in str(run.error)


@pytest.mark.parametrize("api", ["chat", "anthropic", "gemini"])
def test_stall_longer_than_idle_timeout_is_an_error_with_partial_text(demo, api):
    # the idle timeout is well above any pause a loaded machine makes between two writes
    run = go(demo, model="demo-stall", demo={**FAST, "after": 5, "stall": 5}, idle_timeout=1.5, api=api)
    assert isinstance(run.error, errors.IdleTimeout)
    assert run.status == "error" and run.text


def test_keepalive_comments_do_not_disturb_the_answer(demo):
    run = go(demo, model="demo-keepalive", demo={"ttft": 0.3, "tps": 2000, "keepalive": 0.05})
    assert run.status == "done" and run.text == go(demo).text


def test_raise_on_error_raises_the_typed_error(demo):
    with pytest.raises(errors.ServerError):
        go(demo, model="demo-500", raise_on_error=True)


def test_raise_for_status_returns_a_good_run(demo):
    run = go(demo)
    assert run.raise_for_status() is run


# ---- cancel ----------------------------------------------------------------------------
HANG_GUARD_S = 60  # deadlines of waits for states: only a hung test ever reaches one
LONG_ANSWER_TOKENS = 2002  # demo-long: 20 s at 100 tokens/s


def _wait_until(condition, what: str) -> None:
    deadline = time.monotonic() + HANG_GUARD_S
    while not condition():
        assert time.monotonic() < deadline, f"still waiting for {what}"
        time.sleep(0.01)


def _log_of(demo, model: str):
    return next(r for r in reversed(demo.requests) if r.model == model)


def test_cancel_closes_the_connection_while_the_server_is_still_generating_and_keeps_the_partial(demo):
    run = go(demo, model="demo-long", demo={"ttft": 0.01, "tps": 100, "jitter": 0}, block=False)
    _wait_until(lambda: len(run.text) >= 20, "the first 20 characters")
    run.cancel()
    assert run.wait(HANG_GUARD_S)
    assert run.status == "cancelled" and len(run.text) >= 20
    log = _log_of(demo, "demo-long")
    assert log.wait(HANG_GUARD_S)
    assert log.disconnected_ns is not None and not log.finished
    assert log.tokens() < LONG_ANSWER_TOKENS


def test_text_after_cancel_does_not_grow(demo):
    run = go(demo, model="demo-long", demo={"ttft": 0.01, "tps": 200, "jitter": 0}, block=False)
    _wait_until(lambda: len(run.text) >= 10, "the first 10 characters")
    run.cancel()
    assert run.wait(HANG_GUARD_S)
    size = len(run.text)
    log = _log_of(demo, "demo-long")
    assert log.wait(HANG_GUARD_S) and log.disconnected_ns is not None  # nothing more can arrive now
    assert len(run.text) == size and run.status == "cancelled"


# ---- async ----------------------------------------------------------------------------
def test_astream_runs_on_the_callers_loop(demo):
    async def main():
        return await nbstream.astream("Explain SSE", base_url=demo.base_url, model="demo", demo=FAST)

    run = asyncio.run(main())
    assert run.status == "done" and run.text == go(demo).text


def test_astream_runs_concurrently_on_one_loop(demo):
    async def main():
        return await asyncio.gather(*(nbstream.astream(f"topic {i}", base_url=demo.base_url, model="demo",
                                                       demo={"ttft": 0.5, "tps": 200}) for i in range(5)))

    before = len(demo.requests)
    runs = asyncio.run(main())
    assert all(r.status == "done" for r in runs)
    logs = demo.requests[before:]
    assert len(logs) == 5 and all(log.wait(HANG_GUARD_S) for log in logs)
    # concurrent, not one after another: every request arrived before any answer ended
    assert max(log.t_start_ns for log in logs) < min(log.writes[-1][0] for log in logs)


def test_cancelling_the_awaiting_task_cancels_the_run(demo):
    before = len(demo.requests)

    async def main():
        task = asyncio.ensure_future(nbstream.astream("x", base_url=demo.base_url, model="demo-long",
                                                      demo={"ttft": 0.01, "tps": 100}))
        deadline = time.monotonic() + HANG_GUARD_S
        while not (len(demo.requests) > before and demo.requests[-1].tokens() > 0):  # it is streaming
            assert time.monotonic() < deadline and not task.done()
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    # the run itself is not returned, but it ended cancelled with the connection closed
    log = _log_of(demo, "demo-long")
    assert log.wait(HANG_GUARD_S)
    assert log.disconnected_ns is not None and not log.finished


def test_stream_blocks_even_inside_a_running_event_loop(demo):
    async def cell():
        return nbstream.stream("Explain SSE", base_url=demo.base_url, model="demo", demo=FAST)

    run = asyncio.run(cell())
    assert run.status == "done"


# ---- configuration ----------------------------------------------------------------------
def test_environment_base_url_is_used_and_explicit_argument_wins(demo, monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", demo.base_url)
    monkeypatch.setenv("NBSTREAM_MODEL", "demo")
    run = nbstream.stream("hi", demo=FAST)
    assert run.status == "done" and run.base_url == demo.base_url
    url = f"http://127.0.0.1:{closed_port()}/v1"
    run = nbstream.stream("hi", base_url=url, demo=FAST)
    assert run.base_url == url and isinstance(run.error, errors.ConnectError)


def test_real_endpoint_without_model_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-whatever-000000000000")
    monkeypatch.delenv("NBSTREAM_MODEL", raising=False)
    with pytest.raises(ValueError, match="model="):
        nbstream.stream("hi")


def test_nothing_configured_uses_the_demo_endpoint_and_says_so_once(monkeypatch, capsys):
    for var in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "NBSTREAM_MODEL"):
        monkeypatch.delenv(var, raising=False)
    session = nbstream.Session()
    try:
        first = nbstream.stream("hi", demo=FAST, session=session)
        second = nbstream.stream("hi", demo=FAST, session=session)
    finally:
        session.close()
    assert first.status == second.status == "done"
    assert first.model == "demo" and first.base_url.startswith("http://127.0.0.1:")
    assert capsys.readouterr().err.count("embedded demo") == 1


def test_bad_arguments_get_short_clear_errors():
    with pytest.raises(ValueError, match="unknown api"):
        nbstream.stream("hi", api="graphql", base_url="http://127.0.0.1:1/v1", model="m")
    with pytest.raises(ValueError, match="either a prompt or messages"):
        nbstream.stream("hi", messages=[], base_url="http://127.0.0.1:1/v1", model="m")
    with pytest.raises(TypeError, match="list of dicts"):
        nbstream.stream(messages="hi", base_url="http://127.0.0.1:1/v1", model="m")


def test_lifecycle_meta_carries_the_servers_model_and_id(demo):
    run = go(demo)
    assert any(isinstance(e, Meta) for e in run.events)
    assert run.response_model == "demo" and run.response_id
