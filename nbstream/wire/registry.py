"""The wire formats nbstream speaks — the one list. ``stream(api=...)``, ``%%stream
--api``, ``nbstream ask --api``, ``nbstream.config.api`` and the adapters all read it.

Adding a format is one module defining a :class:`~nbstream.wire.spec.WireFormat`
(adapter, path, body builder, headers, key variable) and one line below (or a
:func:`register` call at run time). The list is process-wide on purpose, as Python's
codec registry is: a format is code the process speaks, not a session's state.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from nbstream.events import ErrorEvent, Event, Other
from nbstream.wire import anthropic, chat, gemini, generic, ollama, responses
from nbstream.wire.payload import EMPTY, error_event, load
from nbstream.wire.spec import Adapter, WireFormat

__all__ = ["AUTO", "FORMATS", "AutoAdapter", "adapter_for", "check_api", "get", "register", "requestable",
           "split_model", "unregister"]


class AutoAdapter:
    """Detects the format on the first decisive message and sticks to it.

    Each registered format's ``detect`` is asked in registry order; a message none
    claims makes the stream a generic feed (``"sse"``). ``kind`` is ``None`` until
    then, afterwards the format's name. A JSON array (Gemini's answer without
    ``?alt=sse``) is decided by its first object. A top-level error before anything else is
    reported without deciding; so is an empty message. ``on_decide`` (optional) is told
    the format's name once, when it is decided (a shown stream's Run takes it as its format).
    """

    __slots__ = ("_fast", "_inner", "kind", "on_decide")

    def __init__(self) -> None:
        self._inner: Adapter | None = None
        self._fast: Any = None
        self.kind: str | None = None
        self.on_decide: Callable[[str], None] | None = None

    def decided_fast(self) -> Any:
        """The decided adapter's ``feed_fast`` (or ``feed``); None while undecided."""
        return self._fast

    def feed_fast(self, name: str, data: Any, id: str | None = None) -> Any:
        """The decided adapter's ``feed_fast`` (its text-only answer for a plain text delta)."""
        fast = self._fast
        return self.feed(name, data, id) if fast is None else fast(name, data, id)

    def feed(self, name: str, data: Any, id: str | None = None) -> list[Event]:
        """One wire message -> events, from whichever adapter the stream turned out to need."""
        inner = self._inner
        if inner is not None:
            return inner.feed(name, data, id)
        name = name or ""
        obj = load(data)
        if obj is EMPTY:
            return [Other(type=name or "message", data=data, id=id)]
        for fmt in FORMATS.values():
            if fmt.detect is not None and _claims(fmt, name, obj):
                return self._decide(fmt).feed(name, obj if obj.__class__ is dict else data, id)
        if obj.__class__ is list:  # a JSON array of chunks (Gemini without ?alt=sse): its first object decides
            first = next((item for item in obj if item.__class__ is dict), None)
            for fmt in FORMATS.values():
                if first is not None and fmt.reads_arrays and fmt.detect is not None and _claims(fmt, name, first):
                    return self._decide(fmt).feed(name, obj, id)
        if obj.__class__ is dict:
            if "error" in obj:
                return [error_event(obj["error"])]
            if obj.get("object") == "error":  # vLLM's top-level error object
                return [error_event(obj)]
            if obj.get("type") == "error" and "message" in obj:  # a Responses `error` event
                ev = error_event(obj)
                return [ErrorEvent(message=ev.message, code=ev.code)]
        return self._decide(generic.SSE).feed(name, data, id)

    def _decide(self, fmt: WireFormat) -> Adapter:
        self.kind = fmt.name
        adapter = self._inner = fmt.adapter()
        self._fast = getattr(adapter, "feed_fast", adapter.feed)
        if self.on_decide is not None:
            self.on_decide(fmt.name)
        return adapter


#: A stream of unknown format (``show()``): detected on its first decisive message.
AUTO = WireFormat(name="auto", description="detected from the first message", adapter=AutoAdapter)

#: name -> format; the order is the order shown in help and error messages.
FORMATS: dict[str, WireFormat] = {f.name: f for f in (
    chat.FORMAT,
    responses.FORMAT,
    ollama.FORMAT,
    anthropic.FORMAT,
    gemini.FORMAT,
    generic.SSE,
    AUTO,
)}


def _claims(fmt: WireFormat, name: str, obj: Any) -> bool:
    """A format's detect rule; one that raises on a hostile message claims nothing."""
    assert fmt.detect is not None
    try:
        return bool(fmt.detect(name, obj))
    except Exception:
        return False


def register(fmt: WireFormat) -> None:
    """Add a format (a ValueError if its name is taken)."""
    if not isinstance(fmt, WireFormat):
        raise TypeError(f"register() takes a WireFormat, not {type(fmt).__name__}")
    if fmt.name in FORMATS:
        raise ValueError(f"a wire format named {fmt.name!r} is already registered")
    FORMATS[fmt.name] = fmt


def unregister(name: str) -> None:
    """Remove a format added with :func:`register` (tests, plug-ins)."""
    FORMATS.pop(name, None)


def split_model(model: Any) -> tuple[WireFormat | None, Any]:
    """``("anthropic" format, "claude-x")`` for a model written ``anthropic:claude-x``: a
    prefix one registered format claims picks it. Anything else comes back as it was
    (``llama3.2:3b`` is an Ollama tag, ``openai/gpt-5.2`` a gateway's name)."""
    if isinstance(model, str):
        prefix, sep, name = model.partition(":")
        if sep:
            for fmt in FORMATS.values():
                if prefix in fmt.prefixes:
                    if not name.strip():
                        raise ValueError(f"model {model!r} names the {fmt.name!r} API but no model: "
                                         f"write it like '{prefix}:MODEL-NAME'")
                    return fmt, name
    return None, model


def requestable() -> tuple[str, ...]:
    """The names ``api=`` accepts: formats nbstream can send a request in."""
    return tuple(name for name, fmt in FORMATS.items() if fmt.requestable)


def _listing(names: tuple[str, ...]) -> str:
    return (", ".join(repr(n) for n in names)
            + " (" + "; ".join(f"{n}: {FORMATS[n].description}" for n in names) + ")")


def check_api(value: Any, what: str = "api") -> str:
    """``value`` if it names a requestable format; else a one-line error listing them."""
    if isinstance(value, str) and value in FORMATS and FORMATS[value].requestable:
        return value
    shown = repr(value) if isinstance(value, str) else f"{type(value).__name__} {value!r}"[:80]
    raise ValueError(f"unknown {what} {shown}: {what} must be one of {_listing(requestable())}")


def get(name: Any) -> WireFormat:
    """The format called ``name``; a one-line error naming every format otherwise."""
    fmt = FORMATS.get(name) if isinstance(name, str) else None
    if fmt is None:
        raise ValueError(f"unknown stream format {name!r}: choose one of "
                         f"{', '.join(repr(n) for n in FORMATS)}")
    return fmt


def adapter_for(name: str) -> Adapter:
    """A fresh adapter (adapters keep per-stream state) for one stream in format ``name``."""
    return get(name).adapter()
