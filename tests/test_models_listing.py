"""``nbstream.models()``, ``%stream list`` and ``nbstream models``: each configured provider's
models from its own models endpoint (OpenAI's and Anthropic's ``/v1/models``, Gemini's
``/v1beta/models``, Ollama's ``/api/tags``), served over loopback by the embedded demo
endpoint or a tiny scripted server; a provider that fails is one row saying why, and keys
never appear."""

from __future__ import annotations

import json
import subprocess
import sys
import threading

import pytest
from _kernel import execute
from _provider_env import command_env, without_providers
from _servers import ScriptedServer

import nbstream
from nbstream.demo import serve
from nbstream.session import Session

FAST = {"ttft": 0.0, "tps": 5000.0, "jitter": 0.0}
KEY = "sk-listing-secret-4b1d9e77a2c0"


@pytest.fixture(scope="module")
def server():
    with serve(**FAST) as running:
        yield running


@pytest.fixture
def clean(monkeypatch, tmp_path):
    return without_providers(monkeypatch, tmp_path)


def root_of(server) -> str:
    return server.base_url.removesuffix("/v1")


def answering(body: bytes, status: str = "200 OK") -> ScriptedServer:
    def script(handler, _n):
        handler.wfile.write(f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
                            "Connection: close\r\n\r\n".encode() + body)
    return ScriptedServer(script)


def everything(table) -> str:
    return table.to_csv() + repr(table) + table.to_html()


def test_with_nothing_configured_the_demo_endpoint_s_models_are_listed(clean):
    table = nbstream.models(session=Session())
    demo = table[table["provider"] == "demo"]
    assert {"demo", "demo-reasoning", "demo-tools"} <= set(demo["model"]) and demo["error"].isna().all()


def test_an_openai_compatible_server_is_listed_from_its_models_endpoint(clean, server):
    table = nbstream.models(session=Session(base_url=server.base_url, api_key=KEY))
    rows = table[table["provider"] == "openai"]
    assert "demo-fast" in set(rows["model"]) and (rows["owned_by"] == "nbstream-demo").all()
    assert rows["created"].iloc[0] == "2025-01-01T00:00:00Z"


def test_anthropic_is_asked_with_its_own_headers_and_read_in_its_own_shape(clean, server):
    clean.setenv("ANTHROPIC_BASE_URL", root_of(server))
    clean.setenv("ANTHROPIC_API_KEY", KEY)
    table = nbstream.models(session=Session(base_url=server.base_url))
    rows = table[table["provider"] == "anthropic"]
    # display_name is only in the Anthropic-shaped answer, which the demo gives for anthropic-version
    assert "demo" in set(rows["model"]) and rows["display_name"].notna().all()
    assert rows["created"].iloc[0] == "2025-01-01T00:00:00Z"


def test_gemini_models_lose_their_models_prefix_and_keep_their_token_limits(clean, server):
    session = Session(base_url=root_of(server), api="gemini", api_key=KEY)
    rows = nbstream.models(session=session)
    assert "demo" in set(rows["model"]) and (rows["provider"] == "gemini").all()
    assert (rows["input_token_limit"] == 32768).all() and not rows["model"].str.startswith("models/").any()


def test_gemini_is_listed_from_the_server_google_genai_s_variable_names(clean, server):
    clean.setenv("GOOGLE_GEMINI_BASE_URL", root_of(server))
    table = nbstream.models(session=Session(base_url=server.base_url))
    assert "demo-reasoning" in set(table[table["provider"] == "gemini"]["model"])


def test_ollama_is_listed_from_api_tags_when_ollama_host_is_set(clean, server):
    clean.setenv("OLLAMA_HOST", root_of(server))
    table = nbstream.models(session=Session(base_url=server.base_url))
    assert "demo:latest" in set(table[table["provider"] == "ollama"]["model"])


def test_a_refused_key_is_one_row_saying_so_and_the_key_never_appears(clean):
    with serve(api_key="the-right-key", **FAST) as guarded:
        table = nbstream.models(session=Session(base_url=guarded.base_url, api_key=KEY))
    assert len(table) == 1 and table["model"].isna().all()
    assert "HTTP 401" in table["error"].iloc[0] and "nbstream.config.api_key" in table["error"].iloc[0]
    assert KEY not in everything(table) and KEY[:12] not in everything(table)


def test_an_unreachable_provider_fails_alone(clean, server):
    with ScriptedServer(lambda h, n: None) as gone:
        url = gone.url
    clean.setenv("ANTHROPIC_BASE_URL", url)
    clean.setenv("ANTHROPIC_API_KEY", KEY)
    table = nbstream.models(session=Session(base_url=server.base_url, connect_timeout=5))
    failed = table[table["provider"] == "anthropic"]
    assert len(failed) == 1 and "could not connect" in failed["error"].iloc[0]
    assert len(table[table["provider"] == "openai"]) > 5


@pytest.mark.parametrize("body", [b"[1, 2, 3]", b'{"data": "not a list"}', b"<html>no</html>", b'{"models": []}'],
                         ids=["list", "data-not-a-list", "html", "other-key"])
def test_a_wrong_shaped_answer_is_one_row_naming_what_was_expected(clean, body):
    with answering(body) as hostile:
        table = nbstream.models(session=Session(base_url=hostile.url + "/v1", api_key=KEY))
    assert len(table) == 1 and table["model"].isna().all()
    assert "not an object with a 'data' list" in table["error"].iloc[0] or "not JSON" in table["error"].iloc[0]


def endless(piece: bytes, pause: float) -> ScriptedServer:
    """A 200 listing whose body never ends: ``piece`` after ``piece`` until the client hangs up."""
    done = threading.Event()

    def script(handler, _n):
        handler.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n"
                            b'{"data": [')
        while not done.wait(pause):
            handler.wfile.write(piece)
            handler.wfile.flush()
    server = ScriptedServer(script)
    server.done = done
    return server


def test_a_listing_that_never_ends_is_cut_at_its_size_cap(clean):
    with endless(b'{"id": "m"},' * 1000, 0) as hostile:
        try:
            table = nbstream.models(session=Session(base_url=hostile.url + "/v1", api_key=KEY))
        finally:
            hostile.done.set()
    assert len(table) == 1 and "larger than 8 MB" in table["error"].iloc[0]


def test_a_listing_drip_fed_for_ever_ends_at_the_first_byte_timeout(clean):
    with endless(b" ", 0.05) as hostile:
        try:
            table = nbstream.models(session=Session(base_url=hostile.url + "/v1", api_key=KEY, first_byte_timeout=2))
        finally:
            hostile.done.set()
    assert len(table) == 1 and "took longer than 2 s (first_byte_timeout)" in table["error"].iloc[0]


def test_hostile_fields_are_cut_and_wrong_types_dropped(clean):
    body = json.dumps({"data": [{"id": "x" * 10_000, "created": "yesterday", "owned_by": {"a": 1}}, "junk",
                                {"id": None}]}).encode()
    with answering(body) as hostile:
        table = nbstream.models(session=Session(base_url=hostile.url + "/v1", api_key=KEY))
    assert len(table) == 1 and len(table["model"].iloc[0]) == 200
    assert table["created"].isna().all() and table["owned_by"].isna().all()


def test_a_key_echoed_by_a_failing_server_is_redacted(clean):
    body = json.dumps({"error": {"message": f"bad key {KEY}"}}).encode()
    with answering(body, "403 Forbidden") as echo:
        table = nbstream.models(session=Session(base_url=echo.url + "/v1", api_key=KEY))
    assert "HTTP 403" in table["error"].iloc[0] and KEY not in everything(table)


def test_aliases_are_listed_after_the_models(clean, server):
    session = Session(base_url=server.base_url, api_key=KEY, aliases={"claude": "anthropic:claude-sonnet-4-5"})
    table = nbstream.models(session=session)
    last = table.iloc[-1]
    assert (last["provider"], last["model"], last["alias_for"]) == ("alias", "claude", "anthropic:claude-sonnet-4-5")


def test_the_command_line_lists_models_and_aliases_one_per_line(server, tmp_path):
    env = command_env(OPENAI_BASE_URL=server.base_url, OPENAI_API_KEY=KEY,
                      NBSTREAM_ALIASES="fast=demo-fast")
    out = subprocess.run([sys.executable, "-m", "nbstream", "models"], cwd=tmp_path, env=env, capture_output=True,
                         text=True, timeout=90, stdin=subprocess.DEVNULL)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert any(line.split()[:2] == ["openai", "demo-reasoning"] for line in lines)
    assert lines[-1].split() == ["alias", "fast", "->", "demo-fast"] and KEY not in out.stdout + out.stderr


def test_the_command_line_strips_terminal_escapes_from_server_text(tmp_path):
    body = json.dumps({"data": [{"id": "evil\x1b]0;pwned\x07\x1b[2Jname\nnext"}]}).encode()
    with answering(body) as hostile:
        env = command_env(OPENAI_BASE_URL=hostile.url + "/v1", OPENAI_API_KEY=KEY)
        out = subprocess.run([sys.executable, "-m", "nbstream", "models"], cwd=tmp_path, env=env,
                             capture_output=True, text=True, timeout=90, stdin=subprocess.DEVNULL)
    assert out.returncode == 0 and "\x1b" not in out.stdout and "\x07" not in out.stdout
    assert out.stdout.splitlines() == ["openai  evilname next"]


def test_the_command_line_exits_1_when_every_provider_failed(tmp_path):
    with answering(b"{}", "500 Internal Server Error") as broken:
        env = command_env(OPENAI_BASE_URL=broken.url + "/v1", OPENAI_API_KEY=KEY)
        out = subprocess.run([sys.executable, "-m", "nbstream", "models"], cwd=tmp_path, env=env,
                             capture_output=True, text=True, timeout=90, stdin=subprocess.DEVNULL)
    assert out.returncode == 1 and "error: HTTP 500" in out.stdout


# ---- a real kernel: %stream list, and aliases in --compare -----------------------------------
@pytest.fixture(scope="module")
def nb():
    return execute([
        "%stream list",                                                                        # 1
        "%stream lsit",                                                                        # 2
        '%stream_config aliases="quick=demo-fast deep=demo-reasoning"',                        # 3
        "%%stream --compare -m quick -m deep -o both\nExplain SSE",                            # 4
        "print([r.model for r in both], [r.status for r in both])",                            # 5
    ])


def test_stream_list_shows_the_models_table(nb):
    (out,) = nb.cells[1]["outputs"]
    assert out["output_type"] == "execute_result" and "demo-reasoning" in out["data"]["text/html"]


def test_an_unknown_stream_command_is_one_line_pointing_at_stream_list(nb):
    (out,) = nb.cells[2]["outputs"]
    assert out["name"] == "stderr" and out["text"].count("\n") == 1 and "%stream list" in out["text"]


def test_compare_follows_aliases_for_every_model(nb):
    assert nb.cells[5]["outputs"][0]["text"].strip() == "['demo-fast', 'demo-reasoning'] ['done', 'done']"


def test_a_listing_drip_fed_a_byte_at_a_time_gives_up_within_its_deadline(clean):
    """Each byte arrives well within the per-read timeout, but the body would take hours."""
    import threading
    import time

    def script(handler, _n):
        handler.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n")
        for _ in range(100000):
            handler.wfile.write(b" ")
            handler.wfile.flush()
            time.sleep(0.05)

    with ScriptedServer(script) as drip:
        clean.setenv("OPENAI_BASE_URL", drip.url + "/v1")
        clean.setenv("OPENAI_API_KEY", KEY)
        session = Session()
        session.settings.first_byte_timeout = 1.0
        tables = []
        worker = threading.Thread(target=lambda: tables.append(nbstream.models(session=session)), daemon=True)
        worker.start()
        worker.join(60)
        assert not worker.is_alive(), "models() still waiting on a drip-fed listing"
    (error,) = tables[0]["error"].dropna()
    assert "took longer than 1 s" in error and KEY not in everything(tables[0])
