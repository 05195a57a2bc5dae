"""Streaming Markdown for the live view: finished blocks are sent once, only the open tail is re-sent.

``StreamingMarkdown`` keeps the answer as (final block sources) + (open tail source).
``feed()`` only appends. ``flush()`` looks at the tail alone: it parses the tail's complete
lines at block level, and every top-level block that nothing still to come can change is
rendered once and moved out of the tail; the rest is healed (see ``_markdown_heal``) and
rendered. The cost of a flush therefore depends on the size of the tail, not of the answer.

Block finality (top-level blocks, CommonMark parses blocks forwards, line by line):

* a block followed by the start of another top-level block (on a complete line) is final;
  so is a list or indented code block followed by a blank line and then a partial line that
  starts at column 0 with anything but a list marker or digit (it cannot continue them);
* a paragraph, table or block quote followed by a blank line is final (a blank line closes
  them; a ``>`` after it starts a new quote, ``===`` after it is a new paragraph);
* an ATX or setext heading and a thematic break are final once their line is complete;
* a fenced code block is final once its closing fence line is complete;
* lists and indented code are final only when a non-list block starts after them, because
  a blank line inside a list does not end it and decides tight vs loose.

Answers wrapped in a ```` ```markdown ```` (or ``md``) fence are unwrapped: the opening line
is dropped as soon as the first non-blank line is complete, the inside is parsed as Markdown
(so an inner ```` ```python ```` block stays code and the bare ```` ``` ```` that closes it closes
*it*, not the wrapper), and at ``finish()`` a final unclosed bare fence whose marker matches
the wrapper is taken to be the wrapper's closing line and dropped (text after it stays).

Equivalence (property-tested): the concatenation of every block HTML returned by ``flush()``
and ``finish()`` is exactly ``render(md.text)`` and exactly ``"".join(render(b) for b in
md.blocks)`` -- no text normalisation is needed, because final blocks are cut at the
boundaries of the whole-document parse (ordered lists keep their ``start``, loose lists stay
loose). One deliberate difference: link reference definitions (``[x]: url``) are carried
forward, so a block is rendered with the definitions of the blocks before it (``render(b)``
alone would not know them), and a definition arriving *after* a block that uses it does not
change that block, which was already sent.
"""

from __future__ import annotations

import re
from typing import Any

from ._markdown_heal import heal
from ._render import fence_is_closed, line_offsets, parse_blocks, render_html, top_blocks

__all__ = ["StreamingMarkdown", "render", "unwrap"]

_WRAPPER_RE = re.compile(r" {0,3}(`{3,}|~{3,})[ \t]*(?:markdown|md)[ \t]*", re.IGNORECASE)
_FENCE_START_RE = re.compile(r" {0,3}(`+|~+)[ \t]*([A-Za-z]*)")
_SELF_CLOSING = frozenset({"heading_open", "hr"})
_CLOSED_BY_BLANK = frozenset({"paragraph_open", "table_open", "blockquote_open"})

_UNDECIDED, _PLAIN, _WRAPPED = "undecided", "plain", "wrapped"


def render(markdown_text: str) -> str:
    """Safe HTML for a complete Markdown document (raw HTML escaped, unsafe URLs dropped)."""
    if not isinstance(markdown_text, str):
        raise TypeError(f"render() needs the Markdown as str, got {type(markdown_text).__name__}")
    return render_html(markdown_text)


def unwrap(markdown_text: str) -> str:
    """The Markdown of a complete answer with a wrapping ```` ```markdown ```` fence removed."""
    md = StreamingMarkdown()
    md.feed(markdown_text)
    md.finish()
    return md.text


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
        """HTML of blocks that became final since the last flush, and the healed open tail."""
        if self._finished:
            return [], ""
        self._absorb(final=False)
        if self._mode == _UNDECIDED:
            return [], ""
        new_blocks = self._finalize_ready()
        return new_blocks, self._tail_html()

    def finish(self) -> list[str]:
        """End of stream: everything left becomes final blocks. Calling it again returns []."""
        if self._finished:
            return []
        self._absorb(final=True)
        self._finished = True
        tail = self._tail
        if self._mode == _WRAPPED:
            tail = _drop_wrapper_closer(tail, self._wrapper)
        self._tail = ""
        if not tail:
            return []
        self.parsed_chars += len(tail)
        starts = [b.map[0] for b in top_blocks(parse_blocks(tail))]  # type: ignore[index]
        offsets = line_offsets(tail)
        cuts = [0] + [offsets[s] for s in starts[1:]] + [len(tail)]
        return self._emit([tail[a:b] for a, b in zip(cuts, cuts[1:]) if b > a])

    @property
    def text(self) -> str:
        """The full Markdown source so far, after unwrapping a ```` ```markdown ```` fence."""
        self._absorb(final=False)
        if self._mode == _UNDECIDED:
            return self._head
        return "".join(self._blocks) + self._tail

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
        if "\r" in text:
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        if self._mode == _UNDECIDED:
            self._head += text
            self._decide(final)
        else:
            self._tail += text

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

    def _finalize_ready(self) -> list[str]:
        """Move the leading blocks of the tail that can no longer change into final blocks."""
        end = self._tail.rfind("\n") + 1
        probe = _starts_new_block(self._tail, end)
        if (end, probe) == self._checked:
            return []
        # After a blank line, a partial line starting at column 0 with anything but a list
        # marker or digit cannot continue the block before it: a stand-in line lets that
        # block be judged now instead of one line later (the stand-in itself is never sent).
        region = self._tail[:end] + ("x\n" if probe else "")
        self.parsed_chars += len(region)
        blocks = top_blocks(parse_blocks(region))
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
        if final <= 0:
            self._checked = (end, probe)
            return []
        cuts = [0] + [offsets[b.map[0]] for b in blocks[1:final]] + [stop]  # type: ignore[index]
        self._tail = self._tail[stop:]
        self._checked = (end - stop, probe)
        return self._emit([region[a:b] for a, b in zip(cuts, cuts[1:])])

    def _emit(self, sources: list[str]) -> list[str]:
        out = []
        env = {"references": self._refs}
        for src in sources:
            self._blocks.append(src)
            self.parsed_chars += len(src)
            html = render_html(src, env)
            if html:
                out.append(html)
        return out

    def _tail_html(self) -> str:
        if not self._tail.strip():
            return ""
        self.parsed_chars += len(self._tail)
        healed = heal(self._tail)
        if not healed.strip():
            return ""
        self.parsed_chars += len(healed)
        return render_html(healed, {"references": dict(self._refs)}, plain_code=True)


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
    start = blocks[-1].map[0]
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
