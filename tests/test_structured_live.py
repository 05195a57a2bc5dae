"""Structured output in a real kernel's live view: the partial JSON fills in through the
throttled widget deltas, and model output carrying script stays inert live and saved."""

from __future__ import annotations

import json
from html.parser import HTMLParser

import pytest
from _kernel import SETUP, Session, custom_widget_messages, of_type
from markdown_it import MarkdownIt


@pytest.fixture(scope="module")
def kernel():
    with Session() as session:
        result = session.run(SETUP)
        assert result["reply"]["status"] == "ok", result
        yield session


class _Dangerous(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "iframe", "svg", "object", "embed", "style", "img"):
            self.found.append(tag)
        self.found.extend(f"{tag} {name}" for name, _ in attrs if name.startswith("on"))


def _stream(kernel: Session, text: str, tps: int = 300) -> list[dict]:
    knobs = {"ttft": 0.0, "tps": tps, "jitter": 0, "text": text}
    code = ("schema = {'type': 'object', 'properties': {'name': {'type': 'string'}, 'bio': {'type': 'string'}}}\n"
            f"run = nbstream.stream('Hi', response_format=schema, display=True, demo={knobs!r})")
    result = kernel.run(code, timeout=120)
    assert result["reply"]["status"] == "ok", result
    return result["messages"]


def test_the_live_view_shows_the_json_fields_filling_in(kernel):
    text = json.dumps({"name": "Ada Lovelace", "bio": " ".join(["analytical engine notes"] * 40)})
    deltas = custom_widget_messages(_stream(kernel, text, tps=100))  # ~2.4 s: many 50 ms flushes
    tails = [d["tail"] for d in deltas if d.get("tail")]
    assert '"bio"' in tails[-1] and "Ada Lovelace" in tails[-1]
    # a frame while the bio was still arriving: its string shown as far as it got
    assert any('"bio"' in tail and len(tail) < len(tails[-1]) for tail in tails)
    assert kernel.stdout("print(run.json['name'])").strip() == "Ada Lovelace"


def test_script_in_the_json_stays_inert_live_and_saved(kernel):
    text = json.dumps({"name": "<script>alert(1)</script>", "bio": "<img src=x onerror=alert(2)></code></pre>"})
    messages = _stream(kernel, text, tps=2000)
    html_sent = [d.get("tail", "") for d in custom_widget_messages(messages)]
    html_sent += [b for d in custom_widget_messages(messages) for b in d.get("blocks", [])]
    statics = [m["content"]["data"] for m in of_type(messages, "display_data")
               if "text/markdown" in m["content"]["data"]]
    assert statics
    html_sent += [data["text/html"] for data in statics]
    scan = _Dangerous()
    for fragment in html_sent:
        scan.feed(fragment)
    assert any("alert(1)" in h for h in html_sent) and scan.found == []
    for data in statics:  # the saved Markdown, rendered by a renderer that trusts HTML
        rendered = MarkdownIt("commonmark", {"html": True}).render(data["text/markdown"])
        assert "<script" not in rendered and "<img" not in rendered
