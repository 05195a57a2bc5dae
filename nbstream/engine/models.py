"""Which models each configured provider offers (``nbstream.models()``, ``%stream list``,
``nbstream models``): one ``GET`` of each provider's models endpoint, read into rows.

A provider is configured when its key or server variable is set (``OPENAI_API_KEY`` /
``OPENAI_BASE_URL`` or ``nbstream.config`` for the default API, ``ANTHROPIC_API_KEY`` /
``ANTHROPIC_BASE_URL``, ``GEMINI_API_KEY`` / ``GOOGLE_API_KEY``, ``OLLAMA_HOST``); with none
set, the embedded demo endpoint is listed. The endpoint and key come from
:func:`nbstream.engine.config.resolve`, as a request's do. A provider that fails (refused
key, unreachable, a wrong-shaped answer) gives one row saying why, never an exception;
keys never appear (the base URL shown is redacted, error texts too).
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import orjson

from nbstream import _secrets
from nbstream.engine import config as _config
from nbstream.engine import http as _http
from nbstream.wire import catalog as _catalog
from nbstream.wire import registry as _formats

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


def _fetch(api: str, endpoint: _config.Endpoint, timeouts: tuple[float | None, float | None]) -> Any:
    """The decoded JSON of the models endpoint; an error carrying a redacted one-line reason."""
    fmt = _formats.get(api)
    url = _catalog.ENDPOINTS[api].url(endpoint.base_url)
    headers = {"Accept": "application/json", **fmt.headers, **endpoint.headers}
    if endpoint.api_key:
        headers.update(fmt.auth(endpoint.api_key))
    connect, read = timeouts
    with httpx.Client(timeout=httpx.Timeout(read, connect=connect), follow_redirects=False) as client, \
            client.stream("GET", url, headers=headers) as response:
        body = bytearray()
        deadline = time.monotonic() + read if read is not None else None
        for part in response.iter_bytes():
            body += part
            if len(body) > MAX_BYTES:
                raise ValueError(f"the listing is larger than {MAX_BYTES >> 20} MB")
            if deadline is not None and time.monotonic() > deadline:  # a drip-fed body beats a per-read timeout
                raise ValueError(f"the listing took longer than {read:g} s (first_byte_timeout) to arrive")
        if response.status_code >= 400:
            raise _http.http_error(response.status_code, _secrets.redact(url), body.decode("utf-8", "replace"),
                                   response.headers, key_source=endpoint.key_source, key_envs=fmt.key_envs)
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        raise ValueError(f"GET {_secrets.redact(url)} answered {response.headers.get('content-type')!r}, "
                         "not JSON") from None


def _why(exc: Exception) -> str:
    if isinstance(exc, httpx.TimeoutException):
        text = f"timed out ({type(exc).__name__})"
    elif isinstance(exc, httpx.TransportError):
        text = f"could not connect: {type(exc).__name__}: {exc}"
    else:
        text = str(exc) or type(exc).__name__
    return _secrets.redact(" ".join(text.split()))[:300]


def list_models(defaults: _config.Defaults) -> list[dict[str, Any]]:
    """One row per model of each configured provider (``provider``, ``model``, ``base_url``
    and what the provider tells: display name, owner, creation, token limits, size), one
    row with ``error`` for a provider that failed, then one row per alias (``alias_for``)."""
    settings = defaults.settings
    timeouts = (settings.connect_timeout, settings.first_byte_timeout)
    rows: list[dict[str, Any]] = []
    try:
        found = providers(defaults)
    except (ValueError, TypeError) as exc:  # a bad variable: say which, list nothing
        return [{"provider": settings.api, "model": None, "error": _why(exc)}]
    for provider, api, endpoint in found:
        where = _secrets.redact(endpoint.base_url)
        try:
            listed = _catalog.ENDPOINTS[api].rows(_fetch(api, endpoint, timeouts))
        except Exception as exc:  # one provider failing never hides the others
            rows.append({"provider": provider, "model": None, "base_url": where, "error": _why(exc)})
            continue
        rows.extend({"provider": provider, **row, "base_url": where} for row in listed if row.get("model"))
    try:
        aliases = defaults.aliases()
    except ValueError as exc:
        rows.append({"provider": "alias", "model": None, "error": _why(exc)})
    else:
        rows.extend({"provider": "alias", "model": name, "alias_for": target} for name, target in aliases.items())
    return rows
