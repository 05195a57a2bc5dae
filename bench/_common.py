"""Shared pieces of the benchmarks: the machine header, a realistic OpenAI chat stream,
network chunking, interleaved timing, percentiles, and an out-of-process demo endpoint.

Benchmarks print figures measured in the same run; they are not tests (a shared 2-core
box is noisy), so every comparison is a ratio of medians over interleaved rounds.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import random
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SEED = 20240601


# ---- the machine ---------------------------------------------------------------------------
def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "-"


def machine_header(title: str, packages: list[str]) -> str:
    """CPU model, cores, load, Python and package versions: the first lines of every report."""
    cores = os.cpu_count()
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else cores
    try:
        load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        load = "?"
    versions = ", ".join(f"{p} {_version(p)}" for p in packages)
    return "\n".join([
        f"== {title} ==",
        f"machine: {_cpu_model()}, {cores} cores ({usable} usable), load avg {load}, "
        f"{platform.system()} {platform.release()}",
        f"python:  {platform.python_implementation()} {platform.python_version()}",
        f"packages: {versions}",
    ])


# ---- a realistic stream ----------------------------------------------------------------------
# Token texts as models emit them: leading spaces, punctuation, code, Markdown, CJK, accents,
# emoji, and characters JSON must escape (newline, tab, quote, backslash).
_PIECES = (
    " the", " of", " and", " to", " in", " is", " that", " for", " it", " as", " with", " on",
    " model", " stream", " token", " delta", " chunk", " Jupyter", " pandas", " DataFrame",
    " async", " await", " yield", "ing", "ed", "s", ".", ",", ":", ";", "!", "?", " (", ")",
    "\n", "\n\n", "\t", " \"", "\"", "\\", " `x`", "**", " #", " -", " 1", "2", ".3", " 42",
    " 你好", "世界", " café", " naïve", " Ünïcödé", " 🙂", " 🚀", " —", " →", " <tag>", " {x}",
    " [1, 2]", "```", "python", " def", " f", "(x", "):", " return", " x", " *", " 2",
)


def chat_stream(n_tokens: int, seed: int = SEED) -> tuple[bytes, str, int]:
    """An OpenAI ``chat.completion.chunk`` SSE body as api.openai.com sends it with
    ``stream_options.include_usage``: role chunk, ``n_tokens`` content chunks, finish chunk,
    usage chunk (``choices: []``), ``data: [DONE]``.

    Returns (body, the answer text, number of SSE events).
    """
    rng = random.Random(seed)
    base = {
        "id": "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT",
        "object": "chat.completion.chunk",
        "created": 1741569952,
        "model": "gpt-4o-mini-2024-07-18",
        "service_tier": "default",
        "system_fingerprint": "fp_06737a9306",
    }
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

    def event(choices: list, **extra: Any) -> bytes:
        body = dict(base, choices=choices, **extra)
        return b"data: " + json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode() + b"\n\n"

    def choice(delta: dict, finish: str | None = None) -> list:
        return [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]

    def pad() -> str:  # OpenAI's per-chunk "obfuscation" padding field (2025)
        return "".join(rng.choice(alphabet) for _ in range(rng.randint(2, 14)))

    parts = [event(choice({"role": "assistant", "content": "", "refusal": None}), usage=None,
                   obfuscation=pad())]
    text = []
    for _ in range(n_tokens):
        piece = "".join(rng.choice(_PIECES) for _ in range(rng.choice((1, 1, 1, 2))))
        text.append(piece)
        parts.append(event(choice({"content": piece}), usage=None, obfuscation=pad()))
    parts.append(event(choice({}, "stop"), usage=None, obfuscation=pad()))
    parts.append(event([], usage={
        "prompt_tokens": 37, "completion_tokens": n_tokens, "total_tokens": 37 + n_tokens,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                                      "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0},
    }, obfuscation=pad()))
    parts.append(b"data: [DONE]\n\n")
    return b"".join(parts), "".join(text), n_tokens + 4


def network_chunks(body: bytes, seed: int = SEED, low: int = 1, high: int = 16 * 1024) -> list[bytes]:
    """``body`` cut at random sizes in ``low..high`` bytes (fixed seed), like TCP reads."""
    rng = random.Random(seed)
    out, i = [], 0
    while i < len(body):
        size = rng.randint(low, high)
        out.append(body[i : i + size])
        i += size
    return out


def sse_client(http: Any, chunks: list[bytes]) -> Any:
    """A ``Client`` of ``http`` (the httpx or httpx2 module: the SDKs use one or the other)
    whose every request is answered with ``chunks`` as a text/event-stream body, each
    chunk one network read: the SDKs' loops read the same bytes nbstream does."""

    class Chunks(http.SyncByteStream):  # type: ignore[name-defined]
        def __iter__(self) -> Any:
            return iter(chunks)

    def handler(request: Any) -> Any:
        return http.Response(200, headers={"content-type": "text/event-stream"}, stream=Chunks())

    return http.Client(transport=http.MockTransport(handler))


def forget(run: Any) -> None:
    """Drop a measured Run's record (it stays in nbstream's history), so memory stays flat
    across rounds: the run's own way of letting rows go (``run.records`` is read-only)."""
    run._drop_head(len(run.records))


# ---- timing --------------------------------------------------------------------------------
def interleaved(runners: dict[str, Callable[[], Any]], rounds: int,
                check: Callable[[str, Any], None] | None = None) -> dict[str, list[float]]:
    """CPU seconds per call of each runner over ``rounds`` rounds, each round running every
    runner once in a rotating order (so drift on a shared machine hits all alike).

    CPU time (``time.thread_time``: every runner is single-threaded) rather than wall time,
    so other processes competing for the cores do not count; ``wall_times`` keeps the wall
    clock of the same calls.
    """
    names = list(runners)
    times: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds):
        order = names[r % len(names):] + names[: r % len(names)]
        for name in order:
            gc.collect()
            w0, t0 = time.perf_counter(), time.thread_time()
            result = runners[name]()
            times[name].append(time.thread_time() - t0)
            wall_times.setdefault(name, []).append(time.perf_counter() - w0)
            if check is not None:
                check(name, result)
            del result
    return times


#: wall-clock seconds of every call ``interleaved`` timed, by runner name
wall_times: dict[str, list[float]] = {}


def median(values: list[float]) -> float:
    return statistics.median(values)


def percentiles_ms(errors_s: list[float]) -> tuple[float, float, float]:
    """p50, p99 and max of absolute errors given in seconds, in milliseconds."""
    import numpy as np

    a = np.abs(np.asarray(errors_s, dtype=float)) * 1e3
    if a.size == 0:
        return (float("nan"),) * 3
    p50, p99 = np.percentile(a, [50, 99])
    return float(p50), float(p99), float(a.max())


def table(header: list[str], rows: list[list[str]]) -> str:
    """A plain fixed-width table: first column left-aligned, the others right-aligned."""
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=True)]
    def line(cells: list[str]) -> str:
        return "  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w)
                         for i, (c, w) in enumerate(zip(cells, widths, strict=True)))
    return "\n".join([line(header), line(["-" * w for w in widths])] + [line(r) for r in rows])


def machine_busy_s() -> float:
    """CPU seconds all processes of the machine have used so far (Linux ``/proc/stat``):
    subtract our own and the server's to see what other processes took meanwhile."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def events_and_rounds(doc: str, events: int, what: str) -> argparse.Namespace:
    """The command line of a benchmark over one recorded stream: ``--events`` (``what``,
    default ``events``) and ``--rounds`` (interleaved rounds, default 5)."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--events", type=int, default=events, help=f"{what} (default {events})")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (default 5)")
    return parser.parse_args()


class OtherProcesses:
    """What the machine's other processes use from now on: CPU seconds all processes
    used (:func:`machine_busy_s`) minus this process's own."""

    def __init__(self) -> None:
        self.m0, self.c0, self.t0 = machine_busy_s(), time.process_time(), time.perf_counter()

    def line(self, who: str = "other processes", note: str = " (a quiet 2-core box: ~0)") -> str:
        """``who`` used N CPU s of the machine during these M s, and ``note``."""
        others = max(machine_busy_s() - self.m0 - (time.process_time() - self.c0), 0.0)
        return (f"{who} used {others:.1f} CPU s of the machine during these "
                f"{time.perf_counter() - self.t0:.0f} s{note}")


# ---- the demo endpoint in its own process --------------------------------------------------
def _die_with_parent() -> None:
    """In the child: SIGTERM when the benchmark dies (its own session escapes a kill of
    the benchmark's process group)."""
    import ctypes

    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class DemoProcess:
    """``python -m nbstream.demo --port 0`` in a child process (its own GIL), stopped with
    SIGINT on exit; ``base_url`` as printed by the server, ``cpu_s()`` its CPU time so far.

    The child runs in its own session, as a server on another machine would not share the
    client's CPU share: Linux's autogroup scheduler weighs the threads of one session
    against each other, so with 1,000 streams the server's 1,000 threads left the
    client's one event-loop thread waiting for a CPU 35-40% of the time (3.4-4.8 s of
    ~10 s) and set every client's gap error p99 (50-130 ms, the reference's as much as
    nbstream's); in its own session 1.6 s, and gap error p99 7-12 ms.
    """

    def __init__(self) -> None:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
        self.proc = subprocess.Popen([sys.executable, "-m", "nbstream.demo", "--port", "0"], cwd=ROOT, env=env,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     start_new_session=True, preexec_fn=_die_with_parent)
        line = self.proc.stdout.readline().strip()
        prefix = "nbstream demo endpoint: "
        if not line.startswith(prefix):
            self.stop()
            raise RuntimeError(f"the demo endpoint did not start: {line!r} {self.proc.stderr.read()!r}")
        self.base_url = line[len(prefix):]

    def requests(self, last: int | None = None) -> list[dict[str, Any]]:
        """The server's request logs (``GET /v1/demo/requests``), oldest first."""
        import httpx

        params = {"last": last} if last else None
        response = httpx.get(f"{self.base_url}/demo/requests", params=params, timeout=30)
        response.raise_for_status()
        return response.json()["data"]

    def cpu_s(self) -> float:
        """User + system CPU seconds the server process has used so far (Linux /proc)."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __enter__(self) -> DemoProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
