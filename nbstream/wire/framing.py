"""From network reads to timestamped wire messages (SSE events or NDJSON lines).

Each read is stamped with ``perf_counter_ns`` as it arrives, before any JSON parsing,
normalization or rendering; every message framed from that read carries the stamp and
the read's index, so coalesced messages stay visible to the recorder.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from nbstream import sse as _sse
from nbstream.sse import EventTooLargeError, SSEDecoder

__all__ = ["JSONFramer", "Message", "NDJSONFramer", "SSEFramer", "framer_for", "sse_size"]


class Message(NamedTuple):
    """One wire message: an SSE event, an NDJSON line, or an object from an iterator."""

    t_ns: int  # perf_counter_ns when the read that completed it arrived
    read_idx: int  # index of that read (equal values: coalesced in one read)
    name: str  # SSE ``event:`` field; "" for NDJSON lines and objects
    data: Any  # payload text, or a decoded object
    id: str | None  # SSE last event id
    n_bytes: int  # size on the wire: UTF-8 payload plus its framing (see SSEFramer)


class SSEFramer:
    """Bytes -> SSE messages, keeping the decoder's reconnection state."""

    def __init__(self) -> None:
        self.decoder = SSEDecoder()

    def feed(self, chunk: bytes, t_ns: int, read_idx: int) -> list[Message]:
        return [Message(t_ns, read_idx, ev.event, ev.data, ev.id or None, sse_size(ev.event, ev.data))
                for ev in self.decoder.feed(chunk)]

    def restart(self) -> None:
        self.decoder.restart()


def sse_size(event: str, data: str) -> int:
    """Bytes of the event as usually framed: ``event: …\n`` (if named), one ``data: …\n``
    per line, and the blank line. (Comments, ``id:`` lines and CRLF variants are not
    seen by the decoder's output, so they are not counted.)"""
    # each line break in the data is "\ndata: " on the wire: 6 bytes more than the "\n"
    size = (len(data) if data.isascii() else len(data.encode())) + 6 * data.count("\n") + 8
    return size if event == "message" else size + 8 + len(event)


class NDJSONFramer:
    """Bytes -> one message per non-empty line (Ollama's native stream).

    A line still waiting for its newline is kept as a list of reads and joined once,
    when the newline comes: linear in the line's size however many reads it spans
    (re-joining the tail on every read was quadratic: 18 s for one 40 MB line). A line
    past the SSE decoder's limit (``MAX_EVENT_CHARS`` bytes) is an
    :class:`~nbstream.sse.EventTooLargeError`, not memory growing for ever: raised by the
    next read or the end, so the lines the read that passed it completed are not lost.
    """

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self._pending = 0  # bytes in _parts
        self._over = False  # held more than the limit: the next read or the end raises

    def _keep(self, chunk: bytes) -> None:
        self._parts.append(chunk)
        self._pending += len(chunk)
        self._over = self._over or self._pending > _sse.MAX_EVENT_CHARS

    def _check(self) -> None:
        if self._over:
            raise EventTooLargeError()

    def feed(self, chunk: bytes, t_ns: int, read_idx: int) -> list[Message]:
        self._check()
        if b"\n" not in chunk:
            if chunk:
                self._keep(chunk)
            return []
        if self._parts:
            self._parts.append(chunk)
            chunk = b"".join(self._parts)
            self._parts, self._pending = [], 0
        lines = chunk.split(b"\n")
        tail = lines.pop()
        if tail:
            self._keep(tail)
        return [_line(line, t_ns, read_idx) for line in (raw.strip() for raw in lines) if line]

    def end(self, t_ns: int, read_idx: int) -> list[Message]:
        """A last line without its newline still counts at end of stream."""
        self._check()
        line, self._parts, self._pending = b"".join(self._parts).strip(), [], 0
        return [_line(line, t_ns, read_idx)] if line else []


def _line(line: bytes, t_ns: int, read_idx: int) -> Message:
    return Message(t_ns, read_idx, "", line.decode("utf-8", "replace"), None, len(line))


class JSONFramer(NDJSONFramer):
    """``application/json``: NDJSON lines, unless the first line is not a JSON value on its
    own — a whole (pretty-printed) document, as a server that did not stream sends — which
    then becomes one message at the end of the body (at most ``MAX_EVENT_CHARS`` bytes,
    as one SSE event)."""

    def __init__(self) -> None:
        super().__init__()
        self._whole: bool | None = None  # undecided until the first line is complete
        self._body: list[bytes] = []
        self._held = 0  # bytes in _body

    def _hold(self, chunk: bytes) -> None:
        self._body.append(chunk)
        self._held += len(chunk)
        self._over = self._over or self._held > _sse.MAX_EVENT_CHARS

    def feed(self, chunk: bytes, t_ns: int, read_idx: int) -> list[Message]:
        self._check()
        if self._whole:
            self._hold(chunk)
            return []
        if self._whole is None:
            self._hold(chunk)
            if b"\n" not in chunk:
                return []
            body = b"".join(self._body)
            # the first complete line that is not blank decides (a body may start with blank lines)
            first = next((line for line in (raw.strip() for raw in body.split(b"\n")[:-1]) if line), None)
            if first is None:
                return []
            self._whole = not _is_json(first)
            if self._whole:
                return []
            self._body, self._held, self._over = [], 0, False  # the lines go on as NDJSON's, counted there
            chunk = body
        return super().feed(chunk, t_ns, read_idx)

    def end(self, t_ns: int, read_idx: int) -> list[Message]:
        self._check()
        if self._body:
            self._parts, self._body = [b"".join(self._body)], []
        return super().end(t_ns, read_idx)


def _is_json(line: bytes) -> bool:
    import orjson

    try:
        orjson.loads(line)
    except orjson.JSONDecodeError:
        return False
    return True


def framer_for(content_type: str | None, first_bytes: bytes = b"") -> SSEFramer | NDJSONFramer:
    """Pick the framing from the Content-Type, else sniff the first bytes (``{`` = NDJSON,
    ``[`` = a JSON array, as Gemini answers without ``?alt=sse``)."""
    ctype = (content_type or "").split(";")[0].strip().lower()
    if ctype == "text/event-stream":
        return SSEFramer()
    if ctype == "application/json":
        return JSONFramer()
    if ctype in ("application/x-ndjson", "application/jsonl"):
        return NDJSONFramer()
    first = first_bytes.lstrip()[:1]
    if first == b"[":
        return JSONFramer()
    return NDJSONFramer() if first == b"{" else SSEFramer()
