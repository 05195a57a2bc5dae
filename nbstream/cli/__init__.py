"""The ``nbstream`` command: one argparse parser with a subcommand per job.

``ask`` streams one answer to the terminal, ``demo`` opens JupyterLab on the quickstart,
``serve`` runs the embedded demo endpoint, ``replay`` re-streams a recording, ``models``
lists the configured providers' models. A quoted
prompt with a space in it (``nbstream "explain SSE"``) is short for ``nbstream ask`` —
the default command of tools like ``llm`` — while a single unknown word is an error with
a "did you mean" hint, so a typo never becomes a prompt. Exit codes: 0 ok, 1 a failed run,
2 a usage error, 130 after Ctrl-C.
"""

from __future__ import annotations

import argparse
import difflib
import os
import shlex
import sys
from collections.abc import Callable

from nbstream._version import __version__
from nbstream.cli import _ask, _demo, _models, _serve

__all__ = ["main"]

COMMANDS: dict[str, Callable[[argparse._SubParsersAction], None]] = {
    "ask": _ask.add_ask, "demo": _demo.add_demo, "serve": _serve.add_serve, "replay": _ask.add_replay,
    "models": _models.add_models,
}
INTERRUPTED = 130


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv`` (default ``sys.argv[1:]``), run the subcommand, return its exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser, subparsers = _parser()
    if not argv:
        parser.print_help(sys.stderr)
        return 2
    head = argv[0]
    if head not in subparsers and not head.startswith("-"):
        if any(ch.isspace() for ch in head.strip()):
            argv = ["ask", *argv]  # nbstream "a prompt" = nbstream ask "a prompt"
        else:
            parser.error(_unknown(head))
    if argv[0] == "demo":
        argv, passthrough = _demo.split_passthrough(argv)
    else:
        passthrough = []
    args, extra = parser.parse_known_args(argv)
    command = subparsers[args.command]
    if extra:
        hint = " (options for JupyterLab go after --: nbstream demo -- --ip=0.0.0.0)" if args.command == "demo" else ""
        command.error(f"unrecognized arguments: {' '.join(extra)}{hint}")
    args.passthrough = passthrough
    try:
        return int(args.run(args, command))
    except KeyboardInterrupt:
        print(file=sys.stderr)
        return INTERRUPTED
    except BrokenPipeError:  # nbstream ask … | head: the reader left; no traceback (Python's recipe)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


def _parser() -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    parser = argparse.ArgumentParser(
        prog="nbstream",
        description="Stream LLM answers and Server-Sent-Events feeds, live and recorded as data.",
        epilog='A quoted prompt works without "ask": nbstream "explain SSE in one paragraph". '
               "Run nbstream COMMAND --help for a command's options.")
    parser.add_argument("--version", action="version", version=f"nbstream {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands", required=True)
    for add in COMMANDS.values():
        add(sub)
    return parser, dict(sub.choices)


def _unknown(word: str) -> str:
    close = difflib.get_close_matches(word, list(COMMANDS), n=1, cutoff=0.6)
    if close:
        return f"unknown command {word!r} (did you mean {close[0]}?)"
    return (f"unknown command {word!r}: commands are {', '.join(COMMANDS)} "
            f"(to send it as a prompt: nbstream ask {shlex.quote(word)})")

