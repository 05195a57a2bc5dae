"""The HTTP transport under nbstream's own requests (aiohttp underneath): proxies come
from HTTP_PROXY/HTTPS_PROXY/NO_PROXY, TLS is verified (against SSL_CERT_FILE when set),
many streams share one loop's pooled client, and clients of closed loops are let go."""

from __future__ import annotations

import asyncio
import base64
import json
import ssl
import subprocess
import threading
from http.server import ThreadingHTTPServer

import pytest

import nbstream
from nbstream import errors
from tests._servers import ScriptedServer, closed_port, sse_head

FAST = {"ttft": 0, "tps": 5000, "jitter": 0}


def _chat_answer(handler, _n) -> None:
    chunk = {"id": "c1", "object": "chat.completion.chunk", "model": "m",
             "choices": [{"index": 0, "delta": {"content": "via the proxy"}, "finish_reason": "stop"}]}
    handler.wfile.write(sse_head() + f"data: {json.dumps(chunk)}\n\ndata: [DONE]\n\n".encode())



@pytest.fixture
def no_proxy_env(monkeypatch):
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "http_proxy", "https_proxy",
                 "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_http_proxy_from_the_environment_carries_the_request(no_proxy_env, session):
    with ScriptedServer(_chat_answer) as proxy:
        no_proxy_env.setenv("HTTP_PROXY", proxy.url)
        run = nbstream.stream("hi", base_url="http://api.example.invalid/v1", model="m", api_key="k",
                              session=session)
    assert run.status == "done" and run.text == "via the proxy"
    assert proxy.requests and proxy.requests[0]["host"] == "api.example.invalid"


def test_a_socks_proxy_is_a_one_line_error_naming_the_way_out(no_proxy_env, session):
    no_proxy_env.setenv("ALL_PROXY", "socks5://user:pw-secret@127.0.0.1:1080")
    run = nbstream.stream("hi", base_url="http://api.example.invalid/v1", model="m", api_key="k",
                          session=session)
    assert isinstance(run.error, errors.ConnectError)
    assert "socks5:// proxy" in str(run.error) and "NO_PROXY" in str(run.error)
    assert "pw-secret" not in str(run.error) and "\n" not in str(run.error)


def test_no_proxy_sends_the_request_directly(no_proxy_env, session):
    with ScriptedServer(_chat_answer) as proxy, ScriptedServer(_chat_answer) as direct:
        no_proxy_env.setenv("HTTP_PROXY", proxy.url)
        no_proxy_env.setenv("NO_PROXY", "127.0.0.1")
        run = nbstream.stream("hi", base_url=direct.url + "/v1", model="m", api_key="k", session=session)
    assert run.status == "done" and len(direct.requests) == 1 and not proxy.requests


class _TLSServer:
    """An HTTPS server with a fresh self-signed certificate for 127.0.0.1."""

    def __init__(self, tmp_path) -> None:
        self.cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                        "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                        "-keyout", str(key), "-out", str(self.cert)], check=True, capture_output=True, timeout=60)
        self._plain = ScriptedServer(_chat_answer)
        self._plain.stop()  # only its handler class is wanted
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._plain._server.RequestHandlerClass)
        self._server.daemon_threads = True
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert, key)
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self.url = f"https://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def tls_server(tmp_path):
    server = _TLSServer(tmp_path)
    yield server
    server.stop()


def test_an_unknown_certificate_is_refused(tls_server, no_proxy_env, session):
    no_proxy_env.delenv("SSL_CERT_FILE", raising=False)
    run = nbstream.stream("hi", base_url=tls_server.url + "/v1", model="m", api_key="k", session=session)
    assert isinstance(run.error, errors.ConnectError)
    assert "certificate" in str(run.error).lower() and tls_server.url in str(run.error)


def test_ssl_cert_file_is_trusted(tls_server, no_proxy_env, session):
    no_proxy_env.setenv("SSL_CERT_FILE", str(tls_server.cert))
    run = nbstream.stream("hi", base_url=tls_server.url + "/v1", model="m", api_key="k", session=session)
    assert run.status == "done" and run.text == "via the proxy"


def test_two_hundred_streams_on_one_loop_all_arrive_whole(demo):
    texts = [f"stream {i}: " + " ".join(["word"] * (i % 7 + 3)) for i in range(200)]

    async def many() -> list[nbstream.Run]:
        return await asyncio.gather(*(
            nbstream.astream("hi", base_url=demo.base_url, model="demo", api_key="k", demo={**FAST, "text": t})
            for t in texts))

    runs = asyncio.run(many())
    assert [run.status for run in runs] == ["done"] * len(texts)
    assert [run.text for run in runs] == texts


def test_many_streams_started_at_once_share_the_session_loop_and_its_client(demo, session):
    texts = [f"run {i} says hello" for i in range(60)]
    runs = [nbstream.stream("hi", base_url=demo.base_url, model="demo", api_key="k", block=False,
                            demo={**FAST, "text": t}, session=session) for t in texts]
    for run in runs:
        run.wait(120)
    assert [run.text for run in runs] == texts
    assert len(session.transport.clients._clients) == 1  # one pooled client: the I/O loop's


def test_clients_of_closed_loops_are_let_go(demo, session):
    for _ in range(3):
        run = asyncio.run(nbstream.astream("hi", base_url=demo.base_url, model="demo", api_key="k", demo=FAST,
                                           session=session))
        assert run.status == "done"
    assert len(session.transport.clients._clients) == 1  # the last loop's; the closed ones dropped


def test_a_stopped_stream_keeps_its_text_and_the_next_one_works(demo, session):
    run = nbstream.stream("hi", base_url=demo.base_url, model="demo-long", api_key="k", block=False,
                          demo={"ttft": 0, "tps": 50, "jitter": 0}, session=session)
    for _ in range(1200):  # a state, not a duration: the first words arrived
        if run.text:
            break
        threading.Event().wait(0.1)
    run.cancel()
    run.wait(60)
    after = nbstream.stream("hi", base_url=demo.base_url, model="demo", api_key="k", demo=FAST, session=session)
    assert run.status == "cancelled" and run.text
    assert after.status == "done" and after.text


def test_proxy_credentials_go_as_proxy_authorization(no_proxy_env, session):
    with ScriptedServer(_chat_answer) as proxy:
        no_proxy_env.setenv("HTTP_PROXY", proxy.url.replace("http://", "http://bob:pw-proxy-secret@"))
        run = nbstream.stream("hi", base_url="http://api.example.invalid/v1", model="m", api_key="k",
                              session=session)
    assert run.status == "done"
    sent = base64.b64encode(b"bob:pw-proxy-secret").decode()
    assert proxy.requests[0]["proxy-authorization"] == f"Basic {sent}"


def test_an_unreachable_proxy_is_a_connect_error_without_its_password(no_proxy_env, session):
    no_proxy_env.setenv("HTTP_PROXY", f"http://bob:pw-proxy-secret@127.0.0.1:{closed_port()}")
    run = nbstream.stream("hi", base_url="http://api.example.invalid/v1", model="m", api_key="k",
                          session=session)
    assert isinstance(run.error, errors.ConnectError)
    assert "pw-proxy-secret" not in str(run.error) and "pw-proxy-secret" not in repr(run)


@pytest.mark.parametrize("value", ["http://user:pr0xyPassw0rd@127.0.0.1:99999999", "http://user:pr0xyPassw0rd@[::1"])
def test_a_malformed_proxy_variable_is_a_one_line_error_naming_it_without_its_password(no_proxy_env, value, session):
    no_proxy_env.setenv("HTTP_PROXY", value)
    run = nbstream.stream("hi", model="m", base_url=f"http://127.0.0.1:{closed_port()}/v1", display=False,
                          session=session)
    assert isinstance(run.error, errors.ConnectError)
    assert "HTTP_PROXY" in str(run.error) and "\n" not in str(run.error)
    assert "pr0xy" not in str(run.error) + repr(run.error)


def test_a_request_on_a_kept_alive_connection_the_server_closed_is_sent_again(no_proxy_env, session):
    dropped: list[int] = []

    def keeps_alive_once(handler, n) -> None:
        """Answers a connection's first request and keeps it alive, then drops the next one
        unanswered: what a server that closed a kept-alive connection (llama.cpp's, after
        a streamed answer) does to the request racing it."""
        if getattr(handler, "served_one", False):
            dropped.append(n)
            return
        handler.served_one = True
        chunk = {"choices": [{"index": 0, "delta": {"content": "hi"}, "finish_reason": None}]}
        body = f"data: {json.dumps(chunk)}\n\ndata: [DONE]\n\n".encode()
        handler.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                            b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        handler.close_connection = False

    with ScriptedServer(keeps_alive_once) as server:
        runs = [nbstream.stream("x", base_url=server.url + "/v1", model="m", api_key="k", display=False)
                for _ in range(3)]
    assert [(run.status, run.text) for run in runs] == [("done", "hi")] * 3
    # a pooled connection was tried, then another one
    assert dropped and len(server.requests) - len(dropped) == 3
