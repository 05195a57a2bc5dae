"""``nbstream "your prompt"``: stream one answer to the terminal (the embedded demo
endpoint when no key or base URL is configured), then print its status line."""

from __future__ import annotations

import argparse
import sys

from . import _api


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="nbstream", description=__doc__)
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


if __name__ == "__main__":
    sys.exit(main())
