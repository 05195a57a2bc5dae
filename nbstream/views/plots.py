"""Pictures of the record: one run's timeline (``plot_run``) and many runs side by side
(``plot_runs``), drawn with matplotlib from ``run.chunks`` / ``run.summary`` and the
``nbstream.runs()`` frame.

matplotlib is optional (``pip install 'nbstream[plot]'``) and imported only when a plot
is asked for. Both functions return the Figure and never call ``plt.show()``. Under
Jupyter's inline backend the new figure is detached from pyplot, so the returned Figure
is displayed once (pyplot would otherwise show it again at the end of the cell). Colours
come from the active style's colour cycle (``C0``, ``C1``...), nothing sets rcParams.
"""

from __future__ import annotations

import math
import textwrap
from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np

from nbstream.run import Run
from nbstream.views import render as _render

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure, SubFigure

__all__ = ["plot_run", "plot_runs"]

_NEEDS_MPL = "plotting needs matplotlib: pip install 'nbstream[plot]'"

# token-bearing chunk kinds: (event_type values, legend name, colour)
_KINDS = (
    (("reasoning",), "reasoning", "C1"),
    (("content", "refusal", "error"), "answer", "C0"),
    (("tool_call",), "tool call", "C2"),
)
_NICE = {
    "ttft_s": "TTFT", "ttfo_s": "TTFO", "itl_mean_s": "mean ITL", "itl_p50_s": "median ITL",
    "itl_p99_s": "p99 ITL", "tpot_s": "TPOT", "e2el_s": "end-to-end latency", "decode_s": "decode time",
    "decode_tps": "decode speed", "output_tps": "output speed", "n_output_tokens": "output tokens",
}


# ---- one run -------------------------------------------------------------------------------
def plot_run(run: Run, ax: Axes | None = None) -> Figure | SubFigure:
    """A run's timeline: cumulative output tokens over time (reasoning and answer chunks
    in their own colours, TTFT / TTFO / end marked), and beside it the distribution of the
    gaps between token chunks (ITL) with p50, p99 and TPOT. With ``ax``, only the timeline
    is drawn, into that Axes (to compose grids); its figure is returned."""
    if not isinstance(run, Run):
        raise TypeError(f"plot_run needs an nbstream Run (what nbstream.stream returns), got {type(run).__name__}")
    plt = _pyplot()
    chunks, s = run.chunks, run.summary
    tokens = chunks[chunks["is_token"]]
    if ax is not None:
        _draw_timeline(ax, tokens, s)
        ax.set_title(_run_title(s, width=70), fontsize="medium")
        return ax.figure
    fig, (timeline, itl) = plt.subplots(1, 2, figsize=(12, 4.4), width_ratios=(1.7, 1), layout="constrained")
    _draw_timeline(timeline, tokens, s)
    timeline.set_title("output over time", fontsize="medium", loc="left")
    _draw_itl(itl, tokens, s)
    fig.suptitle(_run_title(s))
    return _detached(plt, fig)


def _draw_timeline(ax: Axes, tokens: pd.DataFrame, s: pd.Series) -> None:
    exact = bool(len(tokens)) and (tokens["n_tokens_source"] == "continuous_usage").all()
    t = tokens["t_recv_s"].to_numpy(dtype=float)
    if exact:
        cum = tokens["cum_tokens"].to_numpy(dtype=float, na_value=np.nan)
        ylabel = "cumulative output tokens\n(exact: continuous usage)"
    else:
        cum = np.cumsum(tokens["n_tokens_est"].to_numpy(dtype=float))
        ylabel = f"cumulative output tokens\n(estimated with {s.get('tokenizer') or 'a tokenizer'})"
    ax.set_xlabel("seconds since the request was sent")
    ax.set_ylabel(ylabel)
    if not len(tokens):
        _note(ax, _no_tokens_text(s), size="large")
        end = _num(s.get("t_done_s"))
        ax.set_xlim(0, end * 1.05 if end > 0 else 1.0)
        ax.set_ylim(0, 1)
        ax.set_yticks([])
        return
    ink = _ink()
    ax.step(t, cum, where="post", color=ink, alpha=0.45, lw=1, label="cumulative tokens", gid="cumulative")
    kinds = tokens["event_type"].astype(str).to_numpy()
    for values, name, colour in _KINDS:
        mask = np.isin(kinds, values)
        if mask.any():
            ax.plot(t[mask], cum[mask], ls="none", marker="o", ms=3, color=colour,
                    label=f"{name} chunks ({int(mask.sum())})", gid=f"chunks:{name}")
    ttft, ttfo, end = _num(s["ttft_s"]), _num(s["ttfo_s"]), _num(s["e2el_s"])
    ax.axvspan(0, ttft, color=ink, alpha=0.06, lw=0)
    ax.axvline(ttft, color="C3", ls="--", lw=1.2, label=f"TTFT {_time(ttft)}", gid="ttft")
    if not math.isnan(ttfo) and ttfo > ttft:
        ax.axvline(ttfo, color="C4", ls="-.", lw=1.2, label=f"TTFO {_time(ttfo)} (first answer)", gid="ttfo")
    ax.axvline(end, color=ink, ls=":", lw=1.2, label=f"end {_time(end)} (E2EL)", gid="end")
    ax.set_xlim(left=0)  # upper limits stay automatic, so shared axes in a user's grid keep working
    ax.set_ylim(bottom=0)
    ax.legend(loc="upper left", fontsize="small")


def _draw_itl(ax: Axes, tokens: pd.DataFrame, s: pd.Series) -> None:
    ms = tokens["itl_s"].dropna().to_numpy(dtype=float) * 1000
    ax.set_title("gaps between token chunks (ITL)", fontsize="medium", loc="left")
    ax.set_xlabel("inter-token latency, ms")
    ax.set_ylabel("chunks")
    if not ms.size:
        _note(ax, f"no inter-token gaps\n({len(tokens)} token chunk{'s' if len(tokens) != 1 else ''}; "
                  "gaps need two)")
        ax.set_xticks([])
        ax.set_yticks([])
        return
    positive = ms[ms > 0]
    log = ms.size == positive.size and positive.max() / positive.min() > 100
    bins = np.geomspace(positive.min(), positive.max(), 40).tolist() if log else min(40, max(5, ms.size // 4))
    lo, hi = float(ms.min()), float(ms.max())
    pad = max(abs(hi) * 0.05, 0.01) if hi - lo < 1e-6 * max(abs(hi), 1.0) else 0.0  # all gaps equal
    counts, _, _ = ax.hist(ms, bins=bins, range=None if log else (lo - pad, hi + pad), color="C0", alpha=0.6,
                           label=f"{ms.size} gaps", gid="itl")
    if log:
        ax.set_xscale("log")
    p50, p99 = np.percentile(ms, [50, 99])
    ax.axvline(p50, color=_ink(), ls="--", lw=1.2, label=f"p50 {_ms(p50)}", gid="p50")
    ax.axvline(p99, color=_ink(), ls=":", lw=1.2, label=f"p99 {_ms(p99)}", gid="p99")
    tail = ms[(ms > p99) & (ms > 2 * p50)]
    if tail.size:  # a lone stall is one count in a tall histogram: point at the slow gaps
        ax.plot(tail, np.full(tail.size, np.max(counts) * 0.04), ls="none", marker="v", ms=6, color="C3",
                label=f"slow gaps: {tail.size} > 2×p50 (max {_ms(float(tail.max()))})", gid="tail")
    tpot = _num(s["tpot_s"]) * 1000
    if not math.isnan(tpot):
        ax.axvline(tpot, color="C3", lw=1.5, label=f"TPOT {_ms(tpot)} (per token)", gid="tpot")
    per_chunk = _num(s["tokens_per_chunk"])
    note = f"≈{per_chunk:.1f} tokens per chunk:\na chunk is not a token" if per_chunk > 1.05 else None
    ax.set_ylim(0, float(np.max(counts)) * (1.7 if note else 1.5))  # headroom: the legend sits above the bars
    legend = ax.legend(loc="upper right", fontsize="small", title=note, title_fontsize="small")
    legend.set_gid("itl-legend")


def _run_title(s: pd.Series, width: int = 110) -> str:
    model = next((s[c] for c in ("model", "response_model") if c in s and not _missing(s[c])), "run")
    n = _num(s["n_output_tokens"])
    if not _num(s.get("n_token_chunks")) > 0 and not n > 0:
        count = "no tokens"
    elif s.get("n_output_tokens_exact"):
        count = f"{n:.0f} output tokens"
    else:
        count = f"≈{n:.0f} output tokens (estimated)"
    bits = [str(model), str(s["status"]), count]
    for col, what in (("output_tps", "output"), ("decode_tps", "decode")):
        if not math.isnan(_num(s.get(col))):
            bits.append(f"{_num(s[col]):.0f} tok/s {what}")
    title = textwrap.fill(" · ".join(bits), width)
    verdict = _verdict(s)
    title = f"{title}\n{textwrap.shorten(verdict, width, placeholder='…')}" if verdict else title
    return _render.plot_text(title)


def _verdict(s: pd.Series) -> str | None:
    status = str(s["status"])
    if status == "done":
        return None
    error = s.get("error")
    detail = "" if _missing(error) else f": {str(error).splitlines()[0]}"
    if status == "cancelled":
        end = _num(s.get("t_done_s"))
        when = f" after {_time(end)}" if not math.isnan(end) else ""
        text = f"CANCELLED{when}: stopped before the end, the partial answer is kept"
    elif status == "error":
        kind = "" if _missing(s.get("error_type")) else f" ({s['error_type']})"
        text = f"ERROR{kind}{detail}"
    elif status == "incomplete":
        text = f"INCOMPLETE{detail}" if detail else "INCOMPLETE: the stream ended before the server said it ended"
    else:
        text = f"{status.upper()}: still streaming, this is a snapshot"
    return textwrap.shorten(text, 110, placeholder="…")


def _no_tokens_text(s: pd.Series) -> str:
    error = s.get("error")
    if _missing(error):
        return "no tokens received"
    return "no tokens received\n\n" + textwrap.fill(textwrap.shorten(str(error), 300, placeholder="…"), 64)


# ---- many runs -----------------------------------------------------------------------------
def plot_runs(runs_df: pd.DataFrame, metrics: tuple[str, ...] | list[str] | str = ("ttft_s", "itl_mean_s",
              "decode_tps"), by: str = "model") -> Figure:
    """Compare runs (a ``nbstream.runs()`` frame): one panel per metric, runs grouped by the
    ``by`` column (or by row when it is missing or empty), each run a point and each group's
    median (of its done runs) a bar. Times (``*_s``) are shown in ms; runs whose status is not
    ``done`` are drawn hollow and counted in the legend."""
    import pandas as pd

    if not isinstance(runs_df, pd.DataFrame):
        raise TypeError(f"plot_runs needs a DataFrame such as nbstream.runs(), got {type(runs_df).__name__}")
    metrics = (metrics,) if isinstance(metrics, str) else tuple(metrics)
    if runs_df.empty:
        raise ValueError("plot_runs got no runs: stream something first, or pass nbstream.runs(run, ...)")
    numeric = [c for c in runs_df.columns if pd.api.types.is_numeric_dtype(runs_df[c])
               and not pd.api.types.is_bool_dtype(runs_df[c])]
    unknown = [m for m in metrics if m not in numeric]
    if unknown or not metrics:
        what = f"unknown metric(s) {', '.join(map(repr, unknown))}" if unknown else "no metrics given"
        raise ValueError(f"{what}; plot_runs draws numeric columns of the frame: {', '.join(numeric)}")
    plt = _pyplot()
    keys, xlabel = _group_keys(runs_df, by)
    order = list(dict.fromkeys(keys))
    done = (runs_df["status"].astype("string") == "done").fillna(False).to_numpy(dtype=bool) \
        if "status" in runs_df else np.ones(len(runs_df), dtype=bool)
    fig, axes = plt.subplots(1, len(metrics), figsize=(0.6 + 3.8 * len(metrics), 4.4), layout="constrained",
                             squeeze=False)
    for ax, metric in zip(axes[0], metrics, strict=True):
        _draw_metric(ax, runs_df, metric, keys, order, done, xlabel)
    _legend(fig, len(runs_df), int((~done).sum()))
    fig.suptitle(f"{len(runs_df)} run{'s' if len(runs_df) != 1 else ''} by {xlabel}")
    return _detached(plt, fig)


def _group_keys(df: pd.DataFrame, by: str) -> tuple[np.ndarray, str]:
    if by in df.columns and df[by].notna().any():
        col = df[by].astype(object)
        return (np.array(["(none)" if _missing(v) else _render.plot_text(v) for v in col], dtype=object),
                _render.plot_text(by))
    return np.array([f"run {i}" for i in df.index], dtype=object), "run"


def _draw_metric(ax: Axes, df: pd.DataFrame, metric: str, keys: np.ndarray, order: list[str],
                 done: np.ndarray, xlabel: str) -> None:
    scale, unit = _unit(metric)
    values = df[metric].to_numpy(dtype=float, na_value=np.nan) * scale
    for i, key in enumerate(order):
        colour = f"C{i % 10}"
        rows = np.flatnonzero(keys == key)
        xs = i + (np.linspace(-0.18, 0.18, rows.size) if rows.size > 1 else np.zeros(1))
        for ok, style, state in ((True, {"color": colour}, "done"),
                                 (False, {"mfc": "none", "mec": colour, "mew": 1.5}, "failed")):
            pick = (done[rows] == ok) & ~np.isnan(values[rows])
            if pick.any():
                ax.plot(xs[pick], values[rows][pick], ls="none", marker="o", ms=6, gid=f"runs:{key}:{state}",
                        **style)
        good = values[rows][done[rows] & ~np.isnan(values[rows])]
        if good.size:
            median = float(np.median(good))
            ax.plot([i - 0.32, i + 0.32], [median, median], color=colour, lw=2.5, alpha=0.8,
                    solid_capstyle="butt", gid=f"median:{key}")
            ax.annotate(f"{median:.3g}", (i + 0.34, median), va="center", fontsize="x-small", color=colour)
    counts = {key: int((keys == key).sum()) for key in order}
    ax.set_xticks(range(len(order)), [f"{key}\n({counts[key]} run{'s' if counts[key] != 1 else ''})"
                                      if xlabel != "run" else key for key in order])
    if len(order) > 4 or max(map(len, order)) > 14:
        ax.tick_params(axis="x", labelrotation=30)
    ax.set_xlim(-0.6, len(order) - 0.4 + 0.45)
    ax.set_title(f"{_NICE.get(metric, metric)}  [{metric}]", fontsize="medium")
    ax.set_ylabel(unit or metric)
    if np.nanmin(values, initial=0) >= 0:
        ax.set_ylim(bottom=0)
    ax.grid(axis="y", alpha=0.3)
    if np.isnan(values).all():
        _note(ax, "no values")


def _legend(fig: Figure, n_runs: int, n_failed: int) -> None:
    from matplotlib.lines import Line2D

    ink = _ink()
    handles = [Line2D([], [], ls="none", marker="o", color=ink, label=f"done ({n_runs - n_failed})"),
               Line2D([], [], ls="none", marker="o", mfc="none", mec=ink, mew=1.5,
                      label=f"not done: failed, cancelled… ({n_failed})"),
               Line2D([], [], color=ink, lw=2.5, label="median of done runs")]
    fig.legend(handles=handles, loc="outside lower center", ncols=3, fontsize="small", frameon=False)


def _unit(metric: str) -> tuple[float, str]:
    if metric.endswith("_s"):
        return 1000.0, "ms"
    if metric.endswith("_tps"):
        return 1.0, "tokens/s"
    return 1.0, ""


# ---- small helpers ------------------------------------------------------------------------
def _pyplot() -> ModuleType:
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError(_NEEDS_MPL) from exc
    return plt


def _detached(plt: ModuleType, fig: Figure) -> Figure:
    """Under Jupyter's inline backend, drop the new figure from pyplot's list: the cell's
    result displays it, and pyplot would display it a second time at the end of the cell."""
    import matplotlib

    if "inline" in str(matplotlib.get_backend()):
        plt.close(fig)
    return fig


def _ink() -> str:
    import matplotlib

    return matplotlib.rcParams["text.color"]


def _note(ax: Axes, text: str, size: str = "medium") -> None:
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", fontsize=size, wrap=True,
            gid="note")


def _num(value: Any) -> float:
    """A summary value as a float, NaN when missing (pd.NA, None)."""
    return math.nan if _missing(value) else float(value)


def _missing(value: Any) -> bool:
    import pandas as pd

    return value is None or (not isinstance(value, str) and bool(pd.isna(value)))


def _ms(value_ms: float) -> str:
    if value_ms >= 1000:
        return f"{value_ms / 1000:.2f} s"
    if value_ms >= 100:
        return f"{value_ms:.0f} ms"
    if value_ms >= 10:
        return f"{value_ms:.1f} ms"
    return f"{value_ms:.2f} ms"


def _time(seconds: float) -> str:
    return _ms(seconds * 1000)
