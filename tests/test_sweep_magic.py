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


def test_a_cache_folder_answers_the_same_sweep_again(nb):
    assert _stdout(nb.cells[11]).strip() == "True 4"


def test_the_saved_sweep_cell_keeps_a_static_summary_and_no_widget(nb):
    outputs = nb.cells[2].outputs
    assert not any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in outputs)
    assert any("8/8 done" in o.get("data", {}).get("text/markdown", "") for o in outputs), outputs
