"""Benchmark nbstream against a real HTTP server: loopback throughput, timing accuracy,
and 100 / 1,000 concurrent streams on one event loop, with the transports compared.

Run: ``python bench/concurrency.py [--reps N] [--batches B] [--streams S ...] [--clients W ...]``
(``--reps 0`` skips parts 1 and 2; the many-streams figures in the README come from
``--reps 0 --batches 3 --streams 100 1000 --clients none``: nbstream and the reference only).

The demo endpoint runs in its own process (``python -m nbstream.demo --port 0``), so it
does not share the client's GIL, and in its own session, so the scheduler does not weigh
its 1,000 threads against the client's one (``_common.DemoProcess``); its write log
(``GET /v1/demo/requests``) is the truth.
``perf_counter_ns`` is CLOCK_MONOTONIC on Linux, shared by both processes, so the
server's write times and nbstream's arrival stamps are directly comparable.

1. Loopback end-to-end: ``demo-long`` (~2,000 tokens) with no delays, through
   ``nbstream.stream``, the openai SDK's ``Stream``, and ``nbstream.show`` on that Stream.
2. Timing accuracy: 100 tok/s, TTFT 0.3 s, jitter 0.2; nbstream's ``ttft_s`` and token
   gaps vs the server's write times (p50 / p99 / max error, ms).
3. (and 4, ...) Many streams: S streams (default 100, then 1,000) at 50 tok/s, TTFT 0.2 s,
   ~150 tokens each, all on one loop via ``asyncio.gather``: ``nbstream.astream``; the
   reference of issue 13's goals, a raw aiohttp client that stamps each read and splits
   SSE events; each candidate transport alone the same way (httpx 0.28, httpx2, httpx
   over ``httpx-aiohttp``, a minimal asyncio-streams HTTP client); and nbstream's
   pipeline over httpx (what ``astream`` was) and over that asyncio client, interleaved
   batch by batch. Per client: lost events, client CPU per event, TTFT and gap error
   against the server's write times, the worst event-loop stall and full-GC pause; then
   ``nbstream.astream``'s figures next to their error budget (0 lost events; gap error
   p99 within 2 ms of the reference at <= 100 streams, 10 ms beyond; CPU per event
   <= 1.5x the reference; no full-GC pause over 10 ms).

Other processes' CPU use during each part is printed: on a shared machine it explains
outliers.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import statistics
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import httpx
import numpy as np
import openai
from _common import DemoProcess, OtherProcesses, machine_busy_s, machine_header, percentiles_ms, table

import nbstream
from nbstream.demo import count_tokens

PACKAGES = ["nbstream", "aiohttp", "httpx", "httpx2", "httpx-aiohttp", "openai", "orjson", "pandas", "numpy"]
FASTEST = {"ttft": 0.0, "tps": 1e6, "jitter": 0.0}
ACCURACY = {"ttft": 0.3, "tps": 100, "jitter": 0.2}
CONCURRENT = {"ttft": 0.2, "tps": 50, "jitter": 0.1}
TOKEN_KINDS = ("content", "reasoning")
PATIENCE_S = 600.0  # nbstream's first-byte and idle timeouts in the many-streams part
PROMPT = "Explain Server-Sent Events"
MESSAGES = [{"role": "user", "content": PROMPT}]


# ---- the truth side ------------------------------------------------------------------------
def truth_ns(log: dict[str, Any]) -> list[int]:
    """The server's write times (ns) of the token-bearing events of one request."""
    return [t for t, kind, _ in log["writes"] if kind in TOKEN_KINDS]


def errors_vs_truth(run: nbstream.Run, log: dict[str, Any]) -> tuple[float, list[float], list[float]]:
    """(TTFT error, gap errors, per-token delivery latencies), seconds, measured - truth."""
    truth = np.array([(t - run.t0_ns) / 1e9 for t in truth_ns(log)])
    c = run.chunks
    measured = c.loc[c["is_token"], "t_recv_s"].to_numpy(dtype=float)
    if len(measured) != len(truth):
        raise AssertionError(f"{len(measured)} token chunks received, the server wrote {len(truth)}")
    ttft_error = float(run.summary["ttft_s"] - truth[0])
    gaps = (np.diff(measured) - np.diff(truth)).tolist()
    return ttft_error, gaps, (measured - truth).tolist()


def _ms(values: tuple[float, float, float]) -> list[str]:
    return [f"{v:.3f}" for v in values]


# ---- 1. loopback throughput ----------------------------------------------------------------
def loopback(demo: DemoProcess, reps: int) -> tuple[list[list[str]], dict[str, float]]:
    client = openai.OpenAI(base_url=demo.base_url, api_key="demo", max_retries=0)

    def sdk_stream():
        return client.chat.completions.create(model="demo-long", messages=MESSAGES, stream=True,
                                              stream_options={"include_usage": True},
                                              extra_body={"demo": FASTEST})

    def via_nbstream() -> tuple[int, str]:
        run = nbstream.stream(PROMPT, base_url=demo.base_url, api_key="demo", model="demo-long", demo=FASTEST)
        assert run.status == "done", run.error
        return len(run.records), run.text

    def via_sdk() -> tuple[int, str]:
        n, out = 1, []  # the SDK swallows `data: [DONE]`: count it
        for chunk in sdk_stream():
            n += 1
            if chunk.choices and chunk.choices[0].delta.content:
                out.append(chunk.choices[0].delta.content)
        return n, "".join(out)

    def via_show_sdk() -> tuple[int, str]:
        run = nbstream.show(sdk_stream(), display=False)
        assert run.status == "done", run.error
        return len(run.records), run.text

    runners = {"nbstream.stream": via_nbstream, "openai SDK Stream": via_sdk,
               "nbstream.show(SDK Stream)": via_show_sdk}
    for fn in runners.values():  # warm up: connections, imports, caches
        fn()
    wall: dict[str, list[float]] = {k: [] for k in runners}
    cpu: dict[str, list[float]] = {k: [] for k in runners}
    server_cpu: dict[str, list[float]] = {k: [] for k in runners}
    server_span: dict[str, list[float]] = {k: [] for k in runners}
    n_events: dict[str, int] = {}
    texts: set[str] = set()
    names = list(runners)
    for r in range(reps):
        for name in names[r % len(names):] + names[: r % len(names)]:
            s0, c0, t0 = demo.cpu_s(), time.process_time(), time.perf_counter()
            n, text = runners[name]()
            wall[name].append(time.perf_counter() - t0)
            cpu[name].append(time.process_time() - c0)
            log = demo.requests(last=1)[0]
            server_cpu[name].append(demo.cpu_s() - s0)
            server_span[name].append((log["writes"][-1][0] - log["t_start_ns"]) / 1e9)
            assert n == len(log["writes"]), (name, n, len(log["writes"]))
            n_events[name] = n
            texts.add(text)
    assert len(texts) == 1, "the clients disagree on the answer text"
    rows = []
    rates = {}
    for name in names:
        n = n_events[name]
        w = statistics.median(wall[name])
        rates[name] = n / w
        rows.append([name, f"{n:,}", f"{n / w:,.0f}", f"{w * 1e3:.1f}",
                     f"{statistics.median(cpu[name]) / n * 1e6:.1f}",
                     f"{statistics.median(server_span[name]) * 1e3:.1f}",
                     f"{statistics.median(server_cpu[name]) / n * 1e6:.0f}"])
    return rows, rates


# ---- 2. timing accuracy --------------------------------------------------------------------
def accuracy(demo: DemoProcess, reps: int) -> tuple[list[list[str]], dict[str, tuple]]:
    rows = []
    all_ttft, all_gaps, all_lat = [], [], []
    m0, s0, c0, t0 = machine_busy_s(), demo.cpu_s(), time.process_time(), time.perf_counter()
    for i in range(reps):
        run = nbstream.stream(PROMPT, base_url=demo.base_url, api_key="demo", model="demo", demo=ACCURACY)
        assert run.status == "done", run.error
        log = demo.requests(last=1)[0]
        assert log["model"] == "demo" and log["finished"], log["id"]
        ttft_err, gaps, lat = errors_vs_truth(run, log)
        all_ttft.append(ttft_err)
        all_gaps += gaps
        all_lat += lat
        rows.append([f"run {i + 1}", f"{len(gaps) + 1}", f"{run.summary['ttft_s'] * 1e3:.1f}",
                     f"{ttft_err * 1e3:.3f}", *_ms(percentiles_ms(gaps)), *_ms(percentiles_ms(lat)[:2])])
    others = machine_busy_s() - m0 - (time.process_time() - c0) - (demo.cpu_s() - s0)
    pooled = {"ttft": percentiles_ms(all_ttft), "gaps": percentiles_ms(all_gaps), "latency": percentiles_ms(all_lat),
              "others": (max(others, 0.0), time.perf_counter() - t0)}
    rows.append(["all", f"{len(all_gaps) + reps}", "", f"{pooled['ttft'][2]:.3f} max",
                 *_ms(pooled["gaps"]), *_ms(pooled["latency"][:2])])
    return rows, pooled


# ---- 3. many streams on one loop -----------------------------------------------------------
def answer_text(i: int) -> str:
    """A distinct ~150-token answer for stream ``i`` (the server streams it verbatim)."""
    words = ("streams", "arrive", "in", "order", "and", "every", "token", "is", "recorded", "with", "its",
             "arrival", "time", "so", "the", "notebook", "can", "plot", "latency", "later")
    body = " ".join(words[(i + k) % len(words)] for k in range(140))
    return f"Stream {i:03d}: {body}."


def _body(text: str) -> dict[str, Any]:
    return {"model": "demo", "messages": MESSAGES, "stream": True, "stream_options": {"include_usage": True},
            "demo": {**CONCURRENT, "text": text}}


async def _with_nbstream(demo: DemoProcess, texts: list[str]) -> list[nbstream.Run]:
    # as patient as the reference, which has no timeout: at 1,000 streams the demo server
    # (threads in one process) starves some connections past the default 60 s idle timeout
    return await asyncio.gather(*(
        nbstream.astream(PROMPT, base_url=demo.base_url, api_key="demo", model="demo",
                         demo={**CONCURRENT, "text": text}, first_byte_timeout=PATIENCE_S, idle_timeout=PATIENCE_S)
        for text in texts))


async def _split_stamped(chunks: AsyncIterator[bytes]) -> list[int]:
    """The reference reader: stamp each read, split SSE events on blank lines, parse nothing.
    One arrival stamp per event (the read that completed it)."""
    stamps: list[int] = []
    tail = b""
    async for chunk in chunks:
        now = time.perf_counter_ns()
        parts = (tail + chunk).split(b"\n\n")
        tail = parts.pop()
        stamps += [now] * len(parts)
    return stamps


async def _raw_aiohttp(demo: DemoProcess, texts: list[str]) -> list[list[int]]:
    """The yardstick of the goals: aiohttp directly + SSE split, no limit on connections."""
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        async def one(text: str) -> list[int]:
            async with http.post(f"{demo.base_url}/chat/completions", json=_body(text)) as response:
                return await _split_stamped(response.content.iter_any())
        return await asyncio.gather(*(one(text) for text in texts))


def _httpx_family(make_client: Callable[[], Any]) -> Callable[[DemoProcess, list[str]], Awaitable[list[list[int]]]]:
    """A transport with httpx's API alone + SSE split (nbstream's reader left out)."""
    async def run(demo: DemoProcess, texts: list[str]) -> list[list[int]]:
        async with make_client() as http:
            async def one(text: str) -> list[int]:
                async with http.stream("POST", f"{demo.base_url}/chat/completions", json=_body(text)) as response:
                    return await _split_stamped(response.aiter_bytes())
            return await asyncio.gather(*(one(text) for text in texts))
    return run


def _httpx() -> httpx.AsyncClient:  # configured as nbstream's transport was before aiohttp
    return httpx.AsyncClient(timeout=None, limits=httpx.Limits(max_connections=None, max_keepalive_connections=32))


def _httpx2() -> Any:
    import httpx2

    return httpx2.AsyncClient(timeout=None, limits=httpx2.Limits(max_connections=None, max_keepalive_connections=32))


def _httpx_aiohttp() -> httpx.AsyncClient:
    from httpx_aiohttp import AiohttpTransport

    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))  # its default caps at 100
    return httpx.AsyncClient(timeout=None, transport=AiohttpTransport(client=session))


async def _nbstream_over_httpx(demo: DemoProcess, texts: list[str]) -> list[nbstream.Run]:
    """nbstream's pipeline reading an httpx response: what ``nbstream.astream`` was before."""
    async with _httpx() as http:
        async def one(text: str) -> nbstream.Run:
            request = http.build_request("POST", f"{demo.base_url}/chat/completions", json=_body(text))
            response = await http.send(request, stream=True)
            return await nbstream.ashow(response, display=False)
        return await asyncio.gather(*(one(text) for text in texts))


async def _raw_request(demo: DemoProcess, text: str) -> tuple[asyncio.StreamWriter, AsyncIterator[bytes]]:
    """A minimal HTTP/1.1 client on asyncio streams: send, check the head, de-chunk the body."""
    url = httpx.URL(demo.base_url)
    reader, writer = await asyncio.open_connection(url.host, url.port)
    payload = json.dumps(_body(text)).encode()
    writer.write(b"POST %s/chat/completions HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: application/json\r\n"
                 b"Accept: text/event-stream\r\nContent-Length: %d\r\n\r\n%s"
                 % (url.path.encode(), url.host.encode(), url.port, len(payload), payload))
    head = await reader.readuntil(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200") and b"chunked" in head.lower(), head[:200]

    async def chunks() -> AsyncIterator[bytes]:
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                return
            data = await reader.readexactly(size + 2)
            yield data[:-2]

    return writer, chunks()


async def _raw_only(demo: DemoProcess, texts: list[str]) -> list[list[int]]:
    """The asyncio-streams floor: de-chunk and split SSE events, parse nothing."""
    async def one(text: str) -> list[int]:
        writer, chunks = await _raw_request(demo, text)
        try:
            return await _split_stamped(chunks)
        finally:
            writer.close()

    return await asyncio.gather(*(one(text) for text in texts))


async def _raw_asyncio(demo: DemoProcess, texts: list[str]) -> list[nbstream.Run]:
    """The asyncio-streams client feeding ``nbstream.ashow``: nbstream's pipeline without
    httpx/httpcore/h11/anyio underneath."""
    async def one(text: str) -> nbstream.Run:
        writer, chunks = await _raw_request(demo, text)
        try:
            return await nbstream.ashow(chunks, display=False)
        finally:
            writer.close()

    return await asyncio.gather(*(one(text) for text in texts))


REFERENCE = "raw aiohttp + SSE split"
OURS = "nbstream.astream (aiohttp)"
CLIENTS: dict[str, Callable[[DemoProcess, list[str]], Awaitable[list[Any]]]] = {
    OURS: _with_nbstream,
    REFERENCE: _raw_aiohttp,
    "httpx 0.28 alone + split": _httpx_family(_httpx),
    "httpx2 2.16 alone + split": _httpx_family(_httpx2),
    "httpx + httpx-aiohttp alone + split": _httpx_family(_httpx_aiohttp),
    "raw asyncio streams + split": _raw_only,
    "nbstream.ashow(httpx response)": _nbstream_over_httpx,
    "raw asyncio + nbstream.ashow": _raw_asyncio,
}


class _Stalls:
    """The longest event-loop stall (a 5 ms ticker's worst lateness) and the longest
    full (generation 2) cyclic-GC pause during one batch."""

    def __init__(self) -> None:
        self.loop_max = 0.0
        self.gc2_max = 0.0
        self._gc_start = 0.0

    def _on_gc(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._gc_start = time.perf_counter()
        elif info["generation"] == 2:
            self.gc2_max = max(self.gc2_max, time.perf_counter() - self._gc_start)

    async def _ticker(self) -> None:
        while True:
            t0 = time.perf_counter()
            await asyncio.sleep(0.005)
            self.loop_max = max(self.loop_max, time.perf_counter() - t0 - 0.005)

    async def watch(self, work: Any) -> Any:
        ticker = asyncio.ensure_future(self._ticker())
        gc.callbacks.append(self._on_gc)
        try:
            return await work
        finally:
            gc.callbacks.remove(self._on_gc)
            ticker.cancel()


def _check_batch(results: list[Any], texts: list[str], logs: dict[str, dict]) -> dict[str, Any]:
    """Lost events, bad runs and timing errors of one batch, against the server's logs."""
    out: dict[str, Any] = {"lost": 0, "bad": 0, "events": 0, "ttft": [], "gaps": []}
    for text, result in zip(texts, results, strict=True):
        log = logs[text]
        written = len(log["writes"])
        if isinstance(result, list):  # a transport alone: one arrival stamp per event
            out["events"] += len(result)
            out["lost"] += abs(written - len(result))
            if len(result) == written:
                kinds = [kind for _, kind, _ in log["writes"]]
                measured = np.array([t for t, kind in zip(result, kinds, strict=True) if kind in TOKEN_KINDS]) / 1e9
                truth = np.array(truth_ns(log)) / 1e9
                out["ttft"].append(float(measured[0] - truth[0]))
                out["gaps"] += (np.diff(measured) - np.diff(truth)).tolist()
            continue
        run = result
        out["events"] += len(run.records)
        out["lost"] += written - len(run.records)
        n_tok = int(run.chunks["is_token"].sum())
        out["lost"] += abs(len(truth_ns(log)) - n_tok)  # token-bearing events: one for one
        out["bad"] += (run.text != text) + (run.status != "done")
        if n_tok == len(truth_ns(log)):
            ttft_err, gaps, _ = errors_vs_truth(run, log)
            out["ttft"].append(ttft_err)
            out["gaps"] += gaps
    return out


def concurrency(demo: DemoProcess, n_streams: int, batches: int,
                names: list[str]) -> tuple[list[list[str]], dict[str, Any]]:
    texts = [answer_text(i) for i in range(n_streams)]
    tokens = [count_tokens(t) for t in texts]
    rows = []
    pooled: dict[str, Any] = {"lost": 0, "bad": 0}
    per: dict[str, dict[str, list[float]]] = {name: {"ttft": [], "gaps": [], "cpu": [], "gc2": []} for name in names}
    for b in range(batches):
        for name in names[b % len(names):] + names[: b % len(names)]:
            gc.collect()  # the previous client's garbage is not this one's pause
            m0, s0, c0, t0 = machine_busy_s(), demo.cpu_s(), time.process_time(), time.perf_counter()
            stalls = _Stalls()
            results = asyncio.run(stalls.watch(CLIENTS[name](demo, texts)))
            wall = time.perf_counter() - t0
            cpu = time.process_time() - c0
            server_cpu = demo.cpu_s() - s0
            others = machine_busy_s() - m0 - cpu - server_cpu
            logs = {log["knobs"]["text"]: log for log in demo.requests(last=n_streams)}
            assert len(logs) == n_streams, f"{len(logs)} distinct requests logged, expected {n_streams}"
            got = _check_batch(results, texts, logs)
            del results
            per[name]["cpu"].append(cpu / got["events"] * 1e6)
            per[name]["ttft"] += got["ttft"]
            per[name]["gaps"] += got["gaps"]
            per[name]["gc2"].append(stalls.gc2_max)
            timing = ["-"] * 5
            if got["ttft"]:
                tt, gp = percentiles_ms(got["ttft"]), percentiles_ms(got["gaps"])
                timing = [f"{tt[0]:.2f}", f"{tt[1]:.2f}", f"{gp[0]:.2f}", f"{gp[1]:.2f}", f"{gp[2]:.1f}"]
            rows.append([f"{name} #{b + 1}", f"{got['events']:,}", f"{got['lost']}", f"{got['bad']}",
                         f"{wall:.2f}", f"{cpu:.2f}", f"{cpu / got['events'] * 1e6:.0f}", f"{server_cpu:.2f}",
                         f"{max(others, 0):.2f}", *timing, f"{stalls.loop_max * 1e3:.0f}",
                         f"{stalls.gc2_max * 1e3:.0f}" if stalls.gc2_max else "-"])
            pooled["lost"] += got["lost"]
            pooled["bad"] += got["bad"]
    rows.sort(key=lambda row: names.index(row[0].rsplit(" #", 1)[0]))
    pooled["tokens"] = (min(tokens), max(tokens))
    pooled["clients"] = {name: {"cpu": statistics.median(v["cpu"]), "ttft": percentiles_ms(v["ttft"]),
                                "gaps": percentiles_ms(v["gaps"]), "gc2": max(v["gc2"]) * 1e3}
                         for name, v in per.items()}
    return rows, pooled


def budget(n_streams: int, conc: dict[str, Any]) -> list[str]:
    """The goals of issue 13 for ``nbstream.astream`` next to its figures, against the
    reference client of the same run."""
    ours, ref = conc["clients"][OURS], conc["clients"][REFERENCE]
    slack = 2.0 if n_streams <= 100 else 10.0
    gap_ok = ours["gaps"][1] <= ref["gaps"][1] + slack
    ratio = ours["cpu"] / ref["cpu"]

    def verdict(ok: bool) -> str:
        return "within budget" if ok else "OVER budget"

    return [
        f"   lost events (all clients): {conc['lost']} (budget 0: {verdict(conc['lost'] == 0)}); "
        f"bad runs {conc['bad']}",
        f"   gap error p99: {ours['gaps'][1]:.2f} ms vs {ref['gaps'][1]:.2f} ms for the {REFERENCE} "
        f"(budget reference + {slack:g} ms = {ref['gaps'][1] + slack:.2f} ms: {verdict(gap_ok)})",
        f"   TTFT error p99: {ours['ttft'][1]:.2f} ms vs {ref['ttft'][1]:.2f} ms (reported; no budget)",
        f"   client CPU per event: {ours['cpu']:.0f} µs vs {ref['cpu']:.0f} µs = {ratio:.2f}x "
        f"(budget 1.5x: {verdict(ratio <= 1.5)})",
        f"   longest full GC pause while streaming: {ours['gc2']:.0f} ms (budget 10 ms: {verdict(ours['gc2'] <= 10)})",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=8, help="repetitions of parts 1 and 2 (default 8; 0 skips them)")
    parser.add_argument("--batches", type=int, default=3, help="batches of concurrent streams (default 3)")
    parser.add_argument("--streams", type=int, nargs="+", default=[100, 1000],
                        help="concurrent streams per batch, one part 3 per value (default 100 1000)")
    parser.add_argument("--clients", nargs="*", default=None,
                        help="part 3 clients whose names contain one of these words (default all; "
                             "nbstream.astream and the reference always run)")
    args = parser.parse_args()
    names = [n for n in CLIENTS if n in (OURS, REFERENCE) or args.clients is None
             or any(word.lower() in n.lower() for word in args.clients)]

    print(machine_header("nbstream concurrency and timing benchmark", PACKAGES))
    others = OtherProcesses()
    summary: list[str] = []
    with DemoProcess() as demo:
        print(f"demo endpoint: {demo.base_url} (separate process, pid {demo.proc.pid})")
        if args.reps > 0:
            print(f"\n1. loopback end-to-end, demo-long, {FASTEST}, median of {args.reps} interleaved reps")
            rows, rates = loopback(demo, args.reps)
            print(table(["client", "events", "events/s", "wall ms", "client CPU µs/ev", "server write span ms",
                         "server CPU µs/ev"], rows))

            print(f"\n2. timing accuracy, model demo, {ACCURACY}; |error| in ms vs the server's write times")
            rows, acc = accuracy(demo, args.reps)
            print(table(["run", "tokens", "ttft ms", "ttft err", "gap p50", "gap p99", "gap max", "latency p50",
                         "latency p99"], rows))
            print(f"   latency = server write -> nbstream's arrival stamp, per token; other processes used "
                  f"{acc['others'][0]:.1f} CPU s during these {acc['others'][1]:.0f} s")
            summary.append(f"loopback nbstream.stream {rates['nbstream.stream']:,.0f} events/s = "
                           f"{rates['nbstream.stream'] / rates['openai SDK Stream']:.1f}x the openai SDK; "
                           f"single-stream timing error ttft max {acc['ttft'][2]:.2f} ms, "
                           f"gap p99 {acc['gaps'][1]:.2f} ms")

        for part, n_streams in enumerate(args.streams, start=3):
            print(f"\n{part}. {n_streams} concurrent streams on one event loop (asyncio.gather(...)), {CONCURRENT}; "
                  f"{args.batches} interleaved batches per client; |error| in ms vs the server's write times")
            rows, conc = concurrency(demo, n_streams, args.batches, names)
            lo, hi = conc["tokens"]
            print(f"   answers of {lo}..{hi} tokens, each stream a distinct text; 'others CPU' = CPU other processes "
                  "of the machine used meanwhile;\n   loop stall = worst lateness of a 5 ms ticker on the same loop; "
                  "gc2 pause = longest full cyclic-GC collection (ms); '+ split' clients stamp each read and split "
                  "events, parsing nothing")
            print(table(["client #batch", "events", "lost", "bad runs", "wall s", "client CPU s", "CPU µs/ev",
                         "server CPU s", "others CPU s", "ttft p50", "ttft p99", "gap p50", "gap p99", "gap max",
                         "loop stall max", "gc2 pause max"], rows))
            ref = conc["clients"][REFERENCE]
            print(table(["client (pooled)", "CPU µs/ev", "x reference", "ttft err p99", "gap err p99", "gap err max"],
                        [[name, f"{c['cpu']:.0f}", f"{c['cpu'] / ref['cpu']:.2f}", f"{c['ttft'][1]:.2f}",
                          f"{c['gaps'][1]:.2f}", f"{c['gaps'][2]:.1f}"] for name, c in conc["clients"].items()]))
            print(f"   timing truth at {n_streams} streams, nbstream.astream against its error budget:")
            lines = budget(n_streams, conc)
            print("\n".join(lines))
            summary.append(f"{n_streams} streams:\n" + "\n".join(lines))

    print("\n" + others.line("other processes (the demo server included)", note=""))
    print("summary:\n" + "\n".join(summary))


if __name__ == "__main__":
    main()
