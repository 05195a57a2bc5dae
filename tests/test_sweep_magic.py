"""``%%stream --over NAME``: the cell body is a sweep template over a DataFrame, with the
-m / -t / repeated -p combinations, the result table in -o; executed in a real kernel."""

from __future__ import annotations

import pytest
from _kernel import execute


@pytest.fixture(scope="module")
def nb():
    return execute([
        "import pandas as pd\nreviews = pd.DataFrame({'review': ['great phone', 'broke in a day']})",  # 1
        "%%stream --over reviews -m demo-fast -m demo-chunky -t 0 -t 1 -p demo.tps=2000 --cache off -o res\n"
        "Classify the sentiment of: {review}",                                                           # 2
        "print(len(res), list(res.columns[:3]), bool((res.status == 'done').all()), _ is res)",        # 3
        "print(sorted(set(zip(res.model, res.temperature))))",                                           # 4
        "import tempfile\nfolder = tempfile.mkdtemp()",                                                 # 5
        "%%stream --over reviews -p seed=1 -p seed=2 -p demo.tps=2000 --cache {folder} -o seeds\n{review}",  # 6
        "print(list(seeds.seed))",                                                                        # 7
        "%%stream --over nothing_here\n{review}",                                                         # 8
        "%%stream --over reviews\n{revew}",                                                               # 9
        "%%stream --over reviews -p seed=1 -p seed=2 -p demo.tps=2000 --cache {folder} -o again\n{review}",  # 10
        "import pathlib\nprint(bool(again.cached.all()), len(list(pathlib.Path(folder).rglob('*.jsonl'))))",  # 11
        "%%stream --over reviews -p seed=7 -p demo.tps=2000 --cache off -o seeded\n{review}",          # 12
        "print(sorted({run.params.get('seed') for run in seeded.attrs['runs'].values()}), 'seed' in seeded)",  # 13
        "%%stream --over reviews --chat c\n{review}",                                                     # 14
        "%%stream --cache off\nhello",                                                                     # 15
    ], timeout=120)


def _stdout(cell) -> str:
    return "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream" and o.name == "stdout")


def _stderr(cell) -> str:
    return "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream" and o.name == "stderr")


def test_over_runs_every_row_with_every_model_and_temperature(nb):
    assert _stdout(nb.cells[3]).strip() == "8 ['review', 'model', 'temperature'] True True"
    assert _stdout(nb.cells[4]).strip() == \
        "[('demo-chunky', 0.0), ('demo-chunky', 1.0), ('demo-fast', 0.0), ('demo-fast', 1.0)]"


def test_a_repeated_param_is_swept_and_a_single_one_is_sent_with_every_row(nb):
    assert _stdout(nb.cells[7]).strip() == "[1, 2, 1, 2]"


def test_over_a_missing_variable_or_a_misspelt_field_is_a_one_line_banner(nb):
    assert "no variable 'nothing_here'" in _stderr(nb.cells[8])
    assert "no column 'revew'" in _stderr(nb.cells[9])
    for cell in nb.cells[8:10]:
        assert not [o for o in cell.outputs if o.output_type == "error"]
        assert len(_stderr(cell).strip().splitlines()) == 1


def test_a_single_seed_param_is_the_requests_seed_sent_with_every_row(nb):
    """``-p seed=7`` is the request's ``seed`` field (the retry jitter's is ``jitter_seed``),
    sent with every row as ``max_tokens`` is: no column."""
    assert _stdout(nb.cells[13]).strip() == "[7] False"


def test_a_cache_folder_answers_the_same_sweep_again(nb):
    assert _stdout(nb.cells[11]).strip() == "True 4"


@pytest.mark.parametrize(("index", "option"), [(14, "--chat"), (15, "--cache")])
def test_an_option_that_does_not_go_with_over_is_a_one_line_error_and_nothing_streams(nb, index, option):
    cell = nb.cells[index]
    assert _stderr(cell).count("\n") == 1 and option in _stderr(cell) and "--over" in _stderr(cell)
    assert [o.output_type for o in cell.outputs] == ["stream"]


def test_the_saved_sweep_cell_keeps_a_static_summary_and_no_widget(nb):
    outputs = nb.cells[2].outputs
    assert not any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in outputs)
    assert any("8/8 done" in o.get("data", {}).get("text/markdown", "") for o in outputs), outputs


@pytest.mark.timeout(180)
def test_the_stop_button_of_an_over_cell_stops_the_sweep_and_keeps_the_partial_table():
    import json

    import _kernel

    with _kernel.Session() as k:
        k.run(_kernel.SETUP)
        k.run("import pandas as pd\nslow = pd.DataFrame({'q': [f'question {i}' for i in range(20)]})")  # > 16 at once
        msg_id = k.send("%%stream --over slow -m demo-long -p demo.tps=20 --cache off -o part\n{q}")
        clicked: list[str] = []

        def click_once_text_streams(msg: dict) -> None:
            if msg["msg_type"] == "comm_open" and "_esm" in msg["content"]["data"]["state"]:
                clicked.append(msg["content"]["comm_id"])  # the widget's comm; no click yet
            data = msg["content"].get("data", {}) if msg["msg_type"] == "comm_msg" else {}
            state = data.get("state", {}).get("state")
            if state and len(clicked) == 1 and any(r["text"] for r in json.loads(state).get("rows", [])):
                click = k.kc.session.msg("comm_msg", {"comm_id": clicked[0],
                                                      "data": {"method": "custom", "content": {"t": "stop"}}})
                k.kc.shell_channel.send(click)
                clicked.append("sent")

        result = k.collect(msg_id, timeout=150, on_message=click_once_text_streams)
        assert clicked[1:] == ["sent"], "the stop was never clicked"
        assert result["reply"]["status"] == "ok" and not _kernel.of_type(result["messages"], "error")
        out = k.stdout("print(len(part), set(part.status), bool(part.text.str.len().gt(0).any()))")
        assert out.strip() == "16 {'cancelled'} True"  # the 16 in flight, with their partial answers
