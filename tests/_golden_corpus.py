"""A fixed corpus of recorded streams and what nbstream's recorder made of them, for the
golden test of ``tests/test_record_golden.py``: every wire message with its arrival time,
read index and events, the ``run.chunks`` table (values and dtypes) and the summary row.

``python tests/_golden_corpus.py`` (re)writes ``tests/golden/records.json`` with the
nbstream on ``PYTHONPATH``: it was pinned from the code before the compact record layout,
so the test proves that layout changed nothing the recorder keeps.
"""

from __future__ import annotations

import json
import math
import random
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from hostile_corpus import PAYLOADS  # noqa: E402
from sse_corpus import CASES, chunks_of  # noqa: E402

from nbstream.engine.pump import Step  # noqa: E402
from nbstream.run import Run  # noqa: E402
from nbstream.wire.adapters import make_adapter  # noqa: E402

GOLDEN = Path(__file__).parent / "golden" / "records.json"
T0 = 7_000_000_000
_VOLATILE = ("run_id", "started_at", "nbstream_version")


def _sse(obj: Any, event: str | None = None) -> bytes:
    head = f"event: {event}\n".encode() if event else b""
    data = obj if isinstance(obj, str) else json.dumps(obj, ensure_ascii=False)
    return head + b"".join(b"data: " + line.encode() + b"\n" for line in data.split("\n")) + b"\n"


def _chunk(choices: list, **extra: Any) -> dict:
    return {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "m", "choices": choices, **extra}


def _delta(delta: dict, index: int = 0, finish: str | None = None) -> dict:
    return {"index": index, "delta": delta, "finish_reason": finish}


def _cut(body: bytes, seed: int, high: int = 700) -> list[bytes]:
    rng = random.Random(seed)
    out, i = [], 0
    while i < len(body):
        size = rng.randint(1, high)
        out.append(body[i:i + size])
        i += size
    return out


def _chat_plain(n: int, seed: int) -> bytes:
    rng = random.Random(seed)
    pieces = ["Hello", " world", ",", " the", " 世界", " 🙂", " é", "\n", " `code`", " <b>", " "]
    parts = [_sse(_chunk([_delta({"role": "assistant", "content": "", "refusal": None})]))]
    for _ in range(n):
        parts.append(_sse(_chunk([_delta({"content": rng.choice(pieces)})], usage=None, obfuscation="xx")))
    parts.append(_sse(_chunk([_delta({}, finish="stop")])))
    parts.append(_sse(_chunk([], usage={"prompt_tokens": 5, "completion_tokens": n, "total_tokens": n + 5})))
    parts.append(b"data: [DONE]\n\n")
    return b"".join(parts)


def _chat_rich() -> bytes:
    p = [
        _sse(_chunk([_delta({"role": "assistant", "content": None})])),
        _sse(_chunk([_delta({"reasoning_content": "think "})])),
        _sse(_chunk([_delta({"reasoning": "more"})])),
        _sse(_chunk([_delta({"content": [{"type": "thinking", "thinking": [{"text": "deep"}]},
                                         {"type": "text", "text": "parts"}, "plain"]})])),
        _sse(_chunk([_delta({"content": "A"}), _delta({"role": "assistant", "content": "B"}, index=1)])),
        _sse(_chunk([_delta({"tool_calls": [{"index": 0, "id": "t1",
                                             "function": {"name": "f", "arguments": "{\"a\""}}]})])),
        _sse(_chunk([_delta({"tool_calls": [{"function": {"arguments": ": 1}"}}]})])),
        _sse(_chunk([_delta({"tool_calls": [{"id": "t2", "function": {"name": "g", "arguments": {"x": 1}}}]})])),
        _sse(_chunk([_delta({"function_call": {"name": "h", "arguments": "{}"}})])),
        _sse(_chunk([_delta({"refusal": "no"})])),
        _sse(_chunk([_delta({"content": "x"})], usage={"prompt_tokens": 3, "completion_tokens": 1})),
        _sse(_chunk([_delta({"content": "y"})], usage={"prompt_tokens": 3, "completion_tokens": 2})),
        _sse(_chunk([{"index": 0, "text": "legacy", "finish_reason": None}])),
        _sse(_chunk([{"index": 0, "message": {"role": "assistant", "content": "whole", "reasoning": "r"}}])),
        _sse("{not json"),
        _sse(" "),
        _sse("[1, 2]"),
        _sse("42"),
        _sse({"object": "error", "message": "vllm says no", "code": 400}),
        _sse({"message": "named error"}, event="error"),
        _sse({"error": {"message": "inline", "type": "server_error"}, "choices": []}),
        _sse({"prompt_filter_results": [{"x": 1}], "choices": []}),
        _sse({"choices": "wrong shape"}),
        _sse(_chunk([_delta({"content": 5})])),
        _sse(_chunk([{"index": "a", "delta": {"content": "bad index"}}])),
        _sse(_chunk([_delta({"content": "z"}, finish="length")], timings={"predicted_n": 9, "predicted_ms": 3.5})),
        _sse(_chunk([_delta({}, index=1, finish="stop")])),
        b": keepalive\n\nid: 7\nretry: 100\n\n",
        _sse(_chunk([_delta({"content": "after id"})])),
        b"data: [DONE]\n\n",
    ]
    return b"".join(p)


def _hostile() -> bytes:
    parts = [_sse(_chunk([_delta({"role": "assistant"})]))]
    parts += [_sse(_chunk([_delta({"content": text})])) for text in PAYLOADS]
    parts.append(_sse(_chunk([_delta({}, finish="stop")])))
    return b"".join(parts) + b"data: [DONE]\n\n"


def _ollama() -> bytes:
    lines = [{"model": "m", "message": {"role": "assistant", "content": w}, "done": False}
             for w in ("Hi", " 世界", " there")]
    lines.append({"model": "m", "message": {"role": "assistant", "content": ""}, "done": True, "done_reason": "stop",
                  "eval_count": 3, "eval_duration": 1_000_000, "prompt_eval_count": 2})
    return b"\n".join(json.dumps(x, ensure_ascii=False).encode() for x in lines)  # no final newline


def _responses() -> bytes:
    evs = [
        ("response.created", {"type": "response.created",
                              "response": {"id": "r1", "model": "m", "status": "in_progress"}}),
        ("response.output_text.delta", {"type": "response.output_text.delta", "delta": "Hel"}),
        ("response.output_text.delta", {"type": "response.output_text.delta", "delta": "lo"}),
        ("response.completed", {"type": "response.completed", "response": {"id": "r1", "status": "completed",
                                "usage": {"input_tokens": 2, "output_tokens": 2, "total_tokens": 4}}}),
    ]
    return b"".join(_sse(obj, event=name) for name, obj in evs)


def corpus() -> list[tuple[str, str, list[bytes]]]:
    """(name, wire format, network reads) of every recorded stream."""
    items = [
        ("chat_plain_small_reads", "chat", _cut(_chat_plain(400, 1), 2, 40)),
        ("chat_plain_big_reads", "chat", _cut(_chat_plain(400, 3), 4, 4000)),
        ("chat_rich", "chat", _cut(_chat_rich(), 5, 300)),
        ("chat_rich_bytewise", "chat", _cut(_chat_rich(), 6, 1)),
        ("chat_hostile", "chat", _cut(_hostile(), 7, 200)),
        ("chat_crlf", "chat", _cut(_chat_plain(50, 8).replace(b"\n", b"\r\n"), 9, 100)),
        ("ollama", "ollama", _cut(_ollama(), 10, 50)),
        ("responses", "responses", _cut(_responses(), 11, 60)),
        ("hostile_as_feed", "sse", _cut(b"".join(_sse(t) for t in PAYLOADS), 12, 90)),
    ]
    items += [(f"sse_case_{i}", "sse", chunks_of(case)) for i, case in enumerate(CASES)]
    return items


def record(name: str, fmt: str, reads: list[bytes]) -> Run:
    """The Run recorded from ``reads`` (read ``i`` arriving at a fixed time), with fixed ids."""
    run = Run(model="m", source="replay", wire_format=fmt, base_url="http://x/v1", prompt="p")
    run.run_id = name
    run.t0_ns = T0
    step = Step(run, make_adapter(fmt), mode="bytes")
    for i, chunk in enumerate(reads):
        step.feed(chunk, T0 + 1_000_000 * (i + 1) + 37 * i * i)
        if step.over:
            break
    else:  # Step.end() with a fixed time: a last NDJSON line without its newline
        framer = step._framer
        if hasattr(framer, "end"):
            for msg in framer.end(T0 + 1_000_000 * (len(reads) + 2), step._read_idx):
                step._receive(msg)
    run._finish()
    run.t_end_ns = T0 + 1_000_000 * (len(reads) + 5)
    run._row = None
    return run


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, float):
        return "nan" if math.isnan(value) else value
    if isinstance(value, int):
        return int(value)
    try:
        import pandas as pd

        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    if hasattr(value, "item"):
        return _plain(value.item())
    return repr(value)


def snapshot(run: Run) -> dict[str, Any]:
    """Everything the recorder holds about ``run``, as plain JSON values."""
    df = run.chunks
    row = {k: _plain(v) for k, v in run.summary_row().items() if k not in _VOLATILE}
    return {
        "messages": [[*map(_plain, rec.message), repr(rec.events)] for rec in run.records],
        "events": repr(list(run.events)),
        "text": run.text, "texts": run.texts, "reasoning": run.reasoning, "refusal": run.refusal,
        "tool_calls": repr(run.tool_calls), "status": run.status, "finish_reason": run.finish_reason,
        "usage": repr(run.usage),
        "chunk_dtypes": {col: str(dtype) for col, dtype in df.dtypes.items()},
        "chunks": {col: [_plain(v) for v in df[col].tolist()] for col in df.columns},
        "summary": row,
    }


def snapshots() -> dict[str, Any]:
    return {name: snapshot(record(name, fmt, reads)) for name, fmt, reads in corpus()}


if __name__ == "__main__":
    GOLDEN.parent.mkdir(exist_ok=True)
    GOLDEN.write_text(json.dumps(snapshots(), ensure_ascii=False, indent=0, sort_keys=True))
    print(f"wrote {GOLDEN} ({GOLDEN.stat().st_size:,} bytes)")
