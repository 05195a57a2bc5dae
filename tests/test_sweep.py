"""nbstream.sweep: a template over a DataFrame × models × parameters, against the demo
endpoint and a loopback server that fails on purpose (deterministically by request count)."""

from __future__ import annotations

import os
import signal
import threading
from collections import Counter
from typing import Literal

import pandas as pd
import pydantic
import pytest

import nbstream
from nbstream import Session
from nbstream.session import set_session
from tests._body_server import BodyServer, sse_response
from tests._fault_server import FaultServer, answer_for
from tests._wait import wait_for

TOPICS = pd.DataFrame({"topic": ["cats", "dogs", "owls", "newts"], "n": [1, 2, 3, 4]},
                      index=pd.Index(["a", "b", "c", "d"], name="key"))




# ---- the result ------------------------------------------------------------------------------
def test_every_input_row_model_and_param_combination_gets_one_row_with_its_own_answer(demo, session, tmp_path):
    df = nbstream.sweep("Tell me about {topic}", data=TOPICS, models=["demo-fast", "demo-chunky"],
                        params={"temperature": [0, 0.7]}, base_url=demo.base_url, cache=False,
                        display=False, session=session, demo={"tps": 2000, "ttft": 0.01})
    assert len(df) == 4 * 2 * 2
    assert list(df.columns[:4]) == ["topic", "n", "model", "temperature"]
    assert list(df.index.unique()) == ["a", "b", "c", "d"] and df.index.name == "key"
    assert (df["status"] == "done").all() and (df["attempts"] == 1).all() and not df["cached"].any()
    for topic, text in zip(df["topic"], df["text"], strict=True):
        assert topic in text
    assert Counter(zip(df["topic"], df["model"], df["temperature"], strict=True)) == \
        Counter({(t, m, p): 1 for t in TOPICS["topic"] for m in ("demo-fast", "demo-chunky") for p in (0, 0.7)})
    assert df["output_tokens"].gt(0).all() and df["ttft_s"].gt(0).all() and df["run_id"].is_unique
    assert "cost_usd" in df.columns


def test_the_result_pivots_and_groups_and_leads_back_to_its_runs(demo, session):
    df = nbstream.sweep("About {topic}", data=TOPICS, models=["demo-fast", "demo"], base_url=demo.base_url,
                        cache=False, display=False, session=session, demo={"tps": 2000, "ttft": 0.01})
    pivot = df.pivot_table(index="topic", columns="model", values="ttft_s")
    assert pivot.shape == (4, 2) and pivot.notna().all().all()
    assert set(df.groupby("model")["e2el_s"].mean().index) == {"demo-fast", "demo"}
    runs = df.attrs["runs"]
    assert all(runs[rid].text == text for rid, text in zip(df["run_id"], df["text"], strict=True))
    assert df.copy().attrs["runs"] is runs  # pandas copies attrs: the Runs are shared, not deep-copied


def test_a_list_of_strings_is_the_input_column(demo, session):
    df = nbstream.sweep("Say {input}", data=["one", "two"], models="demo-fast", base_url=demo.base_url,
                        cache=False, display=False, session=session, demo={"tps": 2000, "ttft": 0.01})
    assert list(df["input"]) == ["one", "two"] and (df["status"] == "done").all()


def test_braces_that_are_no_column_stay_literal_and_double_braces_escape(demo, session):
    df = nbstream.sweep('Reply as {"label": "x"} about {topic} {{topic}}', data=TOPICS.head(1), models="demo-fast",
                        base_url=demo.base_url, cache=False, display=False, session=session)
    run = df.attrs["runs"][df["run_id"].iloc[0]]
    assert run.prompt == 'Reply as {"label": "x"} about cats {topic}'


RESULT_TAIL = ["status", "finish_reason", "error", "ttft_s", "e2el_s", "output_tps", "input_tokens", "output_tokens",
               "reasoning_tokens", "cached_tokens", "cost_usd", "attempts", "cached", "run_id"]
FIELDS_SCHEMA = {"type": "object", "properties": {"label": {"type": "string"}, "status": {"type": "string"}},
                 "required": ["label", "status"]}


@pytest.mark.parametrize(("response_format", "fields"), [
    (FIELDS_SCHEMA, ["label", "json_status"]),  # a schema: its properties, in its order
    ({"type": "json_object"}, ["answer"]),  # JSON mode: the fields the answers had
], ids=["schema", "json-mode"])
def test_parsed_fields_sit_between_text_and_status_even_when_the_first_row_failed(
        demo, session, response_format, fields):
    df = nbstream.sweep("Classify: {topic}", data=TOPICS.head(1), models=["demo-401", "demo-fast"],
                        params={"temperature": [0]}, response_format=response_format, base_url=demo.base_url,
                        retries=0, cache=False, display=False, session=session)
    assert list(df["status"]) == ["error", "done"]
    assert list(df.columns) == ["topic", "n", "model", "temperature", "text", *fields, *RESULT_TAIL]


def _empty_sweeps(demo, session):
    kw = dict(models=["demo-fast", "demo"], params={"temperature": [0, 1]}, response_format=FIELDS_SCHEMA,
              base_url=demo.base_url, cache=False, display=False, session=session)
    yield "empty DataFrame", nbstream.sweep("About {topic}", data=TOPICS.head(0), **kw)
    yield "empty list", nbstream.sweep("About {input}", data=[], **kw)


def test_a_sweep_over_no_rows_returns_every_result_column_with_its_dtype(demo, session):
    full = nbstream.sweep("About {topic}", data=TOPICS.head(1), models=["demo-fast", "demo"],
                          params={"temperature": [0, 1]}, response_format=FIELDS_SCHEMA, base_url=demo.base_url,
                          cache=False, display=False, session=session)
    for name, empty in _empty_sweeps(demo, session):
        assert len(empty) == 0, name
        assert list(empty.columns[-len(full.columns) + 2:]) == list(full.columns[2:]), name
        for column in ("ttft_s", "e2el_s", "output_tps", "cost_usd", "attempts", "cached", "output_tokens"):
            assert empty[column].dtype == full[column].dtype, (name, column)


def test_a_sweep_over_df_head_0_sends_nothing_and_has_a_real_sweeps_columns_so_it_is_a_dask_meta(demo, session):
    """README: ``map_partitions(sweep_part, meta=sweep_part(df.head(0)))``."""
    kw = dict(models=["demo-fast", "demo"], params={"temperature": [0, 1]}, response_format=FIELDS_SCHEMA,
              base_url=demo.base_url, cache=False, display=False, session=session)
    sent = len(demo.requests)
    meta = nbstream.sweep("About {topic}", data=TOPICS.head(0), **kw)
    assert len(demo.requests) == sent and len(meta) == 0
    part = nbstream.sweep("About {topic}", data=TOPICS.iloc[1:3], **kw)
    assert list(meta.columns) == list(part.columns) and meta.index.name == part.index.name == "key"


def test_an_empty_result_still_pivots_groups_and_summarizes(demo, session):
    for name, empty in _empty_sweeps(demo, session):
        assert empty.pivot_table(index="model", columns="temperature", values="ttft_s").empty, name
        assert empty.groupby("model")["e2el_s"].mean().empty, name
        assert session.summarize(empty)["completed"] == 0, name


def test_a_sweep_stopped_before_any_row_ended_returns_every_result_column():
    from nbstream.sweeps import plan, result, runner

    data = plan.inputs(TOPICS)
    the_plan = plan.make("About {topic}", data, ["demo"], {"temperature": [0]})
    jobs = runner.jobs(the_plan)
    frame = result.table(data, the_plan, [None] * len(jobs), [None] * len(jobs), result.RunIndex(None),
                         params=["temperature"], fields=result.schema_fields(FIELDS_SCHEMA))
    assert len(frame) == 0
    assert list(frame.columns) == ["topic", "n", "model", "temperature", "text", "label", "json_status", *RESULT_TAIL]


def test_seed_goes_to_every_request_like_the_other_request_fields(session):
    chunk = {"id": "x", "object": "chat.completion.chunk", "model": "m",
             "choices": [{"index": 0, "delta": {"content": "hi"}, "finish_reason": "stop"}]}
    with BodyServer(lambda _path, _body: sse_response([chunk, "[DONE]"])) as server:
        df = nbstream.sweep("{input}", data=["a", "b"], models="m", base_url=f"{server.url}/v1", seed=42,
                            jitter_seed=1, max_tokens=5, cache=False, display=False, session=session)
    assert (df["status"] == "done").all() and "seed" not in df.columns  # a fixed field, not a swept one
    assert [(body["seed"], body["max_tokens"]) for _path, body in server.requests] == [(42, 5), (42, 5)]


# ---- bad arguments: one line naming the fix ------------------------------------------------------
@pytest.mark.parametrize(("kwargs", "error", "match"), [
    ({"template": "About {topc}"}, ValueError, r"no column 'topc' \(columns: topic, n\).*\{\{topc\}\}"),
    ({"template": "About {topic.upper}"}, ValueError,
     r"reads \{topic\.upper\}, but a sweep fills plain column names only: write \{topic\}.*\{\{topic\.upper\}\}"),
    ({"template": "About {topic[0]}"}, ValueError, r"reads \{topic\[0\]\}.*write \{topic\}"),
    ({"template": 'About {topic["k"]}'}, ValueError, r"plain column names only"),
    ({"models": []}, ValueError, "models is empty"),
    ({"models": [3]}, TypeError, "list of model names"),
    ({"data": 42}, TypeError, "DataFrame, a list of dicts or a list of strings"),
    ({"data": [{"a": 1}, "b"]}, TypeError, "DataFrame, a list of dicts"),
    ({"data": pd.DataFrame({"text": ["x"], "topic": ["y"]})}, ValueError, "column named 'text'"),
    ({"concurrency": 0}, ValueError, "concurrency must be a whole number >= 1"),
    ({"concurrency": 2.5}, ValueError, "concurrency"),
    ({"retries": -1}, ValueError, "retries"),
    ({"rpm": 0}, ValueError, "rpm must be a number > 0"),
    ({"params": {"temperature": []}}, ValueError, "empty list"),
    ({"params": {"status": [1]}}, ValueError, "may not be named 'status'"),
    ({"cache": 3}, TypeError, "cache must be True, False or a folder"),
    ({"prompt": "x"}, TypeError, "sets prompt= itself"),
    ({"template": ""}, TypeError, "non-empty string"),
])
def test_bad_arguments_get_one_line_errors_naming_the_fix(session, kwargs, error, match):
    args = {"template": "About {topic}", "data": TOPICS, "models": ["demo"], **kwargs}
    with pytest.raises(error, match=match) as info:
        nbstream.sweep(args.pop("template"), session=session, display=False, **args)
    assert "\n" not in str(info.value)


# ---- faults: retried, counted, nothing lost, nothing duplicated ----------------------------------
def _cycle_of_faults(until: int):
    kinds = ("429", "500", "disconnect")
    return lambda n, _prompt: kinds[n % 3] if n < until else "ok"


def test_faults_are_retried_until_every_row_is_answered_once_and_attempts_add_up(session):
    rows = pd.DataFrame({"q": [f"question {i}" for i in range(12)]})
    with FaultServer(_cycle_of_faults(18)) as server:
        df = nbstream.sweep("{q}", data=rows, models="fault", concurrency=4, retries=10, base_url=server.base_url,
                            cache=False, display=False, session=session, jitter_seed=1)
        assert (df["status"] == "done").all(), df[["status", "error"]]
        assert list(df["text"]) == [answer_for(q) for q in rows["q"]]
        assert int(df["attempts"].sum()) == len(server.log) == 12 + 18
        assert df["attempts"].gt(1).any()
        assert sorted(server.answered()) == sorted(rows["q"])  # each answered exactly once


@pytest.mark.parametrize("status", ["400", "401", "403", "404", "422"])
def test_a_refused_request_is_never_retried(session, status):
    with FaultServer(lambda _n, prompt: status if "bad" in prompt else "ok") as server:
        df = nbstream.sweep("{q}", data=pd.DataFrame({"q": ["bad one", "good one"]}), models="fault", retries=3,
                            base_url=server.base_url, cache=False, display=False, session=session)
        assert list(df["status"]) == ["error", "done"]
        assert list(df["attempts"]) == [1, 1]
        assert f"HTTP {status}" in df["error"].iloc[0]
        assert [e.prompt for e in server.log].count("bad one") == 1


def test_a_row_that_keeps_failing_ends_as_a_per_row_error_after_its_retries(session):
    with FaultServer(lambda _n, prompt: "500" if "doomed" in prompt else "ok") as server:
        df = nbstream.sweep("{q}", data=pd.DataFrame({"q": ["doomed", "fine"]}), models="fault", retries=2,
                            base_url=server.base_url, cache=False, display=False, session=session, jitter_seed=2)
        assert list(df["status"]) == ["error", "done"]
        assert list(df["attempts"]) == [3, 1]
        assert "HTTP 500" in df["error"].iloc[0]


def test_a_429_storm_slows_the_sweep_instead_of_failing_it(session):
    """30 rate limits over 8 rows: some row must meet 4 or more of them, more than its
    retries=1 would allow an error; a 429 is a request to wait, so every row still ends answered."""
    rows = pd.DataFrame({"q": [f"row {i}" for i in range(8)]})
    with FaultServer(lambda n, _p: "429" if n < 30 else "ok", retry_after="0") as server:
        df = nbstream.sweep("{q}", data=rows, models="fault", concurrency=8, retries=1, base_url=server.base_url,
                            cache=False, display=False, session=session, jitter_seed=3)
        assert (df["status"] == "done").all()
        assert int(df["attempts"].sum()) == 38 == len(server.log)
        assert df["attempts"].max() >= 5


def test_tpm_charges_each_answer_its_output_tokens(demo, session, monkeypatch):
    from nbstream.sweeps.pacing import Gate

    charged: list[float] = []
    leave = Gate.leave

    async def spy(self, *, output_tokens: float = 0.0) -> None:
        charged.append(output_tokens)
        await leave(self, output_tokens=output_tokens)

    monkeypatch.setattr(Gate, "leave", spy)
    df = nbstream.sweep("About {topic}", data=TOPICS, models="demo-fast", tpm=1_000_000, base_url=demo.base_url,
                        cache=False, display=False, session=session, demo={"tps": 5000, "ttft": 0.001})
    assert (df["status"] == "done").all() and df["output_tokens"].gt(0).all()
    assert sorted(charged) == sorted(df["output_tokens"].astype(float))


def test_a_rate_limit_halves_the_providers_limit_and_success_raises_it_again():
    import asyncio

    from nbstream.sweeps.pacing import Gate

    async def scenario() -> list[int]:
        gate = Gate(8, None, None)
        seen = [gate.limit]
        for _ in range(4):
            gate.rate_limited(None)
            seen.append(gate.limit)
        for _ in range(3):
            await gate.succeeded()
        seen.append(gate.limit)
        return seen

    assert asyncio.run(scenario()) == [8, 4, 2, 1, 1, 4]


def test_retries_honour_retry_after_and_back_off_with_jitter():
    import random

    from nbstream.sweeps.pacing import backoff, retryable

    rng = random.Random(0)
    assert all(7 <= backoff(1, 7.0, rng) <= 7.1 for _ in range(100))
    assert all(0 <= backoff(3, None, rng) <= 2.0 for _ in range(100))
    assert len({round(backoff(3, None, rng), 6) for _ in range(20)}) > 1
    from nbstream import errors
    assert retryable(errors.ServerError("x", status=503, url="u"))
    assert retryable(errors.BadRequestError("x", status=408, url="u"))
    assert not retryable(errors.BadRequestError("x", status=400, url="u"))
    assert not retryable(errors.AuthenticationError("x", status=401, url="u"))
    assert retryable(errors.IncompleteStreamError("cut"))


# ---- cache and resume -------------------------------------------------------------------------------
STABLE = ["topic", "n", "model", "temperature", "text", "status", "finish_reason", "output_tokens"]


def test_two_half_sweeps_sharing_a_cache_folder_add_up_to_one_sweep(demo, session, tmp_path):
    kw = dict(models=["demo-fast", "demo-chunky"], params={"temperature": [0, 1]}, base_url=demo.base_url,
              display=False, session=session, demo={"tps": 2000, "ttft": 0.01})
    halves = pd.concat([nbstream.sweep("About {topic}", data=part, cache=tmp_path / "shared", **kw)
                        for part in (TOPICS.iloc[:2], TOPICS.iloc[2:])])
    whole = nbstream.sweep("About {topic}", data=TOPICS, cache=tmp_path / "fresh", **kw)
    pd.testing.assert_frame_equal(halves[STABLE], whole[STABLE])
    sent = len(demo.requests)
    again = nbstream.sweep("About {topic}", data=TOPICS, cache=tmp_path / "shared", **kw)
    assert len(demo.requests) == sent  # all answered from the shared folder
    assert again["cached"].all() and (again["attempts"] == 0).all() and again["ttft_s"].isna().all()
    pd.testing.assert_frame_equal(again[STABLE], whole[STABLE])


def test_the_cache_key_never_holds_the_key_and_only_complete_answers_are_cached(session, tmp_path):
    secret = "sk-sweepsecret-0123456789abcdef"
    with FaultServer(lambda _n, prompt: "500" if "fails" in prompt else "ok") as server:
        df = nbstream.sweep("{q}", data=pd.DataFrame({"q": ["works", "fails"]}), models="fault", retries=0,
                            base_url=server.base_url, api_key=secret, cache=tmp_path, display=False, session=session)
    assert list(df["status"]) == ["done", "error"]
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert len(files) == 1 and not any(p.name.startswith(".tmp") for p in files)
    for path in files:
        assert secret not in path.read_text() and secret[3:15] not in path.read_text()


def test_a_request_header_is_part_of_the_cache_key_but_the_api_key_is_not(demo, session, tmp_path):
    kw = dict(data=TOPICS.head(1), models="demo-fast", base_url=demo.base_url, cache=tmp_path, display=False,
              session=session)
    nbstream.sweep("About {topic}", api_key="sk-first-0123456789abcdef", **kw)
    other_key = nbstream.sweep("About {topic}", api_key="sk-second-0123456789abcdef", **kw)
    beta = nbstream.sweep("About {topic}", headers={"anthropic-beta": "x-2025"}, **kw)
    assert other_key["cached"].all() and not beta["cached"].any()


def test_the_cache_is_written_and_read_off_the_io_loop_that_stamps_arrivals(demo, session, tmp_path, monkeypatch):
    from nbstream.engine import replay
    from nbstream.sweeps.cache import Cache

    threads: dict[str, set[str]] = {"put": set(), "read": set()}
    put, prepare = Cache.put, replay.prepare

    def spy_put(self, run, digest):
        threads["put"].add(threading.current_thread().name)
        return put(self, run, digest)

    def spy_prepare(*args, **kwargs):
        threads["read"].add(threading.current_thread().name)
        return prepare(*args, **kwargs)

    monkeypatch.setattr(Cache, "put", spy_put)
    monkeypatch.setattr(replay, "prepare", spy_prepare)
    kw = dict(models="demo-fast", base_url=demo.base_url, cache=tmp_path, display=False, session=session)
    nbstream.sweep("About {topic}", data=TOPICS, **kw)
    again = nbstream.sweep("About {topic}", data=TOPICS, **kw)
    assert again["cached"].all()
    assert threads["put"] and threads["read"]
    assert "nbstream-io" not in threads["put"] | threads["read"], threads


def test_a_damaged_recording_in_the_cache_is_a_miss_not_a_crash(demo, session, tmp_path):
    kw = dict(models="demo-fast", base_url=demo.base_url, cache=tmp_path, display=False, session=session)
    nbstream.sweep("About {topic}", data=TOPICS.head(1), **kw)
    (path,) = [p for p in tmp_path.rglob("*.jsonl")]
    path.write_text('{"nbstream_record": 1}\n{"t": "never", "data": 3}\n')
    df = nbstream.sweep("About {topic}", data=TOPICS.head(1), **kw)
    assert list(df["cached"]) == [False] and list(df["status"]) == ["done"]


def test_an_interrupt_keeps_completed_rows_and_partials_and_a_rerun_resumes_from_the_cache(
        session, tmp_path, tracked):
    """Rows 0-1 answer at once, rows 2-3 hold mid-answer; Ctrl-C arrives once both held
    rows' Runs hold their first word (read by the client, not merely sent by the server)."""
    rows = pd.DataFrame({"q": [f"q{i} word word" for i in range(6)]})
    with FaultServer(lambda n, _p: "ok" if n < 2 else "hold") as server:
        server.release.clear()

        def interrupt_when_two_hold() -> None:
            wait_for(lambda: server.holding >= 2 and sum(1 for r in list(tracked) if r.text and not r.done) >= 2)
            os.kill(os.getpid(), signal.SIGINT)

        threading.Thread(target=interrupt_when_two_hold, daemon=True).start()
        df = nbstream.sweep("{q}", data=rows, models="fault", concurrency=2, base_url=server.base_url,
                            cache=tmp_path, display=False, session=session)
        server.release.set()
        assert len(df) == 4  # rows never started are not in the partial table
        assert list(df["status"]) == ["done", "done", "cancelled", "cancelled"]
        assert all(text.startswith("answer") and text != answer_for(q)
                   for text, q in zip(df["text"].iloc[2:], df["q"].iloc[2:], strict=True))
        before = len(server.log)
        resumed = nbstream.sweep("{q}", data=rows, models="fault", concurrency=2, base_url=server.base_url,
                                 cache=tmp_path, display=False, session=session)
        assert list(resumed["cached"]) == [True, True, False, False, False, False]
        assert (resumed["status"] == "done").all()
        assert len(server.log) - before == 4


def test_asweep_runs_in_a_running_event_loop(demo, session):
    import asyncio

    async def main() -> pd.DataFrame:
        return await nbstream.asweep("About {topic}", data=TOPICS, models="demo-fast", base_url=demo.base_url,
                                     cache=False, display=False, session=session, demo={"tps": 2000, "ttft": 0.01})

    df = asyncio.run(main())
    assert (df["status"] == "done").all() and len(df) == 4


def test_the_function_stays_nbstream_sweep_after_its_modules_load():
    import importlib

    for name in ("plan", "pacing", "cache", "runner", "result"):
        importlib.import_module(f"nbstream.sweeps.{name}")
    assert callable(nbstream.sweep) and nbstream.sweep.__module__ == "nbstream.sweeps"


def test_summarize_reads_a_sweep_result_leaving_out_cached_rows(demo, session, tmp_path):
    kw = dict(models="demo-fast", base_url=demo.base_url, cache=tmp_path, display=False, session=session)
    first = nbstream.sweep("About {topic}", data=TOPICS.head(2), **kw)
    both = nbstream.sweep("About {topic}", data=TOPICS.head(3), **kw)  # two cached, one new
    assert session.summarize(first)["completed"] == 2
    assert session.summarize(both)["completed"] == 1


def test_summarize_counts_cached_rows_only_when_asked(demo, session, tmp_path):
    kw = dict(models="demo-fast", base_url=demo.base_url, cache=tmp_path, display=False, session=session)
    nbstream.sweep("About {topic}", data=TOPICS.head(2), **kw)
    again = nbstream.sweep("About {topic}", data=TOPICS.head(2), **kw)
    assert again["cached"].all() and again["ttft_s"].isna().all()
    assert session.summarize(again)["completed"] == 0
    assert session.summarize(again, include_cached=True)["completed"] == 2


@pytest.mark.parametrize("default_has_runs", [False, True], ids=["fresh-default", "default-with-other-runs"])
def test_summarize_in_a_session_that_did_not_run_the_sweep_names_the_session_to_ask(demo, session, default_has_runs):
    df = nbstream.sweep("About {topic}", data=TOPICS.head(2), models="demo-fast", base_url=demo.base_url,
                        cache=False, display=False, session=session)
    other = Session()
    previous = set_session(other)
    try:
        if default_has_runs:
            nbstream.stream("hi", model="demo-fast", base_url=demo.base_url)
        with pytest.raises(ValueError, match=r"2 of this sweep's runs are not in this session's history.*"
                                             r"session\.summarize\(df\)") as info:
            nbstream.summarize(df)
        assert "\n" not in str(info.value)
    finally:
        set_session(previous)
        other.close()
    assert session.summarize(df)["completed"] == 2


def test_a_cached_run_reports_the_timing_measured_when_it_was_recorded(demo, session, tmp_path):
    kw = dict(models="demo-fast", base_url=demo.base_url, cache=tmp_path, display=False, session=session)
    first = nbstream.sweep("About {topic}", data=TOPICS.head(1), **kw)
    again = nbstream.sweep("About {topic}", data=TOPICS.head(1), **kw)
    original = first.attrs["runs"][first["run_id"].iloc[0]].summary_row()
    cached = again.attrs["runs"][again["run_id"].iloc[0]].summary_row()
    for name in ("ttft_s", "e2el_s", "t_done_s"):
        assert cached[name] == pytest.approx(original[name], abs=2e-6), name


def test_secrets_never_reach_the_result_table(session):
    secret = "sk-tablesecret-0123456789abcdef"
    with FaultServer(lambda _n, _p: "401") as server:
        df = nbstream.sweep("{q}", data=pd.DataFrame({"q": ["x"]}), models="fault", base_url=server.base_url,
                            api_key=secret, cache=False, display=False, session=session)
    assert list(df["status"]) == ["error"]
    for dump in (df.to_string(), df.to_json(), repr(df.attrs)):
        assert secret not in dump and secret[3:15] not in dump


def test_cancelling_an_awaited_sweep_stops_rows_waiting_for_their_rate_budget_and_returns_the_partial(session):
    import asyncio

    rows = pd.DataFrame({"q": ["first", "second", "third"]})
    with FaultServer(lambda _n, _p: "ok") as server:
        async def main() -> pd.DataFrame:
            task = asyncio.ensure_future(nbstream.asweep(
                "{q}", data=rows, models="fault", rpm=1, concurrency=3, base_url=server.base_url, cache=False,
                display=False, session=session))
            while len(session.runs()) != 1:  # the minute's one request has been answered
                await asyncio.sleep(0.01)
            task.cancel()
            return await task

        df = asyncio.run(main())
        assert len(server.log) == 1  # the others never went out: the wait for the budget was cancelled
        assert list(df["status"]) == ["done"] and len(df) == 1


def test_a_cache_folder_that_cannot_be_written_leaves_the_answers_uncached(demo, session, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder should be")
    df = nbstream.sweep("About {topic}", data=TOPICS.head(2), models="demo-fast", base_url=demo.base_url,
                        cache=blocker, display=False, session=session)
    assert (df["status"] == "done").all() and not df["cached"].any()


def test_while_a_sweep_runs_it_holds_only_keep_runs_whole_runs_however_many_rows_it_answered(tmp_path):
    """40 rows; the last request holds mid-answer until the count of live Runs is checked."""
    import gc

    from nbstream.run import Run

    session = Session(keep_runs=4)
    rows = pd.DataFrame({"q": [f"row {i}" for i in range(40)]})
    with FaultServer(lambda n, _p: "hold" if n == 39 else "ok") as server:
        server.release.clear()
        result: list[pd.DataFrame] = []
        worker = threading.Thread(target=lambda: result.append(nbstream.sweep(
            "{q}", data=rows, models="fault", concurrency=4, base_url=server.base_url, cache=False,
            display=False, session=session)))
        worker.start()
        try:
            wait_for(lambda: len(server.log) == 40 and server.in_flight == 1)

            def live_runs() -> int:
                gc.collect()
                return sum(1 for o in gc.get_objects() if isinstance(o, Run) and o.base_url == server.base_url)

            wait_for(lambda: live_runs() <= 4 + 4 + 1)  # the table's newest, the session's, the one in flight
        finally:
            server.release.set()
            worker.join(60)
            session.close()
    assert len(result[0]) == 40 and (result[0]["status"] == "done").all()


# ---- structured output and cost (response_format= and cost_usd come from the run) ------------------
SCHEMA = {"type": "object", "properties": {"label": {"type": "string", "enum": ["positive", "negative"]},
                                           "status": {"type": "string"}},
          "required": ["label", "status"]}


def test_response_format_fields_become_columns_also_when_answered_from_the_cache(demo, session, tmp_path):
    kw = dict(models="demo-fast", response_format=SCHEMA, base_url=demo.base_url, cache=tmp_path, display=False,
              session=session)
    for cached in (False, True):
        df = nbstream.sweep("Classify: {topic}", data=TOPICS.head(2), **kw)
        assert list(df["cached"]) == [cached, cached]
        assert set(df["label"]) <= {"positive", "negative"} and df["label"].notna().all()
        assert "json_status" in df.columns and (df["status"] == "done").all()  # a field named like a column
        assert df["error"].isna().all()


class Verdict(pydantic.BaseModel):
    label: Literal["positive", "negative"]


INVALID_ANSWERS = pytest.mark.parametrize(("response_format", "answer", "error"), [
    (SCHEMA, "Sure! It is positive.", "not valid JSON"),
    (Verdict, '{"label": "maybe"}', "does not match Verdict"),
], ids=["not-json", "fails-the-model"])


@INVALID_ANSWERS
def test_an_answer_that_is_not_the_json_asked_for_is_an_invalid_row_keeping_its_text_and_error(
        demo, session, response_format, answer, error):
    df = nbstream.sweep("Classify: {topic}", data=TOPICS.head(2), models="demo-fast", response_format=response_format,
                        base_url=demo.base_url, cache=False, display=False, session=session, demo={"text": answer})
    assert list(df["status"]) == ["invalid", "invalid"]
    assert list(df["text"]) == [answer, answer] and df["error"].str.contains(error).all()
    runs = df.attrs["runs"]
    assert all(runs[rid].status == "done" and runs[rid].json_error for rid in df["run_id"])  # the Run is untouched


@INVALID_ANSWERS
def test_an_invalid_answer_is_not_cached_so_a_rerun_asks_again(demo, session, tmp_path, response_format, answer,
                                                                error):
    kw = dict(data=TOPICS.head(2), models="demo-fast", response_format=response_format, base_url=demo.base_url,
              cache=tmp_path, display=False, session=session, demo={"text": answer})
    nbstream.sweep("Classify: {topic}", **kw)
    sent = len(demo.requests)
    again = nbstream.sweep("Classify: {topic}", **kw)
    assert len(demo.requests) - sent == 2 and not again["cached"].any()
    assert list(again["status"]) == ["invalid", "invalid"]


def test_a_cached_recording_of_an_invalid_answer_is_a_miss_asked_again(demo, session, tmp_path, monkeypatch):
    """A cache folder written before invalid answers were left out of it still holds some."""
    from nbstream.sweeps import cache

    kw = dict(data=TOPICS.head(2), models="demo-fast", response_format=SCHEMA, base_url=demo.base_url,
              cache=tmp_path, display=False, session=session, demo={"text": "no JSON here"})
    with monkeypatch.context() as patched:
        patched.setattr(cache, "keepable", lambda run: run.status == "done")  # the old rule: whole is enough
        nbstream.sweep("Classify: {topic}", **kw)
    assert len(list(tmp_path.rglob("*.jsonl"))) == 2
    sent = len(demo.requests)
    again = nbstream.sweep("Classify: {topic}", **kw)
    assert len(demo.requests) - sent == 2 and not again["cached"].any()


def test_summarize_counts_invalid_rows_as_failed(demo, session):
    kw = dict(models="demo-fast", response_format=SCHEMA, base_url=demo.base_url, cache=False, display=False,
              session=session)
    valid = nbstream.sweep("Classify: {topic}", data=TOPICS.head(1), **kw)
    invalid = nbstream.sweep("Classify: {topic}", data=TOPICS.tail(2), demo={"text": "no JSON here"}, **kw)
    summary = session.summarize(pd.concat([valid, invalid]))
    assert (summary["completed"], summary["failed"]) == (1, 2)


def test_cost_is_a_column_and_none_for_a_local_server(demo, session):
    df = nbstream.sweep("About {topic}", data=TOPICS.head(2), models="demo-fast", base_url=demo.base_url,
                        cache=False, display=False, session=session)
    assert "cost_usd" in df.columns and df["cost_usd"].isna().all()


@pytest.mark.parametrize("schema", [None, {"type": "object", "properties": {"a": {}, "json_a": {}}}],
                         ids=["json mode", "schema"])
@pytest.mark.parametrize("answers", [({"json_a": "J", "a": "A"}, {"a": "A"}), ({"a": "A"}, {"a": "A", "json_a": "J"})],
                         ids=["both first", "both second"])
def test_a_renamed_field_lands_in_the_same_column_in_every_row_of_a_sweep(answers, schema):
    """Input column ``a``; one answer has fields ``json_a`` and ``a``, the other only ``a``,
    in either plan order: field ``a`` is in the same column in every row (the table places
    fields in plan order, so not in the order rows ended either), and so is ``json_a``."""
    import json as _json

    from nbstream.sweeps import plan, result, runner
    from nbstream.wire import structured

    data = plan.inputs(pd.DataFrame({"a": ["x", "y"]}))
    the_plan = plan.make("{a}", data, ["m"], {})
    jobs = runner.jobs(the_plan)
    rows, parsed = [], []
    for job, answer in zip(jobs, answers, strict=True):
        run = nbstream.show(iter([_json.dumps(answer)]), display=False)
        run.response_format = structured.normalize(schema or {"type": "json_object"})
        columns, fields = result.row(job, runner.Outcome(run, 1, False))
        rows.append(columns)
        parsed.append(fields)
    frame = result.table(data, the_plan, rows, parsed, result.RunIndex(None),
                         fields=result.schema_fields(schema) if schema else ())
    placed = sorted(list(frame[column].fillna("-")) for column in frame.columns if column.startswith("json_"))
    assert placed == sorted([["A", "A"], ["J" if "json_a" in a else "-" for a in answers]])
    assert list(frame["a"]) == ["x", "y"]
