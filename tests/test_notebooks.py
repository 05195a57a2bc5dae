"""The teaching notebooks are tests: strict nbval re-runs every one against its saved
outputs (sanitized only where a run legitimately differs: timings, ports, ids), and the
saved outputs themselves must read on GitHub — a static Markdown answer as the last output
of each ``%%stream`` cell, no widget left behind, no traceback, nothing key-like."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS_DIR = ROOT / "notebooks"
SANITIZE = NOTEBOOKS_DIR / "nbval_sanitize.cfg"
EXPECTED = (
    "01-quickstart",
    "02-anatomy-of-a-stream",
    "03-timing-analysis",
    "04-prompt-experiments",
    "05-when-things-go-wrong",
    "06-sdk-and-agents",
    "07-prompt-sweeps",
    "08-three-providers",
)
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
STREAMING_CELL = re.compile(r"\A%%stream\b|\bnbstream\.show\(")  # cells whose output is a live answer


def _notebook(name: str) -> nbformat.NotebookNode:
    return nbformat.read(NOTEBOOKS_DIR / f"{name}.ipynb", as_version=4)


def _code_cells(name: str) -> list[nbformat.NotebookNode]:
    return [cell for cell in _notebook(name).cells if cell.cell_type == "code"]


def _texts(output: nbformat.NotebookNode) -> list[str]:
    """Every text an output would show: stream text, each str MIME value, error parts."""
    if output.output_type == "stream":
        return [output.text]
    if output.output_type == "error":
        return [output.ename, output.evalue, *output.traceback]
    return [value for value in output.get("data", {}).values() if isinstance(value, str)]


def test_the_teaching_notebooks_are_there_and_nothing_else():
    assert sorted(p.stem for p in NOTEBOOKS_DIR.glob("*.ipynb")) == list(EXPECTED)


@pytest.mark.parametrize("name", EXPECTED)
def test_every_code_cell_was_executed_in_order(name):
    counts = [cell.execution_count for cell in _code_cells(name)]
    assert counts == list(range(1, len(counts) + 1))


@pytest.mark.parametrize("name", EXPECTED)
def test_each_streaming_cell_ends_with_a_static_markdown_answer(name):
    streaming = [cell for cell in _code_cells(name) if STREAMING_CELL.search(cell.source)]
    assert streaming, f"{name} has no cell that streams into its output"
    for cell in streaming:
        last = cell.outputs[-1]
        assert last.output_type == "display_data", cell.source
        assert "text/markdown" in last.data and "text/plain" in last.data, cell.source
        assert WIDGET_MIME not in last.data, cell.source
        assert "nbstream" in last.metadata, cell.source  # the saved answer, with its run's metadata


@pytest.mark.parametrize("name", EXPECTED)
def test_no_saved_output_holds_a_widget_reference(name):
    for cell in _code_cells(name):
        for output in cell.outputs:
            assert WIDGET_MIME not in output.get("data", {}), cell.source


@pytest.mark.parametrize("name", EXPECTED)
def test_no_saved_output_is_a_traceback_or_stderr(name):
    for cell in _code_cells(name):
        for output in cell.outputs:
            assert output.output_type != "error", cell.source
            assert not (output.output_type == "stream" and output.name == "stderr"), cell.source
            assert not any("Traceback (most recent call last)" in text for text in _texts(output)), cell.source


@pytest.mark.parametrize("name", EXPECTED)
def test_no_saved_output_holds_an_api_key_like_string(name):
    for cell in _code_cells(name):
        for output in cell.outputs:
            assert not any(re.search(r"\bsk-[A-Za-z0-9_-]{8,}", text) for text in _texts(output)), cell.source


@pytest.mark.timeout(900)
def test_strict_nbval_reproduces_every_saved_output():
    expected_cells = sum(len(_code_cells(name)) for name in EXPECTED)
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "--nbval", "notebooks/", "--nbval-sanitize-with", str(SANITIZE),
         "-p", "no:cacheprovider", "-q"],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    tail = proc.stdout[-4000:] + proc.stderr[-2000:]
    assert proc.returncode == 0, tail
    summary = re.search(r"(\d+) passed", proc.stdout.strip().splitlines()[-1])
    assert summary is not None, tail
    assert int(summary.group(1)) == expected_cells, tail
