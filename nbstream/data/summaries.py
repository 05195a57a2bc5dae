"""``nbstream.summarize``: a set of runs aggregated the way vLLM ``bench serve`` or AIPerf
aggregate them — same keys, same definitions, same units — so the numbers can be put
next to theirs.

* ``style="vllm"`` (``vllm/benchmarks/serve.py`` ``calculate_metrics``): TTFT from the
  first chunk with choices, E2EL to the last chunk with choices, TPOT =
  ``(e2el - ttft) / (output_len - 1)`` for ``output_len > 1``, ITL pooled over the gaps
  between chunks with choices of all successful runs; mean, median, std (ddof=0) and
  numpy-linear percentiles in ms; throughputs over the batch's wall time.
* ``style="aiperf"`` (``profile_export_aiperf.json``): per-request metric tags with
  avg/min/max/std/p1…p99; TTFT counts reasoning; ``inter_token_latency`` is vLLM's TPOT;
  ``inter_chunk_latency`` pools the gaps between token-bearing chunks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from nbstream.data import record

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["summarize"]

#: the columns of a runs frame that summarize reads
_READS = ("run_id", "status", "started_at", "t_done_s", "t_first_chunk_s", "t_last_chunk_s", "n_output_tokens",
          "n_prompt_tokens", "ttft_s", "ttst_s", "ttfo_s", "e2el_s", "decode_s", "tpot_s", "output_tps")
_AIPERF_STATS = ("avg", "min", "max", "std", "p1", "p5", "p10", "p25", "p50", "p75", "p90", "p95", "p99")


def summarize(runs: pd.DataFrame, chunks: pd.DataFrame | None = None, *, style: str = "vllm",
              percentiles: tuple[float, ...] = (99,)) -> dict[str, Any]:
    """Aggregate ``runs`` (a ``nbstream.runs()`` frame) in the given tool's ``style``.

    ITL statistics need the chunk rows: pass ``chunks`` (``nbstream.chunks(...)``);
    ``nbstream.summarize`` passes the chunk tables its session still holds for those runs.
    """
    import pandas as pd

    if style not in ("vllm", "aiperf"):
        raise ValueError(f"unknown style {style!r}: use 'vllm' or 'aiperf'")
    if not isinstance(runs, pd.DataFrame) or "run_id" not in runs:
        raise TypeError("summarize() takes the DataFrame of nbstream.runs() (or a selection of its rows)")
    if runs.empty:  # no runs (a sweep over no rows): the counts 0, the statistics NaN
        runs = runs.reindex(columns=list(dict.fromkeys([*runs.columns, *_READS])))
    ok = runs[runs["status"].astype(str) == "done"]
    if chunks is None:
        chunks = record.empty_chunks()
    chunks = chunks[chunks["run_id"].isin(set(ok["run_id"]))]
    duration = _duration(runs)
    if style == "vllm":
        return _plain(_vllm(runs, ok, chunks, duration, percentiles))
    return _plain(_aiperf(runs, ok, chunks, duration))


def _plain(value: Any) -> Any:
    """numpy scalars -> Python ``float``/``int``, through nested dicts: the result prints
    as ``12.5``, not ``np.float64(12.5)``, and serializes as JSON."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, np.generic):
        return value.item()
    return value


def _vllm(runs: pd.DataFrame, ok: pd.DataFrame, chunks: pd.DataFrame, duration: float,
          percentiles: tuple[float, ...]) -> dict[str, Any]:
    n_out = ok["n_output_tokens"].astype("float64").fillna(0).to_numpy()
    n_in = ok["n_prompt_tokens"].astype("float64").fillna(0).to_numpy()
    ttft = ok["t_first_chunk_s"].to_numpy(dtype=float)
    e2el = ok["t_last_chunk_s"].to_numpy(dtype=float)
    multi = n_out > 1
    tpot = (e2el[multi] - ttft[multi]) / (n_out[multi] - 1)
    itl = _pooled_gaps(chunks, "has_choices")
    out: dict[str, Any] = {
        "completed": int(len(ok)),
        "failed": int(len(runs) - len(ok)),
        "duration": duration,
        "total_input_tokens": int(n_in.sum()),
        "total_output_tokens": int(n_out.sum()),
        "request_throughput": len(ok) / duration if duration else np.nan,
        "output_throughput": n_out.sum() / duration if duration else np.nan,
        "total_token_throughput": (n_in.sum() + n_out.sum()) / duration if duration else np.nan,
    }
    for name, values in (("ttft", ttft), ("tpot", tpot), ("itl", itl), ("e2el", e2el)):
        values = values[~np.isnan(values)] * 1000
        out[f"mean_{name}_ms"] = float(values.mean()) if values.size else np.nan
        out[f"median_{name}_ms"] = float(np.median(values)) if values.size else np.nan
        out[f"std_{name}_ms"] = float(values.std(ddof=0)) if values.size else np.nan
        for p in percentiles:
            key = f"p{p:g}_{name}_ms"
            out[key] = float(np.percentile(values, p)) if values.size else np.nan
    return out


def _aiperf(runs: pd.DataFrame, ok: pd.DataFrame, chunks: pd.DataFrame, duration: float) -> dict[str, Any]:
    def col(name: str, scale: float = 1.0) -> np.ndarray:
        values = ok[name].astype("float64").to_numpy() * scale
        return values[~np.isnan(values)]

    tpot = col("tpot_s")
    per_request = {
        "time_to_first_token": ("ms", col("ttft_s", 1000)),
        "time_to_second_token": ("ms", col("ttst_s", 1000)),
        "time_to_first_output_token": ("ms", col("ttfo_s", 1000)),
        "request_latency": ("ms", col("e2el_s", 1000)),
        "decode_duration": ("ms", col("decode_s", 1000)),
        "inter_token_latency": ("ms", tpot * 1000),
        "inter_chunk_latency": ("ms", _pooled_gaps(chunks, "is_token") * 1000),
        "output_token_throughput_per_user": ("tokens/sec/user", 1 / tpot[tpot > 0]),
        "e2e_output_token_throughput": ("tokens/sec/user", col("output_tps")),
        "output_sequence_length": ("tokens", col("n_output_tokens")),
        "input_sequence_length": ("tokens", col("n_prompt_tokens")),
    }
    out: dict[str, Any] = {tag: {"unit": unit, **_aiperf_stats(values)}
                           for tag, (unit, values) in per_request.items()}
    total_out = float(col("n_output_tokens").sum())
    out["request_throughput"] = {"unit": "requests/sec", "avg": len(ok) / duration if duration else np.nan}
    out["output_token_throughput"] = {"unit": "tokens/sec", "avg": total_out / duration if duration else np.nan}
    out["benchmark_duration"] = {"unit": "sec", "avg": duration}
    out["request_count"] = {"unit": "requests", "avg": int(len(ok))}
    out["error_request_count"] = {"unit": "requests", "avg": int(len(runs) - len(ok))}
    return out


def _aiperf_stats(values: np.ndarray) -> dict[str, float]:
    if values.size == 0:
        return dict.fromkeys(_AIPERF_STATS, np.nan)
    pct = np.percentile(values, [1, 5, 10, 25, 50, 75, 90, 95, 99])
    stats = {"avg": float(values.mean()), "min": float(values.min()), "max": float(values.max()),
             "std": float(values.std(ddof=0))}
    stats.update({name: float(v) for name, v in zip(_AIPERF_STATS[4:], pct, strict=True)})
    return stats


def _pooled_gaps(chunks: pd.DataFrame, flag: str) -> np.ndarray:
    """Gaps between consecutive ``flag`` rows within each run, pooled over runs."""
    if chunks.empty:
        return np.array([], dtype=float)
    rows = chunks[chunks[flag].astype(bool)]
    gaps = rows.groupby("run_id", sort=False, observed=True)["t_recv_s"].diff().dropna()
    return gaps.to_numpy(dtype=float)


def _duration(runs: pd.DataFrame) -> float:
    """The batch's wall time: first request sent to last stream closed."""
    import pandas as pd

    if runs.empty:
        return float("nan")
    start = pd.to_datetime(runs["started_at"], utc=True)
    ends = start + pd.to_timedelta(runs["t_done_s"].astype("float64").fillna(0), unit="s")
    return (ends.max() - start.min()).total_seconds()
