"""nbstream: streamed LLM answers and Server-Sent-Events feeds, live in a Jupyter cell,
recorded as data.

    run = nbstream.stream("Explain SSE in one paragraph")   # embedded demo by default
    run.text, run.usage, run.finish_reason, run.status

The layout follows the data: transport (``_http``) -> SSE (``sse``) -> protocol adapters
(``_adapters``) -> normalized events (``events``) -> the Run (``run``) -> views.
"""

from nbstream import demo, errors, events, sse
from nbstream.api import ashow, astream, replay, show, stream
from nbstream.data.summaries import summarize
from nbstream.data.tables import chunks, runs
from nbstream.engine.config import config
from nbstream.magic import load_ipython_extension, unload_ipython_extension
from nbstream.magic import register_in_running_shell as _register_magics
from nbstream.run import Run, ToolCall
from nbstream.views.plots import plot_run, plot_runs

__version__ = "0.1.0"

_register_magics()  # inside IPython, %%stream works after `import nbstream` alone

__all__ = [
    "stream", "astream", "show", "ashow", "replay", "Run", "ToolCall",
    "runs", "chunks", "summarize", "plot_run", "plot_runs",
    "config", "demo", "errors", "events", "sse",
    "load_ipython_extension", "unload_ipython_extension", "__version__",
]
