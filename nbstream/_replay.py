"""Record a stream's raw timed wire messages to a JSONL file, and replay them offline —
at the original pace or scaled — with no network and no key (for classrooms, docs
builds and tests).

File format: a header line ``{"nbstream_record": 1, "api": ..., "model": ..., ...}``
then one line per wire message: ``{"t": seconds since the request was sent, "read":
network read index, "event": SSE event name, "data": payload text or object, "id": ...}``.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from ._framing import Message
from .run import Run

FORMAT = 1


def save(run: Run, path: str | Path) -> Path:
    """Write ``run``'s wire messages with their timing to ``path`` (JSONL)."""
    path = Path(path)
    header = {"nbstream_record": FORMAT, "api": run.api, "model": run.model,
              "response_model": run.response_model, "status": run.status}
    with path.open("w", encoding="utf-8") as out:
        out.write(json.dumps(header) + "\n")
        for rec in run.records:
            msg = rec.message
            data = msg.data if isinstance(msg.data, (str, dict, list)) else repr(msg.data)
            out.write(json.dumps({"t": round((msg.t_ns - run.t0_ns) / 1e9, 6), "read": msg.read_idx,
                                  "event": msg.name, "data": data, "id": msg.id}, ensure_ascii=False) + "\n")
    return path


def load(path: str | Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The header and the message lines of a recording; a clear error if it is not one."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no recording at {path}: record one with %%stream --record {path.name}")
    lines = path.read_text(encoding="utf-8").splitlines()
    try:
        header = json.loads(lines[0]) if lines else {}
        items = [json.loads(line) for line in lines[1:] if line.strip()]
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} is not an nbstream recording (bad JSON: {exc})") from None
    if header.get("nbstream_record") != FORMAT:
        raise ValueError(f"{path} is not an nbstream recording (its first line has no nbstream_record: 1)")
    return header, items


async def messages(items: list[dict[str, Any]], speed: float, run: Run) -> AsyncIterator[Message]:
    """Yield the recorded messages at their recorded times divided by ``speed``
    (``speed=0`` or ``inf``: as fast as possible)."""
    start = time.perf_counter_ns()
    run.t0_ns = start
    for item in items:
        if speed and speed != float("inf"):
            delay = item["t"] / speed - (time.perf_counter_ns() - start) / 1e9
            if delay > 0:
                await asyncio.sleep(delay)
        data = item["data"]
        yield Message(time.perf_counter_ns(), item.get("read", 0), item.get("event", ""), data,
                      item.get("id"), len(data) if isinstance(data, str) else 0)
