"""Each provider's models endpoint: where it is and how its answer reads.

OpenAI-compatible servers answer ``GET {base_url}/models`` with ``data[].id``; Anthropic
``GET /v1/models`` (its ``x-api-key`` and ``anthropic-version`` headers) with
``data[].id``/``display_name``/``created_at``; Gemini ``GET /v1beta/models`` with
``models[].name`` (``models/…``), ``displayName`` and token limits; Ollama ``GET /api/tags``
with ``models[].name``. ``created`` is ISO-8601 text for all (OpenAI's Unix seconds
converted). One page is read (with the largest page size each allows).
Answers are untrusted: a wrong shape is a :class:`ValueError` naming what was expected,
every field is cut to a sane length, and rows are capped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from nbstream.wire import anthropic, gemini, ollama

__all__ = ["ENDPOINTS", "MAX_ROWS", "ModelsEndpoint", "PROVIDERS", "provider_of"]

MAX_ROWS = 5000
_MAX_FIELD = 200

#: format name -> the provider name shown in listings and written as a model prefix.
PROVIDERS = {"chat": "openai", "responses": "openai", "anthropic": "anthropic", "gemini": "gemini",
             "ollama": "ollama"}


def provider_of(api: str) -> str:
    """The provider a format belongs to (``responses`` -> ``openai``); else the format's name."""
    return PROVIDERS.get(api, api)


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, (dict, list)):
        return None
    return str(value)[:_MAX_FIELD]


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _items(answer: Any, key: str, where: str) -> list[dict[str, Any]]:
    items = answer.get(key) if isinstance(answer, dict) else None
    if not isinstance(items, list):
        raise ValueError(f"{where} answered {type(answer).__name__}, not an object with a {key!r} list")
    return [item for item in items[:MAX_ROWS] if isinstance(item, dict)]


def _epoch(value: Any) -> str | None:
    """OpenAI's ``created`` (Unix seconds) as the ISO-8601 text the others give."""
    seconds = _int(value)
    if seconds is None or seconds > 253402300799:  # past the year 9999
        return None
    return datetime.fromtimestamp(seconds, UTC).isoformat().replace("+00:00", "Z")


def _openai(answer: Any) -> list[dict[str, Any]]:
    return [{"model": _text(m.get("id")), "owned_by": _text(m.get("owned_by")), "created": _epoch(m.get("created"))}
            for m in _items(answer, "data", "GET /models")]


def _anthropic(answer: Any) -> list[dict[str, Any]]:
    return [{"model": _text(m.get("id")), "display_name": _text(m.get("display_name")),
             "created": _text(m.get("created_at"))} for m in _items(answer, "data", "GET /v1/models")]


def _gemini(answer: Any) -> list[dict[str, Any]]:
    return [{"model": (_text(m.get("name")) or "").removeprefix("models/") or None,
             "display_name": _text(m.get("displayName")), "input_token_limit": _int(m.get("inputTokenLimit")),
             "output_token_limit": _int(m.get("outputTokenLimit"))}
            for m in _items(answer, "models", "GET /v1beta/models")]


def _ollama(answer: Any) -> list[dict[str, Any]]:
    return [{"model": _text(m.get("name")), "size": _int(m.get("size")), "created": _text(m.get("modified_at"))}
            for m in _items(answer, "models", "GET /api/tags")]


@dataclass(frozen=True)
class ModelsEndpoint:
    """``url(base_url)`` is where the listing is; ``rows(answer)`` reads its JSON."""

    url: Callable[[str], str]
    rows: Callable[[Any], list[dict[str, Any]]]


def _join(base: str, path: str) -> str:
    return base.rstrip("/") + path


ENDPOINTS: dict[str, ModelsEndpoint] = {
    "chat": ModelsEndpoint(lambda base: _join(base, "/models"), _openai),
    "anthropic": ModelsEndpoint(lambda base: _join(anthropic.root(base), "/v1/models?limit=1000"), _anthropic),
    "gemini": ModelsEndpoint(lambda base: _join(gemini.root(base), "/v1beta/models?pageSize=1000"), _gemini),
    "ollama": ModelsEndpoint(lambda base: _join(ollama.ollama_root(base), "/api/tags"), _ollama),
}
