"""The sweep's live view: counters kept per start and end, a throttled widget in a
notebook that leaves a static summary in the saved file, a progress line on a terminal,
and nothing a model or an input wrote ever becomes markup or a terminal escape."""

from __future__ import annotations

import io
import json
import math
import re
import secrets

import pandas as pd
import pytest

from nbstream import _secrets
from nbstream.run import Run
from nbstream.views.sweep_view import LABEL, TAIL, Progress, SweepView, summary_bundle
from tests import _kernel

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
HOSTILE = "<img src=x onerror=alert(1)>\x1b]52;c;c2VjcmV0\x07|**bold**"


class _Job:
    def __init__(self, index: int, model: str) -> None:
        self.index, self.model, self.swept = index, model, {"temperature": 0}



def test_progress_counts_done_failed_and_cached_and_times_only_what_was_measured():
    p = Progress(total=4)
    p.ended(0, "m", {"status": "done", "ttft_s": 0.5, "e2el_s": 1.0, "output_tokens": 10, "cached": False})
    p.ended(1, "m", {"status": "done", "ttft_s": math.nan, "e2el_s": math.nan, "output_tokens": 10, "cached": True})
    p.ended(2, "m", {"status": "error", "ttft_s": math.nan, "e2el_s": math.nan, "output_tokens": 0, "cached": False})
    assert (p.done, p.failed, p.cached, p.finished) == (2, 1, 1, 3)
    (row,) = p.model_rows()
    assert row == {"model": "m", "done": 2, "failed": 1, "ttft": "0.500", "e2el": "1.000", "tps": "10"}
    assert summary_bundle(p)["text/markdown"].splitlines()[-1] == "| m | 2 | 1 | 0\\.500 s | 1\\.000 s | 10 tok/s |"
    assert p.line().startswith("3/4 done (1 cached) · 0 running · 1 queued · 1 failed")


def test_a_running_rows_shown_answer_is_the_end_of_what_it_streamed_however_long_it_grew():
    p = Progress(total=1)
    run = Run()
    p.started(0, "#0", run)
    deltas = [f"word{i}\n" for i in range(5000)]
    for text in deltas:
        p.grew(0, run, text)
    (row,) = p.state()["rows"]
    assert row == {"label": "#0", "text": "".join(deltas)[-TAIL:].replace("\n", " ")}


def test_a_key_split_across_two_deltas_is_masked_in_a_shown_answer():
    key = f"sk-{secrets.token_hex(16)}"
    _secrets.register(key)
    p = Progress(total=1)
    run = Run()
    p.started(0, "#0", run)
    for text in ["your key is " + key[:6], key[6:] + " ok", *[" more"] * 40]:
        p.grew(0, run, text)
    (row,) = p.state()["rows"]
    assert key[:8] not in row["text"] and row["text"].endswith(" more")


def test_a_huge_swept_value_is_cut_short_in_the_label_sent_with_every_update():
    view = SweepView([], ["stop"], out=io.StringIO(), notebook=False)
    job = _Job(7, "demo")
    job.swept = {"stop": ["x" * 1_000_000]}
    try:
        view.started(job, Run())
        (row,) = view.progress.state()["rows"]
    finally:
        view.close()
    assert row["label"].startswith("#7 demo stop=['xxx") and len(row["label"]) == LABEL
    assert row["label"].endswith("…")


def test_the_latency_table_lists_models_in_the_order_asked_whichever_ends_first():
    view = SweepView([_Job(0, "b-model"), _Job(1, "a-model"), _Job(2, "b-model")], [], out=io.StringIO(),
                     notebook=False)
    try:
        view.ended(_Job(1, "a-model"), {"status": "done"})  # the second model's row ends first
        rows = view.progress.model_rows()
    finally:
        view.close()
    assert [r["model"] for r in rows] == ["b-model", "a-model"]
    assert [(r["done"], r["failed"]) for r in rows] == [(0, 0), (1, 0)]


def test_late_deltas_of_an_earlier_attempt_or_an_ended_row_are_not_shown():
    p = Progress(total=2)
    first, retry, other = Run(), Run(), Run()
    p.started(0, "#0", first)
    p.grew(0, first, "failed attempt")
    p.started(0, "#0", retry)  # the row is retried: its answer starts over
    p.grew(0, first, " late")
    p.grew(0, retry, "second attempt")
    p.started(1, "#1", other)
    p.ended(1, "m", {"status": "done"})
    p.grew(1, other, "after the end")
    assert p.state()["rows"] == [{"label": "#0", "text": "second attempt"}]


def test_the_static_summary_escapes_model_names_for_markdown_and_the_terminal():
    p = Progress(total=1)
    p.ended(0, HOSTILE, {"status": "done", "ttft_s": 0.1, "e2el_s": 0.2, "output_tokens": 3, "cached": False})
    bundle = summary_bundle(p)
    assert "<img" not in bundle["text/markdown"] and "**bold**" not in bundle["text/markdown"]
    assert "\x1b" not in bundle["text/plain"] and "\x07" not in bundle["text/plain"]
    row = bundle["text/markdown"].splitlines()[-1]
    assert len(re.findall(r"(?<!\\)\|", row)) == 7  # six cells: the | in the name is escaped


def test_a_terminal_gets_one_progress_line_that_ends_with_every_row_counted(demo, session):
    out = io.StringIO()
    data = pd.DataFrame({"topic": ["a", "b", "c"]})
    view = SweepView([_Job(i, "demo-fast") for i in range(3)], ["temperature"], out=out, notebook=False)
    from nbstream.sweeps import _Prepared
    from nbstream.sweeps.runner import Control

    prepared = _Prepared.make(template="About {topic}", data=data, models="demo-fast", params=None, concurrency=2,
                              retries=0, rpm=None, tpm=None, cache=False, response_format=None, display=False,
                              keep_runs=None, jitter_seed=None, session=session, call={"base_url": demo.base_url})
    prepared.view = view
    future = session.io.submit(prepared.run(Control()))
    frame = future.result(60)
    view.close()
    assert (frame["status"] == "done").all()
    last = out.getvalue().split("\r")[-1]
    assert last.startswith("\x1b[2K[####################] 3/3 done · 0 running · 0 queued · 0 failed")
    assert last.endswith("\n")


def test_an_answer_that_is_not_the_json_asked_for_counts_as_failed_in_the_view(demo, session):
    out = io.StringIO()
    data = pd.DataFrame({"topic": ["a", "b"]})
    view = SweepView([_Job(i, "demo-fast") for i in range(2)], [], out=out, notebook=False)
    from nbstream.sweeps import _Prepared
    from nbstream.sweeps.runner import Control

    schema = {"type": "object", "properties": {"label": {"type": "string"}}, "required": ["label"]}
    prepared = _Prepared.make(template="About {topic}", data=data, models="demo-fast", params=None, concurrency=2,
                              retries=0, rpm=None, tpm=None, cache=False, response_format=schema, display=False,
                              keep_runs=None, jitter_seed=None, session=session,
                              call={"base_url": demo.base_url, "demo": {"text": "not JSON"}})
    prepared.view = view
    frame = session.io.submit(prepared.run(Control())).result(60)
    view.close()
    assert list(frame["status"]) == ["invalid", "invalid"]
    assert " · 2 failed · " in out.getvalue().split("\r")[-1]
    assert [(r["done"], r["failed"]) for r in view.progress.model_rows()] == [(0, 2)]


@pytest.mark.timeout(180)
def test_in_a_notebook_the_saved_output_is_a_static_summary_and_the_escaped_table():
    nb = _kernel.execute([
        "import pandas as pd\n"
        f"rows = pd.DataFrame({{'q': [{HOSTILE!r}, 'plain', 'third']}})\n"
        "df = nbstream.sweep('About {q}', data=rows, models=['demo-fast', 'demo-chunky'], cache=False,\n"
        "                    demo={'tps': 2000, 'ttft': 0.01})\n"
        "df[['q', 'model', 'status']]",
    ], timeout=120)
    outputs = nb.cells[1].outputs
    assert not [o for o in outputs if o.output_type == "error"], outputs
    assert not any(WIDGET_MIME in o.get("data", {}) for o in outputs)
    (summary,) = [o for o in outputs if "text/markdown" in o.get("data", {})]
    assert "6/6 done" in summary["data"]["text/markdown"]
    (table,) = [o for o in outputs if o.output_type == "execute_result"]
    html = table["data"]["text/html"]
    assert "<img" not in html and "&lt;img" in html and html.count("done") == 6


def _widget_states(code: str) -> tuple[list[dict], str]:
    """Run ``code`` (a sweep with ``display=True``) in a real kernel: the live widget's
    states as the front end received them, and what the cell printed."""
    with _kernel.Session() as k:
        k.run(_kernel.SETUP)
        result = k.run("import pandas as pd\n" + code, timeout=120)
    comms = _kernel.of_type(result["messages"], "comm_msg")
    states = [json.loads(m["content"]["data"]["state"]["state"]) for m in comms
              if "state" in m["content"].get("data", {}).get("state", {})]
    printed = "".join(m["content"]["text"] for m in _kernel.of_type(result["messages"], "stream")
                      if m["content"]["name"] == "stdout")
    return states, printed


@pytest.mark.timeout(180)
def test_the_live_widget_is_throttled_far_below_the_streams_events():
    states, printed = _widget_states(
        "df = nbstream.sweep('About {q}', data=pd.DataFrame({'q': [str(i) for i in range(12)]}),\n"
        "                    models=['demo'], cache=False, concurrency=6, display=True,\n"
        "                    demo={'tps': 300, 'ttft': 0.01})\n"
        "print(int(nbstream.runs()['n_events'].tail(12).sum()))")
    events = int(printed.split()[-1])
    assert states and states[-1]["line"].startswith("12/12 done")
    assert any(row["text"] for s in states for row in s["rows"])  # answers showed while they streamed
    assert len(states) * 10 < events


# ---- structured sweeps: the shown rows' JSON fields fill in -----------------------------------------
def test_a_structured_rows_fields_fill_in_as_its_json_streams():
    p = Progress(total=1, structured=True)
    run = Run()
    p.started(0, "#0", run)
    seen = []
    for text in ['{"lab', 'el": "posi', 'tive", "sco', 're": 0.9', "}"]:
        p.grew(0, run, text)
        (row,) = p.state()["rows"]
        seen.append(row["fields"])
    assert seen == ['{}', '{"label": "posi"}', '{"label": "positive"}', '{"label": "positive", "score": 0.9}',
                    '{"label": "positive", "score": 0.9}']
    assert row["text"] == '{"label": "positive", "score": 0.9}'


def test_an_unstructured_sweeps_rows_carry_no_fields():
    p = Progress(total=1)
    run = Run()
    p.started(0, "#0", run)
    p.grew(0, run, '{"label": "x"}')
    assert p.state()["rows"] == [{"label": "#0", "text": '{"label": "x"}'}]


def test_a_rows_fields_are_parsed_on_the_update_only_when_it_grew_and_over_a_bounded_head(monkeypatch):
    """A 1 MB answer in 10,000 deltas: taking the deltas parses nothing; an update parses a
    grown row once, over at most SCAN characters; an update with nothing new parses nothing."""
    from nbstream.views import sweep_view

    parsed: list[int] = []
    partial = sweep_view._structured.partial
    monkeypatch.setattr(sweep_view._structured, "partial", lambda text: parsed.append(len(text)) or partial(text))
    p = Progress(total=1, structured=True)
    run = Run()
    p.started(0, "#0", run)
    p.grew(0, run, '{"label": "positive", "notes": "')
    for _ in range(10_000):
        p.grew(0, run, "x" * 100)
    assert parsed == []
    (row,) = p.state()["rows"]
    assert len(parsed) == 1 and parsed[0] <= sweep_view.SCAN
    assert row["fields"].startswith('{"label": "positive", "notes": "xxx') and len(row["fields"]) <= sweep_view.FIELDS
    p.state()
    assert len(parsed) == 1


def test_a_key_in_a_structured_answer_is_masked_in_its_fields():
    key = f"sk-{secrets.token_hex(16)}"
    _secrets.register(key)
    p = Progress(total=1, structured=True)
    run = Run()
    p.started(0, "#0", run)
    for text in ['{"label": "' + key[:6], key[6:] + '"}']:
        p.grew(0, run, text)
    (row,) = p.state()["rows"]
    assert row["fields"].startswith('{"label": "') and key[:8] not in row["fields"]


@pytest.mark.timeout(180)
def test_the_live_widget_of_a_structured_sweep_shows_the_fields_filling_in():
    states, printed = _widget_states(
        "schema = {'type': 'object', 'properties': {'label': {'type': 'string'}}, 'required': ['label']}\n"
        "df = nbstream.sweep('Classify {q}', data=pd.DataFrame({'q': [str(i) for i in range(4)]}),\n"
        "                    models=['demo'], cache=False, concurrency=2, display=True, response_format=schema,\n"
        "                    demo={'tps': 40, 'ttft': 0.01})\n"
        "print((df['status'] == 'done').all())")
    assert printed.split()[-1] == "True"
    rows = [row for s in states for row in s["rows"]]
    assert rows and all("fields" in row for row in rows)
    assert any((row["fields"] or "").startswith('{"label": "') for row in rows)
