"""The saved answer's Markdown is safe even for a renderer that trusts raw HTML (Jupyter
trusts outputs made in the session): rendered here with markdown-it-py with HTML ON,
the result has no executable tag, no on* attribute and no dangerous URL — while code
stays code."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from markdown_it import MarkdownIt

from nbstream._markdown_safe import safe_markdown

TRUSTING = MarkdownIt("commonmark", {"html": True}).enable("table")
# what a trusting renderer would do with the destination, minus its own URL validation
TRUSTING.validateLink = lambda url: True

DANGEROUS_TAGS = {"script", "iframe", "object", "embed", "style", "svg", "math", "form", "base", "meta", "link"}


class _Scan(HTMLParser):
    def __init__(self):
        super().__init__()
        self.problems = []

    def handle_starttag(self, tag, attrs):
        if tag in DANGEROUS_TAGS:
            self.problems.append(f"<{tag}>")
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"{tag}[{name}]")
            if name in ("href", "src", "action", "formaction") and value:
                v = "".join(ch for ch in value if ch > " ").lower()
                if v.startswith(("javascript:", "vbscript:", "data:")):
                    self.problems.append(f"{tag}[{name}={value}]")


def problems(markdown: str) -> list[str]:
    scan = _Scan()
    scan.feed(TRUSTING.render(markdown))
    return scan.problems


PAYLOADS = [
    "<script>window.__xss=1</script>",
    'Hi <img src=x onerror="window.__xss=1"> there',
    "<svg onload=alert(1)>",
    "<iframe src='https://example.com'></iframe>",
    "<style>body{display:none}</style>",
    "<!-- comment --><script>alert(1)</script>",
    "[click](javascript:window.__xss=1)",
    "[click](JaVaScRiPt:alert(1))",
    "[click](  javascript:alert(1) )",
    "[click](<javascript:alert(1)>)",
    "[click][ref]\n\n[ref]: javascript:alert(1)",
    "![img](data:image/svg+xml;base64,PHN2Zz4=)",
    "[x](vbscript:msgbox)",
    "<javascript:alert(1)>",
    "| a | b |\n|---|---|\n| <img src=x onerror=alert(1)> | [x](javascript:1) |",
    "- item <script>alert(1)</script>\n- [y](javascript:2)",
    "> quote <img src=x onerror=alert(1)>",
    "<div\nonclick=alert(1)>block</div>",
]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_payload_is_inert_when_rendered_by_a_trusting_renderer(payload):
    assert problems(payload), f"the test renderer should see a problem in {payload!r} raw"
    assert problems(safe_markdown(payload)) == []


@pytest.mark.parametrize("payload", ["[click](jav&#x09;ascript:alert(1))", "[c](&#106;avascript:alert(1))",
                                     "[c](java\u0000script:1)"])
def test_links_hidden_behind_entities_or_control_characters_are_neutralised(payload):
    safe = safe_markdown(payload)
    assert safe.endswith("](#)") and "script" not in safe


def test_html_in_text_is_shown_as_text():
    assert TRUSTING.render(safe_markdown("a <script>b")) == "<p>a &lt;script&gt;b</p>\n"


@pytest.mark.parametrize("markdown", [
    "Use `<b>` for bold and `[x](javascript:y)` literally.",
    "```html\n<script>alert(1)</script>\n```",
    "~~~\n<img onerror=x>\n~~~",
    "````md\n```\n<b>\n```\n````",
])
def test_code_is_left_exactly_as_written(markdown):
    assert safe_markdown(markdown) == markdown


def test_safe_links_are_kept():
    text = "[a](https://example.com) [b](/relative) [c](mailto:x@example.com) [d](#anchor)"
    assert safe_markdown(text) == text


def test_a_fence_left_open_by_a_cut_off_answer_is_closed():
    cut = "Here:\n\n```python\nx = 1"
    safe = safe_markdown(cut)
    assert safe == cut + "\n```\n"
    html = TRUSTING.render(safe + "\n\n<sub>status</sub>")
    assert "<sub>status</sub>" in html  # what follows the answer is no longer inside the code block
