"""A Run displays itself: the safe rendered answer with its status line as HTML and
Markdown, and a one-line text/plain with status, model, size, finish reason and TTFT."""

from __future__ import annotations

from _timeline import REASONING_RUN, T0, timeline
from hostile_corpus import PAYLOADS, problems
from markdown_it import MarkdownIt

from nbstream.events import Finish, TextDelta
from nbstream.run import Run
from nbstream.views import status as _status
from nbstream.wire.framing import Message

TRUSTING = MarkdownIt("commonmark", {"html": True}).enable("table")


def test_repr_names_status_model_size_finish_and_ttft():
    # the first token was reasoning, at 0.3 s
    assert repr(timeline(REASONING_RUN)) == "<Run done 'm-1' 12 chars finish='stop' TTFT 300 ms>"


def test_repr_of_a_streaming_run_has_no_ttft_yet():
    run = Run(model="m", api="chat")
    run._receive(Message(T0, 0, "", "{}", None, 1), [TextDelta("abc")])
    assert repr(run) == "<Run streaming 'm' 3 chars>"


def test_html_shows_the_rendered_answer_and_the_status_line():
    run = timeline([(0.1, 0, [TextDelta("# Hi\n\n`x` and $y$")]), (0.2, 1, [Finish("stop")])])
    html = run._repr_html_()
    assert html.startswith("<h1>Hi</h1>\n<p><code>x</code> and <math")
    assert html.endswith(f"<p><em>{_status.final(run)}</em></p>\n")


def test_markdown_shows_the_answer_and_the_status_line():
    run = timeline([(0.1, 0, [TextDelta("**bold** <b>")]), (0.2, 1, [Finish("stop")])])
    md = run._repr_markdown_()
    assert md.startswith("**bold** &lt;b&gt;\n\n*m · TTFT 100 ms")


def test_an_error_is_shown_between_answer_and_status():
    run = timeline([(0.1, 0, [TextDelta("partial")])])
    assert "⚠ IncompleteStreamError: the stream ended" in run._repr_html_()


def test_hostile_answers_display_safely():
    for payload in PAYLOADS:
        run = timeline([(0.1, 0, [TextDelta(payload)]), (0.2, 1, [Finish(payload)])], model=payload)
        assert problems(run._repr_html_()) == [], payload
        assert problems(TRUSTING.render(run._repr_markdown_()), strict=False) == [], payload
        assert "\x1b" not in repr(run) and "\u202e" not in repr(run)
