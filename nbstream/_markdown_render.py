"""Safe Markdown -> HTML for untrusted model output, and the block scan the streamer needs.

One markdown-it-py configuration serves everything: CommonMark + GFM tables + strikethrough,
raw HTML off (tags in the text come out as escaped text), no linkify, no typographer.
Links and images survive only with an http(s), mailto or scheme-less (relative) URL; every
other destination (``javascript:``, ``vbscript:``, ``data:``, ``file:`` ... in any case, with
entity or whitespace tricks) turns the link into plain text and drops the image. Links open in
a new tab with ``rel="noopener noreferrer"``. ``$...$`` / ``$$...$$`` math is kept verbatim as
escaped text so Markdown never mangles it (the notebook typesets it, or it stays readable).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml
from markdown_it.token import Token
from mdit_py_plugins.dollarmath import dollarmath_plugin

_SAFE_SCHEMES = frozenset({"http", "https", "mailto"})
_SCHEME_RE = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):")
# Browsers drop ASCII whitespace and C0 controls from URLs before looking at the scheme.
_URL_JUNK_RE = re.compile(r"[\x00-\x20\x7f]+")
_LANG_JUNK_RE = re.compile(r"[^A-Za-z0-9_+#.\-]")


def is_safe_url(url: str) -> bool:
    """True for http(s)/mailto URLs and for relative ones; False for any other scheme.

    A colon before the first ``/``, ``?`` or ``#`` that is not a recognised safe scheme
    (for instance ``jav%09ascript:``) counts as an unknown scheme and is refused.
    """
    cleaned = _URL_JUNK_RE.sub("", url)
    if not cleaned:
        return False
    match = _SCHEME_RE.match(cleaned)
    if match:
        return match.group(1).lower() in _SAFE_SCHEMES
    head = re.split(r"[/?#]", cleaned, maxsplit=1)[0]
    return ":" not in head


def _sanitize_inline(children: list[Token]) -> list[Token]:
    """Unwrap links with an unsafe or empty href, drop unsafe images, harden the rest."""
    out: list[Token] = []
    dropped: list[bool] = []  # one flag per open link, to pair link_close tokens
    for tok in children:
        if tok.type == "link_open":
            href = str(tok.attrGet("href") or "")
            drop = not is_safe_url(href)
            dropped.append(drop)
            if drop:
                continue
            tok.attrSet("target", "_blank")
            tok.attrSet("rel", "noopener noreferrer")
        elif tok.type == "link_close":
            if dropped and dropped.pop():
                continue
        elif tok.type == "image":
            if not is_safe_url(str(tok.attrGet("src") or "")):
                continue
            tok.attrSet("loading", "lazy")
            tok.attrSet("referrerpolicy", "no-referrer")
        out.append(tok)
    return out


def _harden(state: Any) -> None:
    """Core rule: runs after inline parsing, before rendering."""
    for tok in state.tokens:
        if tok.type == "inline" and tok.children:
            tok.children = _sanitize_inline(tok.children)
        elif tok.type == "fence" and tok.info:
            words = tok.info.split(maxsplit=1)
            tok.info = _LANG_JUNK_RE.sub("", words[0]) if words else ""


def _render_math_inline(self: Any, tokens: Sequence[Token], idx: int, options: Any, env: Any) -> str:
    return escapeHtml("$" + tokens[idx].content + "$")


def _render_math_double(self: Any, tokens: Sequence[Token], idx: int, options: Any, env: Any) -> str:
    return escapeHtml("$$" + tokens[idx].content + "$$")


def _base() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.enable(["table", "strikethrough"])
    # Inline math only: the block rule looks ahead for its closing `$$` across later blocks,
    # which would let text that has not arrived yet change blocks already sent as final.
    md.use(dollarmath_plugin, allow_labels=False, allow_space=False, allow_digits=False,
           allow_blank_lines=False, double_inline=True)
    md.disable("math_block")
    md.validateLink = is_safe_url  # type: ignore[method-assign]
    return md


def _make_renderer() -> MarkdownIt:
    md = _base()
    md.core.ruler.after("inline", "nbstream_harden", _harden)
    md.add_render_rule("math_inline", _render_math_inline)
    md.add_render_rule("math_inline_double", _render_math_double)
    return md


def _make_block_parser() -> MarkdownIt:
    md = _base()
    md.disable("inline")  # the core rule: block structure only, inline tokens keep .content
    return md


_MD = _make_renderer()
_MD_BLOCKS = _make_block_parser()


def render_html(text: str, env: dict[str, Any] | None = None) -> str:
    """Render a Markdown document; ``env`` carries reference definitions between calls."""
    return _MD.render(text, {} if env is None else env)


def parse_blocks(text: str) -> list[Token]:
    """Block-level tokens of ``text`` (no inline parsing; maps are line ranges)."""
    return _MD_BLOCKS.parse(text, {})


def top_blocks(tokens: list[Token]) -> list[Token]:
    """The top-level block tokens (the opening token of each container, or the leaf)."""
    return [t for t in tokens if t.level == 0 and t.nesting >= 0 and t.map is not None]


_CLOSING_FENCE_RE = re.compile(r" {0,3}(`{3,}|~{3,})[ \t]*")


def fence_is_closed(tok: Token, lines: list[str]) -> bool:
    """Whether a fence token ends with its closing fence line (an unclosed one runs to the end)."""
    start, end = tok.map  # type: ignore[misc]
    if end - start < 2 or end > len(lines):
        return False
    match = _CLOSING_FENCE_RE.fullmatch(lines[end - 1])
    return bool(match) and match.group(1)[0] == tok.markup[0] and len(match.group(1)) >= len(tok.markup)


def line_offsets(text: str) -> list[int]:
    """Character offset of the start of every line, plus ``len(text)`` as a sentinel."""
    offsets = [0]
    find = text.find
    pos = find("\n")
    while pos != -1:
        offsets.append(pos + 1)
        pos = find("\n", pos + 1)
    if offsets[-1] != len(text):
        offsets.append(len(text))
    return offsets
