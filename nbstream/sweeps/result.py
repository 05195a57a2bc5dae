"""The sweep's result: one tidy row per answered plan row.

Columns: the input row's columns (its index is the frame's index), ``model``, one column
per swept parameter, ``text``, the parsed JSON fields (with ``response_format``: the
schema's properties in its order, then any other field the answers had, in first-seen
order), then ``status``, ``finish_reason``, ``error``, ``ttft_s``, ``e2el_s``,
``output_tps``, the four token counts, ``cost_usd``, ``attempts``, ``cached`` and
``run_id`` — in this order and with the same dtypes whichever rows ended, none included
(a sweep over no rows is the empty table with every column: a Dask ``meta``).
Rows answered from the cache carry no timing (nothing was measured now).
``df.attrs["runs"]`` maps run ids to the Runs still held (the last ``keep_runs``).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from nbstream.run import Run
from nbstream.sweeps.plan import RESULT_COLUMNS
from nbstream.sweeps.runner import Job, Outcome
from nbstream.wire import structured as _structured

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["INVALID", "FieldNames", "RunIndex", "row", "schema_fields", "table"]

#: a row's status when its answer ended but is not the JSON ``response_format`` asked for
INVALID = "invalid"

_TIMING = ("ttft_s", "e2el_s", "output_tps")
#: the columns after the parsed fields, in order (the result columns after ``model`` and ``text``)
_TAIL = RESULT_COLUMNS[RESULT_COLUMNS.index("text") + 1:]
#: the result's dtypes, the same for an empty table as for a full one (counts: nullable integers)
_DTYPES = {**dict.fromkeys(_TIMING, "float64"), **dict.fromkeys(("input_tokens", "output_tokens",
           "reasoning_tokens", "cached_tokens"), "Int64"), "cost_usd": "Float64", "attempts": "int64",
           "cached": "bool"}
_TOKENS = {"input_tokens": "n_prompt_tokens", "output_tokens": "n_output_tokens",
           "reasoning_tokens": "n_reasoning_tokens", "cached_tokens": "n_cached_prompt_tokens"}


class RunIndex(Mapping[str, Run]):
    """The Runs behind a result, by ``run_id``, holding at most ``keep`` (the newest);
    shared, not copied, when pandas copies ``attrs``."""

    def __init__(self, keep: int | None) -> None:
        self.keep = keep
        self._runs: OrderedDict[str, Run] = OrderedDict()

    def add(self, run: Run) -> None:
        self._runs[run.run_id] = run
        while self.keep is not None and len(self._runs) > self.keep:
            self._runs.popitem(last=False)

    def __getitem__(self, run_id: str) -> Run:
        return self._runs[run_id]

    def __iter__(self) -> Iterator[str]:
        return iter(self._runs)

    def __len__(self) -> int:
        return len(self._runs)

    def __deepcopy__(self, memo: dict[int, Any]) -> RunIndex:
        return self

    def __repr__(self) -> str:
        return f"<nbstream sweep runs: {len(self)} held>"


def _number(value: Any) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else math.nan


class FieldNames:
    """The column of each parsed JSON field: a field named like another column (an input
    column, ``model``, a swept parameter, a result column, an earlier field's column) gets
    ``json_`` in front until it names none, so no answer can shadow or duplicate a column.
    Decided once per table, from the schema's fields in its order, then the others in plan
    order (not in the order rows ended, nor in each answer's key order): the same sweep
    always puts a field in the same column."""

    def __init__(self, taken: Iterable[str], fields: Sequence[str] = ()) -> None:
        self._taken = {*taken, *RESULT_COLUMNS}
        self._columns: dict[str, str] = {}
        for name in fields:
            self.column(name)

    def column(self, field: str) -> str:
        name = self._columns.get(field)
        if name is None:
            name = field
            while name in self._taken:
                name = f"json_{name}"
            self._columns[field] = name
            self._taken.add(name)
        return name

    @property
    def columns(self) -> list[str]:
        """Every field's column, in the order placed."""
        return list(self._columns.values())


def row(job: Job, outcome: Outcome) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The result columns of one plan row (input columns and parsed fields excluded), and
    the fields of its JSON answer (placed in columns by :func:`table`)."""
    run = outcome.run
    out: dict[str, Any] = {"model": job.model, **job.swept}
    fields: dict[str, Any] | None = None
    if run is None:
        out.update(text="", status="error", finish_reason=None, error=outcome.error)
        out.update({name: math.nan for name in _TIMING})
        out.update({name: None for name in _TOKENS}, cost_usd=None)
    else:
        summary = run.summary_row()
        out.update(text=run.text)
        parsed = getattr(run, "json", None)
        if isinstance(parsed, dict):
            fields = {str(k): v for k, v in parsed.items()}
        # an answer that is not the JSON asked for (or fails its model) is that row's error and
        # status "invalid" (the text and whatever parsed stay; the Run itself stays "done")
        json_error = getattr(run, "json_error", None)
        error = summary.get("error") or json_error
        status = INVALID if run.status == "done" and json_error is not None else run.status
        out.update(status=status, finish_reason=run.finish_reason, error=error)
        out.update({name: math.nan if outcome.cached else _number(summary.get(name)) for name in _TIMING})
        out.update({name: summary.get(source) for name, source in _TOKENS.items()})
        out["cost_usd"] = summary.get("cost_usd")
    out.update(attempts=outcome.attempts, cached=outcome.cached, run_id=run.run_id if run else None)
    return out, fields


def schema_fields(response_format: Any) -> list[str]:
    """The properties a ``response_format`` schema names, in its order (none in JSON mode)."""
    spec = _structured.normalize(response_format)
    properties = spec.schema.get("properties") if spec is not None and spec.schema is not None else None
    return [str(name) for name in properties] if isinstance(properties, dict) else []


def table(data: pd.DataFrame, plan: pd.DataFrame, rows: list[dict[str, Any] | None],
          parsed: list[dict[str, Any] | None], runs: RunIndex, *, params: Sequence[str] = (),
          fields: Sequence[str] = ()) -> pd.DataFrame:
    """The result frame: input columns (and index) first, then ``model``, the swept
    ``params``, ``text``, the ``parsed`` JSON fields (the schema's ``fields`` first), then
    the status, timing and token columns — every one of them however many rows ended
    (none: an empty table that still pivots). ``rows`` and ``parsed`` are in plan order."""
    import pandas as pd

    names = FieldNames([*(str(c) for c in data.columns), *params], fields)
    done = [i for i, r in enumerate(rows) if r is not None]
    positions = plan["row"].to_numpy()[done] if done else []
    inputs = data.iloc[positions]
    answered = [{**values, **{names.column(k): v for k, v in (more or {}).items()}}
                for values, more in zip(rows, parsed, strict=True) if values is not None]
    columns = ["model", *params, "text", *names.columns, *_TAIL]
    body = pd.DataFrame(answered, columns=columns)
    for name, dtype in _DTYPES.items():
        body[name] = body[name].astype(dtype)
    frame = pd.concat([inputs.reset_index(drop=True), body], axis=1)
    frame.index = inputs.index
    frame.attrs["runs"] = runs
    return frame
