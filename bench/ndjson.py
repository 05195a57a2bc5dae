"""Benchmark NDJSON framing of one very long line: nbstream's framer against the
previous tail-concatenating framer (``tail + chunk`` then split on every read).

Run: ``python bench/ndjson.py``. One line of 10, 20 and 40 MB arrives in 64 KiB reads
(what a socket delivers); each framer must emit it once, whole. The old framer copies
the growing tail on every read (quadratic); the current one keeps the reads in a list
and joins once (linear). Figures are medians of interleaved rounds.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from _common import machine_header  # noqa: E402

from nbstream.wire.framing import NDJSONFramer  # noqa: E402

READ = 65536


class TailFramer:
    """The framer as it was: re-joins the unfinished tail with every read."""

    def __init__(self) -> None:
        self._tail = b""

    def feed(self, chunk: bytes) -> list[bytes]:
        buf = self._tail + chunk if self._tail else chunk
        lines = buf.split(b"\n")
        self._tail = lines.pop()
        return [line for line in (raw.strip() for raw in lines) if line]


def _time(make, body: bytes) -> float:
    framer = make()
    t = time.perf_counter()
    out = []
    for i in range(0, len(body), READ):
        chunk = body[i:i + READ]
        out += framer.feed(chunk, 0, 0) if isinstance(framer, NDJSONFramer) else framer.feed(chunk)
    elapsed = time.perf_counter() - t
    assert len(out) == 1 and len(out[0] if isinstance(out[0], bytes) else out[0].data) == len(body) - 1
    return elapsed


def main() -> None:
    rounds = 3
    print(machine_header("NDJSON framing of one long line", []))
    print(f"{'line':>6} {'nbstream s':>11} {'tail+chunk s':>13} {'ratio':>7}")
    for mb in (10, 20, 40):
        body = b'{"response": "' + b"x" * (mb << 20) + b'"}\n'
        ours, theirs = [], []
        for _ in range(rounds):
            ours.append(_time(NDJSONFramer, body))
            theirs.append(_time(TailFramer, body))
        a, b = statistics.median(ours), statistics.median(theirs)
        print(f"{mb:>4}MB {a:>11.3f} {b:>13.2f} {b / a:>6.0f}x")


if __name__ == "__main__":
    main()
