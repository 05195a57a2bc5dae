"""Pick the view for where the code runs: the live notebook view inside a Jupyter
kernel, plain text on stdout in terminals and scripts."""

from __future__ import annotations

from typing import Any

from nbstream.run import Run
from nbstream.views import console as _console

__all__ = ["in_notebook", "attach"]


def in_notebook() -> bool:
    """True inside a Jupyter kernel (where display() reaches a front end)."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython is a dependency
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def attach(run: Run, **options: Any) -> Any:
    """Show ``run`` live where it is being watched; returns the view."""
    if in_notebook():
        from nbstream.views.live import NotebookView

        return NotebookView(run, **options).start()
    _console.attach(run)
    return None
