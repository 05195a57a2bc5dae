"""Benchmark the streaming Markdown renderer against re-rendering the whole answer per update.

Run: ``python bench/markdown.py``

A deterministic ~29 KB answer (headings, paragraphs with inline markup and links, tight and
loose lists, Python fences, tables, block quotes) is cut into 5,000 and into 50,000 deltas at
random points (fixed seed) and flushed every 25 deltas (20 Hz at 500 tokens/s).

* streaming: bytes = every new final block's HTML + every tail HTML (what the view sends);
* naive: bytes = the full HTML of the answer so far on every flush (``render(text)``).

CPU is ``time.process_time()`` for the whole feed/flush/finish loop. The flat-cost line
compares the mean CPU of a flush in the first and in the last tenth of the stream.
"""

from __future__ import annotations

import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from nbstream.views.markdown import StreamingMarkdown, render  # noqa: E402

TARGET_BYTES = 29 * 1024
FLUSH_EVERY = 25
SEED = 20240611

_WORDS = [
    "stream", "token", "latency", "buffer", "parser", "render", "notebook", "kernel", "output", "cell", "block",
    "update", "message", "budget", "model", "answer", "request", "response", "header", "chunk", "event", "decoder",
    "client", "server", "cache", "index", "column", "frame", "metric", "sample", "window", "throughput", "median",
    "percentile", "first", "last",
]


def _sentence(rnd: random.Random) -> str:
    words = [rnd.choice(_WORDS) for _ in range(rnd.randint(8, 18))]
    i = rnd.randrange(len(words))
    style = rnd.random()
    if style < 0.25:
        words[i] = f"**{words[i]}**"
    elif style < 0.4:
        words[i] = f"`{words[i]}()`"
    elif style < 0.5:
        words[i] = f"*{words[i]}*"
    elif style < 0.6:
        words[i] = f"[{words[i]}](https://example.com/{words[i]})"
    return " ".join(words).capitalize() + "."


def _paragraph(rnd: random.Random) -> str:
    return " ".join(_sentence(rnd) for _ in range(rnd.randint(2, 4))) + "\n"


def _bullets(rnd: random.Random) -> str:
    return "".join(f"- {_sentence(rnd)}\n" for _ in range(rnd.randint(3, 6)))


def _numbered(rnd: random.Random) -> str:
    items = []
    for n in range(1, rnd.randint(3, 5) + 1):
        item = f"{n}. **{rnd.choice(_WORDS).title()}**: {_sentence(rnd)}\n"
        if rnd.random() < 0.4:
            item += f"   - {_sentence(rnd)}\n   - {_sentence(rnd)}\n"
        items.append(item)
    return "".join(items)


def _code(rnd: random.Random) -> str:
    lines = ["```python", f"def {rnd.choice(_WORDS)}_{rnd.choice(_WORDS)}(data, limit=10):"]
    for _ in range(rnd.randint(6, 18)):
        a, b = rnd.choice(_WORDS), rnd.choice(_WORDS)
        lines.append(f"    {a} = [{b}.value for {b} in data if {b}.size > limit]  # {rnd.choice(_WORDS)}")
    lines += ["    return " + rnd.choice(_WORDS), "```"]
    return "\n".join(lines) + "\n"


def _table(rnd: random.Random) -> str:
    rows = ["| Name | Count | Latency (ms) | Notes |", "|---|---:|---:|---|"]
    for _ in range(rnd.randint(4, 8)):
        rows.append(
            f"| {rnd.choice(_WORDS)} | {rnd.randint(1, 9999)} | {rnd.uniform(0.1, 99):.1f} | "
            f"{' '.join(rnd.choice(_WORDS) for _ in range(4))} |"
        )
    return "\n".join(rows) + "\n"


def _quote(rnd: random.Random) -> str:
    return f"> **Note:** {_sentence(rnd)}\n> {_sentence(rnd)}\n"


def make_answer(seed: int = SEED, target: int = TARGET_BYTES) -> str:
    """A realistic LLM answer of about ``target`` bytes."""
    rnd = random.Random(seed)
    parts = [f"# {_sentence(rnd)[:40].rstrip('.')}\n", _paragraph(rnd)]
    makers = [_paragraph, _bullets, _numbered, _code, _table, _quote, _paragraph]
    size, section = sum(len(p.encode()) + 1 for p in parts), 1
    while size < target:
        new = [f"## {section}. {rnd.choice(_WORDS).title()} and {rnd.choice(_WORDS)}\n"]
        new += [make(rnd) for make in rnd.sample(makers, 5)]
        for part in new:
            if size >= target:
                break
            parts.append(part)
            size += len(part.encode()) + 1
        section += 1
    return "\n".join(parts)


def split(text: str, n: int, seed: int = SEED) -> list[str]:
    """``text`` cut into ``n`` deltas at random points (with more deltas than characters,
    some deltas are empty, as the empty content deltas of real streams)."""
    rnd = random.Random(seed + n)
    if n <= len(text):
        cuts = sorted(rnd.sample(range(1, len(text)), n - 1))
    else:
        cuts = sorted(rnd.choices(range(len(text) + 1), k=n - 1))
    return [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True)]


def run_streaming(deltas: list[str]) -> dict:
    md = StreamingMarkdown()
    total = blocks_bytes = tails = 0
    flush_cpu: list[float] = []
    start = time.process_time()
    for i, delta in enumerate(deltas, 1):
        md.feed(delta)
        if i % FLUSH_EVERY == 0:
            t0 = time.process_time()
            new, tail = md.flush()
            flush_cpu.append(time.process_time() - t0)
            b = sum(len(h.encode()) for h in new)
            blocks_bytes += b
            total += b + len(tail.encode())
            tails += 1
    b = sum(len(h.encode()) for h in md.finish())
    blocks_bytes += b
    total += b
    cpu = time.process_time() - start
    tenth = max(1, len(flush_cpu) // 10)
    return {
        "bytes": total,
        "block_bytes": blocks_bytes,
        "tail_bytes": total - blocks_bytes,
        "flushes": tails,
        "cpu": cpu,
        "first_tenth_ms": 1000 * sum(flush_cpu[:tenth]) / tenth,
        "last_tenth_ms": 1000 * sum(flush_cpu[-tenth:]) / tenth,
        "parsed_chars": md.parsed_chars,
    }


def run_naive(deltas: list[str], sample: int = 1) -> dict:
    """Re-render everything on every flush; with ``sample`` > 1 only every sample-th flush is
    rendered and bytes/CPU are scaled up (an estimate, marked as such in the output)."""
    text = ""
    total = flushes = 0
    cpu = 0.0
    for i, delta in enumerate(deltas, 1):
        text += delta
        if i % FLUSH_EVERY == 0:
            flushes += 1
            if flushes % sample == 0:
                t0 = time.process_time()
                total += sample * len(render(text).encode())
                cpu += sample * (time.process_time() - t0)
    t0 = time.process_time()
    total += len(render(text).encode())
    cpu += time.process_time() - t0
    return {"bytes": total, "flushes": flushes, "cpu": cpu}


def main() -> None:
    answer = make_answer()
    final_html = len(render(answer).encode())
    print(f"answer: {len(answer.encode()):,} bytes of Markdown, {final_html:,} bytes of final HTML")
    print(f"flush every {FLUSH_EVERY} deltas\n")
    header = f"{'deltas':>7} {'approach':<10} {'flushes':>7} {'HTML sent':>12} {'CPU s':>7}  notes"
    print(header)
    print("-" * len(header))
    big = make_answer(target=10 * TARGET_BYTES)
    runs = [(answer, 5_000, 1), (answer, 50_000, 1), (big, 50_000, 20)]
    for text, n, sample in runs:
        if text is big:
            print(f"\n10x answer: {len(big.encode()):,} bytes of Markdown "
                  "(naive estimated from every 20th flush)")
        deltas = split(text, n)
        s = run_streaming(deltas)
        v = run_naive(deltas, sample)
        print(
            f"{n:>7,} {'streaming':<10} {s['flushes']:>7,} {s['bytes']:>12,} {s['cpu']:>7.2f}  "
            f"blocks {s['block_bytes']:,} B + tails {s['tail_bytes']:,} B; "
            f"flush {s['first_tenth_ms']:.2f} ms (first 10%) vs {s['last_tenth_ms']:.2f} ms (last 10%)"
        )
        print(
            f"{n:>7,} {'naive':<10} {v['flushes']:>7,} {v['bytes']:>12,} {v['cpu']:>7.2f}  "
            f"{v['bytes'] / s['bytes']:.0f}x the bytes, {v['cpu'] / s['cpu']:.1f}x the CPU"
        )


if __name__ == "__main__":
    main()
