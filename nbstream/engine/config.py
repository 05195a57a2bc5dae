"""Where a request's endpoint, key and model come from — one place, one precedence — and
the typed, validated session settings (``nbstream.config``).

Explicit arguments win, then ``nbstream.config`` (what ``%stream_config`` sets), then the
environment the openai SDK reads (``OPENAI_API_KEY``, ``OPENAI_BASE_URL``,
``OPENAI_ORG_ID``, ``OPENAI_PROJECT_ID``, plus ``NBSTREAM_MODEL``, ``NBSTREAM_ALIASES``
and, for ``api="ollama"``, ``OLLAMA_HOST``), then a ``.env`` file in the working directory (never
overriding what the environment already sets), then Colab's secrets when running in
Colab, then the embedded demo endpoint, which needs no key and no network. Keys and URL
credentials are checked and registered for redaction here; error messages name where a
key came from, never the key.
"""

from __future__ import annotations

import math
import os
import re
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

from nbstream import _secrets
from nbstream.wire import registry as _formats

__all__ = ["DEMO_MODEL", "DEMO_NOTICE", "Defaults", "Endpoint", "NoKeyError", "NoModelError", "Settings",
           "check_timeout", "check_url", "expand_alias", "parse_aliases", "resolve", "url_for"]

DEMO_MODEL = "demo"
DEMO_NOTICE = ("nbstream: no API key or base URL configured, so this uses the embedded demo endpoint "
               "(offline, canned answers). Set OPENAI_API_KEY / OPENAI_BASE_URL or pass base_url= and model= "
               "to talk to a real model.")


# ---- settings ---------------------------------------------------------------------------
def _timeout(name: str, value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a number of seconds > 0, or None for no deadline; got {value!r}")
    return float(value)


def _text_or_none(name: str, value: Any) -> str | None:
    if value is not None and (not isinstance(value, str) or not value.strip()):
        raise TypeError(f"{name} must be a non-empty string or None; got {type(value).__name__} {value!r}")
    return value


def _keep_runs(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be an integer >= 0 (how many runs nbstream.runs() keeps whole; "
                         f"0 keeps only summaries); got {value!r}")
    return value


def _api(name: str, value: Any) -> str:
    return _formats.check_api(value, name)


def _tokenizer(name: str, value: Any) -> str | None:
    if value is None or value == "chars/4":
        return value
    if not isinstance(value, str):
        raise TypeError(f"{name} must be None, 'chars/4' or a tiktoken encoding name; got {value!r}")
    try:
        import tiktoken
    except ImportError:
        raise ValueError(f"{name}={value!r} needs tiktoken (pip install 'nbstream[tokens]'); "
                         "or use None or 'chars/4'") from None
    known = tiktoken.list_encoding_names()
    if value not in known:
        raise ValueError(f"{name} must be None, 'chars/4' or one of {', '.join(known)}; got {value!r}")
    return value


def _base_url(name: str, value: Any) -> str | None:
    if value is None:
        return None
    return check_url(name, value)


def _api_key(name: str, value: Any) -> str | None:
    return _secrets.clean_key(value, name)


_ALIAS_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_ALIAS_SPLIT = re.compile(r"[\s,;]+")


def parse_aliases(name: str, value: Any) -> Mapping[str, str]:
    """Aliases as a dict ``{"claude": "anthropic:claude-sonnet-4-5"}``, or as the text
    ``claude=anthropic:claude-sonnet-4-5, fast=gemini:gemini-2.5-flash`` (``%stream_config``,
    ``NBSTREAM_ALIASES``). An alias name is a short word (letters, digits, ``._-``), its
    target a non-empty model name; anything else is a one-line error."""
    if value is None:
        return {}
    if isinstance(value, str):
        pairs: list[tuple[Any, Any]] = []
        for item in filter(None, _ALIAS_SPLIT.split(value.strip())):
            alias, sep, target = item.partition("=")
            if not sep:
                raise ValueError(f"{name}: expected NAME=MODEL (like claude=anthropic:claude-sonnet-4-5); "
                                 f"got {item[:80]!r}")
            pairs.append((alias, target))
    elif isinstance(value, Mapping):
        pairs = list(value.items())
    else:
        raise TypeError(f"{name} must be a dict like {{'claude': 'anthropic:claude-sonnet-4-5'}} or the text "
                        f"'claude=anthropic:claude-sonnet-4-5'; got {type(value).__name__}")
    out: dict[str, str] = {}
    for alias, target in pairs:
        if not isinstance(alias, str) or not _ALIAS_NAME.fullmatch(alias):
            raise ValueError(f"{name}: an alias name is a short word of letters, digits, '.', '_' or '-'; "
                             f"got {str(alias)[:80]!r}")
        if not isinstance(target, str) or not target.strip() or target != target.strip():
            raise ValueError(f"{name}: alias {alias!r} names no model; write it like "
                             f"{alias}=anthropic:claude-sonnet-4-5")
        out[alias] = target
    return MappingProxyType(out)  # read-only: a change goes through these checks again


def expand_alias(model: Any, aliases: Mapping[str, str]) -> Any:
    """``model`` with aliases followed (``claude`` -> ``anthropic:claude-sonnet-4-5``, chains
    too); a loop is a one-line error naming it. Anything not an alias comes back as it was."""
    seen: list[str] = []
    while isinstance(model, str) and model in aliases:
        if model in seen:
            raise ValueError(f"model aliases loop: {' -> '.join([*seen, model])}; "
                             "fix nbstream.config.aliases or NBSTREAM_ALIASES")
        seen.append(model)
        model = aliases[model]
    return model


_CHECKS = {"model": _text_or_none, "base_url": _base_url, "api_key": _api_key, "api": _api,
           "connect_timeout": _timeout, "first_byte_timeout": _timeout, "idle_timeout": _timeout,
           "keep_runs": _keep_runs, "tokenizer": _tokenizer, "aliases": parse_aliases}
_NUMERIC = {"connect_timeout": float, "first_byte_timeout": float, "idle_timeout": float, "keep_runs": int}


@dataclass
class Settings:
    """User-settable defaults (``nbstream.config``), checked on assignment: a wrong type
    or an unknown name is a one-line error naming what is valid. ``None`` means: not set
    here (for the timeouts: no deadline)."""

    model: str | None = None
    base_url: str | None = None
    api_key: str | None = field(default=None, repr=False)
    api: str = "chat"
    connect_timeout: float | None = 10.0
    first_byte_timeout: float | None = 120.0
    idle_timeout: float | None = 60.0
    keep_runs: int = 100  # runs whose chunk tables nbstream.runs() keeps; older ones: summary only
    tokenizer: str | None = None  # token estimates: None = best offline, "chars/4", or a tiktoken name
    aliases: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))  # claude -> anthropic:…

    def __setattr__(self, name: str, value: Any) -> None:
        check = _CHECKS.get(name)
        if check is None:
            raise AttributeError(f"nbstream.config has no setting {name!r}; the settings are "
                                 f"{', '.join(_CHECKS)}")
        object.__setattr__(self, name, check(f"nbstream.config.{name}", value))

    def set_from_text(self, name: str, text: str) -> None:
        """Set ``name`` from the text of ``%stream_config name=text``: ``none`` is None,
        numbers are parsed for the numeric settings; then the same checks apply."""
        if name not in _CHECKS:
            raise AttributeError(f"nbstream.config has no setting {name!r}; the settings are "
                                 f"{', '.join(_CHECKS)}")
        value: Any = text
        if name == "aliases":
            pass  # parsed as NAME=MODEL pairs by its check
        elif text.strip().lower() in ("none", ""):
            value = None
        elif name in _NUMERIC:
            try:
                value = _NUMERIC[name](text)
            except ValueError:
                kind = "an integer" if _NUMERIC[name] is int else "a number"
                raise ValueError(f"nbstream.config.{name} must be {kind}; got {text!r}") from None
        setattr(self, name, value)

    def __repr__(self) -> str:
        key = "set" if self.api_key else None
        return (f"Settings(model={self.model!r}, base_url={_secrets.redact(self.base_url or '') or None!r}, "
                f"api_key={key!r}, api={self.api!r}, connect_timeout={self.connect_timeout}, "
                f"first_byte_timeout={self.first_byte_timeout}, idle_timeout={self.idle_timeout}, "
                f"keep_runs={self.keep_runs}, tokenizer={self.tokenizer!r}, aliases={dict(self.aliases)!r})")


def check_timeout(name: str, value: Any, default: float | None) -> float | None:
    """A per-call timeout argument: ``None`` takes the configured default."""
    return default if value is None else _timeout(name, value)


def check_url(name: str, value: Any) -> str:
    """An http(s) URL, its credentials registered for redaction; a one-line error otherwise."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a URL string like 'http://localhost:8000/v1', "
                        f"not {type(value).__name__}")
    _secrets.register_url(value)
    try:
        parts = urlsplit(value.strip())
        ok = parts.scheme in ("http", "https") and bool(parts.hostname)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(f"{name} must be an http:// or https:// URL like 'http://localhost:8000/v1'; "
                         f"got {_secrets.redact(value)!r}")
    return value.strip()


def url_for(base_url: str, path: str) -> str:
    """``path`` appended to the base URL's path; the query strings of both kept as the query."""
    parts = urlsplit(base_url)
    path, _, query = path.partition("?")
    joined = "&".join(q for q in (query, parts.query) if q)
    return urlunsplit(parts._replace(path=parts.path.rstrip("/") + path, query=joined))


# ---- where values come from --------------------------------------------------------------
def _colab_secret(name: str) -> str | None:
    """A secret from Colab's key panel (``google.colab.userdata``) when running in Colab."""
    if "google.colab" not in sys.modules:
        return None
    try:
        from google.colab import userdata

        value = userdata.get(name)
    except Exception:  # not granted to this notebook, not defined, not in Colab after all
        return None
    return value if isinstance(value, str) and value else None


class _Server(Protocol):
    """What the session needs of the demo endpoint it starts."""

    @property
    def base_url(self) -> str: ...

    def stop(self) -> None: ...


class Defaults:
    """What :func:`resolve` falls back to after the arguments: the session's settings, the
    environment, ``./.env`` (re-read when the file changes), Colab's secrets and the
    embedded demo endpoint (started on first use, announced once on stderr)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._dotenv_stamp: tuple[str, int] | None = None
        self._dotenv_values: dict[str, str] = {}
        self._demo: _Server | None = None
        self.demo_notice = DEMO_NOTICE  # said once when the demo endpoint starts (the CLI words its own)

    def env(self, name: str) -> tuple[str | None, str | None]:
        """``name`` from the environment, else ``./.env``, else Colab's secrets; and where from."""
        value = os.environ.get(name)
        if value:
            return value, name
        value = self._dotenv().get(name)
        if value:
            return value, f".env ({name})"
        value = _colab_secret(name)
        if value:
            return value, f"Colab secrets ({name})"
        return None, None

    def aliases(self) -> Mapping[str, str]:
        """Model aliases: ``NBSTREAM_ALIASES`` (environment, ``.env``), then the settings' on top."""
        text, where = self.env("NBSTREAM_ALIASES")
        found = parse_aliases(where or "NBSTREAM_ALIASES", text) if text else {}
        return {**found, **self.settings.aliases} if found else self.settings.aliases

    def _dotenv(self) -> dict[str, str]:
        """The variables of ``./.env`` (python-dotenv's parser), re-read when the file changes."""
        path = Path.cwd() / ".env"
        try:
            stamp = (str(path), path.stat().st_mtime_ns)
        except OSError:
            return {}
        with self._lock:
            if self._dotenv_stamp != stamp:
                from dotenv import dotenv_values

                self._dotenv_values = {k: v for k, v in dotenv_values(path).items() if v is not None}
                self._dotenv_stamp = stamp
            return self._dotenv_values

    def demo_base_url(self) -> str:
        """The session's demo endpoint, started on first use; announced once on stderr."""
        with self._lock:
            if self._demo is None:
                # the default-endpoint hook: the core's only import of demo, lazy (a server)
                from nbstream import demo

                self._demo = demo.serve()
                print(self.demo_notice, file=sys.stderr)
            return self._demo.base_url

    def close(self) -> None:
        """Stop the demo endpoint if this session started one."""
        with self._lock:
            server, self._demo = self._demo, None
        if server is not None:
            server.stop()

    def after_fork(self) -> None:
        """The child has no demo server thread (only the forking thread survives): it
        starts its own on first use; and a lock another thread held is free again."""
        self._lock = threading.Lock()
        self._demo = None


class NoModelError(ValueError):
    """A configured endpoint but no model; ``url`` names it, so a front end (the CLI) can
    word its own hint."""

    def __init__(self, url: str) -> None:
        super().__init__(f"no model given for {url}: pass model=... (for example model='gpt-4o-mini'), "
                         "set nbstream.config.model, or set NBSTREAM_MODEL")
        self.url = url


class NoKeyError(ValueError):
    """A model written ``PROVIDER:NAME`` with no key and no server for that provider."""

    def __init__(self, api: str, key_envs: tuple[str, ...]) -> None:
        where = " or ".join(key_envs) or "api_key="
        super().__init__(f"no key for the {api!r} API: set {where}, or pass api_key=... (and base_url=... "
                         "for a gateway); models named demo… use the embedded demo endpoint")


@dataclass(frozen=True)
class Endpoint:
    """A resolved target. ``key_source`` names where the key came from, for error messages;
    ``headers`` are the extra ones the environment asks for (OpenAI organization/project)."""

    base_url: str
    api_key: str | None = field(repr=False)
    key_source: str | None
    model: str
    is_demo: bool = False
    headers: dict[str, str] = field(default_factory=dict)


def resolve(*, base_url: str | None, api_key: str | None, model: str | None,
            api: str = "chat", defaults: Defaults, provider: bool = False) -> Endpoint:
    """Apply the precedence above; start the demo endpoint when nothing is configured.
    ``defaults`` is the session's (its settings, ``.env`` and demo endpoint); the format
    ``api`` names the variables read (its key, its server, its extra headers). With
    ``provider`` (a model written ``anthropic:NAME``) the configured base URL and key,
    which are the default provider's, are not used: that provider's own variables are."""
    config, env = defaults.settings, defaults.env
    fmt = _formats.get(api)
    if base_url is not None:
        base_url = check_url("base_url", base_url)
    if model is not None:
        _text_or_none("model", model)
    url = base_url or (None if provider else config.base_url)
    # the configured key belongs with the configured server: it goes to the URL given here
    # or configured, or to the configured API's own server, never to another provider's
    own_server = url is not None or fmt.key_envs == _formats.get(config.api).key_envs  # chat ~ responses
    key = _secrets.clean_key(api_key, "the api_key argument")
    key_source = "the api_key argument" if key else None
    if key is None and config.api_key and not provider and own_server:
        key, key_source = config.api_key, "nbstream.config.api_key"
    if key is None:
        raw = None
        for var in fmt.key_envs:
            raw, key_source = env(var)
            if raw:
                break
        key = _secrets.clean_key(raw, key_source or "the environment")
    for var, parse in fmt.url_envs:
        if url is not None:
            break
        found, where = env(var)
        if found:
            _secrets.register_url(found)  # credentials in it are secrets, in any form it takes
            url = check_url(where or var, parse(found)) if parse is not None else check_url(where or var, found)
    chosen_model = model or config.model or env("NBSTREAM_MODEL")[0]
    if url is None and key is None:
        demo = not provider or (chosen_model or "").startswith(DEMO_MODEL)
        if not demo and fmt.key_envs:  # a named provider that needs a key, and none is set
            raise NoKeyError(fmt.name, fmt.key_envs)
        if demo:
            url = defaults.demo_base_url()
            return Endpoint(url, None, None, chosen_model or DEMO_MODEL, is_demo=True)
    if url is None:
        url = fmt.default_url
    if chosen_model is None:
        raise NoModelError(_secrets.redact(url))
    headers = {}
    for var, header in fmt.env_headers:
        value, _ = env(var)
        if value:
            headers[header] = value.strip()
    parts = urlsplit(url)
    return Endpoint(urlunsplit(parts._replace(path=parts.path.rstrip("/"))), key, key_source,
                    chosen_model, headers=headers)
