"""``nbstream serve``: the embedded demo endpoint in the foreground until Ctrl-C (what
``python -m nbstream.demo`` does), for the openai SDK, curl or another notebook to use."""

from __future__ import annotations

import argparse
import sys
import threading
from collections.abc import Callable

__all__ = ["add_serve", "serve"]


def add_serve(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="run the embedded demo endpoint (OpenAI-compatible, offline)",
                       description="Serve the demo endpoint: OpenAI-compatible chat, responses and Ollama "
                                   "routes with canned answers at a chosen pace; no key, no network.")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=_port, default=0, help="port to listen on (default 0: any free port)")
    p.add_argument("--ttft", type=_knob("ttft"), help="seconds to the first token (default 0.25)")
    p.add_argument("--tps", type=_knob("tps"), help="tokens per second (default 60)")
    p.add_argument("--jitter", type=_knob("jitter"), help="random share of each gap, 0..1 (default 0.1)")
    p.add_argument("--api-key", help="require 'Authorization: Bearer <key>' on every request")
    p.set_defaults(run=serve)


def serve(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Start the server, print its base URL, and block until Ctrl-C (then exit 130)."""
    from nbstream import demo  # the demo server loads only for this command

    knobs = {name: getattr(args, name) for name in ("ttft", "tps", "jitter") if getattr(args, name) is not None}
    try:
        server = demo.serve(args.host, args.port, api_key=args.api_key, **knobs)
    except (TypeError, ValueError) as exc:
        parser.error(str(exc))
    except OSError as exc:
        print(f"nbstream serve: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    print(f"nbstream demo endpoint: {server.base_url}  (Ctrl-C stops it)", flush=True)
    try:
        threading.Event().wait()
    finally:
        server.stop()
    return 0  # not reached: only Ctrl-C (KeyboardInterrupt) or a signal ends the wait


def _knob(name: str) -> Callable[[str], float]:
    """A demo knob's value, checked by the demo endpoint's own rules."""
    def parse(text: str) -> float:
        from nbstream import demo  # the demo server loads only for this command

        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        try:
            return demo.check_knobs({name: value}, "nbstream serve")[name]
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return parse


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port number 0..65535, got {text!r}")
    return value
