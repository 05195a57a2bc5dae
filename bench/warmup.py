"""The first stream of a fresh process against the later ones: is client warm-up inside TTFT?

Run: ``python bench/warmup.py [--processes N]`` (default 7).

A loopback server in its own process answers each chat request with headers, waits 20 ms
("prefill"), writes the first token and notes ``perf_counter_ns`` (CLOCK_MONOTONIC, the
same clock as the client's) when it accepted the connection and when it wrote that token.
Each of N fresh client processes (``import nbstream``, then three ``nbstream.stream()``
calls) reports per stream the TTFT error: recorded TTFT minus (token written - connection
accepted) — what the client added: its set-up inside the clock, the request write, the
TCP connect (which TTFT includes, as vLLM and AIPerf count it) and the read latency.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

from _common import machine_header, table

PACKAGES = ["nbstream", "aiohttp", "yarl", "multidict"]

SERVER = r"""
import json, socket, sys, threading, time
def chunk(obj):
    data = b"data: " + json.dumps(obj).encode() + b"\n\n"
    return b"%x\r\n%s\r\n" % (len(data), data)
def serve(conn):
    with conn:
        t_accept = time.perf_counter_ns()
        buf = b""
        while b"\r\n\r\n" not in buf:
            buf += conn.recv(65536)
        head, body = buf.split(b"\r\n\r\n", 1)
        length = int([l for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")][0].split(b":")[1])
        while len(body) < length:
            body += conn.recv(65536)
        conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n")
        time.sleep(0.02)
        t_write = time.perf_counter_ns()
        first = {"id": "x", "object": "chat.completion.chunk", "model": "m",
                 "choices": [{"index": 0, "delta": {"role": "assistant", "content": "%d %d" % (t_accept, t_write)},
                              "finish_reason": None}]}
        conn.sendall(chunk(first))
        for word in (" b", " c"):
            conn.sendall(chunk({"choices": [{"index": 0, "delta": {"content": word}, "finish_reason": None}]}))
        conn.sendall(chunk({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}))
        conn.sendall(b"%x\r\n%s\r\n0\r\n\r\n" % (len(b"data: [DONE]\n\n"), b"data: [DONE]\n\n"))
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", 0)); srv.listen(64)
print(srv.getsockname()[1], flush=True)
while True:
    conn, _ = srv.accept()
    threading.Thread(target=serve, args=(conn,), daemon=True).start()
"""

CLIENT = r"""
import json, sys
import nbstream
out = []
for _ in range(3):
    run = nbstream.stream("hi", base_url=sys.argv[1], model="m", api_key="sk-bench")
    t_accept, t_write = map(int, run.text.split(" ")[:2])
    ttft = run.summary["ttft_s"] * 1e9
    out.append({"error_ms": (ttft - (t_write - t_accept)) / 1e6,
                "headers_ms": run.summary["t_headers_s"] * 1e3,
                "before_accept_ms": (t_accept - run.t0_ns) / 1e6})
print(json.dumps(out))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=7, help="fresh client processes (default 7)")
    args = parser.parse_args()
    print(machine_header("nbstream first-stream warm-up benchmark", PACKAGES))
    server = subprocess.Popen([sys.executable, "-c", SERVER], stdout=subprocess.PIPE, text=True)
    try:
        port = int(server.stdout.readline())  # type: ignore[union-attr]
        base = f"http://127.0.0.1:{port}/v1"
        env = {**os.environ, "NBSTREAM_NO_KEYRING": "1"}
        results = []
        for _ in range(args.processes):
            done = subprocess.run([sys.executable, "-c", CLIENT, base], capture_output=True, text=True,
                                  timeout=120, env=env, check=False)
            if done.returncode:
                raise SystemExit(done.stderr[-2000:])
            results.append(json.loads(done.stdout.strip().splitlines()[-1]))
    finally:
        server.kill()
        server.wait()
    rows = []
    for k, label in enumerate(("first stream", "second stream", "third stream")):
        errors = [r[k]["error_ms"] for r in results]
        before = [r[k]["before_accept_ms"] for r in results]
        headers = [r[k]["headers_ms"] for r in results]
        rows.append([label, f"{statistics.median(errors):.2f}", f"{max(errors):.2f}",
                     f"{statistics.median(before):.2f}", f"{statistics.median(headers):.2f}"])
    print(table(["stream in a fresh process", "TTFT error ms (median)", "max", "t0 -> server accept ms",
                 "t_headers ms"], rows))
    first = statistics.median(r[0]["error_ms"] for r in results)
    later = statistics.median(r[k]["error_ms"] for r in results for k in (1, 2))
    print(f"\nsummary: first stream's TTFT error {first:.2f} ms vs later streams' {later:.2f} ms "
          f"(difference {first - later:+.2f} ms; goal within 1 ms), {args.processes} fresh processes")


if __name__ == "__main__":
    main()
