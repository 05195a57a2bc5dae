"""Where a request's endpoint, key and model come from — one place, one precedence.

Explicit arguments win, then ``nbstream.config`` (what ``%stream_config`` sets), then the
environment the openai SDK reads (``OPENAI_API_KEY``, ``OPENAI_BASE_URL``, plus
``NBSTREAM_MODEL``), then the embedded demo endpoint, which needs no key and no network.
The resolved key is registered for redaction and never stored in anything printable.
"""

from __future__ import annotations

import os
import sys
import threading
from dataclasses import dataclass, field

from . import _secrets

APIS = ("chat", "responses", "ollama")
DEMO_MODEL = "demo"
DEMO_NOTICE = ("nbstream: no API key or base URL configured, so this uses the embedded demo endpoint "
               "(offline, canned answers). Set OPENAI_API_KEY / OPENAI_BASE_URL or pass base_url= and model= "
               "to talk to a real model.")  # the CLI words its own


@dataclass
class Settings:
    """User-settable defaults (``nbstream.config``). ``None`` means: not set here."""

    model: str | None = None
    base_url: str | None = None
    api_key: str | None = field(default=None, repr=False)
    api: str = "chat"
    connect_timeout: float = 10.0
    first_byte_timeout: float = 120.0
    idle_timeout: float = 60.0
    keep_runs: int = 100  # runs whose chunk tables nbstream.runs() keeps; older ones: summary only
    tokenizer: str | None = None  # token estimates: None = best offline, "chars/4", or a tiktoken name

    def __repr__(self) -> str:
        key = "set" if self.api_key else None
        return (f"Settings(model={self.model!r}, base_url={self.base_url!r}, api_key={key!r}, "
                f"api={self.api!r}, connect_timeout={self.connect_timeout}, "
                f"first_byte_timeout={self.first_byte_timeout}, idle_timeout={self.idle_timeout}, "
                f"keep_runs={self.keep_runs}, tokenizer={self.tokenizer!r})")


config = Settings()


class NoModelError(ValueError):
    """A configured endpoint but no model; ``url`` names it, so a front end (the CLI) can
    word its own hint."""

    def __init__(self, url: str) -> None:
        super().__init__(f"no model given for {url}: pass model=... (for example model='gpt-4o-mini'), "
                         "set nbstream.config.model, or set NBSTREAM_MODEL")
        self.url = url


@dataclass(frozen=True)
class Endpoint:
    """A resolved target. ``key_source`` names where the key came from, for error messages."""

    base_url: str
    api_key: str | None = field(repr=False)
    key_source: str | None
    model: str
    is_demo: bool = False


def resolve(*, base_url: str | None, api_key: str | None, model: str | None) -> Endpoint:
    """Apply the precedence above; start the demo endpoint when nothing is configured."""
    key, key_source = _pick(("api_key argument", api_key), ("nbstream.config.api_key", config.api_key),
                            ("OPENAI_API_KEY", os.environ.get("OPENAI_API_KEY")))
    url, _ = _pick(("base_url", base_url), ("config", config.base_url),
                   ("env", os.environ.get("OPENAI_BASE_URL")))
    chosen_model, _ = _pick(("model", model), ("config", config.model),
                            ("env", os.environ.get("NBSTREAM_MODEL")))
    _secrets.register(key)
    if url is None and key is None:
        url = _demo_base_url()
        return Endpoint(url, None, None, chosen_model or DEMO_MODEL, is_demo=True)
    if url is None:
        url = "https://api.openai.com/v1"
    if chosen_model is None:
        raise NoModelError(url)
    return Endpoint(url.rstrip("/"), key, key_source, chosen_model)


def _pick(*candidates: tuple[str, str | None]) -> tuple[str | None, str | None]:
    for source, value in candidates:
        if value:
            return value, source
    return None, None


_demo_lock = threading.Lock()
_demo_server = None


def _demo_base_url() -> str:
    """The process-wide demo endpoint, started on first use; announced once on stderr."""
    global _demo_server
    with _demo_lock:
        if _demo_server is None:
            from . import demo

            _demo_server = demo.serve()
            print(DEMO_NOTICE, file=sys.stderr)
        return _demo_server.base_url
