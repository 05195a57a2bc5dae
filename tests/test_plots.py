"""plot_run and plot_runs, checked on the data the figures show (line positions, histogram
counts, points per group), not on pixels; plus a real demo run whose pictures are saved to
test-artifacts/ for a human to look at, and one Jupyter kernel showing a plot exactly once."""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from _timeline import REASONING_RUN, timeline  # noqa: E402

import nbstream  # noqa: E402
from nbstream.events import Done, Finish, Meta, TextDelta, Usage  # noqa: E402
from nbstream.run import Run  # noqa: E402
from nbstream.views.plots import plot_run, plot_runs  # noqa: E402

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"


def answer_run(ttft=0.2, gaps=(0.1, 0.1, 0.1), *, model="m", finish=True, cancel=False):
    """An answer-only run: a token chunk at ``ttft`` then one after each gap."""
    steps, t = [(ttft, 0, [TextDelta("a")])], ttft
    for i, gap in enumerate(gaps, 1):
        t += gap
        steps.append((t, i, [TextDelta(" b")]))
    if finish:
        steps += [(t + 0.01, len(gaps), [Finish("stop")]), (t + 0.02, len(gaps), [Done()])]
    return timeline(steps, model=model, cancel=cancel)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture()
def run():
    return timeline(REASONING_RUN)


def by_gid(ax, gid):
    found = [artist for artist in ax.get_children() if artist.get_gid() == gid]
    assert len(found) == 1, f"expected one {gid!r} artist, found {len(found)}"
    return found[0]


def gids(ax):
    return {artist.get_gid() for artist in ax.get_children() if artist.get_gid()}


def token_rows(run):
    c = run.chunks
    return c[c["is_token"]]


# ---- plot_run: the timeline ------------------------------------------------------------------
def test_plot_run_returns_a_figure_with_the_timeline_and_the_itl_panel(run):
    fig = plot_run(run)
    assert isinstance(fig, matplotlib.figure.Figure)
    assert [ax.get_title(loc="left") for ax in fig.axes] == ["output over time", "gaps between token chunks (ITL)"]


def test_the_step_line_passes_through_every_token_chunk_at_its_arrival_time(run):
    line = by_gid(plot_run(run).axes[0], "cumulative")
    tokens = token_rows(run)
    assert line.get_xdata().tolist() == pytest.approx(tokens["t_recv_s"].tolist())
    assert line.get_ydata().tolist() == pytest.approx(np.cumsum(tokens["n_tokens_est"]).tolist())
    assert line.get_drawstyle() == "steps-post"


def test_continuous_usage_runs_plot_the_exact_cumulative_counts():
    run = timeline([
        (0.1, 0, [Meta("role", role="assistant"), Usage(output_tokens=0)]),
        (0.2, 1, [TextDelta("ab"), Usage(output_tokens=2)]),
        (0.3, 2, [TextDelta("cde"), Usage(output_tokens=5)]),
        (0.4, 3, [TextDelta("f"), Usage(output_tokens=6)]),
        (0.5, 4, [Finish("stop"), Usage(input_tokens=3, output_tokens=6)]), (0.6, 4, [Done()])])
    ax = plot_run(run).axes[0]
    assert by_gid(ax, "cumulative").get_ydata().tolist() == [2, 5, 6]
    assert "exact" in ax.get_ylabel()


def test_estimated_counts_say_so_and_name_the_tokenizer(run):
    ax = plot_run(run).axes[0]
    assert "estimated" in ax.get_ylabel() and run.summary["tokenizer"] in ax.get_ylabel()


def test_reasoning_and_answer_chunks_get_their_own_markers_and_colours(run):
    ax = plot_run(run).axes[0]
    reasoning, answer = by_gid(ax, "chunks:reasoning"), by_gid(ax, "chunks:answer")
    assert reasoning.get_xdata().tolist() == pytest.approx([0.3, 0.35])
    assert answer.get_xdata().tolist() == pytest.approx([0.5, 0.52, 0.6])
    assert reasoning.get_color() != answer.get_color()
    assert reasoning.get_label() == "reasoning chunks (2)" and answer.get_label() == "answer chunks (3)"


def test_the_ttft_line_sits_at_the_summary_ttft_and_is_labelled_in_ms(run):
    line = by_gid(plot_run(run).axes[0], "ttft")
    assert line.get_xdata()[0] == pytest.approx(run.summary["ttft_s"])
    assert line.get_label() == "TTFT 300 ms"


@pytest.mark.parametrize(("make", "expected"), [
    (lambda: timeline(REASONING_RUN), 0.5),  # reasoning came first: the answer starts later
    (lambda: answer_run(), None),  # answer only: TTFO is TTFT, no second line
])
def test_a_ttfo_line_is_drawn_only_when_it_differs_from_ttft(make, expected):
    ax = plot_run(make()).axes[0]
    if expected is None:
        assert "ttfo" not in gids(ax)
    else:
        line = by_gid(ax, "ttfo")
        assert line.get_xdata()[0] == pytest.approx(expected) and line.get_label().startswith("TTFO 500 ms")


def test_the_end_is_marked_at_e2el(run):
    line = by_gid(plot_run(run).axes[0], "end")
    assert line.get_xdata()[0] == pytest.approx(run.summary["e2el_s"])
    assert line.get_label() == "end 600 ms (E2EL)"


def test_the_title_names_model_status_tokens_and_rates(run):
    title = plot_run(run).get_suptitle()
    assert title == "m · done · 12 output tokens · 20 tok/s output · 37 tok/s decode"


@pytest.mark.parametrize(("make", "verdict"), [
    (lambda: answer_run(cancel=True), "CANCELLED after "),
    (lambda: answer_run(finish=False), "INCOMPLETE: the stream ended before the server said it was finished"),
])
def test_the_title_gives_the_verdict_of_a_run_that_did_not_finish(make, verdict):
    title = plot_run(make()).get_suptitle()
    assert title.splitlines()[1].startswith(verdict)


def test_an_error_run_without_tokens_gets_a_note_not_an_exception():
    run = Run(model="m", api="chat")
    run._finish(error=nbstream.errors.ServerError("HTTP 500 boom", status=500, url="u"))
    fig = plot_run(run)
    assert fig.get_suptitle() == "m · error · no tokens\nERROR (ServerError): HTTP 500 boom"
    timeline_ax, itl_ax = fig.axes
    assert by_gid(timeline_ax, "note").get_text().startswith("no tokens received\n\nHTTP 500 boom")
    assert by_gid(itl_ax, "note").get_text().startswith("no inter-token gaps")
    assert "cumulative" not in gids(timeline_ax)


def test_a_single_token_chunk_has_a_timeline_but_no_gaps():
    fig = plot_run(answer_run(gaps=()))
    assert by_gid(fig.axes[0], "cumulative").get_xdata().tolist() == pytest.approx([0.2])
    assert "(1 token chunk;" in by_gid(fig.axes[1], "note").get_text()


def test_given_axes_receive_only_the_timeline_and_their_figure_is_returned(run):
    fig, (left, right) = plt.subplots(1, 2)
    assert plot_run(run, ax=right) is fig
    assert len(fig.axes) == 2 and not left.lines and not left.patches
    assert by_gid(right, "ttft").get_xdata()[0] == pytest.approx(0.3)
    assert right.get_title().startswith("m · done")
    assert plt.fignum_exists(fig.number)  # the user's figure stays open


# ---- plot_run: the ITL panel ---------------------------------------------------------------
def test_the_histogram_counts_every_inter_token_gap(run):
    ax = plot_run(run).axes[1]
    bars = [p for p in ax.patches if p.get_gid() == "itl"]
    assert sum(bar.get_height() for bar in bars) == 4 == token_rows(run)["itl_s"].notna().sum()


def test_p50_and_p99_lines_sit_at_the_numpy_percentiles_in_ms(run):
    ax = plot_run(run).axes[1]
    gaps_ms = token_rows(run)["itl_s"].dropna().to_numpy() * 1000
    assert by_gid(ax, "p50").get_xdata()[0] == pytest.approx(np.percentile(gaps_ms, 50))
    assert by_gid(ax, "p99").get_xdata()[0] == pytest.approx(np.percentile(gaps_ms, 99))
    assert by_gid(ax, "p50").get_label() == "p50 65.0 ms"


def test_tpot_is_drawn_beside_the_chunk_gaps_when_chunks_carry_several_tokens(run):
    ax = plot_run(run).axes[1]
    assert by_gid(ax, "tpot").get_xdata()[0] == pytest.approx(run.summary["tpot_s"] * 1000)  # 0.3 s / 11
    assert "2.4 tokens per chunk" in ax.get_legend().get_title().get_text()  # 12 tokens in 5 chunks


def test_one_token_per_chunk_needs_no_chunk_versus_token_note():
    run = timeline([(0.1, 0, [TextDelta("a")]), (0.2, 1, [TextDelta(" b")]), (0.3, 2, [TextDelta(" c")]),
                    (0.31, 2, [Finish("stop"), Usage(output_tokens=3)]), (0.32, 2, [Done()])])
    assert run.summary["tokens_per_chunk"] == 1
    assert plot_run(run).axes[1].get_legend().get_title().get_text() == ""


def test_a_stall_gets_a_log_scale_and_is_pointed_at():
    run = answer_run(gaps=[0.002] * 30 + [0.5] + [0.002] * 30)
    ax = plot_run(run).axes[1]
    assert ax.get_xscale() == "log"
    assert sum(p.get_height() for p in ax.patches if p.get_gid() == "itl") == 61
    assert by_gid(ax, "tail").get_xdata().tolist() == pytest.approx([500.0])
    assert by_gid(ax, "tail").get_label() == "slow gaps: 1 > 2×p50 (max 500 ms)"


def test_ordinary_jitter_is_not_flagged_as_slow():
    assert "tail" not in gids(plot_run(answer_run(gaps=[0.01, 0.011, 0.012, 0.018])).axes[1])


# ---- plot_runs --------------------------------------------------------------------------------
@pytest.fixture()
def frame():
    runs = [answer_run(0.1, model="fast"), answer_run(0.12, model="fast"), answer_run(0.3, model="slow"),
            answer_run(0.5, model="slow"), answer_run(0.4, model="slow"), answer_run(0.9, model="slow", cancel=True)]
    return nbstream.runs(*runs)


def test_plot_runs_draws_one_panel_per_metric(frame):
    fig = plot_runs(frame, metrics=("ttft_s", "e2el_s"))
    assert [ax.get_title() for ax in fig.axes] == ["TTFT  [ttft_s]", "end-to-end latency  [e2el_s]"]
    assert len(plot_runs(frame, metrics="decode_tps").axes) == 1


def test_each_group_shows_its_runs_as_points_in_ms(frame):
    ax = plot_runs(frame).axes[0]
    assert by_gid(ax, "runs:fast:done").get_ydata().tolist() == pytest.approx([100, 120])
    assert by_gid(ax, "runs:slow:done").get_ydata().tolist() == pytest.approx([300, 500, 400])
    assert [t.get_text() for t in ax.get_xticklabels()] == ["fast\n(2 runs)", "slow\n(4 runs)"]
    assert ax.get_ylabel() == "ms"


def test_the_group_median_is_taken_over_its_done_runs(frame):
    ax = plot_runs(frame).axes[0]
    assert by_gid(ax, "median:slow").get_ydata().tolist() == pytest.approx([400, 400])  # not 450 with 900
    assert by_gid(ax, "median:fast").get_ydata().tolist() == pytest.approx([110, 110])


def test_failed_runs_are_drawn_hollow_and_counted_in_the_legend(frame):
    fig = plot_runs(frame)
    failed, done = by_gid(fig.axes[0], "runs:slow:failed"), by_gid(fig.axes[0], "runs:slow:done")
    assert failed.get_ydata().tolist() == pytest.approx([900])
    assert failed.get_markerfacecolor() == "none" and done.get_markerfacecolor() != "none"
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert labels[:2] == ["done (5)", "not done: failed, cancelled… (1)"]


@pytest.mark.parametrize("change", [
    lambda df: df.drop(columns="model"),
    lambda df: df.assign(model=pd.array([None] * len(df), dtype="string")),
])
def test_runs_are_placed_by_index_when_the_group_column_is_missing_or_empty(frame, change):
    ax = plot_runs(change(frame)).axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == [f"run {i}" for i in range(6)]
    assert by_gid(ax, "runs:run 3:done").get_ydata().tolist() == pytest.approx([500])


def test_another_column_can_group_the_runs(frame):
    ax = plot_runs(frame, by="status").axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["done\n(5 runs)", "cancelled\n(1 run)"]


@pytest.mark.parametrize("metric", ["nope", "model"])
def test_an_unknown_or_non_numeric_metric_is_refused_with_the_numeric_columns_listed(frame, metric):
    with pytest.raises(ValueError, match=rf"unknown metric\(s\) '{metric}'.*numeric columns.*ttft_s, "):
        plot_runs(frame, metrics=("ttft_s", metric))


@pytest.mark.parametrize(("bad", "error", "message"), [
    (pd.DataFrame(), ValueError, "no runs"),
    ([{"ttft_s": 1.0}], TypeError, "needs a DataFrame such as nbstream.runs"),
])
def test_plot_runs_refuses_what_is_not_a_runs_frame(bad, error, message):
    with pytest.raises(error, match=message):
        plot_runs(bad)


def test_a_runs_frame_pipes_into_plot_runs(frame):
    fig = frame.pipe(plot_runs)
    assert fig.get_suptitle() == "6 runs by model"


def test_plot_run_refuses_what_is_not_a_run():
    with pytest.raises(TypeError, match="needs an nbstream Run"):
        plot_run("hello")


@pytest.mark.parametrize("call", [lambda r: plot_run(r), lambda r: plot_runs(nbstream.runs(r))])
def test_without_matplotlib_the_error_says_how_to_install_it(monkeypatch, run, call):
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match=r"plotting needs matplotlib: pip install 'nbstream\[plot\]'"):
        call(run)


# ---- real runs against the demo endpoint ------------------------------------------------------
SHORT = "Streaming answers arrive token by token, and nbstream records when each one lands, so you can see it."


def test_a_real_reasoning_run_plots_its_recorded_timeline():
    ARTIFACTS.mkdir(exist_ok=True)
    with nbstream.demo.serve() as server:
        run = nbstream.stream("Explain SSE", base_url=server.base_url, model="demo-reasoning",
                              demo={"ttft": 0.05, "tps": 500})
    fig = run.plot()
    fig.savefig(ARTIFACTS / "plot_run_demo_reasoning.png", dpi=100)
    ax = fig.axes[0]
    tokens = token_rows(run)
    assert by_gid(ax, "cumulative").get_xdata().tolist() == pytest.approx(tokens["t_recv_s"].tolist())
    n_reasoning = int((tokens["event_type"] == "reasoning").sum())
    assert n_reasoning > 0 and by_gid(ax, "chunks:reasoning").get_xdata().size == n_reasoning
    assert by_gid(ax, "ttfo").get_xdata()[0] == pytest.approx(run.summary["ttfo_s"])
    bars = [p for p in fig.axes[1].patches if p.get_gid() == "itl"]
    assert sum(bar.get_height() for bar in bars) == len(tokens) - 1


def test_real_runs_of_three_demo_models_compare_side_by_side():
    ARTIFACTS.mkdir(exist_ok=True)
    plan = [("demo-fast", {}), ("demo", {"ttft": 0.1}), ("demo-slow", {"ttft": 0.2})]
    with nbstream.demo.serve() as server:
        runs = [nbstream.stream("hi", base_url=server.base_url, model=model, demo={**knobs, "text": SHORT},
                                block=False) for model, knobs in plan for _ in range(2)]
        for run in runs:
            run.wait(20)
    fig = nbstream.runs(*runs).pipe(plot_runs)
    fig.savefig(ARTIFACTS / "plot_runs_demo_models.png", dpi=100)
    ttft, itl, decode = fig.axes
    assert [t.get_text().split("\n")[0] for t in ttft.get_xticklabels()] == ["demo-fast", "demo", "demo-slow"]
    medians = [by_gid(itl, f"median:{m}").get_ydata()[0] for m, _ in plan]
    assert medians[0] < medians[1] < medians[2]  # 400, 60 and 15 tokens/s: ITL 2.5, 17 and 67 ms
    assert by_gid(decode, "runs:demo-slow:done").get_ydata() == pytest.approx([15, 15], rel=0.1)


def test_in_jupyter_a_plot_is_displayed_exactly_once():
    import nbclient
    import nbformat

    cells = ["import nbstream\nserver = nbstream.demo.serve()\n"
             "r = nbstream.stream('hi', base_url=server.base_url, model='demo-fast', demo={'text': 'a b c d'})",
             "r.plot()",
             "from nbstream.views.plots import plot_runs\nplot_runs(nbstream.runs(r))",
             "server.stop()"]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    nbclient.NotebookClient(nb, timeout=60, kernel_name="python3").execute()
    for cell in nb.cells[1:3]:
        images = [out for out in cell.outputs if "image/png" in out.get("data", {})]
        assert len(images) == 1, [out.get("output_type") for out in cell.outputs]


def test_a_model_name_with_dollar_signs_is_drawn_as_text_not_mathtext():
    run = answer_run(model="cheap $x^{ model $ \x1b[31m")
    fig = plot_run(run)
    fig.canvas.draw()  # mathtext would raise on the unbalanced "$"
    assert fig.get_suptitle().startswith("cheap \\$x^{ model \\$ \ufffd[31m")
