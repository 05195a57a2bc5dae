"""Keys and endpoints come from where people keep them: the environment, a ``.env`` file
in the working directory (never overriding the environment), Colab's secrets; the
openai SDK's OPENAI_ORG_ID / OPENAI_PROJECT_ID headers; Ollama's OLLAMA_HOST. Errors say
where a key came from."""

from __future__ import annotations

import json
import secrets as pysecrets
import sys
import types

import pytest

import nbstream
from nbstream import demo as demo_endpoint
from nbstream import errors
from nbstream.engine import config as _config
from nbstream.wire.ollama import ollama_host
from tests._servers import ScriptedServer, sse_head

FAST = {"ttft": 0, "tps": 5000, "jitter": 0}
_VARS = ("OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_ORG_ID", "OPENAI_PROJECT_ID", "OLLAMA_HOST",
         "NBSTREAM_MODEL")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch, tmp_path):
    """No key or endpoint from the machine running the tests; an empty working directory."""
    for name in _VARS:
        monkeypatch.delenv(name, raising=False)
    session = nbstream.Session()
    previous = nbstream.session.set_session(session)
    monkeypatch.chdir(tmp_path)
    yield
    nbstream.session.set_session(previous)
    session.close()


@pytest.fixture(scope="module")
def keyed():
    key = f"sk-{pysecrets.token_hex(16)}"
    server = demo_endpoint.serve(api_key=key)
    yield server, key
    server.stop()


def test_a_key_in_dotenv_is_used(keyed, tmp_path):
    server, key = keyed
    (tmp_path / ".env").write_text(f"OPENAI_API_KEY={key}\nOPENAI_BASE_URL={server.base_url}\n")
    run = nbstream.stream("hi", model="demo", demo=FAST)
    assert run.status == "done", run.error
    assert run.base_url == server.base_url  # the file's OPENAI_BASE_URL, not the default demo


def test_a_refused_dotenv_key_is_named_by_where_it_came_from(keyed, tmp_path):
    server, key = keyed
    (tmp_path / ".env").write_text('OPENAI_API_KEY="sk-not-the-right-key-0000"\n')
    run = nbstream.stream("hi", base_url=server.base_url, model="demo")
    assert isinstance(run.error, errors.AuthenticationError)
    assert ".env (OPENAI_API_KEY)" in str(run.error)
    assert "sk-not-the-right-key-0000" not in str(run.error)


def test_the_environment_wins_over_dotenv(keyed, tmp_path, monkeypatch):
    server, key = keyed
    (tmp_path / ".env").write_text("OPENAI_API_KEY=sk-wrong-key-from-the-file\n")
    monkeypatch.setenv("OPENAI_API_KEY", key)
    run = nbstream.stream("hi", base_url=server.base_url, model="demo", demo=FAST)
    assert run.status == "done", run.error


def _fake_colab(monkeypatch, secrets: dict[str, str]) -> None:
    class SecretNotFoundError(Exception):
        pass

    def get(name):
        if name not in secrets:
            raise SecretNotFoundError(name)
        return secrets[name]

    google = types.ModuleType("google")
    colab = types.ModuleType("google.colab")
    userdata = types.ModuleType("google.colab.userdata")
    userdata.get = get
    colab.userdata = userdata
    google.colab = colab
    monkeypatch.setitem(sys.modules, "google", google)
    monkeypatch.setitem(sys.modules, "google.colab", colab)
    monkeypatch.setitem(sys.modules, "google.colab.userdata", userdata)


def test_a_colab_secret_is_used_when_running_in_colab(keyed, monkeypatch):
    server, key = keyed
    _fake_colab(monkeypatch, {"OPENAI_API_KEY": key})
    run = nbstream.stream("hi", base_url=server.base_url, model="demo", demo=FAST)
    assert run.status == "done", run.error


def test_a_refused_colab_secret_is_named(keyed, monkeypatch):
    server, _ = keyed
    _fake_colab(monkeypatch, {"OPENAI_API_KEY": "sk-colab-but-wrong-0000"})
    run = nbstream.stream("hi", base_url=server.base_url, model="demo")
    assert "Colab secrets (OPENAI_API_KEY)" in str(run.error)


def test_without_colab_or_dotenv_nothing_is_configured():
    endpoint = _config.resolve(base_url=None, api_key=None, model=None, defaults=nbstream.get_session().defaults)
    assert endpoint.is_demo


def _recording(requests: list[tuple[str, dict]], body: bytes, ctype: str) -> ScriptedServer:
    def script(handler, n):
        requests.append((handler.path, {k.lower(): v for k, v in handler.headers.items()}))
        handler.wfile.write(sse_head(content_type=ctype) + body)
    return ScriptedServer(script)


CHAT_BODY = b'data: {"choices": [{"index": 0, "delta": {"content": "ok"}, "finish_reason": "stop"}]}\n\n' \
            b"data: [DONE]\n\n"


def test_openai_org_and_project_are_sent_as_the_sdk_sends_them(monkeypatch):
    monkeypatch.setenv("OPENAI_ORG_ID", "org-abc123")
    monkeypatch.setenv("OPENAI_PROJECT_ID", "proj_xyz789")
    requests: list = []
    with _recording(requests, CHAT_BODY, "text/event-stream") as server:
        run = nbstream.stream("hi", base_url=server.url + "/v1", api_key="sk-anything-123456", model="m")
    assert run.text == "ok"
    headers = requests[0][1]
    assert headers["openai-organization"] == "org-abc123" and headers["openai-project"] == "proj_xyz789"


def test_no_org_headers_when_none_are_set():
    requests: list = []
    with _recording(requests, CHAT_BODY, "text/event-stream") as server:
        nbstream.stream("hi", base_url=server.url + "/v1", model="m")
    assert "openai-organization" not in requests[0][1] and "openai-project" not in requests[0][1]


OLLAMA_BODY = (json.dumps({"model": "m", "message": {"role": "assistant", "content": "from ollama"},
                           "done": False}) + "\n"
               + json.dumps({"model": "m", "message": {"role": "assistant", "content": ""}, "done": True,
                             "done_reason": "stop", "eval_count": 2}) + "\n").encode()


@pytest.mark.parametrize("form", ["{host}:{port}", "http://{host}:{port}", "http://{host}:{port}/"])
def test_ollama_host_is_where_api_ollama_goes_without_a_base_url(monkeypatch, form):
    requests: list = []
    with _recording(requests, OLLAMA_BODY, "application/x-ndjson") as server:
        host, port = server.url.removeprefix("http://").split(":")
        monkeypatch.setenv("OLLAMA_HOST", form.format(host=host, port=port))
        run = nbstream.stream("hi", api="ollama", model="m")
    assert run.status == "done" and run.text == "from ollama"
    assert requests[0][0] == "/api/chat"


@pytest.mark.parametrize("value, url", [
    ("", "http://127.0.0.1:11434"),
    ("example.com", "http://example.com:11434"),
    ("example.com:8080", "http://example.com:8080"),
    (":1234", "http://127.0.0.1:1234"),
    ("0.0.0.0", "http://127.0.0.1:11434"),
    ("https://ollama.example", "https://ollama.example:443"),
    ("http://ollama.example", "http://ollama.example:80"),
    ("http://ollama.example:9999/prefix/", "http://ollama.example:9999/prefix"),
    ("[::1]:5000", "http://[::1]:5000"),
    ("host:notaport", "http://127.0.0.1:11434"),
])
def test_ollama_host_forms_are_read_as_ollama_reads_them(value, url):
    assert ollama_host(value) == url


def test_ollama_host_does_not_redirect_chat_requests(monkeypatch):
    monkeypatch.setenv("OLLAMA_HOST", "127.0.0.1:9")
    endpoint = _config.resolve(base_url=None, api_key=None, model=None, api="chat",
                               defaults=nbstream.get_session().defaults)
    assert endpoint.is_demo
