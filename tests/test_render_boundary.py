"""The render boundary against the hostile corpus: nbstream's HTML passes the allow-list, the
saved Markdown is safe even for renderers that trust HTML (markdown-it with HTML on, and
nbconvert's HTML exporter), and the terminal view prints no control byte -- for every field
nbstream shows: answer, reasoning, prompt, tool names and arguments, errors, agent steps,
feed cells, titles and the status line."""

from __future__ import annotations

import io
import re

import nbformat
import pytest
from hostile_corpus import PAYLOADS, X, problems, terminal_problems
from markdown_it import MarkdownIt

from nbstream import errors
from nbstream.events import Other, ReasoningDelta, Step, TextDelta, ToolCallDelta
from nbstream.run import Run
from nbstream.views import console as _console
from nbstream.views import render as _render
from nbstream.views.feed import FeedBody, feed_markdown
from nbstream.views.live import static_output
from nbstream.views.markdown import Renderer
from nbstream.wire.framing import Message

TRUSTING = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
TRUSTING.validateLink = lambda url: True  # a renderer that does not check destinations itself


def hostile_run(payload: str, *, api: str = "chat") -> Run:
    """A finished run with ``payload`` in every field a view shows."""
    run = Run(model=payload, api=api, prompt=payload, base_url="http://127.0.0.1:1/v1")
    run.label = payload
    events = [ReasoningDelta(payload), TextDelta(payload), ToolCallDelta(0, name=payload, arguments=payload)]
    run._receive(Message(run.t0_ns + 1000, 0, "", "{}", None, 10), events)
    run._receive(Message(run.t0_ns + 2000, 1, payload, payload, payload, 10),
                 [Step("tool_called", name=payload, detail=payload), Other(payload, payload, payload)])
    run._finish(error=errors.NBStreamError(payload))
    return run


def _saved_markdown(payload: str) -> str:
    run = hostile_run(payload)
    bundle, _ = static_output(run, prompt=payload, title=payload, raw=True)
    return bundle["text/markdown"]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_answer_html_passes_the_allow_list(payload):
    assert problems(_render.render_html(payload)) == []


@pytest.mark.parametrize("payload", PAYLOADS)
def test_saved_markdown_is_safe_in_a_renderer_that_trusts_html(payload):
    saved = _saved_markdown(payload)
    assert problems(TRUSTING.render(saved), strict=False) == []


@pytest.mark.parametrize("payload", PAYLOADS)
def test_saved_markdown_of_the_answer_shows_no_raw_html(payload):
    rendered = TRUSTING.render(_render.render_markdown(payload))
    assert problems(rendered) == [], rendered


@pytest.mark.parametrize("payload", PAYLOADS)
def test_feed_cells_escape_everything(payload):
    run = hostile_run(payload, api="sse")
    body = FeedBody()
    for ev in run.events:
        body.take(ev)
    _, table = body.flush()
    assert problems(table, strict=False) == [] and "<script" not in table and "<img" not in table
    saved = TRUSTING.render(feed_markdown(run))
    assert problems(saved, strict=False) == []
    assert saved.count("<tr>") == 2  # header + one event row: a "|" in the id did not add cells


def test_pipe_in_a_feed_id_stays_in_its_cell():
    run = hostile_run("a|b|c", api="sse")
    rendered = TRUSTING.render(feed_markdown(run))
    assert re.search(r"<td>a\|b\|c</td>", rendered), rendered


@pytest.mark.parametrize("payload", PAYLOADS)
def test_terminal_view_prints_no_control_bytes(payload):
    out = io.StringIO()
    run = Run(model=payload, api="chat")
    _console.attach(run, out)
    for piece in (payload[: len(payload) // 2], payload[len(payload) // 2:]):  # split mid-sequence
        run._receive(Message(run.t0_ns + 1, 0, "", "{}", None, 1), [ReasoningDelta(piece)])
    run._receive(Message(run.t0_ns + 2, 1, "", "{}", None, 1), [TextDelta(payload)])
    run._finish(error=errors.NBStreamError(payload))
    assert terminal_problems(out.getvalue()) == []


def test_terminal_keeps_text_newlines_and_tabs():
    assert _render.terminal("a\tb\nc\x1b[31md\x1b]0;t\x07e\r\nf") == "a\tb\ncde\nf"


def test_tool_arguments_cannot_leave_their_fence():
    args = '{"a": "```\\n<img src=x onerror=' + X + '>\\n````"}'
    fence = _render.md_fence(args, "json")
    tokens = TRUSTING.parse(fence)
    assert [t.type for t in tokens] == ["fence"] and tokens[0].content == args + "\n"


def test_inline_code_cannot_be_closed_early():
    code = "a `` b ``` c"
    tokens = TRUSTING.parseInline(_render.md_code(code))[0].children
    assert [t.type for t in tokens] == ["code_inline"] and tokens[0].content == code


@pytest.mark.parametrize("text", ["# not a heading", "1. not a list", "- no", "> no", "a *b* `c` [d](e) <f> & g",
                                  "===", "| a | b |", "$x$", "\\`x\\`", "line\u2028two"])
def test_md_text_shows_exactly_the_text(text):
    rendered = TRUSTING.render(_render.md_text(text))
    shown = re.sub(r"</?p>|\n", "", rendered)
    assert shown == _render.html_text(_render.clean(text).replace("\n", " ")).replace("&#x27;", "'") \
        .replace("&quot;", '"') or shown == _render.html_text(text)


def test_saved_markdown_keeps_the_answer_readable():
    md = _render.render_markdown("# Title\n\nSome *emphasis*, `code` and [a link](https://example.com).\n\n"
                                 "- one\n- two\n\n```python\nx = 1\n```\n")
    assert md == ("# Title\n\nSome *emphasis*, `code` and [a link](<https://example.com>).\n\n"
                  "- one\n- two\n\n```python\nx = 1\n```")


def test_saved_markdown_renders_like_the_live_html_apart_from_math_and_highlighting():
    source = "## H\n\n1. a\n2. b\n   - c\n\n> q *e* **s** ~~d~~\n\n| x | y |\n|:-|-:|\n| 1 | 2 |\n\n---\n\nend\\\nline"
    again = _render.render_html(_render.render_markdown(source))
    assert again == _render.render_html(source)


def test_nbconvert_html_of_the_saved_notebook_runs_nothing(tmp_path):
    """All payloads in one notebook, exported with nbconvert's HTML exporter (which renders
    text/markdown outputs itself, trusting them): no script, handler or bad URL in the outputs."""
    from nbconvert import HTMLExporter

    nb = nbformat.v4.new_notebook()
    for payload in PAYLOADS:
        bundle, metadata = static_output(hostile_run(payload), prompt=payload, title=payload, raw=True)
        cell = nbformat.v4.new_code_cell("%%stream")
        cell.outputs = [nbformat.v4.new_output("display_data", data={"text/markdown": bundle["text/markdown"]},
                                               metadata=metadata)]
        nb.cells.append(cell)
    body, _ = HTMLExporter().from_notebook_node(nb)
    outputs = re.findall(r'data-mime-type="text/markdown"[^>]*>(.*?)</div>\n</div>\n</div>', body, re.DOTALL)
    assert len(outputs) == len(PAYLOADS)
    for html in outputs:
        assert problems(html, strict=False) == [], html


MATH_AND_CODE = ("Euler: $e^{i\\pi} + 1 = 0$ and \\(a^2\\).\n\n$$\\sum_{k=1}^{n} k = \\frac{n(n+1)}{2}$$\n\n"
                 "```python\ndef f(x: int) -> str:\n    return f\"<{x}>\"  # comment\n```\n\nDone.\n")


def test_math_and_highlighted_code_are_the_same_html_live_and_saved():
    """The pieces the live view showed, joined, are the HTML of the whole answer: MathML and
    Pygments spans included (the live tail shows code unhighlighted only while it is open)."""
    renderer = Renderer()
    for ch in MATH_AND_CODE:
        renderer.feed(ch)
    renderer.finish()
    saved = _render.render_html(MATH_AND_CODE)
    assert renderer.html == saved
    assert saved.count("<math") == 3 and '<span style="color:#008000;font-weight:bold">def</span>' in saved


def test_renderer_changes_touch_only_the_last_piece():
    renderer, shown = Renderer(), []
    for ch in "# T\n\n- a\n- b\n\nText *x*\n\n```py\ny = 1\n```\n":
        for index, html in renderer.feed(ch):
            assert index >= len(shown) - 1  # earlier pieces are final
            shown[index:index + 1] = [html]
    for index, html in renderer.finish():
        shown[index:index + 1] = [html]
    assert "".join(shown) == renderer.html


@pytest.mark.parametrize("latex, saved", [
    ("E = mc^2", "$E = mc^2$"),
    ("T \\approx \\frac{n}{r}", "$T \\approx \\frac{n}{r}$"),
    ("x < y", "$x \\lt  y$"),
    ("\\href{javascript:x}{y}", "`$\\href{javascript:x}{y}$`"),  # MathJax would make a link
    ("\\class{a}{b} \\style{color:red}{b}", "`$\\class{a}{b} \\style{color:red}{b}$`"),
    ("[x](javascript:y)", "`$[x](javascript:y)$`"),  # a renderer without math would link it
    ("a & b <img>", "`$a & b <img>$`"),
])
def test_saved_math_is_typeset_only_when_harmless_everywhere(latex, saved):
    assert _render.md_math(latex) == saved


@pytest.mark.parametrize("payload", PAYLOADS)
def test_saved_plain_text_has_no_control_bytes(payload):
    """text/plain is shown with ANSI colours by JupyterLab and printed by ``nbstream demo --headless``."""
    bundle, _ = static_output(hostile_run(payload), prompt=payload, title=payload, raw=True)
    assert terminal_problems(bundle["text/plain"]) == []
