"""``-p KEY=VALUE`` request fields, read the same way by ``%%stream`` and ``nbstream ask``:
the value is JSON when it parses (else the text as is), and dots in the key nest
(``-p demo.tps=500`` is ``{"demo": {"tps": 500}}``)."""

from __future__ import annotations

import json
from typing import Any

__all__ = ["parse_params"]


def parse_params(items: list[str] | None) -> dict[str, Any]:
    """The request fields that ``items`` (``KEY=VALUE`` strings) spell; a ValueError names
    the first item that is not ``KEY=VALUE``."""
    params: dict[str, Any] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"-p takes KEY=VALUE, got {item!r}")
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            parsed = value
        *parents, leaf = key.split(".")
        target = params
        for parent in parents:
            target = target.setdefault(parent, {})
        target[leaf] = parsed
    return params
