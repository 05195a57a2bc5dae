"""Benchmark a prompt sweep: N rows × 2 models against the demo endpoint (its own process),
three ways, each in a fresh process (so peak RSS is its own), in one run:

1. ``nbstream.sweep`` at concurrency 64 (no cache, no view): the tidy table at the end;
2. the hand-written ``for`` loop over ``nbstream.stream`` that a sweep replaces (one at a time);
3. ``asyncio.gather`` over the openai SDK's ``AsyncOpenAI`` with a semaphore of 64
   (text and usage kept per row, no timing table, no retries beyond the SDK's own).

Printed per way: wall time, client CPU (user + system, the worker process), CPU per
stream, peak RSS, rows answered. Answers are short (a one-line label, as a classification
sweep gets), so the per-stream overhead dominates.

Run: ``python bench/sweep.py [--rows 10000] [--concurrency 64] [--skip-loop]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import subprocess
import sys
import time
from typing import Any

from _common import ROOT, DemoProcess, machine_header, table

PACKAGES = ["nbstream", "openai", "httpx", "pandas"]
MODELS = ["demo", "demo-fast"]
KNOBS = {"ttft": 0.0, "tps": 1e6, "jitter": 0.0, "text": "positive: the reviewer liked it"}


def _inputs(rows: int) -> list[str]:
    return [f"review number {i}: it works fine" for i in range(rows)]


def _sweep(base_url: str, rows: int, concurrency: int) -> int:
    import pandas as pd

    import nbstream

    df = nbstream.sweep("Classify: {review}", data=pd.DataFrame({"review": _inputs(rows)}), models=MODELS,
                        concurrency=concurrency, cache=False, display=False, base_url=base_url, api_key="demo",
                        demo=KNOBS)
    return int((df["status"] == "done").sum())


def _loop(base_url: str, rows: int, _concurrency: int) -> int:
    import nbstream

    done = 0
    for review in _inputs(rows):
        for model in MODELS:
            run = nbstream.stream(f"Classify: {review}", model=model, base_url=base_url, api_key="demo", demo=KNOBS)
            done += run.status == "done"
    return done


def _gather(base_url: str, rows: int, concurrency: int) -> int:
    import openai

    async def main() -> int:
        client = openai.AsyncOpenAI(base_url=base_url, api_key="demo", max_retries=3)
        gate = asyncio.Semaphore(concurrency)

        async def one(review: str, model: str) -> tuple[str, Any]:
            async with gate:
                stream = await client.chat.completions.create(
                    model=model, messages=[{"role": "user", "content": f"Classify: {review}"}], stream=True,
                    stream_options={"include_usage": True}, extra_body={"demo": KNOBS})
                parts, usage = [], None
                async for chunk in stream:
                    if chunk.choices and chunk.choices[0].delta.content:
                        parts.append(chunk.choices[0].delta.content)
                    usage = chunk.usage or usage
                return "".join(parts), usage

        results = await asyncio.gather(*(one(r, m) for r in _inputs(rows) for m in MODELS))
        await client.close()
        return sum(1 for text, _ in results if text)

    return asyncio.run(main())


WAYS = {"nbstream.sweep": _sweep, "for loop over nbstream.stream": _loop, "asyncio.gather over AsyncOpenAI": _gather}


def worker(way: str, base_url: str, rows: int, concurrency: int) -> None:
    t0, c0 = time.perf_counter(), time.process_time()
    done = WAYS[way](base_url, rows, concurrency)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"wall": wall, "cpu": cpu, "rss_mb": rss_mb, "done": done}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=10_000)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--skip-loop", action="store_true", help="leave out the (slow, sequential) for loop")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--base-url", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(args.worker, args.base_url, args.rows, args.concurrency)
        return
    print(machine_header("prompt sweep", PACKAGES))
    streams = args.rows * len(MODELS)
    print(f"{args.rows} rows × {len(MODELS)} models = {streams} streams, concurrency {args.concurrency}, "
          f"answers of ~8 tokens, demo endpoint in its own process")
    results: list[list[str]] = []
    with DemoProcess() as demo:
        for way in WAYS:
            if args.skip_loop and way.startswith("for loop"):
                continue
            out = subprocess.run([sys.executable, __file__, "--worker", way, "--base-url", demo.base_url,
                                  "--rows", str(args.rows), "--concurrency", str(args.concurrency)],
                                 capture_output=True, text=True, cwd=ROOT, check=False)
            if out.returncode != 0:
                results.append([way, "failed", out.stderr.strip().splitlines()[-1] if out.stderr else "", "", "", ""])
                continue
            r = json.loads(out.stdout.strip().splitlines()[-1])
            results.append([way, f"{r['wall']:.1f} s", f"{r['cpu']:.1f} s", f"{1e3 * r['cpu'] / streams:.2f} ms",
                            f"{r['rss_mb']:.0f} MB", f"{r['done']}/{streams}"])
    print(table(["way", "wall", "client CPU", "CPU/stream", "peak RSS", "answered"], results))


if __name__ == "__main__":
    main()
