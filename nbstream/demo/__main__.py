"""``python -m nbstream.demo``: run the demo endpoint in the foreground until Ctrl-C."""

from __future__ import annotations

import argparse
import sys
import threading

from ._server import serve


def main(argv: list[str] | None = None) -> int:
    """Parse the options, serve, print the base URL, and stop cleanly on Ctrl-C."""
    parser = argparse.ArgumentParser(prog="python -m nbstream.demo",
                                     description="Serve the nbstream demo endpoint (OpenAI-compatible, offline).")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port to listen on (default 0: any free port)")
    parser.add_argument("--ttft", type=float, help="seconds to the first token (default 0.25)")
    parser.add_argument("--tps", type=float, help="tokens per second (default 60)")
    parser.add_argument("--jitter", type=float, help="random share of each gap, 0..1 (default 0.1)")
    parser.add_argument("--api-key", help="require 'Authorization: Bearer <key>' on every request")
    args = parser.parse_args(argv)
    knobs = {name: getattr(args, name) for name in ("ttft", "tps", "jitter") if getattr(args, name) is not None}
    try:
        server = serve(args.host, args.port, api_key=args.api_key, **knobs)
    except (OSError, ValueError) as exc:
        print(f"nbstream demo endpoint: cannot start: {exc}", file=sys.stderr)
        return 2
    print(f"nbstream demo endpoint: {server.base_url}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
