"""Streaming Markdown for the live view: finished blocks are sent once, only the open tail is re-sent.

``Renderer`` is the interface the view uses: ``feed(delta) -> [(index, html), ...]`` and
``finish()``; every piece but the last is final (see its docstring). It wraps
``StreamingMarkdown``, which keeps the answer as (final block sources) + (open tail source).
``feed()`` only appends. ``flush()`` looks at the tail alone: it parses the tail's complete
lines at block level, and every top-level block that nothing still to come can change is
rendered once (through ``nbstream.views.render``) and moved out of the tail; the rest is healed
(see ``_markdown_heal``) and rendered.

Total cost is linear in the answer, whatever its shape:

* a top-level list is cut at its items: every item but the last is final once the next item
  starts (pieces of one list carry ``margin-top:0``/``margin-bottom:0`` so they look like one
  list; ordered pieces keep their ``start``). So a long list keeps a one-item tail;
* the open tail is parsed and rendered only when the flushes since the last time have paid
  for it: each new character pays for ``GROWTH`` characters of work and each flush for
  ``PER_FLUSH``, so the total is at most GROWTH x the answer + PER_FLUSH x the flushes
  (linear; and bounded per flush). A small tail is re-rendered on every flush; a large open
  block (one huge paragraph, code block or table, a deeply nested list) once it has grown by
  about 1/GROWTH -- or at once when its new complete lines can close it (a blank line after
  a paragraph, table or quote; the closing fence of a code block; a column-0 line after a
  list), since that work moves the closed block out of the tail. Between two renders of a
  large block the view keeps showing the previous tail; ``bench/render.py`` measures this.
* an open code block is shown unhighlighted; it is highlighted once, when it is final.

Block finality (top-level blocks, CommonMark parses blocks forwards, line by line):

* a block followed by the start of another top-level block (on a complete line) is final;
  so is a list or indented code block followed by a blank line and then a partial line that
  starts at column 0 with anything but a list marker or digit (it cannot continue them);
* a paragraph, table or block quote followed by a blank line is final (a blank line closes
  them; a ``>`` after it starts a new quote, ``===`` after it is a new paragraph);
* an ATX or setext heading and a thematic break are final once their line is complete;
* a fenced code block is final once its closing fence line is complete;
* indented code is final only when a non-list block starts after it.

Answers wrapped in a ```` ```markdown ```` (or ``md``) fence are unwrapped: the opening line
is dropped as soon as the first non-blank line is complete, the inside is parsed as Markdown
(so an inner ```` ```python ```` block stays code and the bare ```` ``` ```` that closes it closes
*it*, not the wrapper), and at ``finish()`` a final unclosed bare fence whose marker matches
the wrapper is taken to be the wrapper's closing line and dropped (text after it stays).

Equivalence (property-tested): the block sources partition the text, and the HTML sent is
``render(b)`` for each block ``b``; joined, it is ``render(md.text)`` except that a list sent
in pieces is several lists (styled to look like one), and items sent before a later blank
line made the list loose stay tight. Link reference definitions (``[x]: url``) are carried
forward, so a block is rendered with the definitions of the blocks before it, and a
definition arriving *after* a block that uses it does not change that block, already sent.
"""

from __future__ import annotations

import itertools
import re
from typing import Any

from nbstream.views.heal import heal
from nbstream.views.render import (
    clean,
    fence_is_closed,
    line_offsets,
    parse_blocks,
    render_html,
    top_blocks,
)

__all__ = ["Renderer", "StreamingMarkdown", "render", "unwrap"]

_WRAPPER_RE = re.compile(r" {0,3}(`{3,}|~{3,})[ \t]*(?:markdown|md)[ \t]*", re.IGNORECASE)
_FENCE_START_RE = re.compile(r" {0,3}(`+|~+)[ \t]*([A-Za-z]*)")
_SELF_CLOSING = frozenset({"heading_open", "hr"})
_CLOSED_BY_BLANK = frozenset({"paragraph_open", "table_open", "blockquote_open"})

_UNDECIDED, _PLAIN, _WRAPPED = "undecided", "plain", "wrapped"
_LISTS = frozenset({"bullet_list_open", "ordered_list_open"})
_BLANK_LINE_RE = re.compile(r"\n[ \t]*\n")
_COLUMN_ZERO_RE = re.compile(r"\n[^ \t\n]")
_CONTEXT = 80  # characters of earlier text kept to recognise a line split across deltas
_LIST_TAG_RE = re.compile(r"<(?:ul|ol)\b[^>]*")

GROWTH = 4  # each new character pays for parsing and rendering GROWTH characters of tail
PER_FLUSH = 1024  # and each flush with new text for this many (bounded work per flush)


def _join_lists(html: str, *, top: bool, bottom: bool) -> str:
    """Pieces of one list sent separately look like one list: no margin where they meet."""
    if not (top or bottom):
        return html
    match = _LIST_TAG_RE.match(html)
    if match is None:
        return html
    style = ";".join(x for x, on in (("margin-top:0", top), ("margin-bottom:0", bottom)) if on)
    return f'{html[:match.end()]} style="{style}"{html[match.end():]}'


def render(markdown_text: str) -> str:
    """Safe HTML for a complete Markdown document (raw HTML escaped, unsafe URLs dropped)."""
    if not isinstance(markdown_text, str):
        raise TypeError(f"render() needs the Markdown as str, got {type(markdown_text).__name__}")
    return render_html(markdown_text)


def unwrap(markdown_text: str) -> str:
    """The Markdown of a complete answer with a wrapping ```` ```markdown ```` fence removed
    (what ``finish()`` would render, without rendering it)."""
    md = StreamingMarkdown()
    md.feed(markdown_text)
    return md._last_source()


class StreamingMarkdown:
    """Incremental Markdown -> HTML: ``feed`` text, ``flush`` for (new final blocks, tail)."""

    def __init__(self) -> None:
        self._pending: list[str] = []
        self._carry = ""  # a trailing "\r" that may be the first half of "\r\n"
        self._head = ""  # text before the wrapper decision
        self._mode = _UNDECIDED
        self._wrapper = ""  # the wrapper's fence marker, e.g. "```"
        self._tail = ""  # the open region: source not yet in a final block
        self._checked = (0, False)  # (complete-line length, probe) of the tail judged last
        self._blocks: list[str] = []
        self._refs: dict[str, Any] = {}  # reference definitions from final blocks
        self._finished = False
        self._seen = 0  # length of the tail (with fresh text) at the last flush
        self._credit = 0  # characters of parsing the flushes since the last work have paid for
        self._last_tail = ""  # the tail HTML returned then
        self._open: tuple[str, str] | None = None  # (type, markup) of the open block then
        self._fresh: list[str] = []  # text absorbed since then, not yet joined to the tail
        self._fresh_len = 0
        self._context = ""  # the last characters absorbed, to see lines across deltas
        self._closing_seen = False  # new text holds a line that can close the open block
        self._list_cont = False  # the tail continues a list whose first items were sent
        self.parsed_chars = 0  # characters handed to the parser, for cost tests and benchmarks

    # --- public API ---------------------------------------------------------------------

    def feed(self, delta: str) -> None:
        """Append streamed text. Cheap: no parsing happens here."""
        if self._finished:
            raise RuntimeError("feed() after finish(): use a new StreamingMarkdown for a new answer")
        if not isinstance(delta, str):
            raise TypeError(f"feed() needs text (str), got {type(delta).__name__}; decode bytes first")
        if delta:
            self._pending.append(delta)

    def flush(self) -> tuple[list[str], str]:
        """HTML of blocks that became final since the last flush, and the healed open tail.

        Work is budgeted (see the module docstring): when it is not due, this returns no new
        blocks and the same tail HTML as last time, at a cost independent of the answer."""
        if self._finished:
            return [], ""
        self._absorb(final=False)
        if self._mode == _UNDECIDED or not self._due():
            return [], self._last_tail
        self._join_fresh()
        new_blocks = self._finalize_ready()
        self._last_tail = self._tail_html()
        self._seen = len(self._tail)
        self._closing_seen = False
        self._credit = 0
        return new_blocks, self._last_tail

    def finish(self) -> list[str]:
        """End of stream: everything left becomes final blocks. Calling it again returns []."""
        if self._finished:
            return []
        tail = self._last_source()
        self._finished = True
        self._tail = ""
        if not tail:
            return []
        self.parsed_chars += len(tail)
        starts = [b.map[0] for b in top_blocks(parse_blocks(tail))]  # type: ignore[index]
        offsets = line_offsets(tail)
        cuts = [0] + [offsets[s] for s in starts[1:]] + [len(tail)]
        return self._emit([tail[a:b] for a, b in itertools.pairwise(cuts) if b > a])

    def _last_source(self) -> str:
        """All text absorbed, as the end of the stream leaves it: the open region with a
        wrapper's closing fence dropped (the whole answer before any flush). The final
        absorb decides plain or wrapped, whatever arrived."""
        self._absorb(final=True)
        self._join_fresh()
        if self._mode == _WRAPPED:
            return _drop_wrapper_closer(self._tail, self._wrapper)
        return self._tail

    @property
    def text(self) -> str:
        """The full Markdown source so far, after unwrapping a ```` ```markdown ```` fence."""
        self._absorb(final=False)
        if self._mode == _UNDECIDED:
            return self._head
        return "".join(self._blocks) + self._tail + "".join(self._fresh)

    @property
    def blocks(self) -> tuple[str, ...]:
        """Markdown source of every final block so far, in order (they partition ``text``)."""
        return tuple(self._blocks)

    @property
    def wrapped(self) -> bool:
        """Whether the answer was recognised as wrapped in a ```` ```markdown ```` fence."""
        return self._mode == _WRAPPED

    # --- internals ----------------------------------------------------------------------

    def _absorb(self, final: bool) -> None:
        if not self._pending and not (final and (self._carry or self._mode == _UNDECIDED)):
            return
        text = self._carry + "".join(self._pending)
        self._pending.clear()
        self._carry = ""
        if text.endswith("\r") and not final:
            self._carry, text = "\r", text[:-1]
        text = clean(text)  # the line breaks and characters the renderer will see
        if self._mode == _UNDECIDED:
            self._head += text
            self._decide(final)
        elif text:
            # kept apart until the next parse: joining on every flush would copy the tail
            self._fresh.append(text)
            self._fresh_len += len(text)
            self._watch(text)

    def _join_fresh(self) -> None:
        if self._fresh:
            self._tail += "".join(self._fresh)
            self._fresh.clear()
            self._fresh_len = 0

    def _watch(self, text: str) -> None:
        """Note whether new text holds a complete line that can close the open block."""
        seen = self._context + text
        self._context = seen[-_CONTEXT:]
        if self._open is None or self._closing_seen:
            return
        kind, markup = self._open
        if kind in _CLOSED_BY_BLANK:
            pattern = _BLANK_LINE_RE
        elif kind == "fence":
            pattern = re.compile(rf"\n {{0,3}}{re.escape(markup[0])}{{{len(markup)},}}[ \t]*\n")
        elif kind in _LISTS:
            pattern = _COLUMN_ZERO_RE
        else:
            return
        self._closing_seen = pattern.search(seen) is not None

    def _decide(self, final: bool) -> None:
        """Plain or wrapped? Decided by the first non-blank line, once it is complete."""
        head, pos = self._head, 0
        while True:
            nl = head.find("\n", pos)
            line = head[pos:] if nl < 0 else head[pos:nl]
            if nl < 0 or line.strip():
                break
            pos = nl + 1
        if not final and not line.strip():
            return
        if nl < 0 and not final and _could_become_wrapper(line):
            return
        if _WRAPPER_RE.fullmatch(line):
            self._mode = _WRAPPED
            self._wrapper = _WRAPPER_RE.fullmatch(line).group(1)  # type: ignore[union-attr]
            self._tail = "" if nl < 0 else head[nl + 1 :]
        else:
            self._mode = _PLAIN
            self._tail = head
        self._head = ""

    def _due(self) -> bool:
        """Whether parsing and rendering the tail now keeps the total cost linear: when the
        credit earned since the last time covers the tail's size, or when new complete lines
        can close the open block (that work moves the closed block out of the tail)."""
        size = len(self._tail) + self._fresh_len
        grown = size - self._seen
        self._seen = size
        if grown <= 0:
            return False
        self._credit += GROWTH * grown + PER_FLUSH
        return self._credit >= size or self._closing_seen

    def _finalize_ready(self) -> list[str]:
        """Move the leading blocks of the tail that can no longer change into final blocks,
        and the finished items of an open top-level list (all but its last item)."""
        end = self._tail.rfind("\n") + 1
        probe = _starts_new_block(self._tail, end)
        if (end, probe) == self._checked:
            return []
        # After a blank line, a partial line starting at column 0 with anything but a list
        # marker or digit cannot continue the block before it: a stand-in line lets that
        # block be judged now instead of one line later (the stand-in itself is never sent).
        region = self._tail[:end] + ("x\n" if probe else "")
        self.parsed_chars += len(region)
        tokens = parse_blocks(region)
        blocks = top_blocks(tokens)
        offsets = line_offsets(region)
        nlines = len(offsets) - 1
        lines = region.split("\n")
        final = len(blocks) - 1
        stop = offsets[blocks[-1].map[0]] if blocks else 0  # type: ignore[index]
        if blocks and _closed_by_itself(blocks[-1], lines, nlines):
            final = len(blocks)
            after = blocks[-1].map[1]  # type: ignore[index]
            while after < nlines and not lines[after].strip():
                after += 1
            stop = offsets[after]
        split = None  # where the last item of an open list starts, when earlier items exist
        if blocks and final == len(blocks) - 1 and blocks[-1].type in _LISTS:
            first = blocks[-1].map[0]  # type: ignore[index]
            items = [t.map[0] for t in tokens  # type: ignore[index]
                     if t.type == "list_item_open" and t.level == 1 and t.map[0] >= first]  # type: ignore[index]
            if len(items) >= 2:
                split = offsets[items[-1]]
        self._open = (blocks[-1].type, blocks[-1].markup) if blocks and final < len(blocks) else None
        if final <= 0 and split is None:
            self._checked = (end, probe)
            return []
        if split is not None:
            cuts = [0] + [offsets[b.map[0]] for b in blocks[1:final + 1]] + [split]  # type: ignore[index]
            stop = split
        else:
            cuts = [0] + [offsets[b.map[0]] for b in blocks[1:final]] + [stop]  # type: ignore[index]
        self._tail = self._tail[stop:]
        self._checked = (end - stop, probe)
        return self._emit([region[a:b] for a, b in itertools.pairwise(cuts) if b > a], list_split=split is not None)

    def _emit(self, sources: list[str], list_split: bool = False) -> list[str]:
        out = []
        env = {"references": self._refs}
        for i, src in enumerate(sources):
            self._blocks.append(src)
            self.parsed_chars += len(src)
            html = render_html(src, env)
            html = _join_lists(html, top=self._list_cont and i == 0, bottom=list_split and i == len(sources) - 1)
            if html:
                out.append(html)
        self._list_cont = list_split or (self._list_cont and not sources)
        return out

    def _tail_html(self) -> str:
        if not self._tail.strip():
            return ""
        self.parsed_chars += len(self._tail)
        healed = heal(self._tail)
        if not healed.strip():
            return ""
        self.parsed_chars += len(healed)
        html = render_html(healed, {"references": dict(self._refs)}, plain_code=True)
        return _join_lists(html, top=self._list_cont, bottom=False)


def _starts_new_block(tail: str, end: int) -> bool:
    """A partial line after a blank line that can only start a new top-level block."""
    if end >= len(tail) or tail[end] in " \t-+*0123456789":
        return False
    prev = tail.rfind("\n", 0, end - 1) + 1
    return end > 0 and not tail[prev : end - 1].strip()


def _could_become_wrapper(line: str) -> bool:
    """Whether an incomplete first line may still turn into ```` ```markdown ````."""
    match = _FENCE_START_RE.fullmatch(line)
    if not match:
        return False
    marker, word = match.groups()
    if not word:
        return True
    word = word.lower()
    return len(marker) >= 3 and ("markdown".startswith(word) or "md".startswith(word))


def _is_wrapper_closer(tok: Any, wrapper: str, lines: list[str]) -> bool:
    return (
        tok.type == "fence"
        and not tok.info.strip()
        and tok.markup[0] == wrapper[0]
        and len(tok.markup) >= len(wrapper)
        and not fence_is_closed(tok, lines)
    )


def _drop_wrapper_closer(tail: str, wrapper: str) -> str:
    """At the end: drop the wrapper's closing fence line (an unclosed bare fence at top level)."""
    blocks = top_blocks(parse_blocks(tail))
    if not blocks or not _is_wrapper_closer(blocks[-1], wrapper, tail.split("\n")):
        return tail
    offsets = line_offsets(tail)
    start = blocks[-1].map[0]  # type: ignore[index]
    return tail[: offsets[start]] + tail[offsets[start + 1] :]


def _closed_by_itself(tok: Any, lines: list[str], nlines: int) -> bool:
    """Whether the last block of the complete lines is final without a next block."""
    if tok.type in _SELF_CLOSING:
        return True
    if tok.type == "fence":
        return fence_is_closed(tok, lines)
    if tok.type in _CLOSED_BY_BLANK:
        end = tok.map[1]
        return end < nlines and not lines[end].strip()
    return False


class Renderer:
    """The live view's interface: ``feed(delta)`` returns ``[(index, html), ...]`` changes.

    The answer is a list of pieces. A change sets piece ``index`` to ``html`` (creating it
    when ``index`` is one past the end). Every piece but the last is final and never sent
    again; the last one is the open tail and may be replaced. ``finish()`` returns the last
    changes, after which ``html`` -- the pieces joined -- is exactly what was shown.
    """

    def __init__(self) -> None:
        self._md = StreamingMarkdown()
        self._pieces: list[str] = []
        self._open = ""

    def feed(self, delta: str) -> list[tuple[int, str]]:
        """Append ``delta`` and return what changed (budgeted: may be nothing)."""
        self._md.feed(delta)
        return self._apply(*self._md.flush())

    def finish(self) -> list[tuple[int, str]]:
        """End of the answer: the open tail becomes final pieces."""
        return self._apply(self._md.finish(), "")

    @property
    def html(self) -> str:
        """Everything shown so far, in order."""
        return "".join(self._pieces) + self._open

    @property
    def text(self) -> str:
        """The Markdown source so far (a ```` ```markdown ```` wrapper removed)."""
        return self._md.text

    def _apply(self, blocks: list[str], tail: str) -> list[tuple[int, str]]:
        changes = [(len(self._pieces) + i, html) for i, html in enumerate(blocks)]
        self._pieces.extend(blocks)
        if blocks or tail != self._open:
            changes.append((len(self._pieces), tail))
            self._open = tail
        return changes
