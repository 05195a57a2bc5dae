"""Record a stream's raw timed wire messages to a JSONL file, and replay them offline —
at the original pace or scaled — with no network and no key (for classrooms, docs
builds and tests).

File format: a header line ``{"nbstream_record": 1, "api": ..., "model": ..., "base_url": ...}``
then one line per wire message: ``{"t": seconds since the request was sent, "read":
network read index, "event": SSE event name, "data": payload text or object, "id": ...}``.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

from nbstream._secrets import redact
from nbstream.engine.pump import Step, read_async
from nbstream.engine.sources import ObjectAdapter
from nbstream.run import Run
from nbstream.wire import registry as _formats
from nbstream.wire.framing import Message

__all__ = ["FORMAT", "MAX_T", "load", "messages", "prepare", "save"]

FORMAT = 1
MAX_READ = 2**31 - 1  # the run's compact record keeps read indexes as 32-bit integers


def save(run: Run, path: str | Path) -> Path:
    """Write ``run``'s wire messages with their timing to ``path`` (JSONL)."""
    path = Path(path)
    header = {"nbstream_record": FORMAT, "api": run.api, "model": run.model,
              "response_model": run.response_model, "status": run.status}
    if run.base_url and not run.base_url.startswith("replay:"):
        header["base_url"] = redact(run.base_url)  # whose server answered: what prices a replay
    with path.open("w", encoding="utf-8") as out:
        out.write(json.dumps(header) + "\n")
        for rec in run.records:
            msg = rec.message
            data = msg.data if isinstance(msg.data, (str, dict, list)) else repr(msg.data)
            out.write(json.dumps({"t": round((msg.t_ns - run.t0_ns) / 1e9, 6), "read": msg.read_idx,
                                  "event": msg.name, "data": data, "id": msg.id}, ensure_ascii=False) + "\n")
    return path


MAX_T = 24 * 3600.0  # a recorded stream longer than a day is not a recording we replay


def load(path: str | Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The header and the message lines of a recording; a one-line ``ValueError`` naming
    the file and the line when it is not one (bad UTF-8, bad or deeply nested JSON, a
    message without a finite time ``0 <= t <= 86400``)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no recording at {path}: record one with %%stream --record {path.name}")
    try:
        lines = path.read_bytes().decode("utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path} is not an nbstream recording: not UTF-8 text (byte {exc.start})") from None
    header: Any = {}
    items: list[dict[str, Any]] = []
    for number, line in enumerate(lines, 1):
        if number > 1 and not line.strip():
            continue
        value = _line(path, number, line)
        if number == 1:
            header = value
        else:
            items.append(_item(path, number, value))
    if not isinstance(header, dict) or header.get("nbstream_record") != FORMAT:
        raise ValueError(f"{path} is not an nbstream recording (its first line has no nbstream_record: 1)")
    return header, items


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _line(path: Path, number: int, line: str) -> Any:
    try:
        return json.loads(line, parse_constant=_reject_constant)
    except RecursionError:
        raise ValueError(f"{path} is not an nbstream recording: line {number} is nested too deeply") from None
    except ValueError as exc:  # json.JSONDecodeError included
        raise ValueError(f"{path} is not an nbstream recording (bad JSON on line {number}: {exc})") from None


def _item(path: Path, number: int, item: Any) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise ValueError(f"{path}: line {number} is not a message object")
    t = item.get("t")
    if isinstance(t, bool) or not isinstance(t, (int, float)) or not 0 <= t <= MAX_T:
        raise ValueError(f"{path}: line {number} has time t={t!r}; it must be a number of seconds "
                         f"between 0 and {MAX_T:g}")
    data = item.get("data")
    if not isinstance(data, (str, dict, list)):
        raise ValueError(f"{path}: line {number} has no data (text or JSON object)")
    read, event, ident = item.get("read", 0), item.get("event", ""), item.get("id")
    if isinstance(read, bool) or not isinstance(read, int) or not 0 <= read <= MAX_READ \
            or not isinstance(event, str) or not (ident is None or isinstance(ident, str)):
        raise ValueError(f"{path}: line {number} has a malformed read, event or id field")
    return item


async def messages(items: list[dict[str, Any]], speed: float, run: Run, *,
                   recorded_clock: bool = False) -> AsyncIterator[Message]:
    """Yield the recorded messages at their recorded times divided by ``speed``
    (``speed=0`` or ``inf``: as fast as possible). ``recorded_clock``: all at once, each
    stamped with its recorded time, so the run's timing is the one measured when it was
    recorded (a sweep's cached answer)."""
    start = time.perf_counter_ns()
    run.t0_ns = start
    for item in items:
        if recorded_clock:
            t_ns = start + int(item["t"] * 1e9)
        else:
            if speed and speed != float("inf"):
                delay = item["t"] / speed - (time.perf_counter_ns() - start) / 1e9
                if delay > 0:
                    await asyncio.sleep(delay)
            t_ns = time.perf_counter_ns()
        data = item["data"]
        yield Message(t_ns, item.get("read", 0), item.get("event", ""), data,
                      item.get("id"), len(data) if isinstance(data, str) else 0)


def _recorded_url(value: Any) -> str | None:
    """The server URL a recording names, when it is a plain http(s) URL (anything else
    in a hand-edited or hostile file is ignored: the replay then names its file)."""
    if (isinstance(value, str) and len(value) <= 2000 and value.startswith(("http://", "https://"))
            and value.isprintable() and " " not in value):
        return redact(value)
    return None


def prepare(path: str | Path, speed: float, *,
            recorded_clock: bool = False) -> tuple[Run, Callable[[], Awaitable[None]]]:
    """The Run and the work that re-streams the recording at ``path`` (for ``replay()``
    and ``%%stream --replay``): read by the adapter of its recorded format, plain text
    items as text, anything else detected. ``recorded_clock``: see :func:`messages`."""
    if isinstance(speed, bool) or not isinstance(speed, (int, float)) or not (speed == 0 or speed >= 0.01):
        raise ValueError(f"speed must be 0 (all at once), or a number >= 0.01 (1 = the recorded pace); "
                         f"got {speed!r}")
    header, items = load(path)
    recorded = header.get("api")
    known = isinstance(recorded, str) and recorded in _formats.FORMATS
    wire_format = recorded if known else None if recorded in ("text", "agents") else "auto"
    run = Run(model=header.get("model"), source="replay", wire_format=wire_format,
              base_url=_recorded_url(header.get("base_url")) or f"replay:{path}")
    adapter = ObjectAdapter() if recorded == "text" else _formats.adapter_for(wire_format or "auto")
    step = Step(run, adapter, mode="messages")
    return run, lambda: read_async(messages(items, speed, run, recorded_clock=recorded_clock), step)
