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

import hashlib
import json
import math
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

if TYPE_CHECKING:
    import pandas as pd

    from nbstream.run import Run
    from nbstream.wire.framing import Message

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
    """Column lists for the chunk table, built in one pass (shared by chunks and summary)."""

    def __init__(self, run: Run, estimator: _tokens.Estimator) -> None:
        cols: dict[str, list] = {name: [] for name in CHUNK_DTYPES}
        t0 = run.t0_ns
        prev_t = None
        prev_tok_t = None
        token_idx = 0
        prev_cum = None
        for seq, rec in enumerate(run.records):
            msg, events = rec.message, rec.events
            t = (msg.t_ns - t0) / 1e9
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
            cols["run_id"].append(run.run_id)
            cols["seq"].append(seq)
            cols["t_recv_s"].append(t)
            cols["dt_s"].append(math.nan if prev_t is None else t - prev_t)
            cols["read_idx"].append(msg.read_idx)
            cols["event_type"].append(next((k for k in _PRIORITY if k in kinds), "other"))
            cols["raw_event"].append(_raw_event(msg))
            cols["has_choices"].append(is_token or role or finish is not None)
            cols["is_token"].append(is_token)
            cols["token_idx"].append(token_idx if is_token else None)
            cols["itl_s"].append(t - prev_tok_t if is_token and prev_tok_t is not None else math.nan)
            cols["text_delta"].append(text or None)
            cols["reasoning_delta"].append(reasoning or None)
            cols["tool_delta"].append(tool or None)
            cols["n_chars"].append(len(text) + len(reasoning) + len(tool) + len(refusal))
            cols["n_bytes"].append(msg.n_bytes)
            cols["finish_reason"].append(finish)
            out = usage.output_tokens if usage is not None else None
            cols["usage_prompt_tokens"].append(usage.input_tokens if usage is not None else None)
            cols["usage_completion_tokens"].append(out)
            cols["usage_reasoning_tokens"].append(usage.reasoning_tokens if usage is not None else None)
            cols["usage_cached_tokens"].append(usage.cached_tokens if usage is not None else None)
            cols["choice_index"].append(choice)
            cols["error"].append(err)
            # exact per-chunk tokens only from cumulative usage on the token chunks themselves
            # (vLLM continuous_usage_stats)
            if out is not None and is_token:
                cols["n_tokens"].append(out - (prev_cum or 0))
                prev_cum = out
            else:
                cols["n_tokens"].append(None)
            prev_t = t
            if is_token:
                prev_tok_t = t
                token_idx += 1
        n_rows = len(cols["seq"])
        continuous = sum(v is not None for v in cols["n_tokens"]) >= 2  # one usage is not "continuous"
        if not continuous:
            cols["n_tokens"] = [None] * n_rows
        if continuous:
            cum, running = [], 0
            for v in cols["n_tokens"]:
                running += v or 0
                cum.append(running)
            cols["cum_tokens"] = cum
            cols["n_tokens_source"] = ["continuous_usage"] * n_rows
        else:
            cols["cum_tokens"] = [None] * n_rows
            cols["n_tokens_source"] = ["none"] * n_rows
        pieces = [(r or "") + (t or "") + (x or "")
                  for r, t, x in zip(cols["reasoning_delta"], cols["text_delta"], cols["tool_delta"], strict=True)]
        cols["n_tokens_est"] = estimator.per_piece(pieces) if n_rows else []
        self.cols = cols
        self.continuous = continuous
        self.estimator = estimator


def _raw_event(msg: Message) -> str | None:
    if msg.name and msg.name != "message":
        return msg.name
    data = msg.data
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

    rows = _Rows(run, _tokens.estimator(tokenizer))
    return pd.DataFrame({name: pd.array(rows.cols[name], dtype=dtype) if dtype != "category"
                         else pd.Categorical(rows.cols[name]) for name, dtype in CHUNK_DTYPES.items()})


def empty_chunks() -> pd.DataFrame:
    """A chunk table with no rows and the right columns and dtypes."""
    import pandas as pd

    return pd.DataFrame({name: pd.array([], dtype=dtype) if dtype != "category" else pd.Categorical([])
                         for name, dtype in CHUNK_DTYPES.items()})


def summary_row(run: Run, *, tokenizer: str | None = None) -> dict[str, Any]:
    """The run's row as a plain dict (what ``run.summary`` and ``nbstream.runs()`` show)."""
    rows = _Rows(run, _tokens.estimator(tokenizer))
    c = rows.cols
    t = c["t_recv_s"]
    tok = [i for i, flag in enumerate(c["is_token"]) if flag]
    with_choices = [i for i, flag in enumerate(c["has_choices"]) if flag]
    out_first = next((i for i in tok if c["event_type"][i] != "reasoning"), None)
    usage = run.usage
    ttft = t[tok[0]] if tok else math.nan
    t_last_tok = t[tok[-1]] if tok else math.nan
    done_rows = [i for i, k in enumerate(c["event_type"]) if k == "done"]
    end_ns = run.t_end_ns
    t_done = t[done_rows[0]] if done_rows else ((end_ns - run.t0_ns) / 1e9 if end_ns else math.nan)

    text_est = sum(c["n_tokens_est"])
    n_est = round(text_est)
    reasoning_text = any(c["reasoning_delta"])
    if usage is not None and usage.output_tokens is not None:
        n_out, exact = usage.output_tokens, True
        source = "ollama_eval_count" if "eval_count" in usage.server else "usage"
        if rows.continuous:
            source = "continuous_usage"
    elif tok:
        n_out, exact, source = n_est, False, rows.estimator.name
    else:
        n_out, exact, source = 0, False, rows.estimator.name
    n_reason = usage.reasoning_tokens if usage is not None else None
    hidden = bool(n_reason and not reasoning_text)
    n_streamed = n_out - n_reason if hidden and n_reason else n_out
    decode = t_last_tok - ttft if tok else math.nan
    gaps = np.array([c["itl_s"][i] for i in tok[1:]], dtype=float)
    itl = _stats(gaps)
    n_not_done = len(c["seq"]) - sum(1 for k in c["event_type"] if k == "done")
    last_content = _last_content_row(c)

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
        "n_events": len(c["seq"]),
        "n_token_chunks": len(tok),
        "t_sent_s": (run.t_sent_ns - run.t0_ns) / 1e9 if run.t_sent_ns else math.nan,
        "t_headers_s": (run.t_headers_ns - run.t0_ns) / 1e9 if run.t_headers_ns else math.nan,
        "t_first_chunk_s": t[with_choices[0]] if with_choices else math.nan,
        "ttft_s": ttft,
        "ttfo_s": t[out_first] if out_first is not None else math.nan,
        "ttst_s": t[tok[1]] - t[tok[0]] if len(tok) > 1 else math.nan,
        "t_last_token_s": t_last_tok,
        "t_last_chunk_s": t[with_choices[-1]] if with_choices else math.nan,
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
        "tokens_per_chunk": n_streamed / len(tok) if tok else math.nan,
        "tpot_s": decode / (n_out - 1) if n_out > 1 and tok else math.nan,
        "tpot_visible_s": decode / (n_streamed - 1) if n_streamed > 1 and tok else math.nan,
        "tpot_incl_first_s": t_last_tok / n_out if n_out and tok else math.nan,
        "itl_mean_s": itl["mean"],
        "itl_p50_s": itl["p50"],
        "itl_p90_s": itl["p90"],
        "itl_p99_s": itl["p99"],
        "itl_max_s": itl["max"],
        "itl_std_s": itl["std"],
        "llmperf_itl_s": t[last_content] / n_not_done if last_content is not None else math.nan,
        "output_tps": n_out / t_last_tok if tok and t_last_tok > 0 else math.nan,
        "decode_tps": (n_streamed - 1) / decode if tok and decode > 0 and n_streamed > 1 else math.nan,
        "prefill_tps": (usage.input_tokens / ttft if usage is not None and usage.input_tokens
                        and tok and ttft > 0 else math.nan),
    }
    if usage is not None:
        row.update(_server_columns(usage.server))
    row["cost_usd"] = _cost.cost_usd(run)  # None when unknown (nbstream.data.cost)
    row["tokenizer"] = rows.estimator.name
    row["nbstream_version"] = __version__
    return row


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
                     "prompt_hash", "params_json", "error", "error_type", "tokenizer", "nbstream_version"):
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
