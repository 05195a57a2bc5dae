"""The server object: a stdlib ``ThreadingHTTPServer`` (``_httpd``) on a daemon thread, and its handle.

Stdlib on purpose: no dependency, a thread per stream is plenty for a few hundred
concurrent streams, and blocking writes on a TCP_NODELAY socket let each write be
timestamped exactly when it leaves. ``stop()`` closes the listening socket, then shuts
down the open connections so their threads end promptly instead of lingering.
"""

from __future__ import annotations

import threading
from typing import Any

from ._handler import DemoHandler
from ._httpd import DemoHTTPServer
from ._log import RequestLogList
from ._scenarios import KNOB_HELP, check_knobs

__all__ = ["DemoServer", "serve"]


class DemoServer:
    """A running demo endpoint. Use ``base_url`` as an OpenAI ``base_url``; ``url`` for Ollama clients.

    ``requests`` is the thread-safe list of ``RequestLog`` records, one per request.
    Stop it with ``stop()`` or by using it as a context manager.
    """

    def __init__(self, httpd: DemoHTTPServer, host: str) -> None:
        self._httpd = httpd
        self.port: int = httpd.server_address[1]
        shown = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)
        self.host = shown
        netloc = f"[{shown}]" if ":" in shown else shown
        self.url = f"http://{netloc}:{self.port}"
        self.base_url = f"{self.url}/v1"
        self.requests: RequestLogList = httpd.requests
        self._stopped = False
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"nbstream-demo:{self.port}", daemon=True)
        self._thread.start()

    @property
    def running(self) -> bool:
        return not self._stopped

    def stop(self) -> None:
        """Stop serving: close the listening socket and the open connections. Idempotent."""
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
        self._httpd.stopping.set()
        self._httpd.shutdown()
        self._thread.join()
        self._httpd.server_close()
        self._httpd.close_connections(timeout=2.0)

    def __enter__(self) -> DemoServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<DemoServer {self.base_url} {state}, {len(self.requests)} requests>"


def serve(host: str = "127.0.0.1", port: int = 0, *, api_key: str | None = None, **defaults: Any) -> DemoServer:
    """Start the demo endpoint on a background thread and return at once, ready for requests.

    ``port=0`` picks a free port (see ``.port`` / ``.base_url``). With ``api_key`` set,
    requests must send ``Authorization: Bearer <api_key>``. ``defaults`` are knob values
    (ttft, tps, jitter, tokens_per_chunk, after, stall, keepalive, retry_after,
    reasoning_field, text) that scenario presets and the request's ``"demo"`` object override.
    """
    unknown = sorted(set(defaults) - set(KNOB_HELP))
    if unknown:
        raise TypeError(f"serve() got unknown knob(s) {', '.join(unknown)}; known knobs: {', '.join(KNOB_HELP)}")
    checked = check_knobs(defaults, "serve()")
    if api_key is not None and (not isinstance(api_key, str) or not api_key):
        raise ValueError("api_key must be a non-empty string (or None for no authentication)")
    httpd = DemoHTTPServer(host, port, DemoHandler, api_key=api_key, defaults=checked)
    return DemoServer(httpd, host)
