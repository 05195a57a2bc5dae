"""The public surface of ``nbstream`` is a decision, not an accident (as httpx checks its own):
``nbstream.__all__`` is exactly the list below, every name in it exists and says what it is,
and nothing else public is reachable from the package except its submodules."""

from __future__ import annotations

import inspect
import types

import pytest

import nbstream

PUBLIC = {
    "stream": "stream an answer (or an SSE feed) into a Run, shown live where the code runs",
    "astream": "the same, awaited on the caller's event loop",
    "show": "show a stream the caller already has (an SDK stream, an iterator of chunks or events)",
    "ashow": "the same for an async stream",
    "replay": "re-stream a recording offline",
    "sweep": "a prompt template over a DataFrame × models × parameters, as one tidy DataFrame",
    "asweep": "the same, awaited on the caller's event loop",
    "models": "each configured provider's models (and the aliases) as a DataFrame",
    "Run": "one stream's accumulated state: text, events, timing, outcome",
    "ToolCall": "one tool call assembled from its streamed fragments",
    "runs": "the session's runs as a DataFrame, one row per run",
    "chunks": "the chunk tables of runs, stacked",
    "summarize": "a set of runs aggregated the way vLLM bench serve or AIPerf do",
    "plot_run": "one run's timeline and ITL distribution",
    "plot_runs": "several runs compared",
    "config": "the user-settable defaults, checked on assignment",
    "Session": "what persists between calls: settings, history, clients, the I/O loop",
    "get_session": "the default session, created on first use",
    "demo": "the embedded OpenAI-compatible demo endpoint",
    "errors": "the exceptions a run can end with",
    "events": "the normalized event model",
    "sse": "the Server-Sent-Events decoder on its own",
    "load_ipython_extension": "%load_ext nbstream",
    "unload_ipython_extension": "%unload_ext nbstream",
    "__version__": "the package version",
}


def test_all_is_exactly_the_documented_public_names() -> None:
    assert len(nbstream.__all__) == len(set(nbstream.__all__))
    assert set(nbstream.__all__) == set(PUBLIC)


def test_every_exported_name_exists_and_has_a_docstring() -> None:
    undocumented = []
    for name in nbstream.__all__:
        value = getattr(nbstream, name)
        if name == "__version__":
            assert isinstance(value, str) and value
            continue
        doc = inspect.getdoc(value) if isinstance(value, (types.ModuleType, type)) or callable(value) \
            else inspect.getdoc(type(value))
        if not doc or not doc.strip():
            undocumented.append(name)
    assert undocumented == []


def test_nothing_public_is_exported_by_accident() -> None:
    """A public name of the package is in ``__all__`` or is one of its own submodules."""
    stray = [name for name, value in vars(nbstream).items()
             if not name.startswith("_") and name not in nbstream.__all__
             and not (isinstance(value, types.ModuleType) and value.__name__ == f"nbstream.{name}")]
    assert stray == []


def test_dir_lists_the_lazily_loaded_demo() -> None:
    assert set(nbstream.__all__) <= set(dir(nbstream))


def test_star_import_gives_the_public_names() -> None:
    namespace: dict[str, object] = {}
    exec("from nbstream import *", namespace)
    assert set(namespace) - {"__builtins__"} == set(PUBLIC)


def test_an_unknown_attribute_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="not_a_thing"):
        nbstream.not_a_thing  # noqa: B018
