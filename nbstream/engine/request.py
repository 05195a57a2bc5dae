"""One call's arguments -> the Run and the Request the pump sends, built in one place.

A call is either an LLM request (:class:`LLMCall`: a prompt or messages, sent in a wire
format of :mod:`nbstream.wire.registry`) or an SSE feed (:class:`FeedCall`: a URL,
followed with reconnection); their arguments are separate types, so a feed-only
argument can never reach an LLM request and vice versa. :func:`prepare` takes the
keyword arguments of ``stream()`` / ``%%stream`` / ``nbstream ask`` and picks one;
:func:`build` validates it, resolves the endpoint (``engine.config.resolve``), asks the
format for its path, headers and body, and returns what to send.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from nbstream import _secrets
from nbstream.engine import config as _config
from nbstream.engine import http as _http
from nbstream.run import Run
from nbstream.wire import registry as _formats
from nbstream.wire import structured as _structured
from nbstream.wire.spec import WireFormat

__all__ = ["Context", "FeedCall", "FeedOptions", "LLMCall", "Request", "TimeoutArgs", "build", "messages_for",
           "prepare"]


@dataclass(frozen=True)
class Context:
    """What a session lends a request: its endpoint defaults (settings, environment, demo
    endpoint) and its transport (pooled clients, endpoint quirks)."""

    defaults: _config.Defaults
    transport: _http.Transport


@dataclass(frozen=True, kw_only=True)
class TimeoutArgs:
    """Per-call timeouts in seconds; None takes ``nbstream.config``'s."""

    connect: float | None = None
    first_byte: float | None = None
    idle: float | None = None

    def resolve(self, cfg: _config.Settings) -> _http.Timeouts:
        """The deadlines to apply, each checked (a number > 0) or taken from ``cfg``."""
        return _http.Timeouts(
            connect=_config.check_timeout("connect_timeout", self.connect, cfg.connect_timeout),
            first_byte=_config.check_timeout("first_byte_timeout", self.first_byte, cfg.first_byte_timeout),
            idle=_config.check_timeout("idle_timeout", self.idle, cfg.idle_timeout))


@dataclass(frozen=True, kw_only=True)
class LLMCall:
    """A prompt (or ``messages``) for a model. ``request_body`` (``%%stream --json``) is
    sent as is, with ``"stream": true`` added when it does not say; ``params`` (temperature,
    max_tokens…) go into the body the format builds."""

    prompt: str | None = None
    messages: list[dict[str, Any]] | None = None
    model: str | None = None
    base_url: str | None = None
    api_key: str | None = field(default=None, repr=False)
    api: str | None = None  # None: nbstream.config.api
    system: str | None = None
    headers: dict[str, str] | None = field(default=None, repr=False)
    timeouts: TimeoutArgs = field(default_factory=TimeoutArgs)
    params: dict[str, Any] = field(default_factory=dict)
    request_body: dict[str, Any] | None = None
    response_format: Any = None  # a JSON-schema dict or a pydantic model class (wire.structured)


@dataclass(frozen=True, kw_only=True)
class FeedCall:
    """A Server-Sent-Events feed at ``url``, ``body`` sent as JSON when given."""

    url: str
    method: str = "GET"
    headers: dict[str, str] | None = field(default=None, repr=False)
    api_key: str | None = field(default=None, repr=False)
    body: Any = None
    timeouts: TimeoutArgs = field(default_factory=TimeoutArgs)
    reconnect: bool = True
    max_reconnects: int = 5


@dataclass(frozen=True, kw_only=True)
class FeedOptions:
    """How a feed reconnects (the SSE spec's rules; ``retry_ms`` until the server sets one)."""

    reconnect: bool = True
    max_reconnects: int = 5
    retry_ms: int = 1000


@dataclass(kw_only=True)
class Request:
    """What to send. ``format`` reads the answer; ``feed`` is set for an SSE feed, which
    reconnects. ``url`` and ``headers`` may carry credentials and are never shown:
    ``base_url`` is the redacted form."""

    method: str
    url: str = field(repr=False)
    format: WireFormat
    base_url: str
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict, repr=False)
    key_source: str | None = None
    timeouts: _http.Timeouts = field(default_factory=_http.Timeouts)
    feed: FeedOptions | None = None
    transport: _http.Transport = field(repr=False)  # the session's clients and endpoint quirks

    def __post_init__(self) -> None:
        if not isinstance(self.method, str) or not self.method.isalpha():
            raise ValueError(f"method must be an HTTP method name like 'GET' or 'POST'; got {self.method!r}")
        if not isinstance(self.format, WireFormat):
            raise TypeError(f"format must be a WireFormat, not {type(self.format).__name__}")
        if not isinstance(self.transport, _http.Transport):
            raise TypeError(f"transport must be an nbstream Transport, not {type(self.transport).__name__}")
        if not isinstance(self.timeouts, _http.Timeouts):
            raise TypeError(f"timeouts must be an nbstream Timeouts, not {type(self.timeouts).__name__}")


def prepare(*, prompt: str | None = None, messages: list[dict[str, Any]] | None = None,
            model: str | None = None, base_url: str | None = None, api_key: str | None = None,
            api: str | None = None, system: str | None = None, url: str | None = None,
            method: str = "GET", headers: dict[str, str] | None = None,
            timeouts: TimeoutArgs | None = None, reconnect: bool = True, max_reconnects: int = 5,
            params: dict[str, Any] | None = None, request_body: dict[str, Any] | None = None,
            response_format: Any = None, context: Context) -> tuple[Run, Request]:
    """The Run and the Request for ``stream()``'s arguments: a feed when ``url`` is given
    (then only ``json=`` may be among ``params``), an LLM request otherwise. ``context``
    is the session's: settings for what the call leaves out, endpoint defaults, transport."""
    params = dict(params or {})
    timeouts = timeouts or TimeoutArgs()
    if url is not None:
        if prompt is not None or messages is not None:
            raise ValueError("url= follows an SSE feed; it takes no prompt or messages "
                             "(send a JSON body with json={...} if the feed needs one)")
        body = params.pop("json", None)
        if params or response_format is not None:
            unexpected = sorted([*params, *(["response_format"] if response_format is not None else [])])
            raise TypeError(f"unexpected arguments for an SSE feed: {', '.join(unexpected)}")
        return build(FeedCall(url=url, method=method, headers=headers, api_key=api_key, body=body,
                              timeouts=timeouts, reconnect=reconnect, max_reconnects=max_reconnects),
                     context=context)
    return build(LLMCall(prompt=prompt, messages=messages, model=model, base_url=base_url,
                         api_key=api_key, api=api, system=system, headers=headers, timeouts=timeouts,
                         params=params, request_body=request_body, response_format=response_format),
                 context=context)


def build(call: LLMCall | FeedCall, *, context: Context) -> tuple[Run, Request]:
    """Validate ``call`` and turn it into the Run to fill and the Request to send."""
    if isinstance(call, FeedCall):
        run, req = _feed(call, context)
    elif isinstance(call, LLMCall):
        run, req = _llm(call, context)
    else:
        raise TypeError(f"build() takes an LLMCall or a FeedCall, not {type(call).__name__}")
    _check_json(req.body)
    return run, req


def _check_json(body: Any) -> None:
    """A body the transport could not send as JSON (NaN, bytes, an object) is a one-line
    error naming its field now, not a failed run after the clock started."""
    try:
        json.dumps(body, allow_nan=False)
    except (TypeError, ValueError) as exc:
        fields = body.items() if isinstance(body, dict) else ()
        name = next((k for k, v in fields if not _is_json(v)), "a field")
        raise ValueError(f"the request body cannot be sent as JSON: {_secrets.redact(str(name))[:80]} holds "
                         f"{type(exc).__name__}: {exc}; use numbers (not NaN or infinity), text, lists and "
                         "dicts") from None


def _is_json(value: Any) -> bool:
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return False
    return True


def _feed(call: FeedCall, context: Context) -> tuple[Run, Request]:
    tmo = call.timeouts.resolve(context.defaults.settings)
    url = _config.check_url("url", call.url)
    if not isinstance(call.method, str) or not call.method.isalpha():
        raise ValueError(f"method must be an HTTP method name like 'GET' or 'POST'; got {call.method!r}")
    key = _secrets.clean_key(call.api_key, "the api_key argument")
    hdrs = _user_headers(call.headers)  # after the key is registered: an error naming a header masks it
    fmt = _formats.get("sse")
    if key:
        hdrs.update(fmt.auth(key))
    run = Run(base_url=url, source="feed", wire_format=fmt.name)
    return run, Request(method=call.method.upper(), url=url, format=fmt, base_url=run.base_url or url,
                        body=call.body, headers=hdrs, key_source="the api_key argument" if key else None,
                        timeouts=tmo, feed=FeedOptions(reconnect=call.reconnect,
                                                       max_reconnects=call.max_reconnects),
                        transport=context.transport)


def _llm(call: LLMCall, context: Context) -> tuple[Run, Request]:
    cfg = context.defaults.settings
    tmo = call.timeouts.resolve(cfg)
    model, request_body = call.model, call.request_body
    if request_body is not None:
        if not isinstance(request_body, dict):
            raise TypeError("the request body must be a JSON object like {\"model\": ..., \"messages\": [...]}")
        model = model or request_body.get("model")
    schema = _structured.normalize(call.response_format)
    if schema is not None and request_body is not None:
        raise ValueError("response_format= asks for JSON in the body nbstream builds; with a request body "
                         "of your own, put the format in it instead")
    written = model if model is not None else cfg.model
    named, model = _formats.split_model(_config.expand_alias(written, context.defaults.aliases()))
    if named is not None and call.api is not None and _formats.check_api(call.api) != named.name:
        raise ValueError(f"the model names the {named.name!r} API, but api={call.api!r}: drop one of them")
    fmt = named or _formats.get(_formats.check_api(call.api if call.api is not None else cfg.api))
    if request_body is not None and (named is not None or model != written):
        request_body = {**request_body, "model": model}
    endpoint = _config.resolve(base_url=call.base_url, api_key=call.api_key, model=model, api=fmt.name,
                               defaults=context.defaults, provider=named is not None)
    user_headers = _user_headers(call.headers)  # after the key is registered: an error naming a header masks it
    if request_body is not None:
        body = {"stream": True, **request_body, "model": request_body.get("model", endpoint.model)}
        msgs: Any = body.get("messages") or body.get("input")
    else:
        msgs = messages_for(call.prompt, call.messages, call.system)
        assert fmt.body is not None  # check_api admits requestable formats only
        extra = {_structured.PARAM: schema} if schema is not None else {}
        body = fmt.body(endpoint.model, msgs, {**call.params, **extra})
    hdrs = {"Accept": fmt.accept, **fmt.headers, **endpoint.headers, **user_headers}
    if endpoint.api_key:
        hdrs.update(fmt.auth(endpoint.api_key))
    run = Run(model=endpoint.model, base_url=endpoint.base_url, source="request", wire_format=fmt.name,
              prompt=call.prompt if call.prompt is not None else msgs, params=call.params)
    run.response_format = schema
    return run, Request(method="POST", url=_config.url_for(fmt.root(endpoint.base_url), fmt.path_for(endpoint.model)),
                        format=fmt, base_url=endpoint.base_url, body=body, headers=hdrs,
                        key_source=endpoint.key_source, timeouts=tmo, transport=context.transport)


def _user_headers(headers: Any) -> dict[str, str]:
    """``headers=`` checked (a dict of strings), credentials among them registered for
    redaction and given the key checks (stripped, no newline)."""
    if headers is not None and (not isinstance(headers, dict)
                                or not all(isinstance(k, str) and isinstance(v, str) for k, v in headers.items())):
        raise TypeError("headers must be a dict of strings, like {'api-key': '...'}")
    _secrets.register_headers(headers)
    return {k: _clean_header(k, v) for k, v in (headers or {}).items()}


_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # a header name (RFC 9110 token)
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")  # no line break or other control in a value (tab is fine)


def _clean_header(name: str, value: str) -> str:
    """A header that could not go out as one line of the request (a line break would start
    a header of its own) is an error naming it, before anything is sent."""
    if not _TOKEN.fullmatch(name):
        raise ValueError(f"the header {_secrets.redact(name)[:60]!r} has no valid name (letters, digits, '-')")
    if _secrets.is_secret_name(name):  # a key's own checks: stripped, and a line break named without the key
        return _secrets.clean_key(value, f"the {name} header", header=True) or ""
    if _CONTROL.search(value):
        raise ValueError(f"the header {_secrets.redact(name)!r} holds a line break or control character: remove it")
    return value


def messages_for(prompt: str | None, messages: list[dict[str, Any]] | None,
                 system: str | None) -> list[dict[str, Any]]:
    """The chat message list: ``messages`` as given, or ``system`` + ``prompt``."""
    if messages is not None and prompt is not None:
        raise ValueError("pass either a prompt or messages=[...], not both")
    if messages is None:
        if prompt is None:
            raise ValueError("nothing to send: pass a prompt string or messages=[{'role': 'user', "
                             "'content': '...'}]")
        if not isinstance(prompt, str):
            raise TypeError(f"the prompt must be a string, not {type(prompt).__name__}; "
                            "for a conversation pass messages=[...]")
        messages = [{"role": "user", "content": prompt}]
    elif not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
        raise TypeError("messages must be a list of dicts like {'role': 'user', 'content': '...'}")
    if system is not None:
        messages = [{"role": "system", "content": system}, *messages]
    return list(messages)
