"""``nbstream.runs()`` and ``nbstream.chunks()``: a session's runs as DataFrames."""

from __future__ import annotations

from typing import TYPE_CHECKING

from nbstream.data import record
from nbstream.run import Run

if TYPE_CHECKING:
    import pandas as pd

    from nbstream.data.history import History

__all__ = ["runs", "chunks"]


def runs(*selected: Run, history: History) -> pd.DataFrame:
    """One row per run: every finished run of ``history``, or just ``selected``
    (column definitions in :mod:`nbstream.data.record`)."""
    _check_runs("runs", selected)
    rows = [run.summary_row() for run in selected] if selected else history.rows()
    return record.frame(rows)


def chunks(*selected: Run, history: History) -> pd.DataFrame:
    """The chunk tables of ``selected`` (default: every run still kept whole), stacked."""
    import pandas as pd

    _check_runs("chunks", selected)
    # by default the runs that kept their rows (not those streamed with keep="summary")
    chosen = list(selected) if selected else [run for run in history.recent() if run.keep != "summary"]
    if not chosen:
        return record.empty_chunks()
    return pd.concat([run.chunks for run in chosen], ignore_index=True)


def _check_runs(name: str, selected: tuple) -> None:
    for item in selected:
        if not isinstance(item, Run):
            raise TypeError(f"nbstream.{name}() takes Run objects (or nothing, for every run), "
                            f"not {type(item).__name__}")
