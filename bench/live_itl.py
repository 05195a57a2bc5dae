"""Does the live view distort the clock it shows? Recorded ITL with the view on against
``NBSTREAM_LIVE=0`` on the same stream, and what the view costs the kernel (CPU, IOPub
bytes, time busy after the stream) for several answer shapes and token rates.

    python bench/live_itl.py              # ITL on a 12 KB numbered list at 200 tok/s + the cost table
    python bench/live_itl.py --quick      # one round, fewer shapes

Everything runs in real ipykernels driven by jupyter_client, streaming from the demo
endpoint in its own process: ``after`` is this checkout (render and IOPub sends on a flush
thread, 50 ms from the end of the previous flush), ``before`` is the checkout given by
``--before`` (default: /work/main, where the flush ran on the loop that reads the socket),
measured in the same run, interleaved round by round. ITL is taken from the Run's own
arrival stamps (what the DataFrames record), gaps between token-bearing messages.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import DemoProcess, machine_header, table

ROOT = Path(__file__).resolve().parent.parent

SETUP = """
import os, resource, time, json
import numpy as np
import nbstream, nbstream.views.live
from nbstream.events import TextDelta

def _cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime

_seam = getattr(nbstream.views.live, "markdown_stream", None)

async def _measure(text, tps, live):
    os.environ["NBSTREAM_LIVE"] = "0" if live == "off" else "1"
    if _seam is not None:  # "plain": the same plumbing around a renderer that costs ~nothing
        nbstream.views.live.markdown_stream = nbstream.views.live._PlainBlocks if live == "plain" else _seam
    if hasattr(nbstream.views.live, "FALLBACK_S"):  # "nofallback": without the partial answer saved every 2 s
        nbstream.views.live.FALLBACK_S = 0.0 if live == "nofallback" else 2.0
    c0, w0 = _cpu(), time.perf_counter()
    run = await nbstream.astream("bench", model="demo", base_url=BASE_URL, display=True,
                                 demo={"text": text, "tps": tps, "ttft": 0.05, "jitter": 0.0})
    wall, cpu = time.perf_counter() - w0, _cpu() - c0
    ts = [r.message.t_ns for r in run.records if any(type(e) is TextDelta for e in r.events)]
    gaps = np.diff(np.asarray(ts, dtype=float)) / 1e6
    stream_s = (run.t_end_ns - run.t0_ns) / 1e9
    print(json.dumps({"status": run.status, "exact": run.text == text, "n": len(ts),
                      "p50": float(np.percentile(gaps, 50)), "p99": float(np.percentile(gaps, 99)),
                      "max": float(gaps.max()), "cpu": cpu, "wall": wall, "stream": stream_s}))
"""


def numbered_list(n_bytes: int) -> str:
    out, i = [], 0
    while sum(map(len, out)) < n_bytes:
        i += 1
        out.append(f"{i}. item {i}: a short line of text, then a few more words\n")
    return "".join(out)


def paragraph(n_bytes: int) -> str:
    words = ["stream", "token", "latency", "model", "answer", "event", "chunk", "server", "client", "notebook"]
    return " ".join(words[i % len(words)] for i in range(n_bytes // 7))[:n_bytes]


def code_block(n_bytes: int) -> str:
    lines, i = ["```python\n"], 0
    while sum(map(len, lines)) < n_bytes:
        i += 1
        lines.append(f"value_{i} = compute({i}, scale=2)  # step {i}\n")
    return "".join(lines) + "```\n"


def mixed(n_bytes: int) -> str:
    parts, i = [], 0
    while sum(map(len, parts)) < n_bytes:
        i += 1
        parts.append(f"## Part {i}\n\nSome **bold** text and `code` in paragraph {i}.\n\n"
                     f"- point one\n- point two\n\n| a | b |\n|---|---|\n| {i} | {i * 2} |\n\n")
    return "".join(parts)


SHAPES = {"list": numbered_list, "paragraph": paragraph, "code": code_block, "mixed": mixed}


def sized(shape: str, n_tokens: int) -> str:
    """Text of ``shape`` about ``n_tokens`` demo tokens long."""
    from nbstream.demo import count_tokens

    n = n_tokens * 3
    for _ in range(6):
        text = SHAPES[shape](n)
        got = count_tokens(text)
        if abs(got - n_tokens) < n_tokens * 0.05:
            break
        n = int(n * n_tokens / max(got, 1))
    return text


class Kernel:
    """An ipykernel importing nbstream from ``checkout``; counts IOPub bytes per execution."""

    def __init__(self, checkout: Path, base_url: str) -> None:
        from jupyter_client.manager import start_new_kernel

        env = dict(os.environ, PYTHONPATH=str(checkout))
        self.km, self.kc = start_new_kernel(kernel_name="python3", startup_timeout=60, env=env)
        out = self.run(SETUP + f"\nBASE_URL = {base_url!r}\nprint(nbstream.__file__)")
        assert str(checkout) in out["stdout"], out

    def run(self, code: str, timeout: float = 300) -> dict[str, Any]:
        t0 = time.perf_counter()
        msg_id = self.kc.execute(code)
        stdout, nbytes, nmsgs = "", 0, 0
        deadline = time.monotonic() + timeout
        while True:
            try:
                msg = self.kc.get_iopub_msg(timeout=max(deadline - time.monotonic(), 0.1))
            except queue.Empty:
                self.km.interrupt_kernel()
                return {"stdout": stdout, "bytes": nbytes, "msgs": nmsgs, "busy": float("inf"), "timeout": True}
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            if msg["msg_type"] == "status":
                if msg["content"]["execution_state"] == "idle":
                    break
                continue
            nbytes += len(json.dumps(msg["content"])) + len(json.dumps(msg["metadata"]))
            nmsgs += 1
            if msg["msg_type"] == "stream":
                stdout += msg["content"]["text"]
            if msg["msg_type"] == "error":
                stdout += "\n".join(msg["content"]["traceback"])
        busy = time.perf_counter() - t0
        self.kc.get_shell_msg(timeout=30)
        return {"stdout": stdout, "bytes": nbytes, "msgs": nmsgs, "busy": busy, "timeout": False}

    def measure(self, text: str, tps: float, live: str, timeout: float) -> dict[str, Any]:
        out = self.run(f"await _measure({text!r}, {tps}, {live!r})", timeout)
        if out["timeout"]:
            return {"timeout": True, **out}
        lines = [line for line in out["stdout"].splitlines() if line.startswith("{")]
        if not lines:
            raise RuntimeError(out["stdout"])
        return {**json.loads(lines[-1]), **out}

    def close(self) -> None:
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=True)


def fmt(x: float, nd: int = 1) -> str:
    return "timeout" if x == float("inf") else f"{x:.{nd}f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--before", default="/work/main", help="checkout to compare with (the old view)")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    before = Path(args.before)
    print(machine_header("live view vs the stream's clock", ["ipykernel", "anywidget", "markdown-it-py"]))
    with DemoProcess() as demo:
        kernels = {"after": Kernel(ROOT, demo.base_url)}
        if (before / "nbstream").is_dir() and before.resolve() != ROOT:
            kernels["before"] = Kernel(before, demo.base_url)
        try:
            text = numbered_list(12 * 1024)
            print(f"\n-- recorded ITL, 12 KB numbered list ({len(text)} chars) at 200 tok/s, "
                  f"{args.rounds} interleaved rounds --")
            rows, p99 = [], {}
            for r in range(1 if args.quick else args.rounds):
                for name, kernel in kernels.items():
                    for live in ("on", "off", "plain", "nofallback") if name == "after" else ("on", "off"):
                        m = kernel.measure(text, 200, live, timeout=120)
                        key = f"{name} live={live}"
                        p99.setdefault(key, []).append(m.get("p99", float("inf")))
                        rows.append([f"{key} r{r + 1}", fmt(m.get("p50", float("inf")), 2),
                                     fmt(m.get("p99", float("inf")), 2), fmt(m.get("max", float("inf")), 1),
                                     fmt(m.get("cpu", float("inf")), 2), f"{m['bytes'] / 1e3:.0f}",
                                     str(m.get("exact", "-"))])
            print(table(["variant", "ITL p50 ms", "p99 ms", "max ms", "kernel CPU s", "IOPub KB", "exact"], rows))
            for name in kernels:
                off = statistics.median(p99[f"{name} live=off"])
                for live in ("on", "plain", "nofallback"):
                    if f"{name} live={live}" in p99:
                        on = statistics.median(p99[f"{name} live={live}"])
                        print(f"{name}: median p99 live={live} - live=off = {on - off:+.2f} ms (target |Δ| <= 1 ms)")

            print("\n-- a 2.4 s stream per shape and rate: kernel CPU, IOPub, busy (target: busy <= 3 s) --")
            rows = []
            shapes = ["list", "paragraph"] if args.quick else list(SHAPES)
            for tps in (50, 500, 5000):
                for shape in shapes:
                    text = sized(shape, int(2.4 * tps))
                    variants = [(name, kernel, "on") for name, kernel in kernels.items()]
                    if tps == 500:  # what the fallback output costs
                        variants.append(("after", kernels["after"], "nofallback"))
                    for name, kernel, live in variants:
                        m = kernel.measure(text, tps, live, timeout=60)
                        label = name if live == "on" else f"{name} no fallback"
                        rows.append([f"{shape} {tps} tok/s {label}", f"{len(text) / 1e3:.0f}",
                                     fmt(m.get("stream", float("inf")), 2), fmt(m["busy"], 2),
                                     fmt(m.get("cpu", float("inf")), 2), f"{m['bytes'] / 1e3:.0f}", str(m["msgs"]),
                                     fmt(m.get("p99", float("inf")), 2)])
                        if m.get("timeout"):  # let the interrupted kernel settle
                            kernel.run("pass", 300)
            print(table(["shape / rate / code", "KB", "stream s", "busy s", "kernel CPU s", "IOPub KB",
                         "msgs", "ITL p99 ms"], rows))
        finally:
            for kernel in kernels.values():
                kernel.close()


if __name__ == "__main__":
    main()
