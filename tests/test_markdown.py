"""Streaming Markdown: finished blocks are final and sent once, the open tail is healed,
a ```markdown wrapper is unwrapped, and the streamed result equals rendering the whole text."""

from __future__ import annotations

import random
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nbstream.views.markdown import StreamingMarkdown, render, unwrap
from nbstream.views.render import render_html


def stream(text: str, *, step: int = 1, flush_every: int = 1) -> tuple[list[str], StreamingMarkdown]:
    """Feed ``text`` in ``step``-character deltas; return every block HTML sent and the streamer."""
    md = StreamingMarkdown()
    sent: list[str] = []
    for n, i in enumerate(range(0, len(text), step), 1):
        md.feed(text[i : i + step])
        if n % flush_every == 0:
            sent += md.flush()[0]
    sent += md.finish()
    return sent, md


def final_after(text: str) -> tuple[str, ...]:
    """The final block sources after feeding ``text`` and flushing once."""
    md = StreamingMarkdown()
    md.feed(text)
    md.flush()
    return md.blocks


def tail_of(text: str) -> str:
    md = StreamingMarkdown()
    md.feed(text)
    return md.flush()[1]


# --- render --------------------------------------------------------------------------------


def test_render_supports_tables_and_strikethrough():
    html = render("| a | b |\n|---|--:|\n| 1 | ~~2~~ |\n")
    assert "<table>" in html and '<td style="text-align:right"><s>2</s></td>' in html


def test_render_shows_raw_html_as_text():
    assert render("a <b>bold</b>") == "<p>a &lt;b&gt;bold&lt;/b&gt;</p>\n"


@pytest.mark.parametrize(
    "source, mathml",
    [
        ("$a*b*c$", '<math display="inline"><mrow><mi>a</mi><mo>*</mo><mi>b</mi><mo>*</mo><mi>c</mi></mrow></math>'),
        ("$x < y$", '<math display="inline"><mrow><mi>x</mi><mo>&lt;</mo><mi>y</mi></mrow></math>'),
        ("$$x_1$$", '<math display="block"><mrow><msub><mi>x</mi><mn>1</mn></msub></mrow></math>'),
        ("\\(x_1\\)", '<math display="inline"><mrow><msub><mi>x</mi><mn>1</mn></msub></mrow></math>'),
        ("\\[x_1\\]", '<math display="block"><mrow><msub><mi>x</mi><mn>1</mn></msub></mrow></math>'),
    ],
)
def test_render_typesets_math_as_mathml(source, mathml):
    assert render(source) == f"<p>{mathml}</p>\n"


def test_dollar_amounts_are_not_math():
    assert render("costs $5 and *only* $10") == "<p>costs $5 and <em>only</em> $10</p>\n"


def test_math_that_does_not_convert_is_shown_as_its_source():
    assert render("$x^$") == "<p><code>$x^$</code></p>\n"


def test_links_open_in_a_new_tab_without_opener_or_referrer():
    assert render("[x](https://example.com)") == (
        '<p><a href="https://example.com" target="_blank" rel="noopener noreferrer">x</a></p>\n'
    )


def test_relative_and_mailto_links_are_kept():
    html = render("[a](/docs/x.html) [b](mailto:me@example.com) <https://example.com>")
    assert html.count("<a ") == 3


def test_link_with_unsafe_url_is_plain_text():
    assert "<a" not in render("[x][r]\n\n[r]: javascript:alert(1)\n")


def test_fence_language_is_reduced_to_a_plain_class():
    assert render('```py" onclick=x\ncode\n```') == '<pre><code class="language-py">code\n</code></pre>\n'


def test_render_rejects_bytes():
    with pytest.raises(TypeError, match="needs the Markdown as str"):
        render(b"# x")  # type: ignore[arg-type]


# --- block finality ------------------------------------------------------------------------

TABLE = "| a | b |\n|---|---|\n| 1 | 2 |\n"

FINALITY = [
    # (streamed so far, final block sources)
    ("Para\n", ()),
    ("Para\n\n", ("Para\n\n",)),
    ("Para\n\nNext", ("Para\n\n",)),
    ("Para\n===\n", ("Para\n===\n",)),  # setext heading: final once the underline is complete
    ("Para\n==", ()),
    ("Para\nlazy\n", ()),
    ("# Title", ()),
    ("# Title\n", ("# Title\n",)),
    ("# Title\nText\n", ("# Title\n",)),
    ("---\n", ("---\n",)),
    ("```py\nx = 1\n```", ()),  # closing fence line not complete yet
    ("```py\nx = 1\n```\n", ("```py\nx = 1\n```\n",)),
    ("```py\nx = 1\n\n\n", ()),  # blank lines inside an open fence
    ("````\n```\n", ()),  # a shorter fence does not close a longer one
    ("- a\n", ()),
    ("- a\n- b\n", ("- a\n",)),  # an item is final once the next one starts; the list goes on
    ("- a\n- b\n\n", ("- a\n",)),  # a blank line does not end a list
    ("- a\n- b\n\n  more\n", ("- a\n",)),
    ("- a\n- b\n\n- c\n", ("- a\n- b\n\n",)),
    ("1. a\n2. b\n   - c\n", ("1. a\n",)),
    ("- a\n  - b\n  - c\n", ()),  # nested items: the top-level item is still open
    ("- a\n\nText\n", ("- a\n\n",)),
    ("- a\n\nTe", ("- a\n\n",)),  # a letter at column 0 after a blank line cannot continue a list
    ("- a\n\n1", ()),  # but a digit may be "1. item"
    ("- a\nlazy\n", ()),
    ("1. a\n\n# H\n", ("1. a\n\n", "# H\n")),
    (TABLE, ()),
    (TABLE + "\n", (TABLE + "\n",)),
    (TABLE + "# H\n", (TABLE, "# H\n")),
    ("> q\n", ()),
    ("> q\nlazy\n", ()),
    ("> q\n\n", ("> q\n\n",)),
    ("> q\n\n> r\n", ("> q\n\n",)),
    ("    code\n\n", ()),  # indented code may go on after a blank line
    ("    code\n\nText\n", ("    code\n\n",)),
    ("A\n\nB\n\n# C\n", ("A\n\n", "B\n\n", "# C\n")),
]


@pytest.mark.parametrize("text, final", FINALITY, ids=[repr(t) for t, _ in FINALITY])
def test_block_is_final_only_when_nothing_can_change_it(text, final):
    assert final_after(text) == final


def test_each_final_block_is_sent_exactly_once():
    md = StreamingMarkdown()
    md.feed("# A\n\nText.\n\n")
    first, _ = md.flush()
    again, _ = md.flush()
    assert first == ["<h1>A</h1>\n", "<p>Text.</p>\n"] and again == []


def test_finish_turns_the_tail_into_final_blocks():
    md = StreamingMarkdown()
    md.feed("Intro\n\n- a\n- b")
    sent = md.flush()[0] + md.finish()
    assert sent == ["<p>Intro</p>\n", "<ul>\n<li>a</li>\n<li>b</li>\n</ul>\n"]
    assert md.blocks == ("Intro\n\n", "- a\n- b")


def test_finish_does_not_heal():
    assert stream("Say **hi")[0] == ["<p>Say **hi</p>\n"]


def test_loose_list_stays_loose():
    sent, _ = stream("- a\n- b\n\n- c\n\nEnd\n", step=100)
    assert sent[0] == "<ul>\n<li>\n<p>a</p>\n</li>\n<li>\n<p>b</p>\n</li>\n<li>\n<p>c</p>\n</li>\n</ul>\n"


def test_list_items_sent_early_join_into_one_list():
    sent, _ = stream("1. a\n2. b\n3. c\n\nEnd\n", step=5)
    assert sent == ['<ol style="margin-bottom:0">\n<li>a</li>\n</ol>\n',
                    '<ol start="2" style="margin-top:0;margin-bottom:0">\n<li>b</li>\n</ol>\n',
                    '<ol start="3" style="margin-top:0">\n<li>c</li>\n</ol>\n', "<p>End</p>\n"]


def test_the_open_last_item_continues_the_sent_list():
    md = StreamingMarkdown()
    md.feed("- a\n- b\n- c")
    assert md.flush() == (['<ul style="margin-bottom:0">\n<li>a</li>\n</ul>\n'],  # "- c" is a partial line
                          '<ul style="margin-top:0">\n<li>b</li>\n<li>c</li>\n</ul>\n')


def test_reference_definitions_apply_to_later_blocks():
    sent, _ = stream("[r]: https://example.com\n\nSee [r].\n")
    assert '<a href="https://example.com"' in "".join(sent)


def test_reference_definition_after_its_use_does_not_change_a_sent_block():
    sent, md = stream("See [r].\n\n[r]: https://example.com\n")
    assert sent == ["<p>See [r].</p>\n"]  # render(md.text) would link it; that block was already sent


def test_http_images_load_lazily_without_referrer():
    assert render("![cat](https://example.com/cat.png)") == (
        '<p><img src="https://example.com/cat.png" alt="cat" loading="lazy" referrerpolicy="no-referrer">'
        "</p>\n"
    )


def test_a_long_answer_keeps_the_tail_to_one_block():
    """Typical answer shapes: at every flush the tail renders as at most one top-level element."""
    from html.parser import HTMLParser

    class TopLevel(HTMLParser):
        def __init__(self):
            super().__init__()
            self.depth, self.count = 0, 0

        def handle_starttag(self, tag, attrs):
            if tag not in ("br", "hr", "img"):
                self.count += self.depth == 0
                self.depth += 1

        def handle_endtag(self, tag):
            self.depth -= 1

    md = StreamingMarkdown()
    worst = 0
    for i, ch in enumerate(_ANSWER):
        md.feed(ch)
        if i % 7 == 0:
            parser = TopLevel()
            parser.feed(md.flush()[1])
            worst = max(worst, parser.count)
    assert worst == 1


def test_flush_cost_does_not_grow_with_the_answer():
    def max_parsed_per_flush(text: str) -> int:
        md = StreamingMarkdown()
        worst = 0
        for ch in text:  # one character per flush: every split point of every block is seen
            md.feed(ch)
            before = md.parsed_chars
            md.flush()
            worst = max(worst, md.parsed_chars - before)
        return worst

    assert max_parsed_per_flush(_ANSWER * 8) == max_parsed_per_flush(_ANSWER)


# --- healing the tail ----------------------------------------------------------------------

HEALING = [
    # (tail so far, what is shown)
    ("**bold", "<p><strong>bold</strong></p>\n"),
    ("*em", "<p><em>em</em></p>\n"),
    ("_em", "<p><em>em</em></p>\n"),
    ("`code", "<p><code>code</code></p>\n"),
    ("``code`", "<p><code>code</code></p>\n"),
    ("~~strike", "<p><s>strike</s></p>\n"),
    ("**bold *it", "<p><strong>bold <em>it</em></strong></p>\n"),
    ("**bold `code", "<p><strong>bold <code>code</code></strong></p>\n"),
    ("**bold\n", "<p><strong>bold</strong></p>\n"),
    ("text **", "<p>text</p>\n"),
    ("text `", "<p>text</p>\n"),
    ("word~", "<p>word</p>\n"),
    ("foo\\", "<p>foo</p>\n"),
    ("`a ** b", "<p><code>a ** b</code></p>\n"),
    ("snake_case_na", "<p>snake_case_na</p>\n"),
    ("2 * 3 = 6", "<p>2 * 3 = 6</p>\n"),
    ("https://x.com/_foo", "<p>https://x.com/_foo</p>\n"),
    ("$a*b", "<p>$a*b</p>\n"),
    ("[text](http://exa", "<p>text</p>\n"),
    ("[text", "<p>text</p>\n"),
    ("[**bold** text](http", "<p><strong>bold</strong> text</p>\n"),
    ("see [docs](https://x.com/a_(b", "<p>see docs</p>\n"),
    ("[x](javascript:alert(1", "<p>x</p>\n"),
    ("look ![alt](http://img", "<p>look</p>\n"),
    ("![alt", ""),
    ("<https://exa", "<p>https://exa</p>\n"),
    ("a <scr", "<p>a &lt;scr</p>\n"),
    ("```python\nx = 1", '<pre><code class="language-python">x = 1</code></pre>\n'),
    ("```python\nx = 1\n``", '<pre><code class="language-python">x = 1\n</code></pre>\n'),
    ("```pyth", ""),
    ("```python\n", ""),
    ("| a | b |", ""),
    ("| a | b |\n|--", ""),
    ("Intro\n| a | b |\n", "<p>Intro</p>\n"),
    ("| a |\n|---|\n| **b", "<table>\n<thead>\n<tr>\n<th>a</th>\n</tr>\n</thead>\n<tbody>\n"
                            "<tr>\n<td><strong>b</strong></td>\n</tr>\n</tbody>\n</table>\n"),
    ("Para\n-", "<p>Para</p>\n"),  # not a flash of <h2>
    ("Para\n--", "<p>Para</p>\n"),
    ("- ", ""),
    ("12.", ""),
    ("#", ""),
    ("# Title **bo", "<h1>Title <strong>bo</strong></h1>\n"),
    ("> **quo", "<blockquote>\n<p><strong>quo</strong></p>\n</blockquote>\n"),
    ("- item **b", "<ul>\n<li>item <strong>b</strong></li>\n</ul>\n"),
    ("1. **Step", "<ol>\n<li><strong>Step</strong></li>\n</ol>\n"),
    ("**x** and **y", "<p><strong>x</strong> and <strong>y</strong></p>\n"),
]


@pytest.mark.parametrize("tail, shown", HEALING, ids=[repr(t) for t, _ in HEALING])
def test_open_tail_is_healed(tail, shown):
    assert tail_of(tail) == shown


def test_literal_backticks_on_an_earlier_line_do_not_open_code():
    assert tail_of("I type ``` here\nand **b") == "<p>I type ``` here\nand <strong>b</strong></p>\n"


def test_emphasis_opened_on_an_earlier_line_is_not_closed():
    assert tail_of("**a\nb") == "<p>**a\nb</p>\n"


@pytest.mark.parametrize(
    "done",
    ["**bold** done", "a *b* c", "use `x` and [y](https://y.org) now", "| a |\n|---|\n| 1 |\n",
     "```py\nx = 1\n```", "> quoted *text*", "1. one\n2. two"],
)
def test_healing_leaves_finished_text_alone(done):
    assert tail_of(done) == render_html(done, plain_code=True)  # code is highlighted once final


# --- the ```markdown wrapper ---------------------------------------------------------------

WRAPPED = "```markdown\n# Title\n\nText with `code`.\n\n```python\nx = 1\n```\n\nMore *text*.\n```\n"
INNER = "# Title\n\nText with `code`.\n\n```python\nx = 1\n```\n\nMore *text*.\n"


def test_wrapped_answer_renders_the_inside_as_markdown_with_inner_code_blocks():
    sent, md = stream(WRAPPED)
    assert "".join(sent) == render(INNER)
    assert '<pre><code class="language-python">x <span style="color:#666">=</span>' in "".join(sent)
    assert md.text == INNER and md.wrapped


@pytest.mark.parametrize("opener", ["```md", "~~~markdown", "````Markdown", "  ```markdown  "])
def test_wrapper_variants_are_recognised(opener):
    fence = opener.strip()[:3] if opener.strip()[3] != "`" else "````"
    assert unwrap(f"{opener}\n# T\n{fence}\n") == "# T\n"


def test_wrapper_is_detected_from_the_first_non_blank_line():
    assert unwrap("\n\n```markdown\nHi\n```\n") == "Hi\n"


def test_markdown_fence_later_in_the_answer_is_a_code_block():
    text = "Example:\n\n```markdown\n# x\n```\n"
    assert unwrap(text) == text
    assert '<pre><code class="language-markdown"><span style="color:#000080;font-weight:bold"># x</span>' \
        in "".join(stream(text)[0])


def test_python_fence_first_is_not_a_wrapper():
    _, md = stream("```python\nx = 1\n```\n")
    assert not md.wrapped and md.text == "```python\nx = 1\n```\n"


def test_text_after_the_wrapper_is_kept_as_markdown():
    sent, md = stream("```markdown\n# T\n```\n\nHope this helps!\n")
    assert "".join(sent) == "<h1>T</h1>\n<p>Hope this helps!</p>\n"
    assert md.text == "# T\n\nHope this helps!\n"


def test_inner_bare_code_block_survives_unwrapping():
    _, md = stream("```markdown\nRun:\n\n```\nmake\n```\n\nDone.\n```\n")
    assert md.text == "Run:\n\n```\nmake\n```\n\nDone.\n"


def test_partial_wrapper_opener_shows_nothing():
    md = StreamingMarkdown()
    md.feed("```mark")
    assert md.flush() == ([], "")


def test_wrapper_closing_fence_is_not_shown_while_streaming():
    md = StreamingMarkdown()
    md.feed("```markdown\nText\n\n```\n")
    blocks, tail = md.flush()
    assert blocks == ["<p>Text</p>\n"] and tail == ""


# --- input handling ------------------------------------------------------------------------


def test_crlf_split_across_deltas_is_one_line_break():
    md = StreamingMarkdown()
    for delta in ["# A\r", "\nText\r", "\n\r\n"]:
        md.feed(delta)
    assert md.flush()[0] == ["<h1>A</h1>\n", "<p>Text</p>\n"] and md.text == "# A\nText\n\n"


def test_feed_rejects_bytes():
    with pytest.raises(TypeError, match="decode bytes first"):
        StreamingMarkdown().feed(b"x")  # type: ignore[arg-type]


def test_feed_after_finish_is_an_error():
    md = StreamingMarkdown()
    md.finish()
    with pytest.raises(RuntimeError, match="new StreamingMarkdown"):
        md.feed("x")


def test_finish_twice_sends_nothing_new():
    md = StreamingMarkdown()
    md.feed("Hi")
    assert md.finish() == ["<p>Hi</p>\n"] and md.finish() == []


def test_text_includes_unflushed_deltas():
    md = StreamingMarkdown()
    md.feed("Hel")
    md.feed("lo")
    assert md.text == "Hello"


# --- equivalence with rendering the whole text -----------------------------------------------

_rnd = random.Random(7)


def _sentence(rnd: random.Random) -> str:
    words = rnd.sample(["alpha", "beta", "**gamma**", "`delta()`", "*eps*", "[zeta](https://z.org)",
                        "eta", "theta_x", "$x_1$", "iota", "<kappa>", "2 * 3", "~~mu~~"], 6)
    return " ".join(words) + "."


def _blocks(rnd: random.Random) -> list[str]:
    s = lambda: _sentence(rnd)  # noqa: E731
    return [
        f"# {s()}\n", f"## {s()}\n", f"{s()}\n{s()}\n", f"{s()}\n===\n", f"{s()}\n---\n",
        f"- {s()}\n- {s()}\n  - {s()}\n    1. {s()}\n", f"1. {s()}\n\n2. {s()}\n\n   {s()}\n",
        f"* {s()}\n\n  ```sh\n  make\n  ```\n", "```python\ndef f():\n\n    return '**'\n```\n",
        f"~~~\n{s()}\n~~~\n", f"| h | {s()} |\n|:--|--:|\n| `a|b` | {s()} |\n| x |\n",
        f"> {s()}\n> - {s()}\n>\n> {s()}\n", f"> {s()}\nlazy {s()}\n", "    indented code\n",
        "---\n", f"Steps:\n1. {s()}\n2. {s()}\n", f"{s()}\n| a | b |\n|---|---|\n| 1 | 2 |\n",
    ]


_document = st.builds(
    lambda picks, seps, end: "".join(p + sep for p, sep in zip(picks, seps, strict=False)).rstrip("\n") + end,
    st.lists(st.sampled_from(_blocks(_rnd)), min_size=1, max_size=8),
    st.lists(st.sampled_from(["\n", "", "\n\n"]), min_size=8, max_size=8),
    st.sampled_from(["", "\n"]),
)


def _stream_randomly(text: str, cuts: list[int], flushes: list[bool]) -> tuple[list[str], StreamingMarkdown]:
    points = sorted({c % (len(text) + 1) for c in cuts})
    md = StreamingMarkdown()
    sent: list[str] = []
    for k, (a, b) in enumerate(zip([0, *points], [*points, len(text)], strict=True)):
        md.feed(text[a:b])
        if flushes[k % len(flushes)]:
            sent += md.flush()[0]
    return sent + md.finish(), md


def _unstyled(html: str) -> str:
    return re.sub(r' style="margin-(?:top|bottom):0(?:;margin-bottom:0)?"', "", html)


def _unsplit(html: str) -> str:
    """A list sent in pieces (items final once the next item started) as one list."""
    return _unstyled(re.sub(r'</(?:ul|ol)>\n<(?:ul|ol)(?: start="\d+")? style="margin-top:0[^"]*">\n', "", html))


def _as_one(html: str) -> str:
    """Tight and loose items alike (a list sent early cannot know that a later blank line
    makes the whole list loose)."""
    return re.sub(r"</?p>|\n", "", html)


_cuts = st.lists(st.integers(0, 10_000), max_size=60)
_flushes = st.lists(st.booleans(), min_size=1, max_size=20)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_document, _cuts, _flushes)
def test_streamed_blocks_equal_rendering_the_whole_text(doc, cuts, flushes):
    sent, md = _stream_randomly(doc, cuts, flushes)
    assert md.text == doc
    assert "".join(md.blocks) == doc
    assert _unstyled("".join(sent)) == "".join(render(b) for b in md.blocks)
    assert _as_one(_unsplit("".join(sent))) == _as_one(render(doc))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_document, _cuts, _flushes, st.sampled_from(["```markdown", "```md", "~~~markdown"]))
def test_wrapped_document_streams_like_its_inside(doc, cuts, flushes, opener):
    inner = doc if doc.endswith("\n") else doc + "\n"
    sent, md = _stream_randomly(f"{opener}\n{inner}{opener[:3]}\n", cuts, flushes)
    assert md.text == inner
    assert _as_one(_unsplit("".join(sent))) == _as_one(render(inner))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_document, st.sampled_from(["", "```markdown\n", "~~~md\n", "\n```markdown\n"]),
       st.sampled_from(["", "```\n", "~~~"]))
def test_unwrap_gives_the_text_a_finished_stream_leaves(doc, opener, closer):
    text = opener + doc + closer
    _, md = stream(text, step=len(text) or 1)
    assert unwrap(text) == md.text


def test_unwrapping_an_answer_renders_none_of_it(monkeypatch):
    import nbstream.views.markdown as markdown_module

    def refuse(*args, **kwargs):
        raise AssertionError("unwrap() rendered HTML")

    monkeypatch.setattr(markdown_module, "render_html", refuse)
    assert unwrap("```markdown\n# T\n\n| a |\n|---|\n| 1 |\n```\n") == "# T\n\n| a |\n|---|\n| 1 |\n"


_ANSWER = (
    "# Streaming answers\n\nModels send **tokens** one by one; see [the docs](https://example.com).\n\n"
    "## Steps\n\n1. **Connect**: open the stream.\n2. **Read**: decode `data:` lines.\n"
    "   - keep the *tail* small\n3. **Render**: blocks once.\n\n"
    "```python\nfor event in stream:\n    print(event)\n```\n\n"
    "| Name | ms |\n|---|---:|\n| first | 120 |\n| last | 900 |\n\n"
    "> **Note:** math like $x_1$ stays text.\n\nThat is all.\n\n"
)


# --- linear work, whatever the shape ------------------------------------------------------------
def _fill(size: int, head: str, line) -> str:
    parts, i = [head], 0
    while sum(map(len, parts)) < size:
        parts.append(line(i))
        i += 1
    return "".join(parts)


SHAPES = {
    "numbered list": lambda n: _fill(n, "", lambda i: f"{i + 1}. **item** number {i} of the list\n"),
    "one paragraph": lambda n: _fill(n, "", lambda i: f"word {i} *of* one `long` paragraph. "),
    "lines without a blank": lambda n: _fill(n, "", lambda i: f"line {i} of one paragraph **{i}**\n"),
    "code block": lambda n: _fill(n, "```python\n", lambda i: f"    value_{i} = compute({i})  # n\n"),
    "table by rows": lambda n: _fill(n, "| a | b |\n|---|--:|\n", lambda i: f"| {i} | `c{i}` |\n"),
    "deeply nested": lambda n: _fill(n, "- top\n", lambda i: "  " * (1 + i % 8) + f"- nested item {i}\n"),
}


def _parse_work(text: str, tokens_per_flush: int = 25) -> int:
    md = StreamingMarkdown()
    for k in range(0, len(text), 4 * tokens_per_flush):
        for i in range(k, min(k + 4 * tokens_per_flush, len(text)), 4):
            md.feed(text[i:i + 4])
        md.flush()
    md.finish()
    return md.parsed_chars


@pytest.mark.parametrize("shape", SHAPES)
def test_parsing_work_is_linear_in_the_answer(shape):
    """Characters handed to the parser (a count, not a timing) at 100 characters per flush:
    10x the text costs at most 12x (quadratic would be ~100x), and at most 50 characters of
    parsing per character of answer (GROWTH per character and PER_FLUSH per flush, 3 passes)."""
    small, big = (_parse_work(SHAPES[shape](n)) for n in (6_000, 60_000))
    assert big <= 12 * small and big <= 50 * 60_000, (small, big)
