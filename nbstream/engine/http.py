"""HTTP transport: send one streaming request, turn failures into typed errors, read
the body as timed byte chunks under the first-byte and idle-gap deadlines.

Built on ``httpx.AsyncClient``; one client per event loop keeps connections pooled.
"""

from __future__ import annotations

import asyncio
import threading
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx

from nbstream import errors
from nbstream._secrets import redact

__all__ = ["Clients", "EndpointQuirks", "Timeouts", "Transport", "http_error", "send", "timed_reads"]


@dataclass(frozen=True)
class Timeouts:
    """Seconds: to connect, from sending to the first body byte, between two reads."""

    connect: float | None = 10.0  # None: no deadline
    first_byte: float | None = 120.0
    idle: float | None = 60.0


class Clients:
    """One pooled ``httpx.AsyncClient`` per event loop (connections are bound to their loop)."""

    def __init__(self) -> None:
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncClient] = (
            weakref.WeakKeyDictionary())

    def for_running_loop(self) -> httpx.AsyncClient:
        """The pooled client of the running loop, created on first use."""
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None or client.is_closed:
            client = httpx.AsyncClient(timeout=None, limits=httpx.Limits(max_connections=None,
                                                                          max_keepalive_connections=32))
            self._clients[loop] = client
        return client

    async def aclose_running(self) -> None:
        """Close the running loop's client (before its loop stops)."""
        client = self._clients.pop(asyncio.get_running_loop(), None)
        if client is not None:
            await client.aclose()

    def after_fork(self) -> None:
        """A forked child shares the parent's pooled sockets: it must open its own."""
        self._clients = weakref.WeakKeyDictionary()


class EndpointQuirks:
    """What endpoints told us about themselves, kept for the session: the base URLs that
    answered HTTP 400 to ``stream_options`` (never sent there again)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._no_stream_options: set[str] = set()

    def rejects_stream_options(self, base_url: str) -> bool:
        with self._lock:
            return base_url in self._no_stream_options

    def remember_no_stream_options(self, base_url: str) -> None:
        with self._lock:
            self._no_stream_options.add(base_url)

    def after_fork(self) -> None:
        self._lock = threading.Lock()


@dataclass
class Transport:
    """What a request needs from its session to go out: pooled clients and the endpoint quirks."""

    clients: Clients = field(default_factory=Clients)
    quirks: EndpointQuirks = field(default_factory=EndpointQuirks)

    def send(self, method: str, url: str, **kw: Any) -> Awaitable[httpx.Response]:
        """:func:`send` through this transport's pooled client."""
        return send(method, url, client=self.clients.for_running_loop(), **kw)

    def after_fork(self) -> None:
        self.clients.after_fork()
        self.quirks.after_fork()


async def send(method: str, url: str, *, client: httpx.AsyncClient, headers: dict[str, Any],
               json_body: Any = None, timeouts: Timeouts, key_source: str | None = None,
               key_envs: tuple[str, ...] = ("OPENAI_API_KEY",),
               on_sent: Callable[[], None] | None = None) -> httpx.Response:
    """Send and return the open streaming response (status < 400), else raise a typed error.

    ``on_sent`` is called once the request is written on a connection (httpcore's trace
    hook: a few calls per request, none per body chunk). The caller owns the response
    and must ``aclose()`` it.
    """
    extensions: dict[str, Any] = {}
    if on_sent is not None:
        async def trace(name: str, _info: dict[str, Any]) -> None:
            if name.endswith("send_request_body.complete"):
                on_sent()

        extensions["trace"] = trace
    request = client.build_request(method, url, headers=headers, json=json_body, extensions=extensions,
                                   timeout=httpx.Timeout(None, connect=timeouts.connect))
    try:
        async with asyncio.timeout(timeouts.first_byte):
            response = await client.send(request, stream=True)
    except TimeoutError:
        raise errors.FirstByteTimeout(
            f"no response from {url} within {timeouts.first_byte:g} s (first_byte_timeout)",
            seconds=timeouts.first_byte) from None
    except httpx.ConnectTimeout:
        raise errors.ConnectTimeout(
            f"could not connect to {url} within {timeouts.connect:g} s (connect_timeout): "
            "is the server up and the address right?", seconds=timeouts.connect) from None
    except httpx.ConnectError as exc:
        raise errors.ConnectError(f"could not connect to {url}: {_why(exc)}") from None
    except httpx.TransportError as exc:
        raise errors.ConnectError(f"request to {url} failed: {_why(exc)}") from None
    if response.status_code >= 400:
        body = await _read_error_body(response)
        raise http_error(response.status_code, url, body, response.headers, key_source=key_source,
                         key_envs=key_envs)
    return response


async def timed_reads(response: httpx.Response, *, t0_ns: int, timeouts: Timeouts,
                      url: str) -> AsyncIterator[tuple[int, bytes]]:
    """Yield ``(arrival perf_counter_ns, bytes)`` per network read.

    The first read must come ``first_byte`` seconds after t0 at the latest; later reads
    ``idle`` seconds after the previous one. A connection the server drops mid-body
    raises ``IncompleteStreamError`` (the caller keeps what arrived).
    """
    chunks = response.aiter_bytes()
    deadline: float | None = None
    if timeouts.first_byte is not None:
        deadline = max(timeouts.first_byte - (time.perf_counter_ns() - t0_ns) / 1e9, 0.0)
    first = True
    while True:
        try:
            async with asyncio.timeout(deadline):
                chunk = await anext(chunks)
        except StopAsyncIteration:
            return
        except TimeoutError:
            if first:
                raise errors.FirstByteTimeout(
                    f"{url} sent no data within {timeouts.first_byte:g} s (first_byte_timeout)",
                    seconds=timeouts.first_byte) from None
            raise errors.IdleTimeout(
                f"{url} went silent for more than {timeouts.idle:g} s mid-stream (idle_timeout)",
                seconds=timeouts.idle) from None
        except (httpx.RemoteProtocolError, httpx.ReadError) as exc:
            raise errors.IncompleteStreamError(
                f"the server closed the connection mid-stream ({_why(exc)})") from None
        yield time.perf_counter_ns(), chunk
        first = False
        deadline = timeouts.idle


async def _read_error_body(response: httpx.Response) -> str:
    try:
        async with asyncio.timeout(5):
            raw = await response.aread()
        return raw.decode("utf-8", "replace")
    except Exception:  # the status alone still makes a useful error
        return ""
    finally:
        await response.aclose()


def http_error(status: int, url: str, body: str, headers: Any, *,
               key_source: str | None = None,
               key_envs: tuple[str, ...] = ("OPENAI_API_KEY",)) -> errors.HTTPStatusError:
    """The typed error for an HTTP error status, with the server's own message; a refused
    request without a key names the variables the format reads its key from."""
    server_msg = _server_message(body)
    said = f": {server_msg}" if server_msg else ""
    kw: dict[str, Any] = dict(status=status, url=url, server_message=server_msg)
    if status in (401, 403):
        key = (f"the API key from {key_source} was refused" if key_source else
               "no API key was sent: pass api_key=..." + "".join(f" or set {v}" for v in key_envs[:1]))
        return errors.AuthenticationError(f"HTTP {status} from {url}{said} — {key}", **kw)
    if status == 404:
        return errors.NotFoundError(f"HTTP 404 from {url}{said} — unknown model or wrong path {_not_found_hint(url)}",
                                    **kw)
    if status == 429:
        retry_after = _retry_after(headers)
        hint = f" (Retry-After: {retry_after:g} s)" if retry_after is not None else ""
        return errors.RateLimitError(f"HTTP 429 rate limited by {url}{hint}{said}",
                                     retry_after=retry_after, **kw)
    if status >= 500:
        return errors.ServerError(f"HTTP {status} server error from {url}{said}", **kw)
    return errors.BadRequestError(f"HTTP {status} from {url}{said}", **kw)


def _not_found_hint(url: str) -> str:
    """Where the base URL went wrong and where the models are listed, in the words of the
    API the request path belongs to."""
    path = urlsplit(url).path
    root = url[:url.index(path)] if path and path in url else url
    if path.endswith("/v1/messages"):
        base = root + path.removesuffix("/v1/messages")
        return (f"(Anthropic's base URL has no /v1, like https://api.anthropic.com); "
                f"GET {base}/v1/models lists the models")
    if ":streamGenerateContent" in path or ":generateContent" in path:
        base = root + path.split("/v1beta/")[0].split("/v1/")[0]
        return (f"(Gemini's base URL is the host, like https://generativelanguage.googleapis.com); "
                f"GET {base}/v1beta/models lists the models")
    if path.endswith(("/api/chat", "/api/generate")):
        base = root + path.rsplit("/api/", 1)[0]
        return f"(Ollama's base URL is the host, like http://127.0.0.1:11434); GET {base}/api/tags lists the models"
    base = url.split("/chat/completions")[0].split("/responses")[0]
    return f"(the base URL usually ends in /v1); GET {base}/models lists the models"


def _server_message(body: str) -> str | None:
    """The ``error.message`` of an OpenAI-style body, else the body's start — redacted
    before it is cut, so a key straddling the cut cannot leave its first part behind."""
    import orjson

    text = redact(body.strip())
    if not text:
        return None
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError:
        return text[:300]
    if isinstance(data, dict):
        err = data.get("error", data)
        if isinstance(err, dict):
            msg = err.get("message") or err.get("detail")
            if msg:
                return redact(str(msg))[:300]
        elif isinstance(err, str):
            return redact(err)[:300]
        if isinstance(data.get("detail"), str):
            return redact(data["detail"])[:300]
    return text[:300]


def _retry_after(headers: Any) -> float | None:
    value = headers.get("retry-after") if headers is not None else None
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:  # an HTTP date: rare for APIs, report it unparsed-free
        return None


def _why(exc: BaseException) -> str:
    """A short reason, looking through the exception chain (anyio wraps the OSError)."""
    seen: list[BaseException] = []
    cur: BaseException | None = exc
    while cur is not None and cur not in seen:
        seen.append(cur)
        cur = cur.__cause__ or cur.__context__
    for err in seen:
        for sub in getattr(err, "exceptions", ()):  # ExceptionGroup / anyio multi-errors
            seen.append(sub)
    errnos = {getattr(e, "errno", None) for e in seen}
    texts = " ".join(str(e) for e in seen)
    if 111 in errnos or "Connection refused" in texts:
        return "connection refused (is the server running?)"
    if -2 in errnos or -3 in errnos or "Name or service not known" in texts:
        return "the host name could not be resolved (DNS failure; check the URL)"
    return redact(str(exc) or type(exc).__name__)
