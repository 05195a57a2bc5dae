"""Typed errors with one-line human messages.

A Run keeps its error in ``run.error`` and its partial answer in ``run.text``; these are
raised only when the caller asks (``run.raise_for_status()`` or ``raise_on_error=True``).
Every message passes through :func:`nbstream._secrets.redact`, so an API key never
appears in a message, a repr or a log line.
"""

from __future__ import annotations

import re

from nbstream._secrets import redact

_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")


def one_line(text: str) -> str:
    """A server's text for a message: one line, no control characters, at most 300 characters."""
    return " ".join(_CONTROL.sub(" ", text[:2000]).split())[:300]


class NBStreamError(Exception):
    """Base class of every nbstream error."""

    def __init__(self, message: str) -> None:
        super().__init__(redact(message))

    @property
    def message(self) -> str:
        return str(self)


class HTTPStatusError(NBStreamError):
    """The server answered with an HTTP error status instead of a stream."""

    def __init__(self, message: str, *, status: int, url: str, server_message: str | None = None,
                 retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.url = redact(url)
        self.server_message = redact(server_message) if server_message else None
        self.retry_after = retry_after


class BadRequestError(HTTPStatusError):
    """HTTP 400 or another 4xx not covered below: the request was refused as malformed."""


class AuthenticationError(HTTPStatusError):
    """HTTP 401 or 403: the API key is missing, wrong, or lacks access."""


class NotFoundError(HTTPStatusError):
    """HTTP 404: unknown model or wrong path (the base URL usually ends in /v1)."""


class RateLimitError(HTTPStatusError):
    """HTTP 429: too many requests or quota exhausted; ``retry_after`` is in seconds."""


class ServerError(HTTPStatusError):
    """HTTP 5xx: the server failed; the message carries its own explanation."""


class ConnectError(NBStreamError):
    """The server could not be reached (connection refused, DNS failure, dropped feed)."""


class StreamTimeout(NBStreamError, TimeoutError):
    """Base of the three timeouts: connect, first byte, idle gap."""

    def __init__(self, message: str, *, seconds: float | None) -> None:
        super().__init__(message)
        self.seconds = seconds


class ConnectTimeout(StreamTimeout):
    """No connection within ``connect_timeout`` seconds."""


class FirstByteTimeout(StreamTimeout):
    """Nothing of the answer arrived within ``first_byte_timeout`` seconds of sending."""


class IdleTimeout(StreamTimeout):
    """The stream went silent for longer than ``idle_timeout`` seconds."""


class StreamError(NBStreamError):
    """The server reported an error inside the stream (in-band error, ``response.failed``);
    ``code`` and ``type`` are the server's own words for it (``overloaded_error``,
    ``server_error``, ``invalid_request_error``…), when it sent them."""

    def __init__(self, message: str, *, code: str | None = None, type: str | None = None) -> None:  # noqa: A002
        super().__init__(message)
        self.code = code
        self.type = type


class SourceError(NBStreamError):
    """The iterator or SDK object handed to ``nbstream.show`` raised; ``__cause__`` is the original."""


class IncompleteStreamError(NBStreamError):
    """The stream ended before the protocol's end marker: the answer may be cut short."""


__all__ = [
    "NBStreamError",
    "HTTPStatusError",
    "BadRequestError",
    "AuthenticationError",
    "NotFoundError",
    "RateLimitError",
    "ServerError",
    "ConnectError",
    "StreamTimeout",
    "ConnectTimeout",
    "FirstByteTimeout",
    "IdleTimeout",
    "StreamError",
    "SourceError",
    "IncompleteStreamError",
]
