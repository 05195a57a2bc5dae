"""Prompt templating that cannot break on code.

``{name}``, ``{obj.attr}``, ``{d["k"]}``, ``{xs[0]}`` (and chains of these) are filled
from the notebook's namespace — but only when the name exists there; every other brace
stays literal, so JSON, f-string text, dict comprehensions and TypeScript in a prompt
are safe. ``{{name}}`` stands for a literal ``{name}``; a lone ``{{`` or ``}}`` (the end
of nested JSON, say) stays as written. Nothing is ever ``eval``-ed:
attributes are read with ``getattr`` (no ``_private`` ones) and subscripts must be
literals. A field that names a function or method (``{text.upper}``: nothing calls it)
stays literal too: filled, it would be ``<built-in method upper … at 0x7f…>``, junk that
changes every process.
"""

from __future__ import annotations

import ast
import inspect
import re
from collections.abc import Mapping
from typing import Any

__all__ = ["fill"]

_FIELD = re.compile(r"\{\{([^{}]*)\}\}|\{([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z][A-Za-z0-9_]*|\[[^\[\]{}]+\])*)\}")
_STEP = re.compile(r"\.([A-Za-z][A-Za-z0-9_]*)|\[([^\[\]{}]+)\]")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_MISSING = object()


def fill(text: str, namespace: Mapping[str, Any]) -> str:
    """``text`` with every resolvable ``{field}`` replaced by ``str(value)``."""

    def replace(match: re.Match) -> str:
        escaped, expr = match.groups()
        if escaped is not None:
            return "{" + escaped + "}"
        value = _resolve(expr, namespace)
        return match.group(0) if value is _MISSING else str(value)

    return _FIELD.sub(replace, text)


def _resolve(expr: str, namespace: Mapping[str, Any]) -> Any:
    head = _NAME.match(expr)
    name = head.group(0) if head else ""
    if name not in namespace:
        return _MISSING
    value = namespace[name]
    for step in _STEP.finditer(expr, len(name)):
        attr, key = step.groups()
        try:
            value = getattr(value, attr) if attr is not None else value[ast.literal_eval(key)]
        except Exception:  # not resolvable: the braces stay as the user wrote them
            return _MISSING
    return _MISSING if inspect.isroutine(value) else value
