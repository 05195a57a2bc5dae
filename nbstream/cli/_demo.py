"""``nbstream demo``: JupyterLab on ``notebooks/01-quickstart.ipynb``, ready to run against
the embedded demo endpoint — or, with ``--headless``, the quickstart executed in a kernel
and its answers printed.

JupyterLab runs as a child in its own process group, so a terminal's Ctrl-C reaches it
once (through us) and ``kill <nbstream pid>`` does not orphan it: SIGINT, SIGTERM and
SIGHUP are passed on to the group, and we wait for it to shut down. One Ctrl-C stops it,
without Jupyter's "Shutdown this server (y/[n])?" prompt (its standard input is not the
terminal: a background process group reading the terminal would be stopped by SIGTTIN).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from pathlib import Path
from types import FrameType

from nbstream.views.render import terminal

__all__ = ["add_demo", "split_passthrough", "demo", "run_lab"]

QUICKSTART = "01-quickstart.ipynb"
FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def add_demo(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="open the quickstart notebook in JupyterLab (offline demo endpoint)",
                       description="Open notebooks/01-quickstart.ipynb in JupyterLab, ready to run against the "
                                   "embedded demo endpoint (no account, no key, no network).",
                       epilog="Options for JupyterLab itself go after --, e.g. nbstream demo -- --ip=0.0.0.0")
    p.add_argument("--headless", action="store_true",
                   help="no JupyterLab: execute the quickstart in a kernel and print each answer and its timing")
    p.add_argument("--no-browser", action="store_true", help="do not open a browser; print the notebook's URL")
    p.add_argument("--port", type=int,
                   help="port for JupyterLab (default 8888, or the next free one; 0: any free port)")
    p.add_argument("--notebooks", type=Path, help="folder of the teaching notebooks (default: notebooks/ "
                                                  "in the current folder or next to the package)")
    p.set_defaults(run=demo)


def split_passthrough(argv: list[str]) -> tuple[list[str], list[str]]:
    """``demo`` options before the first ``--``; what follows goes to JupyterLab unchanged."""
    if "--" in argv:
        i = argv.index("--")
        return argv[:i], argv[i + 1:]
    return argv, []


def demo(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    folder = args.notebooks or _find_notebooks()
    if folder is None or not (folder / QUICKSTART).is_file():
        parser.error(f"cannot find notebooks/{QUICKSTART}: run this from a checkout of nbstream, or pass "
                     "--notebooks PATH")
    folder = folder.resolve()
    if args.headless:
        if args.no_browser or args.port is not None or args.passthrough:
            parser.error("--headless starts no JupyterLab: it takes no --no-browser, --port or options after --")
        return _headless(folder / QUICKSTART)
    if args.port is not None and not 0 <= args.port <= 65535:
        parser.error(f"--port: expected 0..65535 (0: any free port), got {args.port}")
    try:
        import jupyterlab  # noqa: F401
    except ImportError:
        parser.error("JupyterLab is not installed: pip install -e \".[lab]\" (or use --headless)")
    return run_lab(_lab_command(folder, args))


def _lab_command(folder: Path, args: argparse.Namespace) -> list[str]:
    """``python -m jupyterlab`` rooted at the notebooks' parent, its default URL the quickstart
    (so the browser — or the URL printed with --no-browser — opens it, not the launcher)."""
    cmd = [sys.executable, "-m", "jupyterlab", f"--ServerApp.root_dir={folder.parent}",
           f"--LabApp.default_url=/lab/tree/{folder.name}/{QUICKSTART}"]
    if args.no_browser:
        cmd.append("--no-browser")
    if args.port is not None:
        cmd.append(f"--port={args.port}")
    if hasattr(os, "geteuid") and os.geteuid() == 0 and "--allow-root" not in args.passthrough:
        cmd.append("--allow-root")  # containers and CI machines run as root; Lab refuses otherwise
    return cmd + args.passthrough


def run_lab(cmd: list[str]) -> int:
    """Run ``cmd`` in its own process group and wait for it. The first SIGINT, SIGTERM or
    SIGHUP becomes a SIGTERM to the group — Jupyter's clean shutdown, which also stops its
    kernels (left alone, SIGHUP would kill the server and orphan them); a second one is a
    SIGKILL. The exit code is 128 + the first signal received, else JupyterLab's own."""
    received: list[int] = []
    child: list[subprocess.Popen] = []

    def forward(signum: int, frame: FrameType | None) -> None:
        received.append(signum)
        if child:
            _signal_group(child[0], signal.SIGTERM if len(received) == 1 else signal.SIGKILL)

    previous = {sig: signal.signal(sig, forward) for sig in FORWARDED}
    try:
        child.append(subprocess.Popen(cmd, stdin=subprocess.DEVNULL, process_group=0))
        if received:  # a signal that came before the child existed
            _signal_group(child[0], signal.SIGTERM)
        code = child[0].wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if received:
        return 128 + received[0]
    return code if code >= 0 else 128 - code


def _signal_group(proc: subprocess.Popen, signum: int) -> None:
    try:
        os.killpg(proc.pid, signum)
    except ProcessLookupError:
        pass  # already gone


def _find_notebooks() -> Path | None:
    for candidate in (Path.cwd() / "notebooks", Path(__file__).resolve().parents[2] / "notebooks"):
        if candidate.is_dir():
            return candidate
    return None


def _headless(path: Path) -> int:
    """Run the notebook in a fresh kernel; print every stream's answer and status line."""
    try:
        import nbformat
        from nbclient import NotebookClient
    except ImportError:
        print("nbstream demo --headless needs nbclient: pip install -e \".[lab]\"", file=sys.stderr)
        return 1
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
                print(terminal(f"── {cell.source.splitlines()[0]}"))
                print(terminal(out["data"]["text/plain"].strip()) + "\n")
            elif out.get("output_type") == "error":
                failed += 1
                first_line = cell.source.splitlines()[0]
                print(terminal(f"── error in cell: {first_line}\n{out['ename']}: {out['evalue']}") + "\n")
    print("done" if not failed else f"{failed} cell(s) failed")
    return 1 if failed else 0
