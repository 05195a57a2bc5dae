"""What a wire format is: one :class:`WireFormat` object per format holds everything the
engine needs to send a request in it and to read its answer, so the engine never
branches on a format's name. Each format's module defines its object; the list of
formats is :mod:`nbstream.wire.registry`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from nbstream.events import Event

__all__ = ["OPENAI_HEADERS", "Adapter", "BodyBuilder", "WireFormat", "bearer"]


@runtime_checkable
class Adapter(Protocol):
    """What every adapter offers: one wire message in, a list of events out."""

    def feed(self, name: str, data: Any, id: str | None = None) -> list[Event]: ...


#: ``(model, messages, params) -> request body``; ``params`` are the caller's extra keywords.
BodyBuilder = Callable[[str, list[dict[str, Any]], dict[str, Any]], dict[str, Any]]


def bearer(key: str) -> dict[str, str]:
    """The OpenAI convention: ``Authorization: Bearer <key>``."""
    return {"Authorization": f"Bearer {key}"}


#: The environment variables the openai SDK sends as headers (organization, project).
OPENAI_HEADERS = (("OPENAI_ORG_ID", "OpenAI-Organization"), ("OPENAI_PROJECT_ID", "OpenAI-Project"))


def _same(base_url: str) -> str:
    return base_url


@dataclass(frozen=True, kw_only=True)
class WireFormat:
    """One wire format.

    ``path`` and ``body`` are None for formats that are read but never requested with
    ``api=`` (a generic SSE feed, auto-detection). ``end_marker`` says whether a
    complete stream says so itself (``[DONE]``, a terminal event, ``done: true``, or a
    finish reason, which is all Gemini's last chunk has): a clean close without any of
    them (no ``Done``, no ``Finish``) is then an incomplete run. ``root`` maps the configured base
    URL to the one ``path`` is appended to (``path`` may be a function of the model).
    ``key_envs`` name the variables holding the key (the first one set wins),
    ``url_envs`` the variables naming the server (tried in order; a parser turns a host
    form into a URL, None takes the value as a URL), ``env_headers`` the variables
    sent as extra headers; ``auth`` turns the key into headers, ``headers`` are sent
    with every request. ``detect(event name, decoded payload)`` is True when a message
    surely belongs to this format (``show()`` of a stream of unknown format);
    ``reads_arrays`` that its adapter reads a whole JSON array of such messages (Gemini
    without ``?alt=sse``), so an array whose first object it claims is its. A model
    written ``PREFIX:NAME`` with one of ``prefixes`` (``anthropic:claude-…``) is sent in
    this format, to this provider.
    """

    name: str
    description: str
    adapter: Callable[[], Adapter]
    framing: Literal["sse", "ndjson"] = "sse"
    end_marker: bool = True
    path: str | Callable[[str], str] | None = None
    body: BodyBuilder | None = None
    root: Callable[[str], str] = _same
    key_envs: tuple[str, ...] = ("OPENAI_API_KEY",)
    url_envs: tuple[tuple[str, Callable[[str], str] | None], ...] = (("OPENAI_BASE_URL", None),)
    default_url: str = "https://api.openai.com/v1"
    env_headers: tuple[tuple[str, str], ...] = ()
    auth: Callable[[str], dict[str, str]] = bearer
    headers: Mapping[str, str] = field(default_factory=dict)
    detect: Callable[[str, Any], bool] | None = None
    reads_arrays: bool = False
    prefixes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not (isinstance(self.name, str) and self.name.isidentifier()):
            raise ValueError(f"a wire format's name must be a short identifier; got {self.name!r}")
        if (self.path is None) != (self.body is None):
            raise ValueError(f"wire format {self.name!r}: give both a request path and a body builder, "
                             "or neither")
        if isinstance(self.path, str) and not self.path.startswith("/"):
            raise ValueError(f"wire format {self.name!r}: the request path must start with '/'")

    def path_for(self, model: str) -> str:
        """The request path for ``model`` (a callable ``path`` puts the model in it, as
        Gemini's ``/v1beta/models/{model}:streamGenerateContent`` does)."""
        path = self.path(model) if callable(self.path) else self.path
        if not isinstance(path, str) or not path.startswith("/"):
            raise ValueError(f"wire format {self.name!r}: no request path for model {model!r}")
        return path

    @property
    def requestable(self) -> bool:
        """True when ``stream(api=name)`` can send a request in this format."""
        return self.body is not None

    @property
    def accept(self) -> str:
        """The ``Accept`` header of a request in this format."""
        return "application/x-ndjson" if self.framing == "ndjson" else "text/event-stream"
