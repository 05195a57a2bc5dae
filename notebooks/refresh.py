"""Re-execute teaching notebooks in place, so their saved outputs are what nbval will
reproduce: ``python notebooks/refresh.py [notebooks/NN-name.ipynb ...]`` (default: all)."""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

HERE = Path(__file__).resolve().parent


def refresh(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=120, kernel_name="python3", record_timing=False, store_widget_state=False,
                   resources={"metadata": {"path": str(HERE)}}).execute()
    nbformat.write(nb, path)
    print(f"refreshed {path.name}")


if __name__ == "__main__":
    for name in sys.argv[1:] or sorted(p.name for p in HERE.glob("[0-9][0-9]-*.ipynb")):
        refresh(HERE / Path(name).name)
