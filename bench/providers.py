"""Benchmark Anthropic's and Gemini's streams: nbstream vs each provider's own SDK loop.

Run: ``python bench/providers.py [--events N] [--rounds R]`` (defaults 50,000 and 5).

For each provider, one realistic stream of N text deltas (the same token texts as
bench/pipeline.py: Markdown, code, CJK, emoji, JSON escapes) is recorded as bytes, cut
into random 1..16 KiB network chunks (fixed seed), and read by, interleaved over R
rounds in a rotating order (median CPU time of this thread; wall time alongside):

Anthropic Messages (``event: content_block_delta`` … ``message_stop``):
(a) ``nbstream.show(chunks)`` — framing, auto-detection, events and the record;
(b) ``nbstream.show(stream)`` of the anthropic SDK's ``Stream`` — read at the byte level
    from the SDK's HTTP response (what a notebook does with an SDK stream);
(c) the anthropic SDK's own loop: ``for event in client.messages.create(stream=True)``,
    keeping ``text_delta`` texts;
(d) the SDK's ``client.messages.stream(...).text_stream`` helper.

Gemini ``streamGenerateContent?alt=sse`` (whole ``GenerateContentResponse`` per event):
(e) ``nbstream.show(chunks)``;
(f) ``nbstream.show(...)`` of google-genai's ``generate_content_stream`` iterator (its
    pydantic objects: google-genai exposes no HTTP response to read);
(g) google-genai's own loop: ``for chunk in client.models.generate_content_stream(...)``,
    keeping ``chunk.text``.

The SDKs get the same chunks through their HTTP clients' mock transports (no sockets).
Every reader must produce the exact text, checked each round.
"""

from __future__ import annotations

import json
import random
from typing import Any

import anthropic
import httpx
import httpx2
from _common import (
    _PIECES,
    SEED,
    OtherProcesses,
    events_and_rounds,
    forget,
    interleaved,
    machine_header,
    median,
    network_chunks,
    sse_client,
    table,
    wall_times,
)
from google import genai
from google.genai import types

import nbstream

URL = "http://bench.invalid"
PACKAGES = ["nbstream", "anthropic", "google-genai", "httpx2", "httpx", "pydantic", "orjson"]


# ---- the recorded streams --------------------------------------------------------------------
def _pieces(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [rng.choice(_PIECES) for _ in range(n)]


def _sse(name: str | None, obj: dict[str, Any], sep: str = "\n") -> str:
    head = f"event: {name}{sep}" if name else ""
    return f"{head}data: {json.dumps(obj, ensure_ascii=False, separators=(',', ':'))}{sep}{sep}"


def anthropic_stream(n: int, seed: int = SEED) -> tuple[bytes, str, int]:
    """A Messages stream of ``n`` text deltas (as api.anthropic.com sends it); its text and event count."""
    pieces = _pieces(n, seed)
    usage = {"input_tokens": 12, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0,
             "output_tokens": 1}
    parts = [_sse("message_start", {"type": "message_start", "message": {
                 "id": "msg_01XFDUDYJgAACzvnptvVoYEL", "type": "message", "role": "assistant",
                 "model": "claude-bench", "content": [], "stop_reason": None, "stop_sequence": None,
                 "usage": usage}}),
             _sse("content_block_start", {"type": "content_block_start", "index": 0,
                                          "content_block": {"type": "text", "text": ""}}),
             _sse("ping", {"type": "ping"})]
    parts += [_sse("content_block_delta", {"type": "content_block_delta", "index": 0,
                                           "delta": {"type": "text_delta", "text": p}}) for p in pieces]
    parts += [_sse("content_block_stop", {"type": "content_block_stop", "index": 0}),
              _sse("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn",
                                                                        "stop_sequence": None},
                                     "usage": {"output_tokens": n}}),
              _sse("message_stop", {"type": "message_stop"})]
    return "".join(parts).encode(), "".join(pieces), len(parts)


def gemini_stream(n: int, seed: int = SEED) -> tuple[bytes, str, int]:
    """A ``?alt=sse`` stream of ``n`` chunks (``\\r\\n`` separated, as Google sends it), the
    last with ``finishReason``; its text and event count."""
    pieces = _pieces(n, seed)
    parts = []
    for i, p in enumerate(pieces):
        candidate: dict[str, Any] = {"content": {"parts": [{"text": p}], "role": "model"}, "index": 0}
        if i == n - 1:
            candidate["finishReason"] = "STOP"
        parts.append(_sse(None, {"candidates": [candidate], "usageMetadata": {
            "promptTokenCount": 12, "candidatesTokenCount": i + 1, "totalTokenCount": 13 + i},
            "modelVersion": "gemini-2.5-flash", "responseId": "mK3eaPqXBY2xz7IPlfXo6Q0"}, "\r\n"))
    return "".join(parts).encode(), "".join(pieces), len(parts)


# ---- the SDK clients, fed the same chunks ----------------------------------------------------
def anthropic_client(chunks: list[bytes]) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=URL, api_key="x", http_client=sse_client(httpx2, chunks), max_retries=0)


def genai_client(chunks: list[bytes]) -> genai.Client:
    return genai.Client(api_key="x", http_options=types.HttpOptions(base_url=URL, api_version="v1beta",
                                                                    httpx_client=sse_client(httpx, chunks)))


_MESSAGES = [{"role": "user", "content": "hi"}]


def anthropic_create(client: anthropic.Anthropic) -> Any:
    return client.messages.create(model="claude-bench", max_tokens=100_000, messages=_MESSAGES, stream=True)


def run_anthropic_loop(client: anthropic.Anthropic) -> str:
    out = []
    for event in anthropic_create(client):
        if event.type == "content_block_delta" and event.delta.type == "text_delta":
            out.append(event.delta.text)
    return "".join(out)


def run_anthropic_helper(client: anthropic.Anthropic) -> str:
    with client.messages.stream(model="claude-bench", max_tokens=100_000, messages=_MESSAGES) as stream:
        return "".join(stream.text_stream)


def genai_stream(client: genai.Client) -> Any:
    return client.models.generate_content_stream(model="gemini-2.5-flash", contents="hi")


def run_genai_loop(client: genai.Client) -> str:
    return "".join(chunk.text or "" for chunk in genai_stream(client))


def show(source: Any) -> nbstream.Run:
    return nbstream.show(source, display=False)


# ---- one provider ----------------------------------------------------------------------------
def measure(title: str, runners: dict[str, Any], expected: str, n_events: int, rounds: int,
            wire_format: str) -> dict[str, float]:
    def check(name: str, result: Any) -> None:
        if isinstance(result, nbstream.Run):
            assert result.status == "done", (name, result.status, result.error)
            assert result.text == expected, f"{name}: wrong text"
            assert result.wire_format == wire_format, (name, result.wire_format)
            forget(result)  # the run stays in nbstream's history: keep memory flat
        else:
            assert result == expected, f"{name}: wrong text"

    times = interleaved(runners, rounds, check)
    rates = {name: n_events / median(ts) for name, ts in times.items()}
    first = next(iter(runners))
    rows = [[name, f"{rates[name]:,.0f}", f"{median(ts) / n_events * 1e6:.2f}", f"{median(ts):.3f}",
             f"{median(wall_times[name]):.3f}", "-" if name == first else f"{rates[first] / rates[name]:.2f}x"]
            for name, ts in times.items()]
    print()
    print(title)
    print(table(["reader (CPU time)", "events/s", "µs/event", "CPU s", "wall s", f"{first[:3]} is"], rows))
    return rates


def report(events: int, rounds: int) -> str:
    """Print the Anthropic and Gemini tables (``events`` text deltas each, ``rounds``
    interleaved rounds) and return the summary line; ``bench/pipeline.py`` ends with it."""
    body, text, n = anthropic_stream(events)
    chunks = network_chunks(body, SEED)
    print(f"anthropic: {n:,} SSE events, {len(body) / 1e6:.1f} MB in {len(chunks):,} chunks; "
          f"median of {rounds} interleaved rounds")
    ac = anthropic_client(chunks)
    a = measure("Anthropic Messages", {
        "(a) nbstream.show(bytes)": lambda: show(chunks),
        "(b) nbstream.show(SDK Stream)": lambda: show(anthropic_create(ac)),
        "(c) anthropic SDK loop": lambda: run_anthropic_loop(ac),
        "(d) anthropic .text_stream": lambda: run_anthropic_helper(ac),
    }, text, n, rounds, "anthropic")

    body, text, n = gemini_stream(events)
    chunks = network_chunks(body, SEED)
    print(f"\ngemini: {n:,} SSE events, {len(body) / 1e6:.1f} MB in {len(chunks):,} chunks")
    gc_ = genai_client(chunks)
    g = measure("Gemini streamGenerateContent", {
        "(e) nbstream.show(bytes)": lambda: show(chunks),
        "(f) nbstream.show(genai iter)": lambda: show(genai_stream(gc_)),
        "(g) google-genai loop": lambda: run_genai_loop(gc_),
    }, text, n, rounds, "gemini")
    return (f"on Anthropic's stream nbstream reads {a['(a) nbstream.show(bytes)']:,.0f} events/s = "
            f"{a['(a) nbstream.show(bytes)'] / a['(c) anthropic SDK loop']:.1f}x the anthropic SDK's own loop "
            f"(shown from the SDK's Stream: {a['(b) nbstream.show(SDK Stream)'] / a['(c) anthropic SDK loop']:.1f}x); "
            f"on Gemini's {g['(e) nbstream.show(bytes)']:,.0f} events/s = "
            f"{g['(e) nbstream.show(bytes)'] / g['(g) google-genai loop']:.1f}x google-genai's own loop "
            f"(shown from its iterator: {g['(f) nbstream.show(genai iter)'] / g['(g) google-genai loop']:.2f}x)")


def main() -> None:
    args = events_and_rounds(__doc__, 50_000, "text deltas per stream")

    print(machine_header("nbstream provider streams benchmark", PACKAGES))
    others = OtherProcesses()
    summary = report(args.events, args.rounds)
    print(f"\n{others.line()}")
    print(f"summary: {summary}")


if __name__ == "__main__":
    main()
