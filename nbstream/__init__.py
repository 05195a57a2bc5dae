"""nbstream: streamed LLM answers and Server-Sent-Events feeds, live in a Jupyter cell,
recorded as data.

    run = nbstream.stream("Explain SSE in one paragraph")   # embedded demo by default
    run.text, run.usage, run.finish_reason, run.status

The layout follows the data: bytes -> ``wire`` (SSE/NDJSON framing, one adapter per wire
format) -> normalized ``events`` -> the ``run`` -> ``engine`` (HTTP, the I/O loop, the pump)
and ``data`` (DataFrames) -> ``views`` -> ``api`` -> ``magic`` and ``cli``. IPython, the demo
server, matplotlib and pandas load when first used, not on ``import nbstream``.
"""

import sys as _sys
import types as _types
import typing as _typing

from nbstream import errors, events, sse
from nbstream._version import __version__
from nbstream.api import ashow, astream, models, replay, show, stream
from nbstream.engine.config import Settings as _Settings
from nbstream.run import Run, ToolCall
from nbstream.session import Session, chunks, get_session, runs, summarize
from nbstream.sweeps import asweep, sweep
from nbstream.views.plots import plot_run, plot_runs

__all__ = [
    "stream", "astream", "show", "ashow", "replay", "sweep", "asweep", "models", "Run", "ToolCall",
    "runs", "chunks", "summarize", "plot_run", "plot_runs",
    "config", "Session", "get_session", "demo", "errors", "events", "sse",
    "load_ipython_extension", "unload_ipython_extension", "__version__",
]


def load_ipython_extension(shell: _typing.Any) -> None:
    """``%load_ext nbstream``: register ``%%stream``, ``%stream_config`` and ``%stream_reset``."""
    from nbstream import magic  # IPython loads with the magics, never on `import nbstream` alone

    magic.load_ipython_extension(shell)


def unload_ipython_extension(shell: _typing.Any) -> None:
    """``%unload_ext nbstream``: stop rewriting ``%%stream`` cells into awaited runs."""
    from nbstream import magic

    magic.unload_ipython_extension(shell)


def __getattr__(name: str) -> _types.ModuleType | _Settings:
    """``nbstream.config`` is the default session's settings (the session is made on first
    use); ``nbstream.demo``, the embedded demo server, is imported on first use."""
    if name == "config":
        return get_session().settings
    if name == "demo":
        import nbstream.demo as demo

        return demo
    raise AttributeError(f"module 'nbstream' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), "demo", "config"})


if "IPython" in _sys.modules:  # inside IPython, %%stream works after `import nbstream` alone
    from nbstream.magic import register_in_running_shell

    register_in_running_shell()
    del register_in_running_shell
