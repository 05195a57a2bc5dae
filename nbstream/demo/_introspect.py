"""``GET /v1/demo/requests``: the server's request log as JSON, for clients in another process.

In-process users read ``server.requests``; a benchmark or test that runs the demo
endpoint in its own process (so the server does not share the client's GIL) reads the
same ground truth over HTTP. Times are ``perf_counter_ns`` values, i.e. CLOCK_MONOTONIC
on Linux, shared by every process of the machine. Requests to ``/v1/demo/...`` are
themselves not listed, so ``?last=N`` means the last N real requests.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from ._errors import DemoError
from ._log import RequestLog, RequestLogList

__all__ = ["PREFIX", "log_json", "answer"]

PREFIX = "/v1/demo/requests"


def log_json(log: RequestLog) -> dict[str, Any]:
    """One ``RequestLog`` as a JSON object; ``writes`` as ``[[t_ns, kind, n], ...]``."""
    return {
        "object": "demo.request",
        "id": log.id,
        "path": log.path,
        "model": log.model,
        "scenario": log.scenario,
        "knobs": dict(log.knobs),
        "status": log.status,
        "t_received_ns": log.t_received_ns,
        "t_start_ns": log.t_start_ns,
        "writes": [[t, kind, n] for t, kind, n in list(log.writes)],
        "disconnected_ns": log.disconnected_ns,
        "finished": log.finished,
        "done": log.done,
    }


def answer(requests: RequestLogList, path: str, query: str) -> dict[str, Any]:
    """The body for ``GET /v1/demo/requests[?last=N]`` or ``GET /v1/demo/requests/{id}``."""
    logs = [log for log in requests if not log.path.startswith("/v1/demo/")]
    if path != PREFIX:
        wanted = path.removeprefix(PREFIX + "/")
        for log in logs:
            if log.id == wanted:
                return log_json(log)
        raise DemoError(404, f"No request with id {wanted!r} in this demo server's log (ids are the "
                             "x-request-id response header; GET /v1/demo/requests lists them all).",
                        code="request_not_found")
    last = parse_qs(query).get("last")
    if last is not None:
        try:
            count = int(last[-1])
        except ValueError:
            count = -1
        if count < 1:
            raise DemoError(400, f"Query parameter 'last' must be an integer >= 1, got {last[-1]!r}.",
                            param="last")
        logs = logs[-count:]
    return {"object": "list", "data": [log_json(log) for log in logs]}
