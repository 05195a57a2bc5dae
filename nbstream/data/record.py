"""Every stream becomes data: ``chunks`` (one row per received wire message) and the run
row (one per run), with metric definitions that mean what vLLM ``bench serve`` and
AIPerf mean.

Times are seconds from t0 (``perf_counter_ns`` taken immediately before the request was
sent), stamped in the reader when the bytes arrived — before JSON parsing or rendering.

Definitions, where the tools disagree:

* ``ttft_s``: first token-bearing event, content **or reasoning** (AIPerf, genai-perf,
  guidellm, NIM, Artificial Analysis). vLLM's exact TTFT is ``t_first_chunk_s`` (first
  event with choices, the role-only chunk included); ``ttfo_s`` is the first
  non-reasoning output (AIPerf TTFO; llmperf's ``ttft_s``).
* ``e2el_s``: last token-bearing event (AIPerf ``request_latency``); vLLM's exact E2E is
  ``t_last_chunk_s``; ``t_done_s`` is when the stream closed (llmperf, guidellm).
* ``tpot_s`` = ``decode_s / (n_output_tokens - 1)``: vLLM's TPOT, the quantity AIPerf,
  genai-perf and guidellm call ITL.
* ``itl_*_s``: statistics of the gaps between token-bearing events (vLLM ITL samples,
  AIPerf inter-chunk latency): numpy linear percentiles, std with ddof=0.
* ``n_output_tokens``: the server's usage when it sent one (exact; includes reasoning),
  else a tokenizer estimate (``n_output_tokens_source`` says which) — so a cancelled or
  failed run still reports what it received.

Deviation: ``has_choices`` is derived from the normalized events (a chunk counts when
it carried a role, text, reasoning, tool, refusal or finish), not from the raw JSON: an
empty-delta chunk carrying nothing is not counted, where vLLM would count it.
"""

from __future__ import annotations

import bisect
import hashlib
import itertools
import json
import math
import operator
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np

from nbstream._version import __version__
from nbstream.data import cost as _cost
from nbstream.data import tokens as _tokens
from nbstream.events import (
    Done,
    ErrorEvent,
    Finish,
    Meta,
    Other,
    ReasoningDelta,
    RefusalDelta,
    Step,
    TextDelta,
    ToolCallDelta,
    Usage,
)
from nbstream.run import _Same, _unpack

if TYPE_CHECKING:
    import pandas as pd

    from nbstream.run import Run

__all__ = ["CHUNK_DTYPES", "chunks", "empty_chunks", "summary_row", "LEAD_COLUMNS", "frame"]

# event_type, most dominant first: a row is labelled by the first kind it carries
_PRIORITY = ("error", "content", "reasoning", "tool_call", "refusal", "finish", "usage", "role",
             "step", "lifecycle", "done", "other")

CHUNK_DTYPES: dict[str, str] = {
    "run_id": "string", "seq": "int32", "t_recv_s": "float64", "dt_s": "float64", "read_idx": "Int32",
    "event_type": "category", "raw_event": "string", "has_choices": "bool", "is_token": "bool",
    "token_idx": "Int32", "itl_s": "float64", "text_delta": "string", "reasoning_delta": "string",
    "tool_delta": "string", "n_chars": "int32", "n_bytes": "int32", "n_tokens": "Int32",
    "n_tokens_est": "float64", "n_tokens_source": "category", "cum_tokens": "Int32",
    "finish_reason": "string", "usage_prompt_tokens": "Int64", "usage_completion_tokens": "Int64",
    "usage_reasoning_tokens": "Int64", "usage_cached_tokens": "Int64", "choice_index": "Int16",
    "error": "string",
}


# ---- one pass over the records -------------------------------------------------------------
class _Rows:
    """Column lists for the chunk table, built in one pass over the run's compact record
    (shared by chunks and summary). A plain text delta (most rows) takes a short path;
    columns that are empty on such rows are filled only where another row sets them.
    ``pieces``: each row's text for the token estimate (``n_tokens_est``, made by
    :func:`chunks`; a summary needs only their total)."""

    def __init__(self, run: Run, limit: int | None = None) -> None:
        n = len(run._ev)  # appended last: every other column has at least n entries
        if limit is not None:
            n = min(n, limit)
        encs, names = run._ev[:n], run._name[:n]
        blob, ends, objects = run._blob, run._end, run._objects
        nbs = run._nb[:n] if run._nb is not None else None
        t_arr = (np.array(run._t[:n], dtype=np.int64) - run.t0_ns) / 1e9
        # every row as a plain first-choice text delta first (most rows are), then the others
        str_ = str
        texts: list[str | None] = [e if e.__class__ is str_ and e else None for e in encs]
        n_chars = [len(e) if e.__class__ is str_ else 0 for e in encs]
        kind_of = ["content"] * n
        choice_values = np.zeros(n, dtype=np.int16)
        choice_missing = np.zeros(n, dtype=bool)
        has_choices = np.ones(n, dtype=bool)
        is_token = np.ones(n, dtype=bool)
        extra: dict[int, tuple] = {}  # row -> (reasoning, tool, finish, usage, err) where any is set
        for i in [i for i, e in enumerate(encs) if e.__class__ is not str_ or not e]:
            enc = encs[i]
            text, reasoning, tool, finish, usage, err, kind, choice, n_char, token, with_choices = (
                _FEED_ROW if enc is _Same else _slow_row(_unpack(enc, names[i], None, run._id[i])))
            kind_of[i] = kind
            texts[i] = text or None
            n_chars[i] = n_char
            if choice is None:
                choice_missing[i] = True
            else:
                choice_values[i] = choice
            has_choices[i] = with_choices
            is_token[i] = token
            if reasoning or tool or finish is not None or usage is not None or err is not None:
                extra[i] = (reasoning or None, tool or None, finish, usage, err)
        # bytes on the wire: as sse_size(name, data), on the UTF-8 bytes, where not given
        ends_arr = np.array(ends[:n], dtype=np.int64)
        ends = ends_arr.tolist()
        starts = [0, *ends[:-1]] if n else []
        limit = ends[-1] if n else 0
        sizes = np.diff(ends_arr, prepend=0) + 8
        newline = blob.find(b"\n", 0, limit)  # rare in payloads (JSON escapes them): found one by one
        if newline >= 0:
            breaks = []
            while newline >= 0:
                breaks.append(newline)
                newline = blob.find(b"\n", newline + 1, limit)
            sizes += 6 * np.bincount(np.searchsorted(ends_arr, breaks, side="right"), minlength=n)[:n]
        n_bytes = sizes
        raw: list[str | None] = [None] * n
        for i, name in enumerate(names):
            if name != "message":
                if name:
                    raw[i] = name
                n_bytes[i] += 8 + len(name)
        if nbs is not None:
            given = np.array(nbs, dtype=np.int64)
            n_bytes = np.where(given >= 0, given, n_bytes)
        for i, data in objects.items():
            if i < n:  # a decoded object: its size as given (no SSE text)
                n_bytes[i] = nbs[i] if nbs is not None else 0
                if not (names[i] and names[i] != "message"):
                    raw[i] = _raw_data_type(data)
        # raw_event from the payload: only where '"type"' may lie in its first 40 characters
        # (within 160 bytes of its start), found by searching the whole blob once
        at = blob.find(b'"type"', 0, limit)
        while at >= 0:
            i = bisect.bisect_right(ends, at)
            if at - starts[i] < 160 and names[i] in ("", "message") and i not in objects:
                raw[i] = _raw_data_type(run._data_at(i))
            at = blob.find(b'"type"', ends[i], limit)
        tok = np.flatnonzero(is_token)
        itl = np.full(n, math.nan)
        if tok.size > 1:
            itl[tok[1:]] = t_arr[tok[1:]] - t_arr[tok[:-1]]
        dt = np.full(n, math.nan)
        if n > 1:
            dt[1:] = np.diff(t_arr)
        token_values = np.zeros(n, dtype=np.int32)
        token_values[tok] = np.arange(tok.size, dtype=np.int32)
        token_missing = np.ones(n, dtype=bool)
        token_missing[tok] = False
        nones: list[Any] = [None] * n
        reasoning_col, tool_col, finish_col, err_col = list(nones), list(nones), list(nones), list(nones)
        usage_cols = {name: list(nones) for name in _USAGE_FIELDS}
        n_tokens: list[int | None] = list(nones)
        prev_cum = None
        for i, (reasoning, tool, finish, usage, err) in extra.items():
            reasoning_col[i], tool_col[i], finish_col[i], err_col[i] = reasoning, tool, finish, err
            if usage is not None:
                for col, attr in _USAGE_FIELDS.items():
                    usage_cols[col][i] = getattr(usage, attr)
                # exact per-chunk tokens only from cumulative usage on the token chunks themselves
                # (vLLM continuous_usage_stats)
                out = usage.output_tokens
                if out is not None and is_token[i]:
                    n_tokens[i] = out - (prev_cum or 0)
                    prev_cum = out
        self.n_usage_tok = len(n_tokens) - n_tokens.count(None)
        continuous = self.n_usage_tok >= 2  # one usage is not "continuous"
        cols: dict[str, Any] = {
            "run_id": [run.run_id] * n, "seq": np.arange(n, dtype=np.int32), "t_recv_s": t_arr, "dt_s": dt,
            "read_idx": (np.array(run._ri[:n], dtype=np.int32), np.zeros(n, dtype=bool)), "event_type": kind_of,
            "raw_event": raw, "has_choices": has_choices, "is_token": is_token,
            "token_idx": (token_values, token_missing), "itl_s": itl, "text_delta": texts,
            "reasoning_delta": reasoning_col, "tool_delta": tool_col, "n_chars": n_chars, "n_bytes": n_bytes,
            "finish_reason": finish_col, **usage_cols, "choice_index": (choice_values, choice_missing),
            "error": err_col,
        }
        if continuous:
            cum, running = [], 0
            for v in n_tokens:
                running += v or 0
                cum.append(running)
            cols["n_tokens"] = n_tokens
            cols["cum_tokens"] = cum
            cols["n_tokens_source"] = ["continuous_usage"] * n
        else:
            cols["n_tokens"] = nones
            cols["cum_tokens"] = nones
            cols["n_tokens_source"] = ["none"] * n
        pieces = [t or "" for t in texts]
        for i, (reasoning, tool, *_rest) in extra.items():
            pieces[i] = (reasoning or "") + (texts[i] or "") + (tool or "")
        self.pieces = pieces
        self.cols = cols


_USAGE_FIELDS = {"usage_prompt_tokens": "input_tokens", "usage_completion_tokens": "output_tokens",
                 "usage_reasoning_tokens": "reasoning_tokens", "usage_cached_tokens": "cached_tokens"}


def _slow_row(events: list) -> tuple:
    """One message's events folded into its row's values: (text, reasoning, tool, finish,
    usage, error, event_type, choice, n_chars, is_token, has_choices)."""
    text = reasoning = tool = refusal = ""
    kinds: set[str] = set()
    finish = usage = err = None
    choice = None
    role = False
    for ev in events:
        if isinstance(ev, TextDelta):
            text += ev.text
            kinds.add("content")
            choice = ev.choice if choice is None else choice
        elif isinstance(ev, ReasoningDelta):
            reasoning += ev.text
            kinds.add("reasoning")
            choice = ev.choice if choice is None else choice
        elif isinstance(ev, ToolCallDelta):
            tool += ev.arguments
            if ev.arguments or ev.name:
                kinds.add("tool_call")
            choice = ev.choice if choice is None else choice
        elif isinstance(ev, RefusalDelta):
            refusal += ev.text
            kinds.add("refusal")
        elif isinstance(ev, Finish):
            finish = ev.reason
            kinds.add("finish")
            choice = ev.choice if choice is None else choice
        elif isinstance(ev, Usage):
            usage = ev
            kinds.add("usage")
        elif isinstance(ev, ErrorEvent):
            err = ev.message if ev.raw is None else f"{ev.message}: {ev.raw}"
            kinds.add("error")
        elif isinstance(ev, Meta):
            if ev.stage == "role":
                role = True
                kinds.add("role")
            else:
                kinds.add("lifecycle")
        elif isinstance(ev, Done):
            kinds.add("done")
        elif isinstance(ev, Step):
            kinds.add("step")
        elif isinstance(ev, Other):
            kinds.add("other")
    is_token = bool(text or reasoning or refusal or "tool_call" in kinds)
    kind = next((k for k in _PRIORITY if k in kinds), "other")
    return (text, reasoning, tool, finish, usage, err, kind, choice,
            len(text) + len(reasoning) + len(tool) + len(refusal), is_token, is_token or role or finish is not None)


# a generic feed's message (its one event Other, the message itself): the same row values
# whatever its payload, so that payload is not decoded for them
_FEED_ROW = _slow_row([Other(type="message", data=None)])


def _raw_data_type(data: Any) -> str | None:
    """The ``type`` (else ``object``) a message's payload names, for ``raw_event``."""
    if isinstance(data, dict):
        return data.get("type") or data.get("object")
    if isinstance(data, str) and data.startswith("{") and '"type"' in data[:40]:
        try:
            return json.loads(data).get("type")
        except ValueError:
            return None
    return None


# ---- public views ------------------------------------------------------------------------
def chunks(run: Run, *, tokenizer: str | None = None) -> pd.DataFrame:
    """One row per received wire message (column definitions: this module's docstring)."""
    import pandas as pd

    rows = _Rows(run)
    rows.cols["n_tokens_est"] = _tokens.estimator(tokenizer).per_piece(rows.pieces) if rows.pieces else []
    return pd.DataFrame({name: _column(rows.cols[name], dtype) for name, dtype in CHUNK_DTYPES.items()},
                        copy=False)


def _column(values: list, dtype: str) -> Any:
    """A column as pandas holds it: categories through their codes (``pd.Categorical`` of a
    long list of strings is slow), numbers through numpy, the rest through ``pd.array``."""
    import pandas as pd

    if isinstance(values, tuple):  # (values, missing) of a nullable integer column
        return pd.arrays.IntegerArray(values[0], values[1]).astype(dtype)
    if isinstance(values, np.ndarray):
        return values.astype(dtype, copy=False)
    if dtype == "category":
        categories = sorted(set(values))
        code = {c: i for i, c in enumerate(categories)}
        codes = (np.zeros(len(values), dtype=np.int16) if len(categories) == 1 else
                 np.fromiter(map(code.__getitem__, values), dtype=np.int16, count=len(values)))
        return pd.Categorical.from_codes(codes, categories)
    if dtype in ("float64", "int32", "bool"):
        return np.array(values, dtype=dtype)
    n, missing = len(values), values.count(None)
    if missing > n // 2:
        # mostly missing (finish, error, usage, reasoning of a chat): converting a million
        # Nones one by one costs 0.1-0.2 s a column; the few values, converted as any column
        # is (NaN missing, bytes decoded…), set into a blank, ~0.01 s
        at = list(itertools.compress(range(n), map(operator.is_not, values, itertools.repeat(None))))
        given = pd.array([values[i] for i in at], dtype=dtype)
        if dtype.startswith("Int"):
            data, mask = np.zeros(n, dtype=dtype.lower()), np.ones(n, dtype=bool)
            data[at], mask[at] = given.to_numpy(dtype=dtype.lower(), na_value=0), given.isna()
            return pd.arrays.IntegerArray(data, mask)
        held = np.full(n, pd.NA, dtype=object)
        held[at] = given.to_numpy(dtype=object, na_value=pd.NA)
        string = pd.StringDtype()
        return pd.arrays.StringArray(held) if string.storage == "python" else pd.array(held, dtype=string)
    return pd.array(values, dtype=dtype)


def empty_chunks() -> pd.DataFrame:
    """A chunk table with no rows and the right columns and dtypes."""
    import pandas as pd

    return pd.DataFrame({name: pd.array([], dtype=dtype) if dtype != "category" else pd.Categorical([])
                         for name, dtype in CHUNK_DTYPES.items()})


def summary_row(run: Run, *, tokenizer: str | None = None) -> dict[str, Any]:
    """The run's row as a plain dict (what ``run.summary`` and ``nbstream.runs()`` show)."""
    estimator = _tokens.estimator(tokenizer)
    agg = aggregate(_Rows(run), estimator)
    if run._folded is not None:  # keep="summary": the rows already dropped, folded online
        agg = merge(run._folded, agg)
    usage = run.usage
    n_tok = agg["n_tok"]
    ttft = agg["first_tok"] if n_tok else math.nan
    t_last_tok = agg["last_tok"] if n_tok else math.nan
    end_ns = run.t_end_ns
    t_done = agg["first_done"] if agg["first_done"] is not None else (
        (end_ns - run.t0_ns) / 1e9 if end_ns else math.nan)

    text_est = agg["est"]
    n_est = round(text_est)
    reasoning_text = agg["reasoning_text"]
    if usage is not None and usage.output_tokens is not None:
        n_out, exact = usage.output_tokens, True
        source = "ollama_eval_count" if "eval_count" in usage.server else "usage"
        if agg["n_usage_tok"] >= 2:  # one usage is not "continuous"
            source = "continuous_usage"
    elif n_tok:
        n_out, exact, source = n_est, False, estimator.name
    else:
        n_out, exact, source = 0, False, estimator.name
    n_reason = usage.reasoning_tokens if usage is not None else None
    hidden = bool(n_reason and not reasoning_text)
    n_streamed = n_out - n_reason if hidden and n_reason else n_out
    decode = t_last_tok - ttft if n_tok else math.nan
    itl = _stats(np.concatenate(agg["gaps"]))
    n_not_done = agg["n_rows"] - agg["n_done"]
    first_choice, last_choice, first_out = agg["first_choice"], agg["last_choice"], agg["first_out"]
    last_content = agg["last_content"]

    row: dict[str, Any] = {
        "label": run.label,
        "run_id": run.run_id,
        "started_at": run.started_at,
        "base_url": run.base_url,
        "api": run.api,
        "model": run.model,
        "response_model": run.response_model,
        "response_id": run.response_id,
        "prompt": _prompt_text(run.prompt),
        "prompt_hash": _hash(run.prompt),
        "params_json": json.dumps(run.params, sort_keys=True, default=str) if run.params else None,
        "status": run.status,
        "http_status": run.http_status,
        "error": str(run.error) if run.error is not None else None,
        "error_type": type(run.error).__name__ if run.error is not None else None,
        "finish_reason": run.finish_reason,
        "finish_reason_raw": run.finish_reason_raw,
        "stop_sequence": run.stop_sequence,
        "n_events": agg["n_rows"],
        "n_token_chunks": n_tok,
        "t_sent_s": (run.t_sent_ns - run.t0_ns) / 1e9 if run.t_sent_ns else math.nan,
        "t_headers_s": (run.t_headers_ns - run.t0_ns) / 1e9 if run.t_headers_ns else math.nan,
        "t_first_chunk_s": first_choice if first_choice is not None else math.nan,
        "ttft_s": ttft,
        "ttfo_s": first_out if first_out is not None else math.nan,
        "ttst_s": agg["second_tok"] - agg["first_tok"] if n_tok > 1 else math.nan,
        "t_last_token_s": t_last_tok,
        "t_last_chunk_s": last_choice if last_choice is not None else math.nan,
        "e2el_s": t_last_tok,
        "t_done_s": t_done,
        "decode_s": decode,
        "n_prompt_tokens": usage.input_tokens if usage is not None else None,
        "n_cached_prompt_tokens": usage.cached_tokens if usage is not None else None,
        "n_output_tokens": n_out,
        "n_output_tokens_source": source,
        "n_output_tokens_exact": exact,
        "n_output_tokens_est": n_est,
        "token_count_diff_pct": abs(n_est - n_out) / n_out * 100 if exact and n_out else math.nan,
        "n_reasoning_tokens": n_reason,
        "hidden_reasoning": hidden,
        "n_streamed_tokens": n_streamed,
        "tokens_per_chunk": n_streamed / n_tok if n_tok else math.nan,
        "tpot_s": decode / (n_out - 1) if n_out > 1 and n_tok else math.nan,
        "tpot_visible_s": decode / (n_streamed - 1) if n_streamed > 1 and n_tok else math.nan,
        "tpot_incl_first_s": t_last_tok / n_out if n_out and n_tok else math.nan,
        "itl_mean_s": itl["mean"],
        "itl_p50_s": itl["p50"],
        "itl_p90_s": itl["p90"],
        "itl_p99_s": itl["p99"],
        "itl_max_s": itl["max"],
        "itl_std_s": itl["std"],
        "llmperf_itl_s": last_content / n_not_done if last_content is not None else math.nan,
        "output_tps": n_out / t_last_tok if n_tok and t_last_tok > 0 else math.nan,
        "decode_tps": (n_streamed - 1) / decode if n_tok and decode > 0 and n_streamed > 1 else math.nan,
        "prefill_tps": (usage.input_tokens / ttft if usage is not None and usage.input_tokens
                        and n_tok and ttft > 0 else math.nan),
    }
    if usage is not None:
        row.update(_server_columns(usage.server))
    row["cost_usd"] = _cost.cost_usd(run)  # None when unknown (nbstream.data.cost)
    row["tokenizer"] = estimator.name
    row["nbstream_version"] = __version__
    return row


def aggregate(rows: _Rows, estimator: _tokens.Estimator) -> dict[str, Any]:
    """What the summary row needs from the chunk rows: counts, the times of the first,
    second and last token rows (and first/last with choices, first output, first done,
    last content), the token gaps (a list of arrays: merging appends, never copies them),
    the token estimate. Two consecutive spans of rows combine with :func:`merge` — how
    ``keep="summary"`` folds rows it drops."""
    c = rows.cols
    t = c["t_recv_s"].tolist()
    kinds = c["event_type"]
    tok = np.flatnonzero(c["is_token"]).tolist()
    with_choices = np.flatnonzero(c["has_choices"]).tolist()
    out_first = next((i for i in tok if kinds[i] != "reasoning"), None)
    done = [i for i, k in enumerate(kinds) if k == "done"]
    last_content = _last_content_row(c)
    return {
        "n_rows": len(t), "n_done": len(done), "n_tok": len(tok),
        "first_tok": t[tok[0]] if tok else None, "second_tok": t[tok[1]] if len(tok) > 1 else None,
        "last_tok": t[tok[-1]] if tok else None, "first_out": t[out_first] if out_first is not None else None,
        "first_choice": t[with_choices[0]] if with_choices else None,
        "last_choice": t[with_choices[-1]] if with_choices else None,
        "first_done": t[done[0]] if done else None,
        "last_content": t[last_content] if last_content is not None else None,
        "gaps": [c["itl_s"][tok[1:]]], "est": estimator.total(rows.pieces),
        "reasoning_text": any(c["reasoning_delta"]),
        "n_usage_tok": rows.n_usage_tok,
    }


def merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """The aggregate of rows ``a`` followed by rows ``b`` (see :func:`aggregate`)."""
    def first(key: str) -> Any:
        return a[key] if a[key] is not None else b[key]

    def last(key: str) -> Any:
        return b[key] if b[key] is not None else a[key]

    bridge = [b["first_tok"] - a["last_tok"]] if a["n_tok"] and b["n_tok"] else []
    second = a["second_tok"] if a["n_tok"] > 1 else (b["first_tok"] if a["n_tok"] == 1 else b["second_tok"])
    return {
        "n_rows": a["n_rows"] + b["n_rows"], "n_done": a["n_done"] + b["n_done"], "n_tok": a["n_tok"] + b["n_tok"],
        "first_tok": first("first_tok"), "second_tok": second, "last_tok": last("last_tok"),
        "first_out": first("first_out"), "first_choice": first("first_choice"), "last_choice": last("last_choice"),
        "first_done": first("first_done"), "last_content": last("last_content"),
        "gaps": [*a["gaps"], np.array(bridge, dtype=float), *b["gaps"]],
        "est": a["est"] + b["est"], "reasoning_text": a["reasoning_text"] or b["reasoning_text"],
        "n_usage_tok": a["n_usage_tok"] + b["n_usage_tok"],
    }


def fold(run: Run, n: int, *, tokenizer: str | None = None) -> None:
    """Drop the run's first ``n`` rows, folding them into ``run._folded`` (``keep="summary"``)."""
    agg = aggregate(_Rows(run, limit=n), _tokens.estimator(tokenizer))
    run._folded = agg if run._folded is None else merge(run._folded, agg)
    run._drop_head(n)


def _last_content_row(c: dict[str, list]) -> int | None:
    """Index of the last content row (llmperf's ITL numerator ends there)."""
    last = None
    for i, text in enumerate(c["text_delta"]):
        if text:
            last = i
    return last


# What people look at first; every other column follows in the order the row builds it.
LEAD_COLUMNS = ("label", "model", "status", "ttft_s", "output_tps", "n_output_tokens", "finish_reason",
                "e2el_s", "error")


def frame(rows: Iterable[dict[str, Any]]) -> pd.DataFrame:
    """Run rows -> DataFrame with nullable dtypes where a value can be missing, leading
    with ``LEAD_COLUMNS``."""
    import pandas as pd

    df = pd.DataFrame(list(rows))
    lead = [col for col in LEAD_COLUMNS if col in df]
    df = df[lead + [col for col in df.columns if col not in lead]]
    for col in df.columns:
        if col.startswith("n_") and col not in ("n_output_tokens_source", "n_output_tokens_exact") \
                or col in ("http_status",) or (col.startswith("server_") and col.endswith(("_count", "_n"))):
            df[col] = pd.array(df[col].tolist(), dtype="Int64")
        elif col in ("status", "api", "n_output_tokens_source", "finish_reason", "finish_reason_raw"):
            df[col] = df[col].astype("category")
        elif col in ("label", "run_id", "base_url", "model", "response_model", "response_id", "prompt",
                     "prompt_hash", "params_json", "error", "error_type", "tokenizer", "nbstream_version",
                     "stop_sequence"):
            df[col] = df[col].astype("string")
    if "cost_usd" in df:
        df["cost_usd"] = pd.array(df["cost_usd"].tolist(), dtype="Float64")
    if "started_at" in df:
        df["started_at"] = pd.to_datetime(df["started_at"], utc=True)
    return df


def _stats(values: np.ndarray) -> dict[str, float]:
    if values.size == 0:
        return dict.fromkeys(("mean", "p50", "p90", "p99", "max", "std"), math.nan)
    p50, p90, p99 = np.percentile(values, [50, 90, 99])
    return {"mean": float(values.mean()), "p50": float(p50), "p90": float(p90), "p99": float(p99),
            "max": float(values.max()), "std": float(values.std(ddof=0))}


def _server_columns(server: dict[str, Any]) -> dict[str, Any]:
    """Server-side figures as ``server_*`` columns: Ollama durations in seconds, plus
    ``server_decode_tps``; llama.cpp ``timings`` keys as sent."""
    cols: dict[str, Any] = {}
    for key, value in server.items():
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            continue
        if key.endswith("_duration"):
            cols[f"server_{key[: -len('_duration')]}_s"] = value / 1e9
        else:
            cols[f"server_{key}"] = value
    if server.get("eval_count") and server.get("eval_duration"):
        cols["server_decode_tps"] = server["eval_count"] / server["eval_duration"] * 1e9
    return cols


def _prompt_text(prompt: Any) -> str | None:
    if prompt is None or isinstance(prompt, str):
        return prompt
    return json.dumps(prompt, ensure_ascii=False, default=str)


def _hash(prompt: Any) -> str | None:
    text = _prompt_text(prompt)
    return hashlib.sha256(text.encode()).hexdigest()[:16] if text is not None else None
