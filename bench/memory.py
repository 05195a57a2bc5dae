"""Memory per recorded event, and the cost of the tables, for one very long Run.

Run: ``python bench/memory.py [--events N]`` (default 1,000,000).

Two streams go through ``nbstream.show(..., display=False)`` as an iterator of random
1..16 KiB network reads, generated on the fly (the raw body is never held whole):

* chat: OpenAI ``chat.completion.chunk`` events as api.openai.com sends them (role, N
  content chunks, finish, usage, ``[DONE]``); one content piece in 40 is non-ASCII;
* sse: a generic feed (``event: tick`` + a ~90-byte JSON quote per event).

``tracemalloc`` counts what the finished Run holds (its record and answer; the session's
history keeps it): bytes per event against the raw bytes received per event. Then, for
the chat run, the CPU time of building ``run.chunks`` and ``run.summary_row()``, and the
same stream with ``keep="summary"`` (no per-event rows) for the bounded mode.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import time
import tracemalloc
from collections.abc import Iterator
from typing import Any

from _common import SEED, machine_header, table

import nbstream

PACKAGES = ["nbstream", "pandas", "numpy", "orjson"]
_WORDS = ("the", " model", " answer", "s", " quickly", ",", " and", " token", " stream", ".", " data", "\n")
_WIDE = (" 世界", " 🙂", " é")


def _reads(events: Iterator[bytes], seed: int, counter: list[int]) -> Iterator[bytes]:
    """``events`` joined and cut into random 1..16 KiB reads; ``counter[0]`` sums the bytes."""
    rng = random.Random(seed)
    buf: list[bytes] = []
    size, want = 0, rng.randint(1, 16 * 1024)
    for ev in events:
        buf.append(ev)
        size += len(ev)
        while size >= want:
            blob = b"".join(buf)
            out, rest = blob[:want], blob[want:]
            counter[0] += len(out)
            yield out
            buf, size, want = [rest], len(rest), rng.randint(1, 16 * 1024)
    blob = b"".join(buf)
    if blob:
        counter[0] += len(blob)
        yield blob


def chat_events(n: int, seed: int = SEED) -> Iterator[bytes]:
    rng = random.Random(seed)
    base = {"id": "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT", "object": "chat.completion.chunk",
            "created": 1741569952, "model": "gpt-4o-mini-2024-07-18", "service_tier": "default",
            "system_fingerprint": "fp_06737a9306"}

    def event(choices: list, **extra: Any) -> bytes:
        body = json.dumps(dict(base, choices=choices, **extra), ensure_ascii=False, separators=(",", ":"))
        return b"data: " + body.encode() + b"\n\n"

    def choice(delta: dict, finish: str | None = None) -> list:
        return [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]

    yield event(choice({"role": "assistant", "content": "", "refusal": None}), usage=None)
    for i in range(n):
        piece = rng.choice(_WIDE) if i % 40 == 39 else rng.choice(_WORDS)
        yield event(choice({"content": piece}), usage=None, obfuscation="x" * rng.randint(2, 14))
    yield event(choice({}, "stop"), usage=None)
    yield event([], usage={"prompt_tokens": 37, "completion_tokens": n, "total_tokens": 37 + n})
    yield b"data: [DONE]\n\n"


def sse_events(n: int, seed: int = SEED) -> Iterator[bytes]:
    rng = random.Random(seed)
    for i in range(n):
        quote = {"sym": rng.choice(("ABC", "XYZ", "QQQ")), "bid": round(rng.uniform(10, 500), 2),
                 "ask": round(rng.uniform(10, 500), 2), "seq": i, "ts": 1_700_000_000_000 + i}
        yield b"event: tick\ndata: " + json.dumps(quote, separators=(",", ":")).encode() + b"\n\n"


def measure(name: str, events: Iterator[bytes], n_events: int, **show: Any) -> tuple[list[str], nbstream.Run]:
    counter = [0]
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    t0 = time.process_time()
    run = nbstream.show(_reads(events, SEED, counter), display=False, **show)
    cpu = time.process_time() - t0
    gc.collect()
    held = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    raw = counter[0]
    assert run.n_received == n_events, (run.n_received, n_events)
    print(f"  {name}: {held / n_events:.0f} B/event held for {raw / n_events:.0f} B/event received "
          f"({held / raw:.2f}x)", flush=True)
    return [name, f"{n_events:,}", f"{raw / n_events:.0f}", f"{held / n_events:.0f}", f"{held / raw:.2f}x",
            f"{cpu:.1f}"], run


def timed(fn: Any) -> float:
    gc.collect()
    t0 = time.process_time()
    fn()
    return time.process_time() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="events per stream (default 1000000)")
    args = parser.parse_args()
    n = args.events
    print(machine_header("nbstream memory benchmark", PACKAGES))
    rows = []
    row, chat = measure("chat, full record", chat_events(n), n + 4)
    rows.append(row)
    row, feed = measure("sse feed, full record", sse_events(n), n)
    rows.append(row)
    del feed
    row, bounded = measure('chat, keep="summary"', chat_events(n), n + 4, keep="summary")
    rows.append(row)
    print(table(["stream", "events", "raw B/event", "held B/event", "held/raw", "CPU s (traced)"], rows))

    from nbstream.data import tokens

    tokens.estimator(chat.tokenizer)._token_sizes() if tokens.estimator(chat.tokenizer)._enc else None  # loaded once
    small = nbstream.show(_reads(chat_events(100), SEED, [0]), display=False)
    _ = small.chunks, small.summary_row()  # pandas' first-use imports, before the clock as the tokenizer is
    t_chunks = timed(lambda: chat.chunks)
    chat._row = None
    t_row = timed(chat.summary_row)
    bounded._row = None
    t_row_bounded = timed(bounded.summary_row)
    print()
    print(f"tokenizer: {tokens.estimator(chat.tokenizer).name} (loaded before the clock)")
    print(table(["table for the chat run", "CPU s"], [
        [f"run.chunks ({n + 4:,} rows)", f"{t_chunks:.2f}"],
        ["run.summary_row()", f"{t_row:.2f}"],
        ['run.summary_row(), keep="summary" (online)', f"{t_row_bounded:.3f}"],
    ]))
    row = bounded.summary_row()
    print(f"\nkeep='summary': {row['n_events']:,} events counted, {len(bounded.records):,} rows held, "
          f"TTFT {row['ttft_s'] * 1e3:.2f} ms, ITL p99 {row['itl_p99_s'] * 1e6:.1f} µs "
          "(its row equals the full record's: tests/test_keep_summary.py)")


if __name__ == "__main__":
    main()
