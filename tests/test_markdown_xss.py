"""Model output is untrusted: whatever it contains, the HTML we produce has only harmless tags,
no ``on*`` attribute and no dangerous URL — rendered whole, or streamed and flushed at any
split point (healing the tail must not bring anything back). The HTML is checked with the
stdlib ``html.parser``, tag by tag and attribute by attribute, not by substring."""

from __future__ import annotations

import pytest
from hostile_corpus import PAYLOADS, problems
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nbstream.views.markdown import StreamingMarkdown, render


@pytest.mark.parametrize("payload", PAYLOADS)
def test_rendered_payload_has_no_executable_html(payload):
    assert problems(render(payload)) == []


@pytest.mark.parametrize("payload", PAYLOADS)
def test_streamed_payload_is_safe_at_every_split_point(payload):
    text = f"Intro **bold** text.\n\n{payload}\n\n- item {payload}\n"
    for cut in range(len(text) + 1):
        md = StreamingMarkdown()
        md.feed(text[:cut])
        first, tail1 = md.flush()
        md.feed(text[cut:])
        second, tail2 = md.flush()
        html = "".join(first + second + md.finish()) + tail1 + tail2
        assert problems(html) == [], (cut, html)


@pytest.mark.parametrize("payload", PAYLOADS)
def test_every_tail_of_a_character_stream_is_safe(payload):
    md = StreamingMarkdown()
    for ch in payload:
        md.feed(ch)
        blocks, tail = md.flush()
        assert problems("".join(blocks) + tail) == [], tail
    assert problems("".join(md.finish())) == []


def test_audit_catches_what_it_must():
    """The checker itself: each of these must be reported."""
    bad = [
        "<script>x</script>", '<img src="x" onerror="y">', '<a href="JAVA&#09;SCRIPT:x">a</a>',
        '<a href=" data:text/html,x">a</a>', "<!-- c -->", '<p style="color:red">x</p>',
        '<a href="jav%09ascript:x">a</a>', '<math><maction xlink:href="javascript:x">a</maction></math>',
        '<span style="background:url(javascript:x)">a</span>', '<math><mtext><style>x</style></mtext></math>',
    ]
    assert all(problems(html) for html in bad)


_FRAGMENTS = [
    "<", ">", "script", "img", "svg", "iframe", " src=x", " onerror=", "alert(1)", "javascript:",
    "JaVaScRiPt:", "data:", "vbscript:", "&#x09;", "&#106;", "&colon;", "[", "]", "(", ")", "![",
    "](", "`", "```", "\n", "\n\n", "| ", "|---|", "- ", "> ", "*", "**", "_", "~~", "$", '"', "'",
    "\\", "http://ok.example", " ", "x",
]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.sampled_from(_FRAGMENTS), max_size=30).map("".join),
    st.lists(st.integers(0, 400), max_size=12),
)
def test_random_hostile_text_is_safe_whole_and_streamed(text, cuts):
    assert problems(render(text)) == []
    points = sorted({c % (len(text) + 1) for c in cuts})
    md = StreamingMarkdown()
    for a, b in zip([0, *points], [*points, len(text)], strict=True):
        md.feed(text[a:b])
        blocks, tail = md.flush()
        assert problems("".join(blocks) + tail) == []
    assert problems("".join(md.finish())) == []
