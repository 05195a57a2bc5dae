"""HTTP transport: send one streaming request, turn failures into typed errors, read
the body as timed byte chunks under the first-byte and idle-gap deadlines.

Built on aiohttp (one pooled ``ClientSession`` per event loop), chosen by measurement:
``bench/concurrency.py`` streams chat chunks at 50 tok/s from a server in another process
and compares, in one run, each candidate transport alone (stamp each read, split SSE
events, parse nothing). On the shared 2-core machine (other processes using ~1.3 cores),
client CPU per event and recorded gap error p99 were, at 100 / 1,000 streams:

=====================  ===============  ==================
transport              CPU µs/event     gap error p99, ms
=====================  ===============  ==================
aiohttp 3.14 directly  53 / 12          4.5 / 6.3
own asyncio reader     50 / 16          2.0 / 33
httpx + httpx-aiohttp  61 / 17          8.6 / 9.4
httpx 0.28 (before)    112 / 32         14 / 85
httpx2 2.16            113 / 40         46 / 153
=====================  ===============  ==================

(Measured while the benchmark's server still ran in the client's session, where the
scheduler weighed its 1,000 threads against the client's loop, for every transport
alike; ``bench/_common.py`` now gives it a session of its own, and the ranking was not
measured again since.)

httpx and httpx2 spend twice the CPU in httpcore/h11/anyio and, at 1,000 streams, take
3-5 s to first bytes (TTFT p99) with 0.6-0.9 s GC pauses of their own; httpx over the
aiohttp transport only adds httpx's layer; an own reader saves nothing measurable over
aiohttp's C parser and would have to re-do proxies, TLS, chunking and decompression.
HTTP/2 is not used: one stream per connection costs nothing on loopback or against a
handful of API hosts.

Kept from the httpx days: proxies from ``HTTPS_PROXY``/``HTTP_PROXY``/``ALL_PROXY``/
``NO_PROXY`` (HTTP proxies; HTTPS through a CONNECT tunnel), TLS verified against
certifi's roots (or ``SSL_CERT_FILE``/``SSL_CERT_DIR``), no redirects followed,
gzip/deflate decoded, URL credentials sent as Basic auth, every error mapping and
timeout. Connections are kept alive; a request that fails on a pooled connection
before any answer (its server closed it meanwhile) is sent again on another. Deadlines
mid-body cost no timer per read: one watchdog per response re-arms
itself from the last arrival stamp, so 1,000 streams add ~nothing per event.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import re
import ssl
import threading
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import yarl
from aiohttp.http_exceptions import ContentLengthError, PayloadEncodingError, TransferEncodingError

from nbstream import errors
from nbstream._secrets import redact
from nbstream.engine.backlog import Backlog

__all__ = ["Clients", "EndpointQuirks", "Response", "Timeouts", "Transport", "http_error", "send",
           "timed_reads"]


@dataclass(frozen=True)
class Timeouts:
    """Seconds: to connect, from sending to the first body byte, between two reads."""

    connect: float | None = 10.0  # None: no deadline
    first_byte: float | None = 120.0
    idle: float | None = 60.0


def _ssl_context() -> ssl.SSLContext:
    """Verify as httpx did: ``SSL_CERT_FILE``/``SSL_CERT_DIR`` when set, else certifi's roots."""
    import certifi

    cafile = os.environ.get("SSL_CERT_FILE")
    capath = os.environ.get("SSL_CERT_DIR")
    if cafile and os.path.isfile(cafile):
        return ssl.create_default_context(cafile=cafile)
    if capath and os.path.isdir(capath):
        return ssl.create_default_context(capath=capath)
    return ssl.create_default_context(cafile=certifi.where())


class Clients:
    """One pooled ``aiohttp.ClientSession`` per event loop (connections are bound to
    their loop). A session holds its loop, so entries of loops that were closed (each
    ``asyncio.run`` makes one) are dropped at the next call instead of living on."""

    def __init__(self) -> None:
        self._clients: dict[asyncio.AbstractEventLoop, aiohttp.ClientSession] = {}
        self._ssl: ssl.SSLContext | None = None

    def for_running_loop(self) -> aiohttp.ClientSession:
        """The pooled client of the running loop, created on first use."""
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None or client.closed:
            self._forget_closed_loops()
            if self._ssl is None:
                self._ssl = _ssl_context()
            connector = aiohttp.TCPConnector(limit=0, limit_per_host=0, ssl=self._ssl, loop=loop)
            client = aiohttp.ClientSession(connector=connector, auto_decompress=True,
                                           timeout=aiohttp.ClientTimeout(total=None),
                                           trace_configs=[_trace_config()])
            self._clients[loop] = client
        return client

    def _forget_closed_loops(self) -> None:
        for loop in [loop for loop in self._clients if loop.is_closed()]:
            client = self._clients.pop(loop)
            connector = client.connector
            client.detach()  # its loop is gone: nothing left to await
            if connector is not None:
                with contextlib.suppress(Exception):  # sockets close without their loop's help
                    connector._close()  # noqa: SLF001 - the synchronous half of close()

    async def aclose_running(self) -> None:
        """Close the running loop's client (before its loop stops)."""
        client = self._clients.pop(asyncio.get_running_loop(), None)
        if client is not None:
            await client.close()

    def after_fork(self) -> None:
        """A forked child shares the parent's pooled sockets: it must open its own."""
        self._clients = {}


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


class Response:
    """An open streaming response: ``status_code``, ``headers`` (case-insensitive
    ``get``) and ``aclose()``, the little the pump reads, over aiohttp's response."""

    __slots__ = ("headers", "raw", "status_code")

    def __init__(self, raw: aiohttp.ClientResponse) -> None:
        self.raw = raw
        self.status_code = raw.status
        self.headers = raw.headers

    async def aclose(self) -> None:
        """Back to the pool when the body was read to its end, else the connection closes."""
        if self.raw.content.is_eof():
            self.raw.release()
        else:
            self.raw.close()


@dataclass
class Transport:
    """What a request needs from its session to go out: pooled clients, the endpoint
    quirks, and each event loop's backlog of reads waiting to be parsed."""

    clients: Clients = field(default_factory=Clients)
    quirks: EndpointQuirks = field(default_factory=EndpointQuirks)
    backlogs: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Backlog] = field(
        default_factory=weakref.WeakKeyDictionary)
    _backlogs_lock: threading.Lock = field(default_factory=threading.Lock)

    def backlog(self) -> Backlog:
        """The running loop's backlog (see ``nbstream.engine.backlog``). A closed loop's
        is dropped (a stream abandoned on it would keep it alive)."""
        loop = asyncio.get_running_loop()
        backlog = self.backlogs.get(loop)
        if backlog is None:
            with self._backlogs_lock:  # several threads' loops: the sweep below must not race an insert
                for old in [old for old in list(self.backlogs.keys()) if old.is_closed()]:
                    self.backlogs.pop(old, None)
                backlog = self.backlogs.setdefault(loop, Backlog())
        return backlog

    def send(self, method: str, url: str, **kw: Any) -> Awaitable[Response]:
        """:func:`send` through this transport's pooled client."""
        return send(method, url, client=self.clients.for_running_loop(), **kw)

    def after_fork(self) -> None:
        self.clients.after_fork()
        self.quirks.after_fork()
        self.backlogs = weakref.WeakKeyDictionary()
        self._backlogs_lock = threading.Lock()


_NEEDS_QUOTING = frozenset(' "<>\\^`{|}')


def _as_sent(url: str) -> yarl.URL:
    """The URL exactly as given when it is already valid on the wire (yarl would turn a
    ``%2F`` in a query key into ``/``); else quoted, as httpx did."""
    if url.isascii() and url.isprintable() and _NEEDS_QUOTING.isdisjoint(url):
        return yarl.URL(url, encoded=True)
    return yarl.URL(url)


def _basic_auth(user: str, password: str | None) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password or ''}".encode()).decode("ascii")


def _proxy_for(target: yarl.URL, url: str) -> tuple[yarl.URL | None, str | None]:
    """The proxy for ``target`` from ``HTTP_PROXY``/``HTTPS_PROXY``/``ALL_PROXY`` unless
    ``NO_PROXY`` exempts its host — read here on each request, in microseconds (aiohttp's
    own ``trust_env`` sends every request through a thread pool hop to read them). Also
    the proxy's ``Proxy-Authorization`` value when its URL carries user:password."""
    import urllib.request

    if target.host is not None and urllib.request.proxy_bypass(target.host):
        return None, None
    proxies = urllib.request.getproxies()
    value = proxies.get(target.scheme) or proxies.get("all")
    if not value:
        return None, None
    try:
        proxy = yarl.URL(value if "://" in value else f"http://{value}")
    except ValueError:  # neither the value nor the parser's words are shown: they may hold the password
        raise errors.ConnectError(
            f"request to {url} not sent: the {target.scheme} proxy from the environment (HTTP_PROXY/"
            "HTTPS_PROXY/ALL_PROXY) is no valid URL (like http://host:port); fix or unset it") from None
    if proxy.scheme != "http":
        raise errors.ConnectError(
            f"request to {url} not sent: the {proxy.scheme}:// proxy from the environment is not "
            "supported (nbstream talks to HTTP proxies: http://host:port; NO_PROXY can exempt this host)")
    auth = _basic_auth(proxy.user, proxy.password) if proxy.user is not None else None
    return proxy.with_user(None), auth


def _header_text(value: Any) -> str:
    """Header values as text; bytes (a non-ASCII ``Last-Event-ID``) go out as their UTF-8."""
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


async def send(method: str, url: str, *, client: aiohttp.ClientSession, headers: dict[str, Any],
               json_body: Any = None, timeouts: Timeouts, key_source: str | None = None,
               key_envs: tuple[str, ...] = ("OPENAI_API_KEY",),
               on_sent: Callable[[], None] | None = None) -> Response:
    """Send and return the open streaming response (status < 400), else raise a typed error.

    ``on_sent`` is called once the request is written on a connection (aiohttp's trace
    hook, per client session: a few calls per request, none per body chunk). The caller
    owns the response and must ``aclose()`` it.
    """
    out = {k: _header_text(v) for k, v in headers.items()}
    target = _as_sent(url)
    if target.user is not None:  # user:password@ in the URL goes as Basic auth, as httpx sent it
        out = {k: v for k, v in out.items() if k.lower() != "authorization"}
        out["Authorization"] = _basic_auth(target.user, target.password)
        target = target.with_user(None)
    proxy, proxy_user = _proxy_for(target, url)
    proxy_headers = None
    if proxy_user is not None:  # to the proxy only: on the CONNECT of a tunnel, else on the request
        if target.scheme == "https":
            proxy_headers = {"Proxy-Authorization": proxy_user}
        else:
            out["Proxy-Authorization"] = proxy_user
    data = None
    if json_body is not None:
        data = json.dumps(json_body, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()
        if not any(k.lower() == "content-type" for k in out):
            out["Content-Type"] = "application/json"
    sent = _Sent(on_sent, data is not None)
    try:
        async with asyncio.timeout(timeouts.first_byte):
            for tries_left in range(_STALE_TRIES, -1, -1):
                sent.reused = False
                try:
                    raw = await client.request(method, target, headers=out, data=data, allow_redirects=False,
                                               timeout=aiohttp.ClientTimeout(total=None, connect=timeouts.connect),
                                               proxy=proxy, proxy_headers=proxy_headers, trace_request_ctx=sent)
                    break
                except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError):
                    # a kept-alive connection the server closed before it read this request
                    # (llama.cpp's server closes them after a streamed answer, racing the
                    # next request): sent again, as browsers do, on another connection
                    if not sent.reused or not tries_left:
                        raise
    except aiohttp.ConnectionTimeoutError:  # a TimeoutError too: before the next clause
        raise errors.ConnectTimeout(
            f"could not connect to {url} within {timeouts.connect:g} s (connect_timeout): "
            "is the server up and the address right?", seconds=timeouts.connect) from None
    except TimeoutError:
        raise errors.FirstByteTimeout(
            f"no response from {url} within {timeouts.first_byte:g} s (first_byte_timeout)",
            seconds=timeouts.first_byte) from None
    except aiohttp.ClientConnectorError as exc:
        raise errors.ConnectError(f"could not connect to {url}: {_why(exc)}") from None
    except (aiohttp.ClientError, ValueError) as exc:
        raise errors.ConnectError(f"request to {url} failed: {_why(exc)}") from None
    response = Response(raw)
    if raw.status >= 400:
        body = await _read_error_body(response)
        raise http_error(raw.status, url, body, raw.headers, key_source=key_source, key_envs=key_envs)
    return response


def _trace_config() -> aiohttp.TraceConfig:
    """Calls a request's ``on_sent`` (its ``trace_request_ctx``) once the request is on
    the wire: after its body chunk, or after its head when it has no body; notes a
    connection taken from the pool."""
    config = aiohttp.TraceConfig()

    async def head_sent(_session: Any, ctx: Any, _params: Any) -> None:
        sent = ctx.trace_request_ctx
        if isinstance(sent, _Sent) and not sent.has_body:
            sent.fire()

    async def chunk_sent(_session: Any, ctx: Any, _params: Any) -> None:
        sent = ctx.trace_request_ctx
        if isinstance(sent, _Sent):
            sent.fire()

    async def reused(_session: Any, ctx: Any, _params: Any) -> None:
        sent = ctx.trace_request_ctx
        if isinstance(sent, _Sent):
            sent.reused = True

    config.on_request_headers_sent.append(head_sent)
    config.on_request_chunk_sent.append(chunk_sent)
    config.on_connection_reuseconn.append(reused)
    return config


#: How many times a request that failed on a reused connection, before any answer, is sent
#: again (each time on another pooled connection, or a new one).
_STALE_TRIES = 3


class _Sent:
    """A request's ``on_sent``, called at most once, and whether its connection came
    from the pool (``reused``)."""

    __slots__ = ("callback", "has_body", "reused")

    def __init__(self, callback: Callable[[], None] | None, has_body: bool) -> None:
        self.callback = callback
        self.has_body = has_body
        self.reused = False

    def fire(self) -> None:
        callback, self.callback = self.callback, None
        if callback is not None:
            callback()


class _Expired(Exception):
    """Set on a response's body stream by its watchdog when a deadline passed."""


class _Watchdog:
    """The first-byte and idle deadlines of one body, with one timer per idle period
    (not per read): when it fires it checks the last arrival and re-arms if there was one."""

    def __init__(self, raw: aiohttp.ClientResponse, t0_ns: int, timeouts: Timeouts) -> None:
        self._raw, self._timeouts = raw, timeouts
        self.last_ns: int | None = None
        self._handle: asyncio.TimerHandle | None = None
        self._loop = asyncio.get_running_loop()
        if timeouts.first_byte is not None:
            self._arm(t0_ns + int(timeouts.first_byte * 1e9))

    def _arm(self, due_ns: int) -> None:
        self._handle = self._loop.call_later(max(due_ns - time.perf_counter_ns(), 0) / 1e9, self._check)

    def _check(self) -> None:
        self._handle = None
        if self.last_ns is not None:
            if self._timeouts.idle is None:
                return
            due = self.last_ns + int(self._timeouts.idle * 1e9)
            if time.perf_counter_ns() < due:
                self._arm(due)
                return
        self._raw.content.set_exception(_Expired())

    def saw_first(self) -> None:
        """Switch from the first-byte to the idle deadline."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        if self._timeouts.idle is not None and self.last_ns is not None:
            self._arm(self.last_ns + int(self._timeouts.idle * 1e9))

    def cancel(self) -> None:
        if self._handle is not None:
            self._handle.cancel()


async def timed_reads(response: Response, *, t0_ns: int, timeouts: Timeouts,
                      url: str) -> AsyncIterator[tuple[int, bytes]]:
    """Yield ``(arrival perf_counter_ns, bytes)`` per network read.

    The first read must come ``first_byte`` seconds after t0 at the latest; later reads
    ``idle`` seconds after the previous one. A connection the server drops mid-body
    raises ``IncompleteStreamError`` (the caller keeps what arrived).
    """
    content = response.raw.content
    read = content.readany
    watchdog = _Watchdog(response.raw, t0_ns, timeouts)
    lost = _LostConnection(response.raw)
    encoding = response.headers.get("content-encoding")
    clock = time.perf_counter_ns
    try:
        while True:
            try:
                chunk = await read()  # (awaited right here: a coroutine per read costs ~1 µs)
            except (_Expired, aiohttp.ClientError, OSError) as exc:
                raise _read_error(exc, url, timeouts, first=watchdog.last_ns is None, encoding=encoding) from None
            if not chunk:
                break
            now = clock()
            if watchdog.last_ns is None:
                watchdog.last_ns = now
                watchdog.saw_first()
            watchdog.last_ns = now
            yield now, chunk
        if lost.cut:
            raise errors.IncompleteStreamError(
                "the server closed the connection mid-stream (after a body that could not be parsed, "
                "like a malformed chunk size)")
    finally:
        watchdog.cancel()
        lost.cancel()


class _LostConnection:
    """Ends a body whose connection closed before the body did. aiohttp 3.14 leaves such a
    body waiting for ever when its parser fails mid-body (a malformed chunk size): it closes
    the connection but tells only the connection, not the body. The body is ended (what
    arrived stays readable) and ``cut`` says it was cut short."""

    __slots__ = ("_closed", "_content", "cut")

    def __init__(self, raw: aiohttp.ClientResponse) -> None:
        self.cut = False
        self._content = raw.content
        protocol = raw.connection.protocol if raw.connection is not None else None
        self._closed = protocol.closed if protocol is not None else None  # (an empty protocol is falsy)
        if self._closed is not None:
            self._closed.add_done_callback(self._on_closed)

    def _on_closed(self, _future: asyncio.Future[None]) -> None:
        if not self._content.is_eof() and self._content.exception() is None:
            self.cut = True
            self._content.feed_eof()

    def cancel(self) -> None:
        if self._closed is not None:  # a pooled connection outlives this response
            self._closed.remove_done_callback(self._on_closed)


def _read_error(exc: BaseException, url: str, timeouts: Timeouts, *, first: bool,
                encoding: str | None) -> errors.NBStreamError:
    """The error a failed body read stands for: a deadline passed, or the body broke."""
    if isinstance(exc, _Expired):
        if first:
            return errors.FirstByteTimeout(
                f"{url} sent no data within {timeouts.first_byte:g} s (first_byte_timeout)",
                seconds=timeouts.first_byte)
        return errors.IdleTimeout(
            f"{url} went silent for more than {timeouts.idle:g} s mid-stream (idle_timeout)",
            seconds=timeouts.idle)
    if isinstance(exc, aiohttp.ClientPayloadError):  # aiohttp's text names its parser's internals
        return _payload_error(exc, encoding)
    return errors.IncompleteStreamError(f"the server closed the connection mid-stream ({_why(exc)})")


def _payload_error(exc: aiohttp.ClientPayloadError, encoding: str | None) -> errors.IncompleteStreamError:
    """What went wrong with a body, by aiohttp's cause: a corrupt compressed body, one
    shorter than its ``Content-Length``, or a chunked body cut off (httpx's words, kept)."""
    cause = exc.__cause__
    if isinstance(cause, ContentLengthError):
        got = re.search(r"received \d+ of \d+ bytes", str(cause))
        return errors.IncompleteStreamError(
            "the server closed the connection mid-stream (short of its Content-Length"
            + (f": {got.group(0)})" if got else ")"))
    if isinstance(cause, PayloadEncodingError) and not isinstance(cause, TransferEncodingError):
        return errors.IncompleteStreamError(  # ContentEncodingError, DecompressSizeError
            f"the server sent a body that could not be decoded (Content-Encoding: "
            f"{errors.one_line(encoding or '?')[:40]}): it is corrupt or not what the header says")
    return errors.IncompleteStreamError(
        "the server closed the connection mid-stream (peer closed connection without sending "
        "complete message body (incomplete chunked read))")


ERROR_BODY_BYTES = 64 << 10  # an error body's start says why; the rest (a hostile gigabyte) is not read


async def _read_error_body(response: Response) -> str:
    """What of the error body arrives within 5 s: a body that stalls or breaks off still
    gives the part that came (its message), and the status alone is useful when none did."""
    body = bytearray()
    try:
        with contextlib.suppress(Exception):
            async with asyncio.timeout(5):
                while len(body) < ERROR_BODY_BYTES and (part := await response.raw.content.read(
                        ERROR_BODY_BYTES - len(body))):
                    body += part
    finally:
        await response.aclose()
    return body.decode("utf-8", "replace")


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
    before it is cut, so a key straddling the cut cannot leave its first part behind —
    as one line of printable text (a server's newlines and terminal escapes go)."""
    import orjson

    text = redact(body.strip())
    if not text:
        return None
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError:
        return errors.one_line(text)
    if isinstance(data, dict):
        err = data.get("error", data)
        if isinstance(err, dict):
            msg = err.get("message") or err.get("detail")
            if msg:
                return errors.one_line(redact(str(msg)))
        elif isinstance(err, str):
            return errors.one_line(redact(err))
        if isinstance(data.get("detail"), str):
            return errors.one_line(redact(data["detail"]))
    return errors.one_line(text)


def _retry_after(headers: Any) -> float | None:
    """Seconds from ``Retry-After``: a number or an HTTP date (a date past is 0); a value
    that is neither, negative or not finite (``nan``, ``1e999``) is no advice at all."""
    import email.utils
    import math
    from datetime import UTC, datetime

    value = headers.get("retry-after") if headers is not None else None
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = max(0.0, (when - datetime.now(UTC)).total_seconds())
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


def _why(exc: BaseException) -> str:
    """A short reason, looking through the exception chain (aiohttp wraps the OSError); else
    the exception's text as one line of at most 300 characters (it may quote kilobytes a
    server sent), redacted before it is cut."""
    seen: list[BaseException] = []
    cur: BaseException | None = exc
    while cur is not None and cur not in seen:
        seen.append(cur)
        cur = cur.__cause__ or cur.__context__
    for err in seen:
        for sub in getattr(err, "exceptions", ()):  # ExceptionGroup
            seen.append(sub)
    errnos = {getattr(e, "errno", None) for e in seen}
    texts = " ".join(str(e) for e in seen)
    if 111 in errnos or "Connection refused" in texts:
        return "connection refused (is the server running?)"
    if -2 in errnos or -3 in errnos or "Name or service not known" in texts:
        return "the host name could not be resolved (DNS failure; check the URL)"
    return errors.one_line(redact(str(exc) or type(exc).__name__))  # aiohttp's parser errors quote the server
