"""Which models each configured provider offers (``nbstream.models()``, ``%stream list``,
``nbstream models``): one ``GET`` of each provider's models endpoint, all at once over the
transport requests use (:mod:`nbstream.engine.http`: same proxies, TLS, error texts), read
into rows. A listing is capped at ``MAX_BYTES`` and at ``first_byte_timeout`` in all.

A provider is configured when its key or server variable is set (``OPENAI_API_KEY`` /
``OPENAI_BASE_URL`` or ``nbstream.config`` for the default API, ``ANTHROPIC_API_KEY`` /
``ANTHROPIC_BASE_URL``, ``GEMINI_API_KEY`` / ``GOOGLE_API_KEY``, ``OLLAMA_HOST``); with none
set, the embedded demo endpoint is listed. The endpoint and key come from
:func:`nbstream.engine.config.resolve`, as a request's do. A provider that fails (refused
key, unreachable, a wrong-shaped answer) gives one row saying why, never an exception;
keys never appear (the base URL shown is redacted, error texts too).
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

import orjson

from nbstream import _secrets, errors
from nbstream.engine import config as _config
from nbstream.engine import http as _http
from nbstream.engine import loop as _loop
from nbstream.wire import catalog as _catalog
from nbstream.wire import registry as _formats

if TYPE_CHECKING:
    from nbstream.engine.request import Context

__all__ = ["MAX_BYTES", "list_models", "providers"]

MAX_BYTES = 8 << 20  # a models listing larger than this is not a listing
_PLACEHOLDER_MODEL = "models"  # resolve() wants a model; a listing has none


def _is_set(defaults: _config.Defaults, api: str) -> bool:
    fmt = _formats.get(api)
    return any(defaults.env(var)[0] for var in (*fmt.key_envs, *(v for v, _ in fmt.url_envs)))


def providers(defaults: _config.Defaults) -> list[tuple[str, str, _config.Endpoint]]:
    """``(provider, api, endpoint)`` for each configured provider: the default API's first
    (``demo`` when nothing is configured), then every other one whose variables are set."""
    default_api = "chat" if defaults.settings.api == "responses" else defaults.settings.api
    if default_api not in _catalog.ENDPOINTS:
        default_api = "chat"
    endpoint = _config.resolve(base_url=None, api_key=None, model=_PLACEHOLDER_MODEL, api=default_api,
                               defaults=defaults)
    out = [("demo" if endpoint.is_demo else _catalog.provider_of(default_api),
            "chat" if endpoint.is_demo else default_api, endpoint)]
    for api in _catalog.ENDPOINTS:
        if api != default_api and _is_set(defaults, api):
            out.append((_catalog.provider_of(api), api, _config.resolve(
                base_url=None, api_key=None, model=_PLACEHOLDER_MODEL, api=api, defaults=defaults, provider=True)))
    return out


async def _fetch(api: str, endpoint: _config.Endpoint, transport: _http.Transport, timeouts: _http.Timeouts) -> Any:
    """The decoded JSON of the models endpoint, over the transport requests use (its pool,
    proxies, TLS and error mapping); an error carrying a one-line reason."""
    fmt = _formats.get(api)
    url = _catalog.ENDPOINTS[api].url(endpoint.base_url)
    headers = {"Accept": "application/json", **fmt.headers, **endpoint.headers}
    if endpoint.api_key:
        headers.update(fmt.auth(endpoint.api_key))
    response = await transport.send("GET", url, headers=headers, timeouts=timeouts, key_source=endpoint.key_source,
                                    key_envs=fmt.key_envs)
    body = bytearray()
    try:
        async with asyncio.timeout(timeouts.first_byte):  # a drip-fed body beats a per-read deadline
            async for _t, part in _http.timed_reads(response, t0_ns=time.perf_counter_ns(), timeouts=timeouts,
                                                   url=url):
                body += part
                if len(body) > MAX_BYTES:
                    raise ValueError(f"the listing is larger than {MAX_BYTES >> 20} MB")
    except TimeoutError:
        raise ValueError(f"the listing took longer than {timeouts.first_byte:g} s (first_byte_timeout) "
                         "to arrive") from None
    finally:
        await response.aclose()
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        raise ValueError(f"GET {_secrets.redact(url)} answered {response.headers.get('content-type')!r}, "
                         "not JSON") from None


def _why(exc: Exception) -> str:
    return errors.one_line(_secrets.redact(str(exc) or type(exc).__name__))


async def _rows(provider: str, api: str, endpoint: _config.Endpoint, transport: _http.Transport,
                timeouts: _http.Timeouts) -> list[dict[str, Any]]:
    """One provider's rows, or the one row saying why it failed."""
    where = _secrets.redact(endpoint.base_url)
    try:
        listed = _catalog.ENDPOINTS[api].rows(await _fetch(api, endpoint, transport, timeouts))
    except Exception as exc:  # one provider failing never hides the others
        return [{"provider": provider, "model": None, "base_url": where, "error": _why(exc)}]
    return [{"provider": provider, **row, "base_url": where} for row in listed if row.get("model")]


def list_models(context: Context, io: _loop.IOLoop) -> list[dict[str, Any]]:
    """One row per model of each configured provider (``provider``, ``model``, ``base_url``
    and what the provider tells: display name, owner, creation, token limits, size), one
    row with ``error`` for a provider that failed, then one row per alias (``alias_for``).
    The providers are asked at once, on the session's I/O loop ``io``."""
    defaults = context.defaults
    settings = defaults.settings
    timeouts = _http.Timeouts(connect=settings.connect_timeout, first_byte=settings.first_byte_timeout,
                              idle=settings.idle_timeout)
    rows: list[dict[str, Any]] = []
    try:
        found = providers(defaults)
    except (ValueError, TypeError) as exc:  # a bad variable: say which, list nothing
        return [{"provider": settings.api, "model": None, "error": _why(exc)}]

    async def every() -> list[list[dict[str, Any]]]:
        return await asyncio.gather(*(_rows(provider, api, endpoint, context.transport, timeouts)
                                      for provider, api, endpoint in found))

    future = io.submit(every())

    def interrupted() -> None:  # Ctrl-C: the task stops and its connections close
        future.cancel()

    for listed in _loop.wait(future, on_interrupt=interrupted) or []:
        rows.extend(listed)
    try:
        aliases = defaults.aliases()
    except ValueError as exc:
        rows.append({"provider": "alias", "model": None, "error": _why(exc)})
    else:
        rows.extend({"provider": "alias", "model": name, "alias_for": target} for name, target in aliases.items())
    return rows
