"""The listening side of the demo endpoint: a stdlib ``ThreadingHTTPServer`` with a deep
backlog, TCP_NODELAY on every connection, the connections tracked so ``stop()`` can shut
them down, and the state every request handler reads (key, knob defaults, request log).
It knows nothing of the handler it runs, which ``serve()`` passes in."""

from __future__ import annotations

import socket
import sys
import threading
from http.server import ThreadingHTTPServer
from socketserver import BaseRequestHandler, TCPServer
from typing import Any

from ._log import RequestLogList

__all__ = ["DemoHTTPServer"]


class DemoHTTPServer(ThreadingHTTPServer):
    """ThreadingHTTPServer with a deep backlog, TCP_NODELAY, connection tracking and no noise."""

    daemon_threads = True
    request_queue_size = 1024
    allow_reuse_address = True

    def __init__(self, host: str, port: int, handler: type[BaseRequestHandler], *, api_key: str | None,
                 defaults: dict[str, Any]) -> None:
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.api_key = api_key
        self.defaults = defaults
        self.requests = RequestLogList()
        self.stopping = threading.Event()
        self._connections: dict[socket.socket, threading.Thread] = {}
        self._connections_lock = threading.Lock()
        super().__init__((host, port), handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind calls socket.getfqdn(), a DNS lookup this server never needs.
        TCPServer.server_bind(self)
        address = self.socket.getsockname()
        self.server_name, self.server_port = address[0], address[1]

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, address = super().get_request()
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock, address

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections[request] = threading.current_thread()
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self._connections_lock:
                self._connections.pop(request, None)

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], OSError):
            return  # a client that went away is not an error worth a traceback
        super().handle_error(request, client_address)

    def close_connections(self, timeout: float) -> None:
        """Shut down every open connection and wait (up to ``timeout``) for its thread."""
        with self._connections_lock:
            open_now = list(self._connections.items())
        for sock, _ in open_now:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for _, thread in open_now:
            thread.join(timeout)
