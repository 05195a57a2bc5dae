"""nbstream: streamed LLM answers and Server-Sent-Events feeds, live in a Jupyter cell,
recorded as data.

    run = nbstream.stream("Explain SSE in one paragraph")   # embedded demo by default
    run.text, run.usage, run.finish_reason, run.status

The layout follows the data: transport (``_http``) -> SSE (``sse``) -> protocol adapters
(``_adapters``) -> normalized events (``events``) -> the Run (``run``) -> views.
"""

from . import demo, errors, events, sse
from ._api import ashow, astream, replay, show, stream
from ._config import config
from ._frames import chunks, runs
from ._summaries import summarize
from .magic import load_ipython_extension, unload_ipython_extension
from .magic import register_in_running_shell as _register_magics
from .plots import plot_run, plot_runs
from .run import Run, ToolCall

__version__ = "0.1.0"

_register_magics()  # inside IPython, %%stream works after `import nbstream` alone

__all__ = [
    "stream", "astream", "show", "ashow", "replay", "Run", "ToolCall",
    "runs", "chunks", "summarize", "plot_run", "plot_runs",
    "config", "demo", "errors", "events", "sse",
    "load_ipython_extension", "unload_ipython_extension", "__version__",
]
