"""nbstream: streamed LLM answers and Server-Sent-Events feeds, live in a Jupyter cell,
recorded as data.

    run = nbstream.stream("Explain SSE in one paragraph")   # embedded demo by default
    run.text, run.usage, run.finish_reason, run.status

The layout follows the data: transport (``_http``) -> SSE (``sse``) -> protocol adapters
(``_adapters``) -> normalized events (``events``) -> the Run (``run``) -> views.
"""

from . import demo, errors, events, sse
from ._api import ashow, astream, show, stream
from ._config import config
from ._frames import chunks, runs
from ._summaries import summarize
from .run import Run, ToolCall

__version__ = "0.1.0"

__all__ = ["stream", "astream", "show", "ashow", "Run", "ToolCall", "runs", "chunks", "summarize", "config",
           "demo", "errors", "events", "sse", "__version__"]
