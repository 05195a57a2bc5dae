"""The status line every view shows: live while streaming (model, state, TTFT, tokens so
far, tokens/s) and final at the end (finish reason, exact usage, a verdict when the run
did not end well). One wording for the terminal, the widget and the saved notebook.

When nothing has arrived for ``QUIET_AFTER_S``, the live line gives way to the ``quiet``
line: before the first token it says what the run waits on (connecting, response
headers, the first token); mid-stream the tokens/s, which would stay frozen, gives way
to ``no data for N s``. The widget receives both lines with each update and switches
and ticks on its own clock (no message per second); the terminal calls :func:`at`.
"""

from __future__ import annotations

import time

from nbstream.run import Run

__all__ = [
    "VERDICTS", "QUIET_AFTER_S", "PHASES", "Quiet", "STALL", "live", "quiet", "stall_hint", "fill", "at", "final",
    "feed",
]

VERDICTS = {"cancelled": "⏹ stopped", "error": "⚠ error", "incomplete": "⚠ incomplete"}
QUIET_AFTER_S = 2.0
PHASES = {"connecting": "connecting", "sent": "waiting for response headers",
          "headers": "headers received, waiting for the first token"}
Quiet = tuple[str, str | None]  # (head, tail): the seconds of silence go between; no tail, no seconds
STALL: Quiet = ("no data for ", " s")


def live(run: Run, *, first_token_ns: int | None, n_token_chunks: int) -> str:
    """``demo · streaming · TTFT 0.25 s · ≈42 tok · 58.1 tok/s`` (chunks ≈ tokens until usage)."""
    if run.wire_format == "sse":
        return feed(run)
    parts = _streaming(run, first_token_ns, n_token_chunks)
    if first_token_ns is None:
        parts.append("waiting for the first token")
        return " · ".join(parts)
    elapsed = (time.perf_counter_ns() - first_token_ns) / 1e9
    if n_token_chunks > 1 and elapsed > 0:
        parts.append(f"{(n_token_chunks - 1) / elapsed:.1f} tok/s")
    return " · ".join(parts)


def _streaming(run: Run, first_token_ns: int | None, n_token_chunks: int) -> list[str]:
    parts = [run.response_model or run.model or "stream", "streaming"]
    if first_token_ns is not None:
        parts.append(f"TTFT {_secs((first_token_ns - run.t0_ns) / 1e9)}")
        parts.append(f"≈{n_token_chunks} tok")
    return parts


def quiet(run: Run, *, first_token_ns: int | None, n_token_chunks: int) -> Quiet:
    """``demo · streaming · headers received, waiting for the first token`` before the
    first token; ``demo · streaming · TTFT 0.25 s · ≈42 tok · no data for `` N `` s`` after.
    Returned as (head, tail) so no placeholder can collide with a model's name."""
    if run.wire_format == "sse":
        return feed(run) + " · " + STALL[0], STALL[1]
    parts = _streaming(run, first_token_ns, n_token_chunks)
    if first_token_ns is None:
        parts.append(PHASES.get(run.phase or "", "waiting for the first token"))
        return " · ".join(parts), None
    return " · ".join(parts) + " · " + STALL[0], STALL[1]


def stall_hint(silent_s: float) -> str:
    """``no data for 3 s``: what a stalled stream shows instead of its tokens/s."""
    return fill(STALL, silent_s)


def fill(line: Quiet, silent_s: float) -> str:
    """A quiet line with its whole seconds of silence filled in."""
    head, tail = line
    return head if tail is None else f"{head}{int(silent_s)}{tail}"


def at(run: Run, *, first_token_ns: int | None, n_token_chunks: int, now_ns: int) -> str:
    """The line a view shows at ``now_ns``: live, or quiet after ``QUIET_AFTER_S`` of
    silence; before the first token the elapsed time ticks at its end (``· 3.4 s``)."""
    silent_s = (now_ns - run.last_data_ns) / 1e9
    if silent_s >= QUIET_AFTER_S:
        line = fill(quiet(run, first_token_ns=first_token_ns, n_token_chunks=n_token_chunks), silent_s)
    else:
        line = live(run, first_token_ns=first_token_ns, n_token_chunks=n_token_chunks)
    if first_token_ns is None and run.wire_format != "sse":
        line += f" · {max(now_ns - run.t0_ns, 0) / 1e9:.1f} s"
    return line


def final(run: Run) -> str:
    """``demo · TTFT 0.25 s · 176 tokens · 59.6 tok/s · finish stop · 2.9 s``, plus a verdict."""
    if run.wire_format == "sse":
        line = feed(run)
        return line + (f" · {VERDICTS[run.status]}" if run.status in VERDICTS else "")
    row = run.summary_row()
    parts = [run.response_model or run.model or run.api or "stream"]
    if row["n_token_chunks"]:
        parts.append(f"TTFT {_secs(row['ttft_s'])}")
        approx = "" if row["n_output_tokens_exact"] else "≈"
        parts.append(f"{approx}{row['n_output_tokens']} tokens")
        if row["decode_tps"] == row["decode_tps"]:  # not NaN
            parts.append(f"{row['decode_tps']:.1f} tok/s")
    if run.finish_reason:
        parts.append(f"finish {run.finish_reason}")
    if row.get("cost_usd") is not None:  # None for unknown models and local servers (data.cost)
        parts.append(f"${row['cost_usd']:.6f}" if row["cost_usd"] < 0.01 else f"${row['cost_usd']:.4f}")
    if run.t_end_ns:
        parts.append(_secs((run.t_end_ns - run.t0_ns) / 1e9))
    if run.status in VERDICTS:
        verdict = VERDICTS[run.status]
        if run.status == "cancelled":
            verdict += f" after {row['n_output_tokens']} tokens"
        parts.append(verdict)
    return " · ".join(parts)


def feed(run: Run) -> str:
    """``http://…/events · 120 events · 9.8/s · 1 reconnection`` for generic SSE feeds."""
    n = len(run.records)
    end = run.t_end_ns or time.perf_counter_ns()
    seconds = (end - run.t0_ns) / 1e9
    parts = [run.base_url or "feed", f"{n} events"]
    if seconds > 0:
        parts.append(f"{n / seconds:.1f}/s")
    parts.append(f"{run.reconnects} reconnection{'s' if run.reconnects != 1 else ''}")
    return " · ".join(parts)


def _secs(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"
