"""``cost_usd``: what a run cost, from its usage and model, priced by ``genai-prices``
(pydantic's maintained price table, shipped as a snapshot inside the package: no network).

Which price: the provider is the one whose API the run talked to — its ``base_url``
matched against the table's provider URLs (api.openai.com, api.anthropic.com,
\\*.googleapis.com, Azure, Groq, OpenRouter…); a replayed recording has the URL it was
recorded from (a recording that names none is not priced). The model is
``response_model`` (the dated name the server answered with), else the requested
``model``; prices are those valid at ``run.started_at``.

``None``, never a guess, when: no usage was reported; the URL is no priced provider's
(the demo endpoint, llama-server, Ollama, a local LiteLLM proxy: their cost is not a
provider's list price); the run has no URL (an SDK stream or iterator handed to
``show()``, a recording that names no server: chat-shaped chunks say nothing of whose
server sent them); the model is not in that provider's table; a name is
longer than 200 characters or holds control characters (never looked up: the table's
matching is regex-based, and its caches keep every name asked).

Measured with genai-prices 0.2.3 (2 shared cores, so ranges): ``import genai_prices``
0.34–0.52 s, once, on the first row of a run on a provider's URL (a loopback or private
host is answered None in ~30 µs without it); the first lookup 27–200 ms; then 0.15–0.27
ms per run (its lookup cache; this wrapper adds ~0.02 ms), so 10,000 sweep rows cost
~2.5 s of a worker's time. Never while a stream is read: a row is computed once its run
has ended (by a view, the history worker or the caller).

Cached and reasoning tokens: ``input_tokens`` includes cache reads and writes, which it prices at their own rates
(gpt-4o: 1000 in of which 400 cached, 500 out -> $0.0070 instead of $0.0075); reasoning
tokens are part of ``output_tokens`` and priced as output (o3-mini, 300 of 500 output
tokens reasoning: same $0.0033 as without the split), which is how OpenAI, Anthropic
and Gemini (``candidatesTokenCount + thoughtsTokenCount``, summed by our adapter) bill.
Provider inference from the model name alone (``provider_id=None``) maps ``gpt-4o`` to
openai and ``claude-sonnet-4-5`` to anthropic, but would also price a local server's
model that happens to share a name: that is why the URL decides.
"""

from __future__ import annotations

import ipaddress
import math
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from nbstream.events import Usage
    from nbstream.run import Run

__all__ = ["cost_usd", "price"]

_MAX_NAME = 200
_MAX_COUNT = 1 << 53


def cost_usd(run: Run) -> float | None:
    """The run's cost in US dollars, or None when it cannot be known (see the module)."""
    for model in (run.response_model, run.model):
        cost = price(model, run.usage, base_url=run.base_url, when=run.started_at)
        if cost is not None:
            return cost
    return None


def price(model: Any, usage: Usage | None, *, base_url: str | None,
          when: datetime | None = None) -> float | None:
    """``usage`` of ``model`` priced at ``when`` by the provider of ``base_url``. None for
    anything unknown or not a plausible name, URL or count."""
    if usage is None or not _plain_name(model):
        return None
    counts = _counts(usage)
    if counts is None:
        return None
    if not base_url or not base_url.startswith(("http://", "https://")) or not _plain_name(base_url, limit=2000) \
            or _is_local(base_url):
        return None
    where = {"provider_api_url": base_url}
    try:
        import genai_prices
    except ImportError:  # a declared dependency; an install without it prices nothing
        return None
    try:
        result = genai_prices.calc_price(genai_prices.Usage(**counts), model, genai_request_timestamp=when,
                                         **where)  # type: ignore[call-overload]
        value = float(result.total_price)
    except Exception:  # LookupError for an unknown model/provider; anything else is no price either
        return None
    return value if math.isfinite(value) and value >= 0 else None


def _is_local(url: str) -> bool:
    """A loopback or private-network host (the demo endpoint, local servers): no provider's,
    known without loading the price table."""
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        return True
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_private or address.is_link_local or address.is_unspecified


def _plain_name(value: Any, *, limit: int = _MAX_NAME) -> bool:
    return (value.__class__ is str and 0 < len(value) <= limit
            and not any(ord(ch) < 32 or ord(ch) == 127 for ch in value))


def _counts(usage: Usage) -> dict[str, int] | None:
    """The table's usage keys from ours; None without both token counts."""
    def ok(value: Any) -> int | None:
        return value if value.__class__ is int and 0 <= value < _MAX_COUNT else None

    inp, out = ok(usage.input_tokens), ok(usage.output_tokens)
    if inp is None or out is None:
        return None
    counts = {"input_tokens": inp, "output_tokens": out}
    cached = ok(usage.cached_tokens)
    server = usage.server if isinstance(usage.server, dict) else {}
    written = ok(server.get("cache_creation_input_tokens"))
    if cached and cached + (written or 0) <= inp:
        counts["cache_read_tokens"] = cached
    if written and (cached or 0) + written <= inp:
        counts["cache_write_tokens"] = written
    reasoning = ok(usage.reasoning_tokens)
    if reasoning and reasoning <= out:
        counts["output_reasoning_tokens"] = reasoning
    return counts
