"""Heal the open tail of a streaming Markdown answer so that it does not look broken.

Healing rewrites Markdown *source* (the renderer then does the escaping and URL checks, so
nothing here can make output less safe) and only ever touches the end of the text:

* a partial last line made only of block markers (``-``, ``1.``, ``#``, ``>``, a fence
  start, a half table delimiter row ...) is held back until it says what it is;
* an unclosed fence is already rendered as code by CommonMark; an empty one is held back;
* a paragraph whose last line looks like a table header (``| a | b |``) is held back until
  the delimiter row decides whether it is a table;
* in the last paragraph / heading / table cell: an open ``` `code ``` span is closed, a
  half-written link ``[text](http://exa`` shows as ``text``, a half-written image is cut,
  a half-written autolink ``<https://exa`` shows as text, and unclosed ``**``, ``*``,
  ``_``, ``~~`` openers of the last line are closed (a marker with nothing after it yet is cut).
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from typing import Any

from nbstream.views.render import (
    fence_is_closed,
    line_offsets,
    parse_blocks,
    top_blocks,
)

__all__ = ["heal", "heal_inline"]

# A partial line that is nothing but block markers is still ambiguous: "-" may become a list
# item, a setext underline or a rule, "1." a list, "#" a heading, "``" a fence, "|-" a table.
_AMBIGUOUS_PARTIAL_RE = re.compile(
    r"[ \t]*(?:[-*+>][ \t]*)*(?:[0-9]{1,9}(?:[.)][ \t]*)?)?"  # list / quote markers
    r"|[ \t]*[-=*_+#>`~|: \t]*"  # rules, underlines, headings, fences, table delimiters
)
_TABLE_ROW_RE = re.compile(r"[ \t]{0,3}\|")
_PARTIAL_LINK_RE = re.compile(
    r"\[(?P<label>[^\[\]]*)"
    r"(?:\]?"
    r"|\]\((?:[ \t]*(?:<[^>\n]*|(?:[^()\s]|\([^()\s]*\))*\(?[^()\s]*)"
    r"(?:[ \t]+(?:\"[^\"]*|'[^']*|\([^)]*)?)?)?)"
)
_PARTIAL_AUTOLINK_RE = re.compile(r"<([A-Za-z][A-Za-z0-9+.\-]{1,31}:[^\s<>]*)")
_ASCII_PUNCT = set("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")


def heal(src: str) -> str:
    """Markdown source for the open tail that renders without raw markers or broken links."""
    nl = src.rfind("\n")
    if nl + 1 < len(src) and _AMBIGUOUS_PARTIAL_RE.fullmatch(src, nl + 1):
        src = src[: nl + 1]
    if not src.strip():
        return ""
    tokens = parse_blocks(src)
    offsets = line_offsets(src)
    lines = src.split("\n")
    nlines = len(offsets) - 1
    blocks = top_blocks(tokens)
    if blocks:
        last = blocks[-1]
        start, end = last.map  # type: ignore[misc]
        if last.type == "fence" and not last.content.strip() and not fence_is_closed(last, lines):
            return src[: offsets[start]]
        if last.type == "paragraph_open" and end == nlines and _TABLE_ROW_RE.match(lines[end - 1]):
            return src[: offsets[end - 1]]
    inline = next((t for t in reversed(tokens) if t.type == "inline"), None)
    if inline is None or inline.map is None or inline.map[1] != nlines:
        return src
    return _heal_end(src, inline.content)


def _heal_end(src: str, content: str) -> str:
    """Apply the inline healing of ``content`` (the last inline block) to the end of ``src``."""
    body = src.rstrip()
    content = content.rstrip()
    last_line = content[content.rfind("\n") + 1 :]
    if not last_line or not body.endswith(last_line):
        return src  # e.g. an ATX heading with closing hashes, or a finished table cell
    healed = heal_inline(content)
    common = _common_prefix(content, healed)
    cut = len(content) - common
    if cut > len(last_line):
        return src  # the change spans lines whose container prefixes we cannot see
    return body[: len(body) - cut] + healed[common:]


def _common_prefix(a: str, b: str) -> int:
    """Length of the common prefix (binary search on slices: the compares run in C)."""
    lo, hi = 0, min(len(a), len(b))
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a[:mid] == b[:mid]:
            lo = mid
        else:
            hi = mid - 1
    return lo


def heal_inline(text: str) -> str:
    """Heal the end of one inline run (paragraph content): code, links, then emphasis."""
    text = _close_code(text)
    text = _heal_link_tail(text)
    return _close_emphasis(text)


# --- code spans and math ------------------------------------------------------------------

_TICKS_RE = re.compile(r"`+")
_DOLLAR_RE = re.compile(r"\\[\s\S]|\$\$?")
_MARKER_RE = re.compile(r"\\[\s\S]|[*_~]+")


def _code_spans(text: str) -> tuple[list[tuple[int, int]], int | None]:
    """Closed code spans as [start, end) and the start of an open span (or None).

    CommonMark: an opening backtick run is closed by the next run of exactly its length;
    a run without such a partner is literal. In a partial text the partner may still come,
    so the first unmatched opener *of the last line* counts as a span open to the end
    (an unmatched run on an earlier line is taken as a literal backtick).
    """
    runs = [(m.start(), m.end() - m.start()) for m in _TICKS_RE.finditer(text)]
    by_len: dict[int, list[int]] = {}
    for k, (_, length) in enumerate(runs):
        by_len.setdefault(length, []).append(k)
    line_start = text.rfind("\n") + 1
    spans: list[tuple[int, int]] = []
    k = 0
    while k < len(runs):
        start, length = runs[k]
        if _escaped(text, start):  # "\\``x": the first tick is literal, the rest may open
            start, length = start + 1, length - 1
        same = by_len.get(length, [])
        nxt = bisect.bisect_right(same, k)
        if length and nxt < len(same):
            close = same[nxt]
            spans.append((start, runs[close][0] + length))
            k = close + 1
            continue
        if length and start >= line_start:
            return spans, start
        k += 1
    return spans, None


def _close_code(text: str) -> str:
    _, open_at = _code_spans(text)
    if open_at is None:
        return text
    length = 0
    while open_at + length < len(text) and text[open_at + length] == "`":
        length += 1
    body = text[open_at + length :]
    stripped = body.rstrip("`")  # a closer that is still arriving
    if not stripped.strip():
        return text[:open_at].rstrip()
    return text[: open_at + length] + stripped + "`" * length


def _protected(text: str) -> bytearray:
    """Mask of positions where Markdown markers are literal: code spans and (roughly) $math$."""
    n = len(text)
    mask = bytearray(n)
    spans, open_at = _code_spans(text)
    if open_at is not None:
        spans.append((open_at, n))
    for start, end in spans:
        mask[start:end] = b"\x01" * (end - start)
    done = 0
    for m in _DOLLAR_RE.finditer(text):
        i, width = m.start(), len(m.group())
        if i < done or mask[i] or text[i] == "\\":
            continue
        after = text[i + width : i + width + 1]
        if not after or after.isspace() or (width == 1 and after.isdigit()):
            continue
        close = text.find("$" * width, i + width)
        done = n if close < 0 else close + width
        mask[i:done] = b"\x01" * (done - i)
    return mask


# --- links ---------------------------------------------------------------------------------


def _heal_link_tail(text: str) -> str:
    """``[text](http://exa`` -> ``text``; ``![alt](...`` -> cut; ``<https://exa`` -> text."""
    protected = _protected(text)
    pos = text.rfind("[")
    while pos >= 0:
        if not protected[pos] and not _escaped(text, pos):
            match = _PARTIAL_LINK_RE.fullmatch(text, pos)
            if match:
                if pos > 0 and text[pos - 1] == "!" and not _escaped(text, pos - 1):
                    return text[: pos - 1].rstrip()
                return text[:pos] + match.group("label")
            break
        pos = text.rfind("[", 0, pos)
    lt = text.rfind("<")
    if lt >= 0 and not protected[lt] and not _escaped(text, lt):
        match = _PARTIAL_AUTOLINK_RE.fullmatch(text, lt)
        if match:
            return text[:lt] + match.group(1)
    return text


def _escaped(text: str, pos: int) -> bool:
    n = 0
    while pos - n - 1 >= 0 and text[pos - n - 1] == "\\":
        n += 1
    return n % 2 == 1


# --- emphasis ------------------------------------------------------------------------------


def _is_space(c: str) -> bool:
    return not c or c.isspace()


def _is_punct(c: str) -> bool:
    return bool(c) and (c in _ASCII_PUNCT or unicodedata.category(c)[0] in "PS")


def _close_emphasis(text: str) -> str:
    """Cut a trailing marker run, then close the openers of the last line that are still open."""
    text = text.rstrip()
    protected = _protected(text)
    # a trailing run of markers, or a lone trailing backslash, has nothing after it yet
    end = len(text)
    while end and text[end - 1] in "*_~" and not protected[end - 1]:
        end -= 1
    if end < len(text) and not _escaped(text, end):
        text = text[:end].rstrip()
    if text.endswith("\\") and _escaped(text + "x", len(text)):
        text = text[:-1].rstrip()
    protected = _protected(text)
    line_start = text.rfind("\n") + 1
    stack: list[list[Any]] = []  # [char, count, start] of openers not closed yet
    n = len(text)
    for m in _MARKER_RE.finditer(text):
        i, j, c = m.start(), m.end(), text[m.start()]
        if c == "\\" or protected[i]:
            continue
        if len(set(m.group())) > 1:  # "*_" is two runs; take the first, leave the rest literal
            j = i + len(m.group()) - len(m.group().lstrip(c))
        while j > i and protected[j - 1]:
            j -= 1
        count = j - i if c != "~" else (j - i) // 2
        prev = text[i - 1] if i else ""
        nxt = text[j] if j < n else ""
        left = not _is_space(nxt) and (not _is_punct(nxt) or _is_space(prev) or _is_punct(prev))
        right = not _is_space(prev) and (not _is_punct(prev) or _is_space(nxt) or _is_punct(nxt))
        if c == "_":
            can_open = left and (not right or _is_punct(prev))
            can_close = right and (not left or _is_punct(nxt))
        else:
            can_open, can_close = left, right
        while count and can_close:
            idx = next((k for k in range(len(stack) - 1, -1, -1) if stack[k][0] == c), None)
            if idx is None:
                break
            del stack[idx + 1 :]  # openers between a matched pair stay literal
            used = min(count, stack[idx][1])
            stack[idx][1] -= used
            count -= used
            if not stack[idx][1]:
                stack.pop()
        if count and can_open and not _in_url(text, i):
            stack.append([c, count, i])
    suffix = ""
    for c, count, start in reversed(stack):
        if start >= line_start:
            suffix += c * (count * 2 if c == "~" else count)
    return text + suffix


def _in_url(text: str, pos: int) -> bool:
    """Whether ``pos`` sits inside a whitespace-delimited word that looks like a URL."""
    start = pos
    while start and not text[start - 1].isspace():
        start -= 1
    end = pos
    while end < len(text) and not text[end].isspace():
        end += 1
    word = text[start:end]
    return "://" in word or word.startswith("www.")
