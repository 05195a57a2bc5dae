"""Timed writes to one client socket: deadlines, keep-alive comments, disconnect detection.

Waiting polls the socket rather than sleeping blindly: a client that closes its end
makes the socket readable with EOF, so a cancel is seen (and logged) at once, even
during a long pause, instead of at the next write. The last couple of milliseconds
before a deadline are slept, since ``poll`` only has millisecond resolution. Every
event is one chunk of the chunked body, sent with a single ``sendall``; the time is
taken just before it.
"""

from __future__ import annotations

import select
import socket
import threading
import time
from time import perf_counter_ns

from ._log import RequestLog
from ._wire import KEEPALIVE

__all__ = ["ClientGone", "SocketWriter"]

_SLEEP_BELOW_NS = 2_000_000
_GONE_FLAGS = select.POLLHUP | select.POLLERR | select.POLLNVAL


class ClientGone(Exception):
    """The client closed the connection (or the server is stopping)."""


class SocketWriter:
    """Writes one response's events at their deadlines and records each write."""

    def __init__(self, sock: socket.socket, log: RequestLog, *, keepalive: float = 0.0,
                 stopping: threading.Event | None = None) -> None:
        self.sock = sock
        self.log = log
        self.keepalive_ns = int(keepalive * 1e9)
        self.stopping = stopping or threading.Event()
        self.last_write_ns = perf_counter_ns()
        self._poller: select.poll | None = select.poll()
        self._poller.register(sock, select.POLLIN | select.POLLPRI)

    # -- waiting -------------------------------------------------------------------------

    def wait_until(self, at: float) -> None:
        """Wait until ``at`` seconds after the request start, sending keep-alives if asked."""
        deadline = self.log.t_start_ns + int(at * 1e9)
        while self.keepalive_ns:
            due = self.last_write_ns + self.keepalive_ns
            if due >= deadline:
                break
            self._sleep_until(due)
            self.write_chunk(KEEPALIVE, "comment", 0)
        self._sleep_until(deadline)

    def _sleep_until(self, deadline: int) -> None:
        while True:
            if self.stopping.is_set():
                raise ClientGone("server stopping")
            remaining = deadline - perf_counter_ns()
            if remaining <= 0:
                return
            if self._poller is not None and remaining > _SLEEP_BELOW_NS:
                ready = self._poller.poll((remaining - _SLEEP_BELOW_NS // 2) / 1e6)
                if ready and self._peer_closed(ready[0][1]):
                    self._gone()
                continue
            time.sleep(remaining / 1e9)

    def _peer_closed(self, flags: int) -> bool:
        if flags & _GONE_FLAGS:
            return True
        try:
            data = self.sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
        except BlockingIOError:
            return False
        except OSError:
            return True
        if data:  # the client sent more (a pipelined request): stop polling, just sleep
            self._poller = None
            return False
        return True

    def _gone(self) -> None:
        if not self.stopping.is_set() and self.log.disconnected_ns is None:
            self.log.disconnected_ns = perf_counter_ns()
        raise ClientGone("client disconnected")

    # -- writing -------------------------------------------------------------------------

    def write_chunk(self, data: bytes, kind: str, n: int, *, last: bool = False) -> None:
        """Send ``data`` as one chunk (plus the terminating chunk if ``last``) and log it."""
        frame = b"%x\r\n%s\r\n" % (len(data), data)
        if last:
            frame += b"0\r\n\r\n"
        self.write_raw(frame, kind, n)

    def write_raw(self, frame: bytes, kind: str, n: int) -> None:
        """Send bytes as they are and log the write; raises ``ClientGone`` if the client left."""
        t = perf_counter_ns()
        self.log.writes.append((t, kind, n))  # before sending: whoever got the bytes sees the record
        try:
            self.sock.sendall(frame)
        except OSError:
            self.log.writes.pop()
            self._gone()
        self.last_write_ns = t

    def abort(self) -> None:
        """Drop the connection at once, mid-response."""
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
