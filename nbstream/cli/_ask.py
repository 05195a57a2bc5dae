"""``nbstream ask`` and ``nbstream replay``: one answer streamed to the terminal through
the console view (which owns what reaches the terminal), with the options of ``%%stream``
that make sense outside a notebook."""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable
from pathlib import Path

from nbstream import _secrets
from nbstream import api as _api
from nbstream._params import parse_params
from nbstream.engine import config as _config
from nbstream.engine import replay as _replay
from nbstream.run import Run
from nbstream.session import get_session
from nbstream.wire import registry as _formats

DEMO_NOTICE = ("nbstream: no API key or base URL configured, so this uses the embedded demo endpoint "
               "(offline, canned answers). Set OPENAI_API_KEY / OPENAI_BASE_URL, or pass --base-url URL "
               "and -m MODEL, to talk to a real model.")
__all__ = ["add_ask", "add_replay", "ask", "replay", "DEMO_NOTICE"]

_EXIT = {"done": 0, "cancelled": 130}  # anything else (error, incomplete) is a failed run: 1


def add_ask(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ask", help="stream one answer to the terminal",
                       description="Stream one answer to the terminal. With no API key or base URL configured "
                                   "it asks the embedded demo endpoint (offline, no key). The key is read from "
                                   "OPENAI_API_KEY, never from the command line.")
    p.add_argument("prompt", nargs="?", help="the prompt (omitted: read from standard input when it is piped)")
    p.add_argument("-m", "--model", help="model name (default: NBSTREAM_MODEL, or 'demo' on the demo endpoint)")
    p.add_argument("--base-url", help="OpenAI-compatible base URL, e.g. http://localhost:11434/v1 "
                                      "(default: OPENAI_BASE_URL, else the embedded demo endpoint)")
    p.add_argument("--api", choices=_formats.requestable(), help="wire API (default chat)")
    p.add_argument("-s", "--system", help="system prompt")
    p.add_argument("-t", "--temperature", type=_number(0, "a number ≥ 0"), help="sampling temperature")
    p.add_argument("--max-tokens", type=_count, help="cap on generated tokens")
    p.add_argument("-p", "--param", action="append", metavar="KEY=VALUE",
                   help="any other request field; the value is read as JSON when it parses; dots nest "
                        "(-p seed=1 -p demo.tps=500)")
    p.add_argument("--record", metavar="FILE", type=Path,
                   help="save the raw timed events to FILE (JSONL) for nbstream replay")
    p.set_defaults(run=ask)


def add_replay(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("replay", help="re-stream a recording to the terminal (no network, no key)",
                       description="Re-stream a recording made with nbstream ask --record FILE "
                                   "(or %%stream --record, run.save) at its recorded pace.")
    p.add_argument("file", type=Path, help="the recording (JSONL)")
    p.add_argument("--speed", type=_number(0, "a number ≥ 0 (0: at once)"), default=1.0,
                   help="speed factor (default 1; 2 twice as fast; 0 at once)")
    p.set_defaults(run=replay)


def ask(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Stream the answer; the exit code says how the run ended."""
    prompt = args.prompt
    if prompt is None:
        if sys.stdin is None or sys.stdin.isatty():
            parser.error('give a prompt: nbstream ask "your question" (or pipe one in)')
        prompt = sys.stdin.read()
    if not prompt.strip():
        parser.error("the prompt is empty")
    if args.record is not None and not args.record.parent.is_dir():
        parser.error(f"--record: no folder {args.record.parent} to write {args.record.name} in")
    get_session().defaults.demo_notice = DEMO_NOTICE

    try:
        params = parse_params(args.param)  # the same -p KEY=VALUE reading as %%stream
        if args.temperature is not None:
            params["temperature"] = args.temperature
        if args.max_tokens is not None:
            params["max_tokens"] = args.max_tokens
        run = _api.stream(prompt, model=args.model, base_url=args.base_url, api=args.api, system=args.system,
                          display=True, **params)
    except _config.NoModelError as exc:
        parser.error(_secrets.redact(f"no model given for {exc.url}: pass -m MODEL (for example -m gpt-4o-mini) "
                                     "or set NBSTREAM_MODEL"))
    except (ValueError, TypeError) as exc:
        parser.error(_secrets.redact(str(exc)))
    if args.record is not None:
        try:
            _replay.save(run, args.record)
        except OSError as exc:
            print(f"nbstream ask: cannot write {args.record}: {exc.strerror}", file=sys.stderr)
            return 1
    return _exit_code(run)


def replay(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Re-stream the recording; a missing or malformed file is a failed run (1)."""
    if not args.file.is_file():
        print(f"nbstream replay: no recording at {args.file} (make one with: nbstream ask --record FILE "
              '"your prompt")', file=sys.stderr)
        return 1
    try:
        run = _api.replay(str(args.file), speed=args.speed, display=True)
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        print(f"nbstream replay: {exc}", file=sys.stderr)
        return 1
    return _exit_code(run)


def _exit_code(run: Run) -> int:
    return _EXIT.get(run.status, 1)


def _number(low: float, what: str) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not (math.isfinite(value) and value >= low):
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
        return value

    return parse


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number ≥ 1, got {text!r}")
    return value
