"""Model output is untrusted: whatever it contains, the HTML we produce has only harmless tags,
no ``on*`` attribute and no dangerous URL — rendered whole, or streamed and flushed at any
split point (healing the tail must not bring anything back). The HTML is checked with the
stdlib ``html.parser``, tag by tag and attribute by attribute, not by substring."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nbstream._markdown import StreamingMarkdown, render

ALLOWED = {
    "p": set(), "h1": set(), "h2": set(), "h3": set(), "h4": set(), "h5": set(), "h6": set(),
    "ul": set(), "ol": {"start"}, "li": set(), "blockquote": set(), "pre": set(), "code": {"class"},
    "em": set(), "strong": set(), "s": set(), "br": set(), "hr": set(),
    "table": set(), "thead": set(), "tbody": set(), "tr": set(), "th": {"style"}, "td": {"style"},
    "a": {"href", "title", "target", "rel"},
    "img": {"src", "alt", "title", "loading", "referrerpolicy"},
}
SAFE_SCHEMES = {"http", "https", "mailto"}


class _Audit(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag not in ALLOWED:
            self.problems.append(f"tag <{tag}>")
            return
        for name, value in attrs:
            if name.startswith("on") or name not in ALLOWED[tag]:
                self.problems.append(f"attribute {tag}[{name}]")
            elif name in ("href", "src") and not _safe_url(value or ""):
                self.problems.append(f"url {tag}[{name}={value!r}]")
            elif name == "style" and not re.fullmatch(r"text-align:(left|right|center)", value or ""):
                self.problems.append(f"style {value!r}")
            elif name == "class" and not re.fullmatch(r"language-[\w+#.\-]+", value or ""):
                self.problems.append(f"class {value!r}")

    handle_startendtag = handle_starttag

    def handle_comment(self, data):
        self.problems.append("comment")

    def handle_decl(self, decl):
        self.problems.append("declaration")

    def handle_pi(self, data):
        self.problems.append("processing instruction")


def _safe_url(value: str) -> bool:
    """As a browser reads it: whitespace and controls removed, scheme compared case-blind."""
    url = re.sub(r"[\x00-\x20\x7f]", "", value)
    match = re.match(r"([A-Za-z][A-Za-z0-9+.\-]*):", url)
    if match:
        return match.group(1).lower() in SAFE_SCHEMES
    return ":" not in re.split(r"[/?#]", url, maxsplit=1)[0]


def problems(html: str) -> list[str]:
    audit = _Audit()
    audit.feed(html)
    audit.close()
    return audit.problems


PAYLOADS = [
    "<script>alert(1)</script>",
    "Hi <img src=x onerror=alert(1)> there",
    "<svg onload=alert(1)>",
    "<iframe src=javascript:alert(1)></iframe>",
    "<style>body{display:none}</style>",
    "<!-- <script>alert(1)</script> -->",
    "<a href=\"javascript:alert(1)\">x</a>",
    "<div onclick=alert(1)>\n\ntext\n\n</div>",
    "[x](javascript:alert(1))",
    "[x](jav&#x09;ascript:alert(1))",
    "[x](JaVaScRiPt:alert(1))",
    "[x](  javascript:alert(1)  )",
    "[x](&#106;avascript:alert(1))",
    "[x](javascript&colon;alert(1))",
    "[x](<java\tscript:alert(1)>)",
    "[x](vbscript:msgbox(1))",
    "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "[x](file:///etc/passwd)",
    "![x](javascript:alert(1))",
    "![x](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)",
    "![x](data:image/png;base64,iVBORw0KGgo=)",
    '![x" onerror="alert(1)](https://example.com/i.png)',
    "<javascript:alert(1)>",
    "<JAVASCRIPT:alert(1)>",
    "<data:text/html,alert(1)>",
    "[x][r]\n\n[r]: javascript:alert(1)",
    "[x][r]\n\n[r]: <javascript:alert(1)> 'title'",
    "[r]\n\n[r]: JaVaScRiPt:alert(1)",
    "| a | b |\n|---|---|\n| <script>alert(1)</script> | <img src=x onerror=alert(1)> |",
    "| a |\n|---|\n| [x](javascript:alert(1)) |",
    "- <img src=x onerror=alert(1)>\n- [y](vbscript:x)\n  - <svg onload=alert(1)>",
    "> <iframe srcdoc='<script>alert(1)</script>'>",
    "```\n</code></pre><script>alert(1)</script>\n```",
    '```js" onmouseover="alert(1)\ncode\n```',
    "[x](https://ok.example \"t\" onmouseover=alert(1))",
    '[x](https://ok.example "a\\" onmouseover=\\"alert(1)")',
    "`<script>alert(1)</script>`",
    "$<script>alert(1)</script>$ and $$<img src=x onerror=alert(1)>$$",
    "**<script>alert(1)</script>**",
    "[<img src=x onerror=alert(1)>](https://ok.example)",
    "<scr",
    "<img src=x onerr",
    "```markdown\n<script>alert(1)</script>\n[x](javascript:alert(1))\n```",
]


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
        '<a href="jav%09ascript:x">a</a>',
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
    for a, b in zip([0, *points], [*points, len(text)]):
        md.feed(text[a:b])
        blocks, tail = md.flush()
        assert problems("".join(blocks) + tail) == []
    assert problems("".join(md.finish())) == []
