"""The saved answer's bundle, built offline from synthetic runs: text/html mirrors the live
view and carries no markup from any untrusted field, --compare saves one titled grid, and
the metadata has a schema version."""

from __future__ import annotations

from html.parser import HTMLParser

from _timeline import timeline

from nbstream.events import ErrorEvent, Finish, ReasoningDelta, TextDelta, ToolCallDelta
from nbstream.views.compare import compare_output
from nbstream.views.live import SCHEMA, NotebookView, static_output

HOSTILE = '<img src=x onerror="alert(1)"><script>alert(2)</script>[x](javascript:alert(3))'


class Elements(HTMLParser):
    """Every start tag and attribute name in an HTML string."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str | None]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs.extend(attrs)


def elements(html: str) -> Elements:
    parser = Elements()
    parser.feed(html)
    return parser


def hostile_run(**kwargs):
    steps = [
        (0.1, 0, [ReasoningDelta(HOSTILE)]),
        (0.2, 1, [TextDelta("Hello " + HOSTILE)]),
        (0.3, 2, [ToolCallDelta(0, id="c1", name=HOSTILE, arguments='{"a": "' + HOSTILE + '"}')]),
        (0.4, 3, [ErrorEvent(HOSTILE, fatal=True)]),
        (0.5, 3, [Finish("stop")]),
    ]
    return timeline(steps, **kwargs)


def test_no_field_of_a_hostile_run_becomes_markup_in_the_saved_html():
    bundle, _ = static_output(hostile_run(), prompt=HOSTILE, title=HOSTILE, raw=True)
    found = elements(bundle["text/html"])
    assert not {"script", "img", "iframe", "svg", "math"} & set(found.tags)
    assert not [name for name, _ in found.attrs if name.startswith("on")]
    assert not [value for name, value in found.attrs if name == "href" and value and "javascript" in value.lower()]
    assert "alert(1)" in bundle["text/html"]  # shown as text, not dropped


def test_the_saved_bundle_has_html_markdown_plain_and_a_schema_version():
    bundle, metadata = static_output(hostile_run())
    assert set(bundle) == {"text/html", "text/markdown", "text/plain"}
    assert metadata["nbstream"]["schema"] == SCHEMA == 2


def test_the_saved_html_reuses_the_blocks_the_live_view_showed():
    run = hostile_run()
    shown = "<p>exactly these blocks</p>"
    bundle, _ = static_output(run, answer_html=shown)
    assert shown in bundle["text/html"]
    assert 'data-nbs-final="' + run.run_id + '"' in bundle["text/html"]


def test_a_partial_answer_says_it_was_interrupted_and_is_marked_for_its_live_view():
    bundle, _ = static_output(hostile_run(), partial_of="view-1")
    assert 'data-nbs-partial="view-1"' in bundle["text/html"] and "data-nbs-final" not in bundle["text/html"]
    for mime in bundle:
        assert "stream interrupted" in bundle[mime]


def test_compare_saves_one_side_by_side_grid_with_a_titled_pane_per_run():
    runs = [hostile_run(model="m-a"), hostile_run(model="m-b")]
    runs[1].label = HOSTILE
    panes = [NotebookView(run, standalone=False, title=run.label or run.model) for run in runs]
    bundle, metadata = compare_output(panes, "grid-1")
    html = bundle["text/html"]
    assert html.startswith('<div class="nbs-compare" data-nbs-final="grid-1" style="display:flex;flex-flow:row wrap')
    assert html.count(" nbs-pane") == 2 and 'class="nbs-title">m-a<' in html
    assert "script" not in elements(html).tags
    assert [m["model"] for m in metadata["nbstream"]["compare"]] == ["m-a", "m-b"]
    assert metadata["nbstream"]["schema"] == SCHEMA
    assert bundle["text/markdown"].index("### m-a") < bundle["text/markdown"].index("### &lt;img")
