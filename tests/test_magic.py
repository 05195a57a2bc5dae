"""%%stream in a real kernel, executed the way Run All / nbclient / nbval execute it:
the saved outputs, the result variable, options, templating, error banners, record and
replay. Live traffic, interrupts and clicks are in test_live.py."""

from __future__ import annotations

import json
import re

import pytest
from _kernel import execute


def outputs(cell):
    return [(o["output_type"], sorted(o.get("data", {}))) for o in cell["outputs"]]


def static(cell):
    """The static answer output of a %%stream cell (the last display_data)."""
    shown = [o for o in cell["outputs"] if o["output_type"] == "display_data" and o["data"]]
    assert shown, cell["outputs"]
    return shown[-1]


@pytest.fixture(scope="module")
def nb():
    return execute([
        "%%stream -o r\nExplain SSE",                                              # 1
        "print(r.status, r.finish_reason, len(r.text) > 100, _ is r)",            # 2
        'topic = "SSE"\nd = {"k": "keys"}',                                        # 3
        '%%stream -o t\nExplain {topic} and {d["k"]}; keep {missing} and {"json": 1} and {{x}} and {topic.upper}',  # 4
        "print(t.prompt)",                                                          # 5
        "%%stream --chat c -o c1\nMy name is Ada.",                                # 6
        "%%stream --chat c -o c2\nWhat is my name?",                               # 7
        "print(len(c2.prompt), [m['role'] for m in c2.prompt])",                  # 8
        "%%stream -m demo -m demo-fast --compare -o many\nExplain SSE",            # 9
        "print([x.model for x in many], [x.status for x in many], len(nbstream.runs(*many)))",  # 10
    ])


def test_a_stream_cell_leaves_an_emptied_live_output_and_one_static_answer(nb):
    cell = nb.cells[1]
    # the emptied live widget, the emptied fallback (the partial answer while streaming), the answer
    assert outputs(cell) == [("display_data", []), ("display_data", []),
                             ("display_data", ["text/html", "text/markdown", "text/plain"])]


def test_the_static_answer_carries_the_text_and_metadata(nb):
    out = static(nb.cells[1])
    meta = out["metadata"]["nbstream"]
    assert meta["model"] == "demo" and meta["status"] == "done" and meta["finish_reason"] == "stop"
    assert meta["usage"]["output_tokens"] > 10 and meta["timings"]["ttft_s"] > 0
    assert meta["base_url"].startswith("http://127.0.0.1:")
    assert meta["schema"] == 2  # readers of saved notebooks can tell layouts apart
    assert "## " in out["data"]["text/markdown"]  # the demo answer's heading survives as Markdown
    assert out["data"]["text/plain"].startswith(out["data"]["text/plain"].split("\n")[0])


def test_the_run_lands_in_the_variable_and_in_underscore(nb):
    assert nb.cells[2]["outputs"][0]["text"].strip() == "done stop True True"


def test_templating_fills_known_names_and_leaves_every_other_brace(nb):
    printed = nb.cells[5]["outputs"][0]["text"].strip()
    assert printed == 'Explain SSE and keys; keep {missing} and {"json": 1} and {x} and {topic.upper}'  # a method too


def test_the_filled_prompt_can_be_expanded_above_the_answer(nb):
    md = static(nb.cells[4])["data"]["text/markdown"]
    assert md.startswith("<details><summary>Prompt</summary>") and "Explain SSE and keys" in md


def test_chat_remembers_the_conversation_across_cells(nb):
    assert nb.cells[8]["outputs"][0]["text"].strip() == (
        "3 ['user', 'assistant', 'user']")


def test_compare_streams_every_model_and_leaves_one_saved_grid(nb):
    cell = nb.cells[9]
    (saved,) = [o for o in cell["outputs"] if o["output_type"] == "display_data" and o["data"]]
    assert [m["model"] for m in saved["metadata"]["nbstream"]["compare"]] == ["demo", "demo-fast"]
    assert saved["metadata"]["nbstream"]["schema"] == 2
    grid = saved["data"]["text/html"]
    assert 'class="nbs-compare"' in grid and "flex-flow:row wrap" in grid and grid.count(' nbs-pane"') == 2
    titles = re.findall(r'<div class="nbs-title">([^<]*)</div>', grid)
    assert titles == ["demo", "demo-fast"]
    markdown = saved["data"]["text/markdown"]
    assert markdown.index("### demo") < markdown.index("### demo-fast")  # titled sections, in order
    assert nb.cells[10]["outputs"][0]["text"].strip() == "['demo', 'demo-fast'] ['done', 'done'] 2"


def test_no_cell_raised(nb):
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o["output_type"] == "error"]
    assert not errors, errors


# ---- error banners --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def faults():
    return execute([
        "%%stream -m demo-401\nhi",
        "%%stream -m demo-429\nhi",
        "%%stream -m demo-500\nhi",
        '%%stream -m demo-error\nhi',
        "%%stream -m demo-disconnect\nhi",
        "%%stream -m demo-malformed -o mal\nhi",
        "nbstream.config.idle_timeout = 1.5",  # demo-stall goes silent for 5 s
        "%%stream -m demo-stall -o st\nhi",
        "print(st.status, type(st.error).__name__, len(st.text) > 0, mal.status)",
    ])


@pytest.mark.parametrize("index, banner", [
    (1, "AuthenticationError"), (2, "RateLimitError"), (3, "ServerError"), (4, "StreamError"),
    (5, "IncompleteStreamError"), (8, "IdleTimeout")])
def test_each_fault_shows_a_banner_not_a_traceback(faults, index, banner):
    cell = faults.cells[index]
    assert not [o for o in cell["outputs"] if o["output_type"] == "error"]
    md = static(cell)["data"]["text/markdown"]
    assert f"⚠ **{banner}:**" in md


def test_a_banner_keeps_the_partial_answer_above_it(faults):
    out = static(faults.cells[4])["data"]
    partial = out["text/plain"].split("\n")[0]
    assert len(partial) > 10
    assert out["text/markdown"].index(partial) < out["text/markdown"].index("⚠ **StreamError:**")


def test_rate_limit_banner_shows_retry_after(faults):
    assert "Retry-After" in static(faults.cells[2])["data"]["text/markdown"]


def test_stall_and_malformed_runs_end_as_expected(faults):
    assert faults.cells[9]["outputs"][0]["text"].strip() == "error IdleTimeout True done"


def test_raise_option_raises_instead_of_a_banner():
    nb = execute(["%%stream -m demo-500 --raise\nhi"])
    errors = [o for o in nb.cells[1]["outputs"] if o["output_type"] == "error"]
    assert errors and errors[0]["ename"] == "ServerError"


def test_bad_options_get_a_one_line_error():
    nb = execute(["%%stream --temperature hot\nhi", "%%stream\n"])
    for cell in nb.cells[1:]:
        assert not [o for o in cell["outputs"] if o["output_type"] == "error"]
        text = "".join(o.get("text", "") for o in cell["outputs"] if o["output_type"] == "stream")
        assert text.startswith("%%stream:") and text.count("\n") == 1


# ---- record / replay, raw, json, no-render -----------------------------------------------------
def test_record_then_replay_offline_gives_the_same_answer(tmp_path):
    path = tmp_path / "answer.jsonl"
    nb = execute([
        f"%%stream -o rec --record {path}\nExplain SSE",
        "server.stop()",
        f"%%stream -o rep --replay {path} --speed 0\n",
        "print(rep.status, rep.text == rec.text, len(rep.records) == len(rec.records))",
    ])
    assert nb.cells[4]["outputs"][0]["text"].strip() == "done True True"
    header = json.loads(path.read_text().splitlines()[0])
    assert header["nbstream_record"] == 1 and header["api"] == "chat"


def test_json_body_is_sent_as_is():
    nb = execute([
        '%%stream --json -o j\n{"model": "demo-fast", "messages": [{"role": "user", "content": "Explain SSE"}],'
        ' "max_tokens": 5}',
        "print(j.status, j.model, j.finish_reason, j.usage)",
    ])
    # as is: no stream_options was added, so the server sent no usage
    assert nb.cells[2]["outputs"][0]["text"].strip() == "done demo-fast length None"


def test_no_render_keeps_plain_text_in_the_saved_answer():
    nb = execute(["%%stream --no-render -o p\nExplain SSE", "print(p.status)"])
    assert nb.cells[2]["outputs"][0]["text"].strip() == "done"
    assert "text/plain" in static(nb.cells[1])["data"]


def test_stream_config_sets_defaults_for_later_cells():
    nb = execute(["%stream_config model=demo-fast api=responses",
                  "%%stream -o x\nhi", "print(x.model, x.api)"])
    assert nb.cells[3]["outputs"][0]["text"].strip() == "demo-fast responses"


def test_sse_feed_shows_a_table_of_its_events():
    nb = execute([
        "from _feed_server import feed\nf = feed(['one', 'two', 'three'])",
        "%%stream --sse {f.url} -o feed\n",
        "print(feed.status, [e.data for e in feed.events])",
    ])
    assert nb.cells[3]["outputs"][0]["text"].strip() == "done ['one', 'two', 'three']"
    md = static(nb.cells[2])["data"]["text/markdown"]
    assert "**3 events**" in md and "| message |" in md


def test_quoted_option_values_lose_their_quotes():
    nb = execute(['%%stream -p "demo.text=Hello there, reader." -s "Be brief." -o q\nhi',
                  "print(repr(q.text))"])
    assert nb.cells[2]["outputs"][0]["text"].strip() == "'Hello there, reader.'"


def test_a_non_blocking_stream_waited_in_the_same_cell_saves_its_answer():
    nb = execute(['run = nbstream.stream("Explain SSE", block=False, display=True)\nrun.wait(30)\nNone'])
    answers = [o for o in nb.cells[1]["outputs"] if o["output_type"] == "display_data" and
               "text/markdown" in o.get("data", {})]
    assert len(answers) == 1 and answers[0]["metadata"]["nbstream"]["status"] == "done"


def test_the_plain_cell_magic_path_works_where_the_transformer_cannot_apply():
    nb = execute([
        "get_ipython().run_cell_magic('stream', '-o fb1', 'Explain SSE')",
        "%autoawait False",
        "%%stream -o fb2\nExplain SSE",
        "print(fb1.status, fb2.status, fb1.text == fb2.text)",
    ])
    assert nb.cells[4]["outputs"][0]["text"].strip() == "done done True"
    for index in (1, 3):
        assert static(nb.cells[index])["metadata"]["nbstream"]["status"] == "done"


IMPORT_ONLY_SETUP = """\
import nbstream
from nbstream import demo
server = demo.serve()
nbstream.config.base_url = server.base_url
nbstream.config.model = "demo\""""


def test_importing_nbstream_in_a_kernel_is_enough_for_the_stream_magic():
    nb = execute([IMPORT_ONLY_SETUP, "%%stream -o r\nExplain SSE", "print(r.status, len(r.text) > 100)"],
                 setup=False)
    assert not [o for c in nb.cells for o in c["outputs"] if o["output_type"] == "error"]
    assert static(nb.cells[1])["metadata"]["nbstream"]["status"] == "done"
    assert nb.cells[2]["outputs"][0]["text"].strip() == "done True"


def test_load_ext_after_import_is_silent_and_still_works():
    nb = execute([IMPORT_ONLY_SETUP, "%load_ext nbstream", "%%stream -o r\nExplain SSE", "print(r.status)"],
                 setup=False)
    assert nb.cells[1]["outputs"] == []  # no "already loaded" notice in the saved notebook
    assert nb.cells[3]["outputs"][0]["text"].strip() == "done"
