"""Benchmark the whole receive pipeline: network bytes -> answer text (and nbstream's record).

Run: ``python bench/pipeline.py [--events N] [--rounds R]`` (defaults 100,000 and 5).

The same realistic OpenAI ``chat.completion.chunk`` stream, cut into random 1..16 KiB
network chunks (fixed seed), goes through four pipelines, interleaved over R rounds in a
rotating order; the median CPU time is reported (a shared machine's other processes do
not count; wall time is shown alongside):

(a) nbstream: ``nbstream.show(chunks, display=False)`` — SSE framing, normalized events
    and one recorded row per message in ``run.records`` (the DataFrame ``run.chunks`` is
    built once afterwards and timed on its own);
(b) the openai SDK's ``Stream`` (``chat.completions.create(stream=True)`` on an
    ``httpx2.MockTransport`` that returns the same chunks) — what notebooks run today;
(c) httpx-sse ``EventSource.iter_sse()`` on an ``httpx.MockTransport`` + ``json.loads``;
(d) a raw ``split(b"\\n")`` + ``orjson.loads`` loop: the pure-Python floor.

Then where (a)'s time goes (the pipeline cut after framing, after the adapter, and the
whole ``show`` with the cyclic GC off), and the JSON decoder alone on the same payloads:
json vs orjson vs msgspec, µs/event.

Last, the same measurement for Anthropic's Messages and Gemini's streams against their own
SDKs' loops, with N/2 text deltas each (``bench/providers.py``, which also runs alone:
same chunking, same rounds, same token texts).
"""

from __future__ import annotations

import gc
import json
import time
from typing import Any

import httpx
import httpx2
import msgspec
import openai
import orjson
import providers
from _common import (
    SEED,
    OtherProcesses,
    chat_stream,
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
from httpx_sse import EventSource

import nbstream
from nbstream.wire.adapters import make_adapter
from nbstream.wire.framing import SSEFramer

URL = "http://bench.invalid/v1"
PACKAGES = ["nbstream", "openai", "httpx2", "httpx", "httpx-sse", "orjson", "msgspec", "pydantic", "pandas",
            "numpy"]


# ---- (a) nbstream ----------------------------------------------------------------------------
def run_nbstream(chunks: list[bytes]) -> nbstream.Run:
    return nbstream.show(chunks, display=False)


# ---- (b) the openai SDK --------------------------------------------------------------------
def openai_client(chunks: list[bytes]) -> openai.OpenAI:
    return openai.OpenAI(base_url=URL, api_key="x", http_client=sse_client(httpx2, chunks), max_retries=0)


def run_openai(client: openai.OpenAI) -> str:
    out = []
    stream = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}],
                                            stream=True, stream_options={"include_usage": True})
    for chunk in stream:
        if chunk.choices:
            content = chunk.choices[0].delta.content
            if content:
                out.append(content)
    return "".join(out)


# ---- (c) httpx-sse + json.loads ------------------------------------------------------------
def httpx_client(chunks: list[bytes]) -> httpx.Client:
    return sse_client(httpx, chunks)


def run_httpx_sse(client: httpx.Client) -> str:
    out = []
    with client.stream("POST", f"{URL}/chat/completions", json={"stream": True}) as response:
        for sse in EventSource(response).iter_sse():
            if sse.data == "[DONE]":
                break
            obj = json.loads(sse.data)
            choices = obj.get("choices")
            if choices:
                content = choices[0]["delta"].get("content")
                if content:
                    out.append(content)
    return "".join(out)


# ---- (d) raw line split + orjson -----------------------------------------------------------
def run_raw(chunks: list[bytes]) -> str:
    out = []
    tail = b""
    loads = orjson.loads
    for chunk in chunks:
        lines = (tail + chunk).split(b"\n")
        tail = lines.pop()
        for line in lines:
            if line[:6] == b"data: ":
                payload = line[6:]
                if payload == b"[DONE]":
                    continue
                choices = loads(payload)["choices"]
                if choices:
                    content = choices[0]["delta"].get("content")
                    if content:
                        out.append(content)
    return "".join(out)


# ---- where (a)'s time goes -----------------------------------------------------------------
def _frame_only(chunks: list[bytes]) -> int:
    decoder, n = SSEFramer().decoder, 0
    for chunk in chunks:
        n += len(decoder.feed_tuples(chunk))
    return n


def _frame_and_adapt(chunks: list[bytes]) -> int:
    decoder, adapter, n = SSEFramer().decoder, make_adapter("chat"), 0
    feed = adapter.feed_fast  # type: ignore[attr-defined]
    for chunk in chunks:
        for name, data, last_id, _retry in decoder.feed_tuples(chunk):
            feed(name, data, last_id or None)
            n += 1
    return n


def _show_without_gc(chunks: list[bytes]) -> nbstream.Run:
    gc.disable()
    try:
        return nbstream.show(chunks, display=False)
    finally:
        gc.enable()


def stages(chunks: list[bytes], n_events: int, rounds: int) -> list[list[str]]:
    """µs/event of the pipeline cut after each stage (private modules: a diagnostic only)."""
    def drop(run: Any) -> None:
        if isinstance(run, nbstream.Run):
            assert len(run.records) == n_events
            forget(run)

    runners = {
        "SSE framing (decoder -> tuples)": lambda: _frame_only(chunks),
        "+ chat adapter (orjson, feed_fast)": lambda: _frame_and_adapt(chunks),
        "+ Run/record = nbstream.show": lambda: nbstream.show(chunks, display=False),
        "nbstream.show, cyclic GC disabled": lambda: _show_without_gc(chunks),
    }
    times = interleaved(runners, rounds, lambda name, result: drop(result))
    return [[name, f"{median(ts) / n_events * 1e6:.2f}"] for name, ts in times.items()]


# ---- the JSON decoders alone ---------------------------------------------------------------
def _each(fn: Any, payloads: list) -> None:
    for p in payloads:
        fn(p)  # result dropped at once: the decoder's own cost, no GC pressure from a growing heap


def decoder_micro(payloads: list[str], rounds: int) -> dict[str, float]:
    """µs per payload of each decoder (median over interleaved rounds), on str payloads as
    nbstream's SSE decoder yields them (orjson also on bytes, as the raw baseline feeds it)."""
    decode = msgspec.json.Decoder().decode
    raw = [p.encode() for p in payloads]
    runners = {
        "json.loads": lambda: _each(json.loads, payloads),
        "orjson.loads": lambda: _each(orjson.loads, payloads),
        "orjson.loads (bytes)": lambda: _each(orjson.loads, raw),
        "msgspec.json.decode": lambda: _each(decode, payloads),
    }
    times = interleaved(runners, rounds)
    return {name: median(ts) / len(payloads) * 1e6 for name, ts in times.items()}


def main() -> None:
    args = events_and_rounds(__doc__, 100_000, "content chunks in the stream")

    print(machine_header("nbstream pipeline benchmark", PACKAGES))
    others = OtherProcesses()
    body, expected, n_events = chat_stream(args.events, SEED)
    chunks = network_chunks(body, SEED)
    print(f"stream: {n_events:,} SSE events ({args.events:,} content chunks + role, finish, usage, [DONE]), "
          f"{len(body) / 1e6:.1f} MB in {len(chunks):,} network chunks of 1..16 KiB (seed {SEED}); "
          f"median of {args.rounds} interleaved rounds, CPU time of this thread")

    oai, hx = openai_client(chunks), httpx_client(chunks)
    runners: dict[str, Any] = {
        "(a) nbstream.show": lambda: run_nbstream(chunks),
        "(b) openai SDK Stream": lambda: run_openai(oai),
        "(c) httpx-sse + json": lambda: run_httpx_sse(hx),
        "(d) raw split + orjson": lambda: run_raw(chunks),
    }
    frame_times: list[float] = []

    def check(name: str, result: Any) -> None:
        if isinstance(result, nbstream.Run):
            run = result
            assert run.status == "done", (run.status, run.error)
            assert run.text == expected, "nbstream: wrong text"
            assert len(run.records) == n_events, (len(run.records), n_events)
            gc.collect()
            t0 = time.thread_time()
            df = run.chunks
            frame_times.append(time.thread_time() - t0)
            assert len(df) == n_events and int(df["is_token"].sum()) == args.events
            forget(run)  # the run stays in nbstream's history: keep memory flat
        else:
            assert result == expected, f"{name}: wrong text"

    times = interleaved(runners, args.rounds, check)
    rates = {name: n_events / median(ts) for name, ts in times.items()}
    ours = rates["(a) nbstream.show"]

    rows = []
    for name, ts in times.items():
        us = median(ts) / n_events * 1e6
        ratio = "-" if name.startswith("(a)") else f"{ours / rates[name]:.2f}x"
        rows.append([name, f"{rates[name]:,.0f}", f"{us:.2f}", f"{median(ts):.3f}",
                     f"{median(wall_times[name]):.3f}", ratio])
    frame_s = median(frame_times)
    with_frame = median(times["(a) nbstream.show"]) + frame_s
    rows.append(["(a) + run.chunks DataFrame, once", f"{n_events / with_frame:,.0f}",
                 f"{with_frame / n_events * 1e6:.2f}", f"{with_frame:.3f}", "", ""])
    print()
    print(table(["pipeline (CPU time)", "events/s", "µs/event", "CPU s", "wall s", "(a) is"], rows))
    print(f"run.chunks DataFrame alone: {frame_s:.3f} CPU s ({frame_s / n_events * 1e6:.2f} µs/row), "
          "built once at the end")

    print()
    print("where (a)'s time goes (cumulative stages, same chunks; private modules, diagnostic):")
    print(table(["stage", "µs/event"], stages(chunks, n_events, max(3, args.rounds - 2))))

    payloads = [line[6:].decode() for line in body.split(b"\n") if line.startswith(b"data: {")]
    micro = decoder_micro(payloads, 3)
    print()
    base = micro["json.loads"]
    print(table(["JSON decoder alone (same payloads, str)", "µs/event", "vs json"],
                [[name, f"{us:.2f}", f"{base / us:.2f}x"] for name, us in micro.items()]))

    print("\nOther providers' native wire formats, nbstream vs each SDK's own loop (bench/providers.py):")
    provider_summary = providers.report(max(args.events // 2, 1), args.rounds)

    r_b = ours / rates["(b) openai SDK Stream"]
    r_c = ours / rates["(c) httpx-sse + json"]
    r_d = ours / rates["(d) raw split + orjson"]
    print(f"\n{others.line()}")
    print(f"summary: nbstream {ours:,.0f} events/s = {r_b:.1f}x the openai SDK Stream "
          f"({'meets' if r_b >= 25 else 'below'} the 25x target), {r_c:.2f}x httpx-sse+json, "
          f"{r_d:.2f}x the raw orjson floor; orjson decodes {micro['json.loads'] / micro['orjson.loads']:.1f}x "
          f"faster than json, msgspec {micro['json.loads'] / micro['msgspec.json.decode']:.1f}x; "
          f"{provider_summary}")


if __name__ == "__main__":
    main()
