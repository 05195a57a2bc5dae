"""Make untrusted Markdown safe to hand to a *trusting* renderer.

The saved answer is ``text/markdown``, and Jupyter renders outputs produced in the
session as trusted: raw HTML in them would run (``<img onerror>``, ``<script>``) and a
``javascript:`` link would be clickable. So model text is rewritten before it goes
there: outside code, ``<`` becomes ``&lt;`` (raw HTML and HTML-ish text show as text;
autolinks show as text too), and link or image destinations — inline ``](…)`` and
reference definitions ``[id]: …`` — whose scheme is not http(s), mailto or relative
become ``#`` (also when hidden behind entities, whitespace, control characters or
mixed case). Code spans and fenced code blocks are left exactly as they are: renderers
show their content literally.
"""

from __future__ import annotations

import html
import re

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_BACKTICKS = re.compile(r"`+")
_INLINE_DEST = re.compile(r"\]\(\s*(<[^>\n]*>|(?:[^\s()]|\([^\s()]*\))*)")
_REF_DEF = re.compile(r"^( {0,3}\[[^\]\n]+\]:\s*)(\S+)")
_SAFE_SCHEMES = ("http:", "https:", "mailto:")
_SCHEME = re.compile(r"^[a-z][a-z0-9+.\-]*:")


def safe_markdown(text: str) -> str:
    """``text`` with raw HTML and dangerous link destinations neutralised outside code.

    A code fence left open (an answer cut off mid-block) is closed, so that what
    follows the answer in the same output — banner, status line — stays outside it.
    """
    out: list[str] = []
    fence: str | None = None
    for line in text.splitlines(keepends=True):
        match = _FENCE.match(line)
        if fence is not None:
            out.append(line)
            if match and match.group(1)[0] == fence[0] and len(match.group(1)) >= len(fence) \
                    and not line.strip()[len(match.group(1)):].strip():
                fence = None
            continue
        if match:
            fence = match.group(1)
            out.append(line)
            continue
        out.append(_safe_line(line))
    if fence is not None:
        out.append(("" if not out or out[-1].endswith("\n") else "\n") + fence + "\n")
    return "".join(out)


def _safe_line(line: str) -> str:
    ref = _REF_DEF.match(line)
    if ref:
        line = ref.group(1) + _safe_dest(ref.group(2)) + line[ref.end():]
    pieces: list[str] = []
    pos = 0
    while pos < len(line):
        tick = _BACKTICKS.search(line, pos)
        if tick is None:
            pieces.append(_safe_text(line[pos:]))
            break
        closing = re.compile(r"(?<!`)" + re.escape(tick.group(0)) + r"(?!`)")
        end = closing.search(line, tick.end())
        if end is None:  # an unmatched run of backticks is literal text
            pieces.append(_safe_text(line[pos:tick.end()]))
            pos = tick.end()
            continue
        pieces.append(_safe_text(line[pos:tick.start()]))
        pieces.append(line[tick.start():end.end()])  # a code span: shown literally
        pos = end.end()
    return "".join(pieces)


def _safe_text(text: str) -> str:
    text = text.replace("<", "&lt;")
    return _INLINE_DEST.sub(lambda m: "](" + _safe_dest(m.group(1)), text)


def _safe_dest(dest: str) -> str:
    """A link destination, or ``#`` if it could run code or load something odd."""
    decoded = html.unescape(html.unescape(dest))
    squeezed = re.sub(r"[\x00-\x20\x7f]+", "", decoded).lower().lstrip("<")
    if _SCHEME.match(squeezed) and not squeezed.startswith(_SAFE_SCHEMES):
        return "#"
    return dest
