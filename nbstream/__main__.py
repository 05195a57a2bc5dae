"""The ``nbstream`` command.

``nbstream demo`` opens JupyterLab on the quickstart notebook, ready to run against the
embedded demo endpoint (no account, no key); ``nbstream demo --headless`` executes the
quickstart without a browser and prints each streamed answer with its timing summary.
``nbstream ask "prompt"`` (or just ``nbstream "prompt"``) streams one answer to the
terminal.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from ._render import terminal

QUICKSTART = "01-quickstart.ipynb"


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["demo"]:
        return _demo(argv[1:])
    if argv[:1] == ["ask"]:
        argv = argv[1:]
    return _ask(argv)


def _ask(argv: list[str]) -> int:
    from . import _api

    parser = argparse.ArgumentParser(prog="nbstream [ask]", description="Stream one answer to the terminal "
                                     "(the embedded demo endpoint when no key or base URL is configured).")
    parser.add_argument("prompt", nargs="?", default="Explain Server-Sent Events in one paragraph.",
                        help="the prompt (default: a question about SSE)")
    parser.add_argument("-m", "--model", help="model name (default: 'demo' on the embedded endpoint)")
    parser.add_argument("--base-url", help="OpenAI-compatible base URL, e.g. http://localhost:11434/v1")
    parser.add_argument("--api", choices=["chat", "responses", "ollama"], help="wire API (default chat)")
    parser.add_argument("-s", "--system", help="system prompt")
    args = parser.parse_args(argv)
    try:
        run = _api.stream(args.prompt, model=args.model, base_url=args.base_url, api=args.api,
                          system=args.system, display=True)
    except (ValueError, TypeError) as exc:
        parser.error(str(exc))
    return 0 if run.status == "done" else 1


def _demo(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="nbstream demo", description="Open the quickstart notebook in "
                                     "JupyterLab, ready to run offline against the embedded demo endpoint.")
    parser.add_argument("--headless", action="store_true",  # other options are passed to jupyter lab
                        help="no browser: execute the quickstart and print the answers and their timing")
    parser.add_argument("--notebooks", type=Path, help="folder of the teaching notebooks (default: found "
                        "next to the package or in the current folder)")
    args, lab_args = parser.parse_known_args(argv)  # the rest goes to jupyter lab (--no-browser, --port…)
    folder = args.notebooks or _find_notebooks()
    if folder is None or not (folder / QUICKSTART).exists():
        parser.error(f"cannot find notebooks/{QUICKSTART}: run this from a checkout of nbstream, or pass "
                     "--notebooks PATH")
    if args.headless:
        return _headless(folder / QUICKSTART)
    try:
        import jupyterlab  # noqa: F401
    except ImportError:
        parser.error("JupyterLab is not installed: pip install 'nbstream[lab]' (or use --headless)")
    if hasattr(os, "geteuid") and os.geteuid() == 0 and "--allow-root" not in lab_args:
        lab_args.append("--allow-root")  # containers and CI machines run as root; Lab refuses otherwise
    return subprocess.call([sys.executable, "-m", "jupyter", "lab", str(folder / QUICKSTART), *lab_args])


def _find_notebooks() -> Path | None:
    for candidate in (Path.cwd() / "notebooks", Path(__file__).resolve().parent.parent / "notebooks"):
        if candidate.is_dir():
            return candidate
    return None


def _headless(path: Path) -> int:
    """Run the notebook in a fresh kernel; print every stream's answer and status line."""
    try:
        import nbformat
        from nbclient import NotebookClient
    except ImportError:
        print("nbstream demo --headless needs nbclient: pip install 'nbstream[lab]'", file=sys.stderr)
        return 2
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
    os.environ.setdefault("NBSTREAM_LIVE", "0")  # no widgets without a browser
    print(f"Running {path.name} in a fresh kernel (offline, embedded demo endpoint)…\n", flush=True)
    client = NotebookClient(nb, timeout=120, kernel_name="python3", allow_errors=True,
                            resources={"metadata": {"path": str(path.parent)}})
    client.execute()
    failed = 0
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        for out in cell.outputs:
            meta = out.get("metadata", {}).get("nbstream") if out.get("output_type") == "display_data" else None
            if meta is not None:
                first = cell.source.splitlines()[0]
                print(f"── {first}")
                print(terminal(out["data"]["text/plain"].strip()) + "\n")
            elif out.get("output_type") == "error":
                failed += 1
                print(f"── error in cell: {cell.source.splitlines()[0]}\n{out['ename']}: {out['evalue']}\n")
    print("done" if not failed else f"{failed} cell(s) failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
