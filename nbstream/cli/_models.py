"""``nbstream models``: each configured provider's models and the aliases, one line each,
as ``nbstream.models()`` lists them; a provider that failed says why on its line."""

from __future__ import annotations

import argparse
from typing import Any

from nbstream import api as _api
from nbstream.views.render import terminal

__all__ = ["add_models", "lines", "models"]


def add_models(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("models", help="list each configured provider's models and the aliases",
                       description="List the models of every configured provider (OpenAI-compatible, Anthropic, "
                                   "Gemini, Ollama: those whose key or server variable is set; the demo endpoint "
                                   "when none is) from its models endpoint, then the aliases.")
    p.set_defaults(run=models)


def _cell(value: Any) -> str:
    if value is None or value != value:  # value != value: NaN
        return ""
    return " ".join(terminal(str(value)).split())  # one line: a newline in a server's text is a space


def lines(rows: list[dict[str, Any]]) -> list[str]:
    """One line per row: ``provider  model  display name``; ``alias  NAME -> TARGET``;
    ``provider  error: why`` (server text made safe for a terminal)."""
    width = max((len(_cell(r["provider"])) for r in rows), default=0)
    out = []
    for r in rows:
        head = _cell(r["provider"]).ljust(width)
        if _cell(r.get("error")):
            out.append(f"{head}  error: {_cell(r['error'])} ({_cell(r.get('base_url'))})")
        elif _cell(r.get("alias_for")):
            out.append(f"{head}  {_cell(r['model'])} -> {_cell(r['alias_for'])}")
        else:
            name = _cell(r.get("display_name"))
            out.append(f"{head}  {_cell(r['model'])}" + (f"  ({name})" if name and name != r["model"] else ""))
    return out


def models(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Print the listing; exit 1 when every provider failed."""
    table = _api.models()
    rows = table.to_dict("records")
    for line in lines(rows):
        print(line)
    providers = [r for r in rows if r["provider"] != "alias"]
    return 1 if providers and all(_cell(r.get("error")) for r in providers) else 0
