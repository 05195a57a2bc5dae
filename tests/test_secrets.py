"""Keys and URL credentials never leave nbstream, in any form: not in errors, reprs,
events, records, recordings, tables or the raw wire panel — raw, repr-escaped,
URL-encoded or cut short."""

from __future__ import annotations

import json
import secrets as pysecrets
from urllib.parse import quote

import pytest

import nbstream
from nbstream import _secrets
from nbstream import demo as demo_endpoint
from tests._servers import ScriptedServer, sse_head


def _key() -> str:
    """A fresh key per test, with characters that change under URL-encoding."""
    return f"sk-{pysecrets.token_hex(16)}/x+y="


def _leaks(key: str, text: str) -> bool:
    """Any 8 consecutive characters of the key's start, in any encoding, is a leak."""
    forms = {key, quote(key, safe=""), quote(key), json.dumps(key)[1:-1], repr(key)[1:-1]}
    return any(form[:8] in text or form.strip()[:8] in text for form in forms)


def _surfaces(run: nbstream.Run, tmp_path) -> dict[str, str]:
    saved = tmp_path / "run.jsonl"
    run.save(saved)
    chunks = run.chunks
    return {
        "str(run.error)": str(run.error),
        "repr(run)": repr(run),
        "run.events": repr(run.events),
        "records (wire panel)": repr([rec.message for rec in run.records]),
        "run.chunks": chunks.to_csv(),
        "run.save": saved.read_text(encoding="utf-8"),
        "runs()": nbstream.runs(run).to_csv(),
        "base_url": str(run.base_url),
    }


def _assert_no_leak(key: str, run: nbstream.Run, tmp_path) -> None:
    for where, text in _surfaces(run, tmp_path).items():
        assert not _leaks(key, text), f"the key leaks through {where}: {text[:500]}"


@pytest.fixture(scope="module")
def keyed_demo():
    key = _key()
    server = demo_endpoint.serve(api_key=key)
    yield server, key
    server.stop()


def test_key_with_a_trailing_newline_is_stripped_with_a_notice(keyed_demo, capsys):
    server, key = keyed_demo
    run = nbstream.stream("hi", base_url=server.base_url, api_key=key + "\n", model="demo")
    assert run.status == "done", run.error
    err = capsys.readouterr().err
    assert "stripped" in err and not _leaks(key, err)


def test_key_from_the_environment_with_a_trailing_newline_works(keyed_demo, monkeypatch):
    server, key = keyed_demo
    monkeypatch.setenv("OPENAI_API_KEY", key + "\r\n")
    run = nbstream.stream("hi", base_url=server.base_url, model="demo")
    assert run.status == "done", run.error


@pytest.mark.parametrize("bad", ["\n", " ", "\x00"])
def test_key_with_inner_whitespace_is_a_clear_error_that_never_shows_it(bad):
    key = _key()
    broken = key[:20] + bad + key[20:]
    with pytest.raises(ValueError, match="contains whitespace or a control character") as info:
        nbstream.stream("hi", base_url="http://127.0.0.1:9/v1", api_key=broken, model="m")
    assert not _leaks(key, str(info.value)) and not _leaks(broken, str(info.value))


def test_config_key_with_inner_newline_is_refused_on_assignment(monkeypatch):
    key = _key()
    monkeypatch.setattr(nbstream.config, "api_key", None)  # restored whatever happens
    with pytest.raises(ValueError, match="nbstream.config.api_key") as info:
        nbstream.config.api_key = key[:10] + "\n" + key[10:]
    assert not _leaks(key, str(info.value))
    assert nbstream.config.api_key is None


def _echoing_server(key_text: str) -> ScriptedServer:
    """Streams some text, then an in-band error that echoes ``key_text``."""
    def script(handler, n):
        chunk = {"choices": [{"index": 0, "delta": {"content": "partial answer"}}]}
        error = {"error": {"message": f"Incorrect API key provided: {key_text}", "code": "invalid_api_key"}}
        handler.wfile.write(sse_head() + f"data: {json.dumps(chunk)}\n\ndata: {json.dumps(error)}\n\n".encode())
    return ScriptedServer(script)


@pytest.mark.parametrize("form", ["raw", "url-encoded", "cut short", "json-escaped"])
def test_key_echoed_in_an_in_band_error_is_masked_everywhere(form, tmp_path):
    key = _key()
    text = {"raw": key, "url-encoded": quote(key, safe=""), "cut short": key[:14],
            "json-escaped": json.dumps(key)[1:-1]}[form]
    with _echoing_server(text) as server:
        run = nbstream.stream("hi", base_url=server.url + "/v1", api_key=key, model="m")
    assert run.text == "partial answer"
    assert run.status == "error" and "Incorrect API key" in str(run.error)
    _assert_no_leak(key, run, tmp_path)


def test_key_straddling_the_cut_of_a_401_body_leaves_nothing(tmp_path):
    key = _key()
    body = ("x" * 290 + key).encode()  # not JSON: the body's start is quoted, cut at 300

    def script(handler, n):
        handler.wfile.write(b"HTTP/1.1 401 Unauthorized\r\nContent-Type: text/plain\r\n"
                            + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body)

    with ScriptedServer(script) as server:
        run = nbstream.stream("hi", base_url=server.url + "/v1", api_key=key, model="m")
    assert isinstance(run.error, nbstream.errors.AuthenticationError)
    assert "the api_key argument" in str(run.error)
    _assert_no_leak(key, run, tmp_path)


def _failing_server(paths: list[str]) -> ScriptedServer:
    def script(handler, n):
        paths.append(handler.path)
        body = b'{"error": {"message": "no"}}'
        handler.wfile.write(b"HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/json\r\n"
                            + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body)
    return ScriptedServer(script)


def test_password_in_a_base_url_is_masked_in_errors_reprs_and_tables(tmp_path):
    password = "pw" + pysecrets.token_hex(12)
    with _failing_server([]) as server:
        url = server.url.replace("http://", f"http://alice:{password}@") + "/v1"
        run = nbstream.stream("hi", base_url=url, model="m")
    assert isinstance(run.error, nbstream.errors.ServerError)
    _assert_no_leak(password, run, tmp_path)


def test_api_key_in_the_base_url_query_stays_a_query_and_is_masked(tmp_path):
    key = _key()
    paths: list[str] = []
    with _failing_server(paths) as server:
        run = nbstream.stream("hi", base_url=f"{server.url}/v1?api-key={quote(key, safe='')}", model="m")
    assert paths == [f"/v1/chat/completions?api-key={quote(key, safe='')}"]
    assert run.status == "error"
    _assert_no_leak(key, run, tmp_path)


def test_token_in_an_sse_feed_url_is_masked(tmp_path):
    token = pysecrets.token_urlsafe(18)
    with _failing_server([]) as server:
        run = nbstream.stream(url=f"{server.url}/events?token={token}")
    assert run.status == "error"
    _assert_no_leak(token, run, tmp_path)


@pytest.mark.parametrize("header", ["api-key", "x-api-key", "x-goog-api-key", "Authorization"])
def test_key_passed_in_headers_is_registered(header, tmp_path):
    key = _key()
    value = f"Bearer {key}" if header == "Authorization" else key
    with _echoing_server(key) as server:
        run = nbstream.stream("hi", base_url=server.url + "/v1", headers={header: value}, model="m")
    assert "Incorrect API key" in str(run.error)
    _assert_no_leak(key, run, tmp_path)


def test_a_key_inside_the_prompt_or_params_is_masked_in_the_run(demo, tmp_path):
    key = _key()
    run = nbstream.stream(f"my key is {key}", base_url=demo.base_url, model="demo", api_key=key,
                          user=f"owner of {key}", demo={"ttft": 0, "tps": 5000})
    assert run.status == "done"
    assert not _leaks(key, repr(run.prompt)) and not _leaks(key, repr(run.params))
    _assert_no_leak(key, run, tmp_path)


# ---- the redaction function itself -------------------------------------------------------
def test_redact_masks_every_form_of_a_key():
    key = "sk-" + pysecrets.token_hex(12) + "\n"
    _secrets.register(key)
    for form in (key, repr(key), json.dumps(key), quote(key, safe=""), key[:9] + " and more",
                 repr(key.encode())):
        assert not _leaks(key, _secrets.redact(f"before {form} after")), form


def test_redact_masks_a_cut_off_key_but_not_another_token_sharing_its_start():
    key = "sk-proj-" + pysecrets.token_hex(16)
    _secrets.register(key)
    assert not _leaks(key, _secrets.redact(f"key {key[:12]}… refused"))
    other = "sk-proj-" + pysecrets.token_hex(16)
    assert _secrets.redact(f"use {other} instead") == f"use {other} instead"


def test_redact_keeps_ordinary_text_and_short_keys_alone():
    _secrets.register("x")
    assert _secrets.redact("a box of x-rays") == "a box of x-rays"
