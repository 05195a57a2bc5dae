"""Render cost by answer shape and length: the live renderer against the previous one.

Run: ``python bench/render.py [--quick] [--new-only] [--brackets]`` (``--quick``: 5,000 tok/s
only; ``--brackets``: only the unclosed ``\\(`` case below)

For each shape (a long numbered list, one huge paragraph, many lines without a blank line,
one huge code block, a table growing row by row, a deeply nested list, mixed Markdown) and
for 20 KB and 200 KB, the answer is cut into 4-character tokens and flushed the way the live
view flushes (every 50 ms at 50, 500 and 5,000 tok/s: 3, 25 and 250 tokens per flush).

* CPU: ``time.process_time()`` for the whole feed/flush/finish loop;
* bytes: the HTML the view would send (each new final block once, the tail whenever it changed);
* ratio: 200 KB figure / 20 KB figure (linear is 10x; the target is <= 12x).

The previous renderer (``BASELINE`` commit, loaded from git into a temporary package) runs in
the same process on the same inputs; it is stopped once one case costs more than
``OLD_BUDGET_S`` of CPU (shown as ``>``), since it is quadratic on several shapes.
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BRACKET_SIZES = (5_000, 40_000)  # unclosed "\\(x " openers
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from nbstream.views import render as _render
from nbstream.views.markdown import StreamingMarkdown

BASELINE = os.environ.get("NBSTREAM_RENDER_BASELINE", "0f37d8b")
OLD_FILES = ("_markdown.py", "_markdown_heal.py", "_markdown_render.py")
OLD_BUDGET_S = 20.0
SIZES = (20_000, 200_000)
RATES = {50: 3, 500: 25, 5000: 250}  # tok/s -> tokens per 50 ms flush

_WORDS = ["stream", "token", "latency", "buffer", "parser", "render", "notebook", "kernel", "output", "cell",
          "block", "update"]


def _words(n: int, seed: int) -> str:
    return " ".join(_WORDS[(seed + i * 7) % len(_WORDS)] for i in range(n))


def _fill(size: int, head: str, line: Any) -> str:
    parts, total, i = [head], len(head), 0
    while total < size:
        piece = line(i)
        parts.append(piece)
        total += len(piece)
        i += 1
    return "".join(parts)


SHAPES = {
    "numbered list": lambda n: _fill(n, "", lambda i: f"{i + 1}. **{_WORDS[i % 12]}** {_words(9, i)}\n"),
    "one paragraph": lambda n: _fill(n, "", lambda i: f"{_words(8, i)} *{_WORDS[i % 12]}* `x{i}`. "),
    "lines, no blank": lambda n: _fill(n, "", lambda i: f"{_words(10, i)} **{i}**\n"),
    "code block": lambda n: _fill(n, "```python\n",
                                  lambda i: f"    value_{i} = compute({i}, '{_WORDS[i % 12]}')  # n\n"),
    "table by rows": lambda n: _fill(n, "| a | b | c |\n|---|--:|---|\n",
                                     lambda i: f"| {i} | {_words(3, i)} | `c{i}` |\n"),
    "deeply nested": lambda n: _fill(n, "- top\n", lambda i: "  " * (1 + i % 8) + f"- {_words(6, i)}\n"),
    "mixed": lambda n: _fill(n, "", lambda i: (f"## Part {i}\n\n{_words(30, i)} **b** [l](https://e.x/{i}).\n\n"
                                               f"- {_words(5, i)}\n- {_words(5, i + 1)}\n\n"
                                               f"```py\nx = {i}\n```\n\n| k | v |\n|---|---|\n| {i} | y |\n\n")),
}


def _old_module() -> Any:
    """The renderer as it was at ``BASELINE``, as a package ``nbstream_old``."""
    target = Path(tempfile.mkdtemp(prefix="nbstream_old_")) / "nbstream_old"
    target.mkdir()
    (target / "__init__.py").write_text("")
    for name in OLD_FILES:
        source = subprocess.run(["git", "-C", str(ROOT), "show", f"{BASELINE}:nbstream/{name}"],
                                capture_output=True, text=True, check=True).stdout
        (target / name).write_text(source)
    sys.path.insert(0, str(target.parent))
    return importlib.import_module("nbstream_old._markdown")


def best(factory: Any, text: str, per_flush: int, repeat: int = 3) -> tuple[float, int, int]:
    """(median CPU seconds of ``repeat`` runs, HTML bytes sent, characters parsed)."""
    times = []
    for _ in range(repeat):
        cpu, sent, _ok = run(factory, text, per_flush)
        times.append(cpu)
    return sorted(times)[len(times) // 2], sent, LAST_PARSED[0]


LAST_PARSED = [0]


def run(factory: Any, text: str, per_flush: int, budget: float | None = None) -> tuple[float, int, bool]:
    """(CPU seconds, HTML bytes sent, finished within budget)."""
    tokens = [text[i:i + 4] for i in range(0, len(text), 4)]
    md = factory()
    sent, tail = 0, ""
    start = time.process_time()
    for k in range(0, len(tokens), per_flush):
        for tok in tokens[k:k + per_flush]:
            md.feed(tok)
        blocks, new_tail = md.flush()
        sent += sum(len(b) for b in blocks)
        if new_tail != tail:
            sent += len(new_tail)
            tail = new_tail
        if budget is not None and time.process_time() - start > budget:
            return time.process_time() - start, sent, False
    sent += sum(len(b) for b in md.finish())
    LAST_PARSED[0] = getattr(md, "parsed_chars", 0)
    return time.process_time() - start, sent, True


def _rescan_every_opener(state: Any, closer: str, start: int) -> int:
    """The previous bracket-math lookup: every opener searches the rest of the paragraph."""
    return _render._scan(state.src, closer, start)


def brackets() -> None:
    """``render_html("\\\\(x " * n)``: the closer found once (now) against a search from every
    opener (before), in the same process; linear is 8x from 5K to 40K openers, quadratic 64x."""
    print(f"\n{'unclosed openers':16} | {'now CPU':>9} | {'rescanning':>10} | {'rescanning/now':>14}")
    current = _render._next_closer
    cpu: dict[str, list[float]] = {"now": [], "old": []}
    for n in BRACKET_SIZES:
        text = "\\(x " * n
        for kind, lookup in (("now", current), ("old", _rescan_every_opener)):
            _render._next_closer = lookup  # type: ignore[assignment]
            start = time.process_time()
            _render.render_html(text)
            cpu[kind].append(time.process_time() - start)
        _render._next_closer = current
        now, old = cpu["now"][-1], cpu["old"][-1]
        print(f"{n:>16} | {now:>8.3f}s | {old:>9.3f}s | {old / now:>13.1f}x")
    grow = {kind: values[-1] / max(values[0], 1e-9) for kind, values in cpu.items()}
    print(f"growth 5K -> 40K openers: now {grow['now']:.1f}x, rescanning {grow['old']:.1f}x (linear 8x)")


def main() -> None:
    if "--brackets" in sys.argv:
        brackets()
        return
    quick = "--quick" in sys.argv
    rates = {5000: 250} if quick else RATES
    old = None
    if "--new-only" not in sys.argv:
        try:
            old = _old_module().StreamingMarkdown
        except (subprocess.CalledProcessError, OSError) as exc:
            print(f"(previous renderer unavailable: {exc}; showing the new one only)")
    print(f"{'shape':16} {'tok/s':>5} | {'new CPU 20K':>11} {'200K':>8} {'ratio':>6} {'bytes ratio':>11} "
          f"{'parsed/char 200K':>16} {'ratio':>6} "
          f"| {'old CPU 20K':>11} {'200K':>9} {'ratio':>6} | {'new/old 200K':>12}")
    worst = 0.0
    for shape, make in SHAPES.items():
        texts = {n: make(n) for n in SIZES}
        for rate, per_flush in rates.items():
            new = {n: best(StreamingMarkdown, texts[n], per_flush) for n in SIZES}
            ratio = new[SIZES[1]][0] / max(new[SIZES[0]][0], 1e-9)
            bratio = new[SIZES[1]][1] / max(new[SIZES[0]][1], 1)
            pratio = new[SIZES[1]][2] / max(new[SIZES[0]][2], 1)
            worst = max(worst, ratio, bratio)
            line = (f"{shape:16} {rate:>5} | {new[SIZES[0]][0]:>10.3f}s {new[SIZES[1]][0]:>7.2f}s {ratio:>5.1f}x "
                    f"{bratio:>10.1f}x {new[SIZES[1]][2] / len(texts[SIZES[1]]):>16.1f} {pratio:>5.1f}x")
            if old is not None:
                small = run(old, texts[SIZES[0]], per_flush, OLD_BUDGET_S)
                big = run(old, texts[SIZES[1]], per_flush, OLD_BUDGET_S) if small[2] else (0.0, 0, False)
                big_s = f"{big[0]:>8.2f}s" if big[2] else f">{max(big[0], OLD_BUDGET_S):>7.0f}s"
                small_s = f"{small[0]:>10.3f}s" if small[2] else f">{OLD_BUDGET_S:>9.0f}s"
                oratio = f"{big[0] / max(small[0], 1e-9):>5.1f}x" if big[2] and small[2] else "    - "
                speed = (f"{new[SIZES[1]][0] / big[0]:>11.3f}x" if big[2]
                         else f"{'<':>5}{new[SIZES[1]][0] / OLD_BUDGET_S:.3f}x")
                line += f" | {small_s} {big_s} {oratio} | {speed}"
            print(line, flush=True)
    print(f"\nworst 200KB/20KB ratio of the new renderer (CPU or bytes): {worst:.1f}x (target <= 12x)")
    brackets()


if __name__ == "__main__":
    main()
