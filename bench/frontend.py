"""What the live view costs the front end: bytes and messages a real kernel publishes on
IOPub while a long answer streams, nbstream's view against the copy-pasted recipes.

    python bench/frontend.py            # 5,000 deltas (29 KB) at 500 tok/s, and 50,000 at 5,000 tok/s

Each variant streams the same deltas, at the same pace, from a generator in a fresh
cell of one ipykernel (driven by jupyter_client, which receives every IOPub message):
  naive      display handle, Markdown of the full text re-sent on every delta (the recipe)
  throttled  the same, but at most 20 updates a second
  nbstream   nbstream.show(): finished Markdown blocks once, the healed tail throttled
Bytes are the JSON of each message's content+metadata+header as received; the final
text is checked to be exact in every variant.
"""

from __future__ import annotations

import json
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from _kernel import Session  # noqa: E402

MAKE_DELTAS = r"""
import random, time
random.seed(7)
_words = ("stream token latency **bold** `code` [link](https://example.com) model answer event "
          "chunk server client notebook table value").split()
def make_text(n_deltas):
    parts, i = [], 0
    while len(parts) < n_deltas:
        i += 1
        if i % 40 == 0:
            parts += ["\n\n", "## ", "Section ", str(i), "\n\n"]
        elif i % 25 == 0:
            parts += ["\n\n```python\n", "x = ", str(i), "\n", "```\n\n"]
        elif i % 17 == 0:
            parts += ["\n- ", random.choice(_words), " item"]
        else:
            parts.append(" " + random.choice(_words))
    return parts[:n_deltas]
def paced(parts, rate):
    start = time.perf_counter()
    for i, p in enumerate(parts):
        due = start + i / rate
        now = time.perf_counter()
        if due > now:
            time.sleep(due - now)
        yield p
"""

VARIANTS = {
    "naive": """
from IPython.display import display, Markdown
_h = display(Markdown(""), display_id=True)
_text = ""
for _d in paced(PARTS, RATE):
    _text += _d
    _h.update(Markdown(_text))
FINAL = _text
""",
    "throttled": """
from IPython.display import display, Markdown
_h = display(Markdown(""), display_id=True)
_text, _last = "", 0.0
for _d in paced(PARTS, RATE):
    _text += _d
    if time.perf_counter() - _last >= 0.05:
        _h.update(Markdown(_text)); _last = time.perf_counter()
_h.update(Markdown(_text))
FINAL = _text
""",
    "nbstream": """
import nbstream
_r = nbstream.show(paced(PARTS, RATE))
FINAL = _r.text
""",
}


def measure(session: Session, n: int, rate: float, variant: str) -> dict:
    session.run(f"PARTS = make_text({n}); RATE = {rate}")
    t = time.monotonic()
    result = session.run(VARIANTS[variant], timeout=600)
    wall = time.monotonic() - t
    msgs = [m for m in result["messages"]
            if m["msg_type"] in ("display_data", "update_display_data", "comm_msg", "comm_open",
                                 "comm_close", "clear_output")]
    size = sum(len(json.dumps({"header": m["header"], "content": m["content"], "metadata": m["metadata"]},
                              default=str)) for m in msgs)
    exact = session.stdout("print(FINAL == ''.join(PARTS))").strip() == "True"
    return {"variant": variant, "messages": len(msgs), "MB": size / 1e6, "wall_s": wall, "exact": exact}


def main() -> None:
    print(f"# {platform.processor() or platform.machine()}, {platform.python_version()}, "
          f"{__import__('os').cpu_count()} cores")
    with Session() as session:
        session.run(MAKE_DELTAS)
        for n, rate in ((5_000, 500), (50_000, 5_000)):
            text_kb = len("".join(eval_parts(session, n))) / 1e3
            print(f"\n{n:,} deltas ({text_kb:.0f} KB of text) at {rate:,} tok/s")
            print(f"{'variant':<10} {'messages':>9} {'MB':>8} {'wall s':>7} {'exact':>6}")
            rows = [measure(session, n, rate, v) for v in VARIANTS]
            for r in rows:
                print(f"{r['variant']:<10} {r['messages']:>9} {r['MB']:>8.3f} {r['wall_s']:>7.1f} {str(r['exact']):>6}")
            by = {r["variant"]: r for r in rows}
            print(f"nbstream sends {by['naive']['MB'] / by['nbstream']['MB']:.0f}x fewer bytes than naive, "
                  f"{by['throttled']['MB'] / by['nbstream']['MB']:.1f}x fewer than throttled full text")


def eval_parts(session: Session, n: int) -> list[str]:
    out = session.stdout(f"import json; print(json.dumps(make_text({n})))")
    return json.loads(out)


if __name__ == "__main__":
    main()
