"""Benchmark nbstream's SSE decoder against httpx-sse and the openai SDK's decoder.

Run: ``python bench/sse.py`` (add ``-v`` to list every failed case).

1. Conformance: every case of ``tests/sse_corpus.py`` through each decoder, fed
   the way each library is fed in real use; an exception counts as a failure.
2. Throughput: a realistic stream of OpenAI ``chat.completion.chunk`` events
   cut into random 1..16 KiB network chunks (fixed seed), interleaved runs,
   median events/s per decoder.
"""

from __future__ import annotations

import gc
import json
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from _common import network_chunks  # noqa: E402
from httpx._decoders import TextDecoder  # noqa: E402
from httpx_sse._decoders import SSEDecoder as HttpxSSEDecoder  # noqa: E402
from httpx_sse._decoders import SSELineDecoder  # noqa: E402
from openai._streaming import SSEDecoder as OpenAISSEDecoder  # noqa: E402
from sse_corpus import CASES, chunks_of, normalized  # noqa: E402

from nbstream.sse import SSEDecoder  # noqa: E402

Event = tuple[str, str, str, "int | None"]
Runner = Callable[[list[bytes]], list[Event]]

N_EVENTS = 120_000
ROUNDS = 7
SEED = 20240601


def run_nbstream(chunks: list[bytes]) -> list[Event]:
    dec = SSEDecoder()
    out = []
    for chunk in chunks:
        out.extend(dec.feed(chunk))
    return [(e.event, e.data, e.id, e.retry) for e in out]


def _httpx_sse_events(chunks: list[bytes]):
    """Mirror ``EventSource.iter_sse``: httpx ``iter_text`` -> SSE lines -> decode."""
    text_decoder = TextDecoder("utf-8")  # httpx's default for text/event-stream
    lines = SSELineDecoder()
    decoder = HttpxSSEDecoder()

    def texts():
        for chunk in chunks:
            text = text_decoder.decode(chunk)
            if text:  # httpx's TextChunker drops empty strings
                yield text
        text = text_decoder.flush()
        if text:
            yield text

    def all_lines():
        for text in texts():
            yield from lines.decode(text)
        yield from lines.flush()

    for line in all_lines():
        sse = decoder.decode(line.rstrip("\n"))
        if sse is not None:
            yield sse


def run_httpx_sse(chunks: list[bytes]) -> list[Event]:
    return [(e.event or "message", e.data, e.id or "", e.retry) for e in _httpx_sse_events(chunks)]


def run_openai(chunks: list[bytes]) -> list[Event]:
    events = OpenAISSEDecoder().iter_bytes(iter(chunks))
    return [(e.event or "message", e.data, e.id or "", e.retry) for e in events]


RUNNERS: dict[str, Runner] = {
    "nbstream": run_nbstream,
    "httpx-sse": run_httpx_sse,
    "openai": run_openai,
}


def count_nbstream(chunks: list[bytes]) -> int:
    dec = SSEDecoder()
    n = 0
    for chunk in chunks:
        for _ in dec.feed(chunk):
            n += 1
    return n


def count_httpx_sse(chunks: list[bytes]) -> int:
    return sum(1 for _ in _httpx_sse_events(chunks))


def count_openai(chunks: list[bytes]) -> int:
    return sum(1 for _ in OpenAISSEDecoder().iter_bytes(iter(chunks)))


# Throughput counts the events each decoder yields, without converting them.
COUNTERS: dict[str, Callable[[list[bytes]], int]] = {
    "nbstream": count_nbstream,
    "httpx-sse": count_httpx_sse,
    "openai": count_openai,
}


def conformance(verbose: bool) -> dict[str, list[str]]:
    """Names of the corpus cases each decoder fails."""
    failed: dict[str, list[str]] = {}
    for name, run in RUNNERS.items():
        failed[name] = []
        for case in CASES:
            try:
                ok = run(chunks_of(case)) == normalized(case.expected)
                why = "wrong events"
            except Exception as exc:  # an exception is a failure, by design
                ok, why = False, f"raised {type(exc).__name__}"
            if not ok:
                failed[name].append(f"{case.name} ({why})")
        if verbose:
            for line in failed[name]:
                print(f"  {name}: {line}")
    return failed


_WORDS = [
    "the", "of", "and", "to", "in", "is", "that", "for", "it", "as", "was", "with", "on", "be", "by", "this", "are",
    "from", "at", "or", "an", "have", "not", "but", "model", "stream", "token", "delta", "chunk", "Jupyter",
    "pandas", "DataFrame", "async", "await", "yield", "你好", "世界", "café", "naïve", "Ünïcödé", "🙂", "🚀",
    "\\n", "\"", "'", "{x}", "[1,", "2]", "<tag>", "-->", "42", "3.14", "--", "ok!",
]


def chat_stream(n_events: int, seed: int) -> bytes:
    """A realistic OpenAI chat.completion.chunk SSE body: role, n tokens, finish, usage, [DONE]."""
    rng = random.Random(seed)
    base = {
        "id": "chatcmpl-9xYzAbCdEfGhIjKlMnOpQrStUvW",
        "object": "chat.completion.chunk",
        "created": 1718000000,
        "model": "gpt-4o-mini-2024-07-18",
        "system_fingerprint": "fp_0123456789",
    }

    def chunk(delta: dict, finish: str | None = None) -> bytes:
        body = dict(base, choices=[{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}])
        return b"data: " + json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode() + b"\n\n"

    parts = [chunk({"role": "assistant", "content": ""})]
    for _ in range(n_events - 3):
        token = "".join(rng.choice(_WORDS) + (" " if rng.random() < 0.7 else "") for _ in range(rng.randint(1, 3)))
        parts.append(chunk({"content": token}))
    parts.append(chunk({}, "stop"))
    parts.append(b"data: [DONE]\n\n")
    return b"".join(parts)


def throughput(chunks: list[bytes], n_events: int) -> dict[str, float]:
    """Median events/s per decoder over interleaved rounds (rotating order)."""
    names = list(COUNTERS)
    times: dict[str, list[float]] = {name: [] for name in names}
    for r in range(ROUNDS):
        order = names[r % len(names) :] + names[: r % len(names)]
        for name in order:
            gc.collect()
            t0 = time.perf_counter()
            got = COUNTERS[name](chunks)
            times[name].append(time.perf_counter() - t0)
            assert got == n_events, (name, got)
    return {name: n_events / statistics.median(ts) for name, ts in times.items()}


def main() -> None:
    verbose = "-v" in sys.argv
    print(f"conformance corpus: {len(CASES)} cases")
    failed = conformance(verbose)

    body = chat_stream(N_EVENTS, SEED)
    chunks = network_chunks(body, SEED)
    print(
        f"throughput stream: {N_EVENTS} chat.completion.chunk events, {len(body) / 1e6:.1f} MB, "
        f"{len(chunks)} chunks of 1..16 KiB, median of {ROUNDS} interleaved rounds"
    )
    rates = throughput(chunks, N_EVENTS)

    ours = rates["nbstream"]
    print()
    print(f"{'decoder':<11} {'corpus fails':>12} {'events/s':>10} {'nbstream is':>12}")
    for name in RUNNERS:
        ratio = "-" if name == "nbstream" else f"{ours / rates[name]:.2f}x"
        print(f"{name:<11} {len(failed[name]):>8}/{len(CASES):<3} {rates[name]:>10,.0f} {ratio:>12}")


if __name__ == "__main__":
    main()
