"""The plan of a sweep: every (input row × model × parameter combination), as a DataFrame.

A plan row holds the input row's position (``row``), the ``model``, the parameter values
(one dict per row, ``params``) and the filled ``prompt``. Because it is a plain DataFrame
it can be split (``np.array_split``, Dask or Ray partitions) and each part swept on its
own; a shared cache folder makes the parts add up to one sweep.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from nbstream import _template

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["RESULT_COLUMNS", "check_json", "combinations", "inputs", "make", "template_fields"]

#: the columns a sweep's result adds after the input's own (an input column may not reuse one)
RESULT_COLUMNS = ("model", "text", "status", "finish_reason", "error", "ttft_s", "e2el_s", "output_tps",
                  "input_tokens", "output_tokens", "reasoning_tokens", "cached_tokens", "cost_usd",
                  "attempts", "cached", "run_id")

# a field as _template fills it: {name}, {name.attr}, {name["k"]} — the head is the column
_FIELD = re.compile(r"\{\{[^{}]*\}\}|\{([A-Za-z_][A-Za-z0-9_]*)(?:\.[A-Za-z][A-Za-z0-9_]*|\[[^\[\]{}]+\])*\}")


def template_fields(template: str) -> list[str]:
    """The names a template reads (``{{literal}}`` braces excluded), in order, once each."""
    return list(dict.fromkeys(m.group(1) for m in _FIELD.finditer(template) if m.group(1)))


def inputs(data: Any) -> pd.DataFrame:
    """``data`` as a DataFrame: a DataFrame as is, a Series as one column, a list of dicts
    as rows, a list of strings as the column ``input``."""
    import pandas as pd

    if isinstance(data, pd.DataFrame):
        frame = data
    elif isinstance(data, pd.Series):
        frame = data.to_frame(name=data.name if data.name is not None else "input")
    elif isinstance(data, Sequence) and not isinstance(data, (str, bytes)) \
            and all(isinstance(x, str) for x in data):
        frame = pd.DataFrame({"input": pd.Series(list(data), dtype=object)})
    elif isinstance(data, Sequence) and not isinstance(data, (str, bytes)) \
            and all(isinstance(x, Mapping) for x in data):
        frame = pd.DataFrame([dict(x) for x in data])
    else:
        raise TypeError(f"data must be a DataFrame, a list of dicts or a list of strings, "
                        f"not {type(data).__name__}; wrap it as pandas.DataFrame(...)")
    clash = [str(c) for c in frame.columns if c in RESULT_COLUMNS]
    if clash:
        raise ValueError(f"data has a column named {clash[0]!r}, which the result uses too; "
                         f"rename it (data.rename(columns={{{clash[0]!r}: 'input_{clash[0]}'}}))")
    return frame


def combinations(params: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """Every combination of ``params`` (a name -> a list of values, or one value);
    a list that is one value (``stop``) is written as a list in a list."""
    if params is None:
        return [{}]
    if not isinstance(params, Mapping) or not all(isinstance(k, str) for k in params):
        raise TypeError("params must be a dict like {'temperature': [0, 0.7]}")
    names = list(params)
    choices = [_values(v) for v in params.values()]
    empty = [n for n, c in zip(names, choices, strict=True) if not c]
    if empty:
        raise ValueError(f"params[{empty[0]!r}] is an empty list: give it at least one value")
    clash = [n for n in names if n in RESULT_COLUMNS or n in ("row", "prompt", "params")]
    if clash:
        raise ValueError(f"params may not be named {clash[0]!r}: that is a column of the result")
    for name, values in zip(names, choices, strict=True):
        for value in values:
            check_json(f"params[{name!r}]", value)
    return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*choices)]


def _values(value: Any) -> list[Any]:
    """One parameter's values: a list or tuple, a NumPy array or pandas Series (``df.x.unique()``),
    or one value; NumPy numbers become Python's (JSON has no ``int64``)."""
    if isinstance(value, (list, tuple, range)):
        return [_native(v) for v in value]
    if hasattr(value, "tolist") and getattr(value, "ndim", 0) == 1:
        return list(value.tolist())
    return [_native(value)]


def _native(value: Any) -> Any:
    return value.item() if type(value).__module__ == "numpy" and hasattr(value, "item") else value


def check_json(where: str, value: Any) -> None:
    """A one-line error, before anything is sent, for a request field JSON cannot carry
    (a NaN or an infinity from a DataFrame, a set, an object)."""
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        raise ValueError(f"{where} holds {value!r}, which a JSON request cannot carry: "
                         "give a number, string, bool, None, list or dict") from None


def _models(models: Any) -> list[str]:
    if isinstance(models, str):
        models = [models]
    if not isinstance(models, Sequence) or not all(isinstance(m, str) and m.strip() for m in models):
        raise TypeError("models must be a list of model names like ['demo', 'gpt-4o-mini']")
    if not models:
        raise ValueError("models is empty: name at least one, models=['demo']")
    return list(dict.fromkeys(models))


def make(template: str, data: Any, models: Any, params: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """The plan: one row per input row × model × parameter combination, prompts filled."""
    import pandas as pd

    if not isinstance(template, str) or not template.strip():
        raise TypeError("the template must be a non-empty string like 'Summarize: {text}'")
    frame = inputs(data)
    names = _models(models)
    combos = combinations(params)
    columns = {str(c): c for c in frame.columns}
    unknown = [f for f in template_fields(template) if f not in columns]
    if unknown:
        have = ", ".join(columns) or "none"
        raise ValueError(f"the template reads {{{unknown[0]}}} but data has no column {unknown[0]!r} "
                         f"(columns: {have}); write {{{{{unknown[0]}}}}} for a literal brace")
    accessed = [m for m in _FIELD.finditer(template) if m.group(1) and m.group(0) != f"{{{m.group(1)}}}"]
    if accessed:
        field, name = accessed[0].group(0), accessed[0].group(1)
        raise ValueError(f"the template reads {field}, but a sweep fills plain column names only: write "
                         f"{{{name}}} (make other values columns first: data.assign(...)), or {{{field}}} "
                         "for literal braces")
    shared = [n for n in (combos[0] if combos else {}) if n in columns]
    if shared:
        raise ValueError(f"params[{shared[0]!r}] is also a column of data: rename one of them")
    records = frame.to_dict("records")
    rows: list[dict[str, Any]] = []
    for position, record in enumerate(records):
        prompt = _template.fill(template, {str(k): v for k, v in record.items()})
        for model in names:
            for combo in combos:
                rows.append({"row": position, "model": model, "params": combo, "prompt": prompt})
    return pd.DataFrame(rows, columns=["row", "model", "params", "prompt"])
