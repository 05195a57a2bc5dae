"""Attacks on nbstream.sweep: hostile answers, cache folders and argument mix-ups, against
a tiny loopback server each test starts (it answers every request with one scripted text)."""

from __future__ import annotations

import json

import pandas as pd
import pytest

import nbstream
from tests._servers import ScriptedServer, sse_head


def _scripted(text: str) -> ScriptedServer:
    """An OpenAI-compatible chat server that streams ``text`` as one content delta."""
    chunk = {"choices": [{"index": 0, "delta": {"content": text}}]}
    end = {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
    response = sse_head() + f"data: {json.dumps(chunk)}\n\ndata: {json.dumps(end)}\n\ndata: [DONE]\n\n".encode()
    return ScriptedServer(lambda handler, _n: handler.wfile.write(response))



SCHEMA = {"type": "object"}


def test_json_fields_named_like_input_columns_params_or_each_other_never_shadow_a_column(session):
    answer = json.dumps({"topic": "hostile", "temperature": 9, "text": "t", "json_text": "jt", "status": "s"})
    with _scripted(answer) as server:
        df = nbstream.sweep("About {topic}", data=pd.DataFrame({"topic": ["cats"]}), models="m",
                            params={"temperature": [0]}, response_format=SCHEMA, base_url=server.url,
                            cache=False, display=False, session=session)
    assert df.columns.is_unique, list(df.columns)
    row = df.iloc[0]
    assert (row["topic"], row["temperature"], row["text"], row["status"]) == ("cats", 0, answer, "done")
    assert (row["json_topic"], row["json_temperature"], row["json_status"]) == ("hostile", 9, "s")
    assert {row["json_text"], row["json_json_text"]} == {"t", "jt"}


def test_a_swept_parameter_named_like_an_input_column_is_a_one_line_error(session):
    with pytest.raises(ValueError, match=r"params\['topic'\] is also a column of data") as info:
        nbstream.sweep("About {topic}", data=pd.DataFrame({"topic": ["cats"]}), models="demo",
                       params={"topic": ["dogs"]}, display=False, session=session)
    assert "\n" not in str(info.value)


def test_a_cache_folder_under_the_home_is_there_not_in_a_folder_named_tilde(session, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    with _scripted("hello") as server:
        df = nbstream.sweep("{input}", data=["x"], models="m", base_url=server.url, cache="~/sweeps",
                            display=False, session=session)
    assert list(df["status"]) == ["done"]
    assert len(list((tmp_path / "home" / "sweeps").rglob("*.jsonl"))) == 1
    assert not (tmp_path / "~").exists()


def test_an_empty_cache_folder_name_is_a_one_line_error(session):
    with pytest.raises(ValueError, match="names no folder") as info:
        nbstream.sweep("{input}", data=["x"], models="demo", cache="", display=False, session=session)
    assert "\n" not in str(info.value)


def test_a_stop_while_a_row_waits_to_be_retried_keeps_that_rows_failed_attempt(session):
    """Row "a" is rate limited for 600 s (every provider slot is held), row "b" failed with a
    500 and waits for the hold to end to retry; a Stop then keeps both rows, each with its
    last attempt, instead of dropping "b" as if it had never been sent."""
    import time

    from nbstream.sweeps import _Prepared
    from nbstream.sweeps.runner import Control
    from tests._fault_server import FaultServer

    with FaultServer(lambda _n, prompt: "429" if prompt == "a" else "500", retry_after="600") as server:
        prepared = _Prepared.make("{input}", ["a", "b"], "fault", None, 2, 3, None, None, False, None, False,
                                  None, 1, session, {"base_url": server.base_url})
        entered: list[int] = []
        make_gate = prepared.pacer.gate

        def gate(provider: str):
            g = make_gate(provider)
            if not hasattr(g, "counted"):
                enter = g.enter

                async def counting(tokens: float) -> None:
                    entered.append(1)
                    await enter(tokens)
                g.enter, g.counted = counting, True
            return g

        prepared.pacer.gate = gate
        control = Control()
        future = session.io.submit(prepared.run(control))
        end = time.monotonic() + 60
        while not (len(entered) >= 3 and len(server.log) == 2):  # "b" is back at the gate, held by "a"'s 429
            assert time.monotonic() < end and not future.done(), "the retry never reached the gate"
            time.sleep(0.01)
        control.stop()
        df = future.result(60)
    assert list(df["input"]) == ["a", "b"]
    assert list(df["attempts"]) == [1, 1]
    assert "HTTP 429" in df["error"].iloc[0] and "HTTP 500" in df["error"].iloc[1]


@pytest.mark.parametrize("keep_runs", [-1, "3", 2.5, True])
def test_a_bad_keep_runs_is_a_one_line_error(session, keep_runs):
    with pytest.raises(ValueError, match="keep_runs must be a whole number >= 0") as info:
        nbstream.sweep("{input}", data=["x"], models="demo", keep_runs=keep_runs, display=False, session=session)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"params": {"temperature": [0.5, float("nan")]}}, r"params\['temperature'\] holds nan"),
    ({"top_p": float("inf")}, "top_p= holds inf"),
    ({"params": {"stop": [{"a", "b"}]}}, r"params\['stop'\] holds"),
])
def test_a_request_field_json_cannot_carry_is_a_one_line_error_before_anything_is_sent(session, kwargs, match):
    with _scripted("hello") as server, pytest.raises(ValueError, match=match) as info:
        nbstream.sweep("{input}", data=["x"], models="m", base_url=server.url, cache=False,
                       display=False, session=session, **kwargs)
    assert "\n" not in str(info.value) and len(server.requests) == 0


def test_numpy_values_and_arrays_are_swept_as_plain_numbers(session):
    import numpy as np

    with _scripted("hello") as server:
        df = nbstream.sweep("{input}", data=["x"], models="m", base_url=server.url, cache=False, display=False,
                            session=session, params={"max_tokens": [np.int64(5)], "temperature": np.array([0.0, 0.5])})
    assert list(df["status"]) == ["done", "done"] and len(server.requests) == 2
    assert list(df["max_tokens"]) == [5, 5] and list(df["temperature"]) == [0.0, 0.5]


def test_a_cached_recording_cut_short_is_a_miss_asked_again_and_cached_anew(session, tmp_path):
    with _scripted("hello there") as server:
        kw = dict(models="m", base_url=server.url, cache=tmp_path, display=False, session=session)
        nbstream.sweep("{input}", data=["x"], **kw)
        (path,) = tmp_path.rglob("*.jsonl")
        lines = path.read_text().splitlines()
        path.write_text("\n".join(lines[:2]) + "\n")  # the header and the first event: no finish, no [DONE]
        again = nbstream.sweep("{input}", data=["x"], **kw)
        third = nbstream.sweep("{input}", data=["x"], **kw)
    assert list(again["status"]) == ["done"] and list(again["cached"]) == [False]
    assert list(again["text"]) == ["hello there"] and len(server.requests) == 2
    assert list(third["cached"]) == [True] and list(third["status"]) == ["done"]
