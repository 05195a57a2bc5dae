"""nbstream: streamed LLM answers and Server-Sent-Events feeds, live in a Jupyter cell,
recorded as data.

    run = nbstream.stream("Explain SSE in one paragraph")   # embedded demo by default
    run.text, run.usage, run.finish_reason, run.status

The layout follows the data: transport (``_http``) -> SSE (``sse``) -> protocol adapters
(``_adapters``) -> normalized events (``events``) -> the Run (``run``) -> views.
"""

from nbstream import demo, errors, events, sse
from nbstream.api import ashow, astream, replay, show, stream
from nbstream.engine.config import Settings
from nbstream.magic import load_ipython_extension, unload_ipython_extension
from nbstream.magic import register_in_running_shell as _register_magics
from nbstream.run import Run, ToolCall
from nbstream.session import Session, chunks, get_session, runs, summarize
from nbstream.views.plots import plot_run, plot_runs

__version__ = "0.1.0"

_register_magics()  # inside IPython, %%stream works after `import nbstream` alone

__all__ = [
    "stream", "astream", "show", "ashow", "replay", "Run", "ToolCall",
    "runs", "chunks", "summarize", "plot_run", "plot_runs",
    "config", "Session", "get_session", "demo", "errors", "events", "sse",
    "load_ipython_extension", "unload_ipython_extension", "__version__",
]


def __getattr__(name: str) -> Settings:
    """``nbstream.config``: the default session's settings (the session is made on first use)."""
    if name == "config":
        return get_session().settings
    raise AttributeError(f"module 'nbstream' has no attribute {name!r}")
