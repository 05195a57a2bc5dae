"""Attacks on secret redaction: keys, passwords and URL credentials in every form a
hostile server or a careless user can put them in never reach any surface of a run."""

from __future__ import annotations

import base64
import json
import secrets as pysecrets

import nbstream
from tests._servers import ScriptedServer, sse_head


def _key() -> str:
    return f"sk-{pysecrets.token_hex(16)}"


def _sse_server(contents: list[str], *, raw_json: list[str] | None = None) -> ScriptedServer:
    def script(handler, n):
        body = b""
        for text in contents:
            chunk = {"choices": [{"index": 0, "delta": {"content": text}}]}
            body += f"data: {json.dumps(chunk)}\n\n".encode()
        for raw in raw_json or []:
            body += f"data: {raw}\n\n".encode()
        handler.wfile.write(sse_head() + body + b"data: [DONE]\n\n")
    return ScriptedServer(script)


def _surfaces(run: nbstream.Run, tmp_path) -> str:
    saved = tmp_path / "run.jsonl"
    run.save(saved)
    return "\n".join([run.text, str(run.error), repr(run), repr(run.events), run.chunks.to_csv(),
                      saved.read_text(encoding="utf-8"), nbstream.runs(run).to_csv()])



def test_key_streamed_with_json_unicode_escapes_is_masked_in_the_answer(tmp_path):
    key = _key()
    escaped = "".join(f"\\u{ord(c):04x}" for c in key)  # what ensure_ascii-everything encoders send
    raw = '{"choices": [{"index": 0, "delta": {"content": "your key is ' + escaped + '"}}]}'
    with _sse_server([], raw_json=[raw]) as server:
        run = nbstream.stream("hi", base_url=server.url + "/v1", api_key=key, model="m")
    assert run.status == "done", run.error
    assert key[:8] not in _surfaces(run, tmp_path)



def test_key_spelled_with_json_escapes_as_an_object_key_is_masked_everywhere(tmp_path):
    key = _key()
    escaped = "".join(f"\\u{ord(c):04x}" for c in key)
    raw = ('{"choices": [{"index": 0, "delta": {"content": "hi"}}], "extra": {"' + escaped
           + '": "x", "note": "and again ' + escaped + '"}}')
    with _sse_server([], raw_json=[raw]) as server:
        run = nbstream.stream("hi", base_url=server.url + "/v1", api_key=key, model="m")
    assert run.status == "done", run.error
    assert key[:8] not in _surfaces(run, tmp_path)


def test_a_key_with_slash_and_plus_is_masked_whole_in_every_encoding():
    from urllib.parse import quote, quote_plus

    from nbstream import _secrets

    key = "sig" + pysecrets.token_hex(12) + "/" + pysecrets.token_hex(8) + "+xyz=="  # base64-like, Azure-like
    _secrets.register(key)
    tail = key.split("/")[1][:10]
    for form in (key, quote(key), quote(key, safe=""), quote_plus(key), json.dumps(key)[1:-1].replace("/", "\\/")):
        out = _secrets.redact(f"x {form} y")
        assert tail not in out and key[3:11] not in out, (form, out)


def test_redact_value_masks_dictionary_keys():
    from nbstream import _secrets

    key = _key()
    _secrets.register(key)
    clean = _secrets.redact_value({key: {"inner " + key: 1}, "plain": 2})
    assert key[:8] not in json.dumps(clean) and clean["plain"] == 2


def test_key_split_across_two_streamed_chunks_is_masked_in_the_answer(tmp_path):
    key = _key()
    with _sse_server(["your key is " + key[:6], key[6:] + " ok"]) as server:
        run = nbstream.stream("hi", base_url=server.url + "/v1", api_key=key, model="m")
    assert run.status == "done", run.error
    assert key not in run.text
    assert key[:8] not in _surfaces(run, tmp_path)



def test_password_in_base_url_echoed_as_basic_auth_header_is_masked(tmp_path):
    password = "pw-" + pysecrets.token_hex(12)
    seen: list[str] = []

    def script(handler, n):
        auth = handler.headers.get("Authorization", "")
        seen.append(auth)
        body = json.dumps({"error": {"message": f"bad credentials: {auth}"}}).encode()
        handler.wfile.write(b"HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\n"
                            + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body)

    with ScriptedServer(script) as server:
        base = server.url.replace("http://", f"http://alice:{password}@") + "/v1"
        run = nbstream.stream("hi", base_url=base, api_key="sk-unused-123456", model="m")
    encoded = base64.b64encode(f"alice:{password}".encode()).decode()
    assert run.status == "error"
    assert encoded in "".join(seen)  # the client sends the URL's user:password as Basic auth
    assert encoded[:12] not in _surfaces(run, tmp_path)



def test_password_in_a_malformed_base_url_is_masked_in_its_error():
    import pytest

    password = "pw-" + pysecrets.token_hex(12)
    url = f"http://alice:{password}@[::1/v1"  # a typo: the IPv6 bracket is never closed
    with pytest.raises(ValueError) as info:
        nbstream.stream("hi", base_url=url, api_key="sk-unused-123456", model="m", show=False)
    assert password[:8] not in str(info.value), str(info.value)



def test_azure_functions_code_query_credential_is_masked(tmp_path):
    from nbstream import demo

    code = "fk" + pysecrets.token_hex(16)
    server = demo.serve()
    try:
        run = nbstream.stream("hi", base_url=server.base_url + f"?code={code}", model="demo-error", show=False)
    finally:
        server.stop()
    assert run.status == "error"
    assert code[:8] not in _surfaces(run, tmp_path)



def test_query_credential_written_with_lowercase_percent_escapes_is_masked(tmp_path):
    from nbstream import demo

    secret = "Zq9%2f" + pysecrets.token_hex(10) + "%3d%3d"  # a SAS-style signature, lowercase hex escapes
    server = demo.serve()
    try:
        run = nbstream.stream("hi", base_url=server.base_url + f"?sig={secret}", model="demo-error", show=False)
    finally:
        server.stop()
    assert run.status == "error"
    assert secret[6:20] not in _surfaces(run, tmp_path)



def test_env_key_echoed_into_an_openai_sdk_stream_shown_with_show_is_masked(monkeypatch, tmp_path):
    import openai

    key = _key()
    monkeypatch.setenv("OPENAI_API_KEY", key)

    def script(handler, n):
        echoed = handler.headers.get("Authorization", "")
        chunk = {"id": "c1", "object": "chat.completion.chunk", "created": 0, "model": "m",
                 "choices": [{"index": 0, "delta": {"content": f"you sent {echoed}"}, "finish_reason": None}]}
        handler.wfile.write(sse_head() + f"data: {json.dumps(chunk)}\n\ndata: [DONE]\n\n".encode())

    with ScriptedServer(script) as server:
        client = openai.OpenAI(base_url=server.url + "/v1")  # the key comes from OPENAI_API_KEY
        sdk_stream = client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}],
                                                    stream=True)
        run = nbstream.show(sdk_stream, display=False)
    assert "you sent" in run.text
    assert key[:8] not in _surfaces(run, tmp_path)



def test_key_echoed_in_the_sse_id_and_event_fields_is_masked(tmp_path):
    key = _key()

    def script(handler, n):
        chunk = {"choices": [{"index": 0, "delta": {"content": "ok"}}]}
        handler.wfile.write(sse_head() + f"id: {key}\nevent: {key}\ndata: {json.dumps(chunk)}\n\n"
                            "data: [DONE]\n\n".encode())

    with ScriptedServer(script) as server:
        run = nbstream.stream("hi", base_url=server.url + "/v1", api_key=key, model="m", show=False)
    assert run.text == "ok", run.error
    surfaces = _surfaces(run, tmp_path) + repr([rec.message for rec in run.records])
    assert key[:8] not in surfaces



def test_long_key_prefix_followed_by_mask_letters_is_masked():
    from nbstream import _secrets

    key = _key()
    _secrets.register(key)
    # a server that masks the rest of the key with letters: 16 real characters of the key
    text = f"Incorrect API key provided: {key[:16]}xxxxxxxxxxxxxxxx{key[-4:]}"
    assert key[:12] not in _secrets.redact(text)



def test_traceback_of_a_failed_source_does_not_show_the_key(monkeypatch):
    import traceback

    key = _key()
    monkeypatch.setattr(nbstream.config, "api_key", key)  # registered for redaction

    def answer():
        yield "partial "
        raise RuntimeError(f"upstream rejected key {key}")

    run = nbstream.show(answer(), display=False)
    assert run.status == "error" and key not in str(run.error)
    # run.raise_for_status() in a cell prints (and the notebook saves) the whole chain
    shown = "".join(traceback.format_exception(run.error))
    assert key[:8] not in shown, shown


def test_key_split_across_two_deltas_is_masked_in_the_saved_answer_html():
    from nbstream import _secrets
    from nbstream.events import TextDelta
    from nbstream.views import live as _live

    key = _key()
    _secrets.register(key)
    for render in (True, False):
        body = _live._AnswerBody(render)
        body.take(TextDelta("your key is " + key[:6]))
        body.take(TextDelta(key[6:] + " ok"))
        html = body.whole()
        assert "ok" in html and key[:8] not in html, html


def test_key_streamed_a_few_characters_at_a_time_is_masked_in_the_answer(tmp_path):
    key = _key()
    pieces = [key[i:i + 3] for i in range(0, len(key), 3)]
    with _sse_server(["your key is ", *pieces, " ok"]) as server:
        run = nbstream.stream("hi", base_url=server.url + "/v1", api_key=key, model="m")
    assert run.status == "done", run.error
    assert run.text.startswith("your key is ") and run.text.endswith(" ok")
    assert key[:8] not in run.text and key[-12:] not in run.text


def test_key_streamed_a_few_characters_at_a_time_is_masked_in_the_saved_answer_html():
    from nbstream import _secrets
    from nbstream.events import TextDelta
    from nbstream.views import live as _live

    key = _key()
    _secrets.register(key)
    pieces = ["your key is ", *(key[i:i + 3] for i in range(0, len(key), 3)), " ok"]
    body = _live._AnswerBody(True)
    for piece in pieces:
        body.take(TextDelta(_secrets.redact(piece)))  # each delta masked alone, as the pump does
    html = body.whole()
    assert "ok" in html and key[:8] not in html and key[-12:] not in html, html


def _pieces(text: str, size: int) -> list[str]:
    return [text[i:i + size] for i in range(0, len(text), size)]


def test_text_shown_while_it_streams_is_masked_as_the_whole_text_is_whatever_the_cuts():
    from nbstream import _secrets

    key = _key()
    _secrets.register(key)
    text = f"start {key} middle {key[:12]} end"
    for size in range(1, len(text) + 1):
        settled = _secrets.Settled()
        shown = "".join(settled.feed(piece) for piece in _pieces(text, size)) + settled.finish()
        assert shown == _secrets.redact(text), size


def test_the_live_view_never_sends_a_key_split_across_deltas():
    from nbstream import _secrets
    from nbstream.events import ReasoningDelta, TextDelta, ToolCallDelta
    from nbstream.run import Run
    from nbstream.views import live as _live

    key = _key()
    _secrets.register(key)
    run = Run(model="m", api="chat", prompt="p")
    view = _live.NotebookView(run, prompt="p")  # no kernel: the flush is driven by hand
    sent: list[str] = []
    view._send = lambda msg: sent.append(json.dumps(msg))
    said = f"the key is {key} ok"
    events = ([ReasoningDelta(p) for p in _pieces(said, 5)] + [TextDelta(p) for p in _pieces(said, 5)]
              + [ToolCallDelta(index=0, id="c", name="f", arguments=p) for p in _pieces(json.dumps({"k": said}), 5)])
    for i, ev in enumerate(events):
        view._inbox.append((i, [ev]))
        view._flush()
        view._save_partial()
    view._flush(final=True)
    everything = "".join(sent)
    assert "ok" in everything and everything.count("sk-") >= 3  # reasoning, answer and arguments, masked
    assert key[:8] not in everything and key[-8:] not in everything


def test_the_terminal_view_never_prints_a_key_split_across_deltas():
    import io

    from nbstream import _secrets
    from nbstream.engine.pump import settle
    from nbstream.events import ReasoningDelta, TextDelta
    from nbstream.run import Run
    from nbstream.views import console

    key = _key()
    _secrets.register(key)
    run = Run(model="m", api="chat", prompt="p")
    out = io.StringIO()
    console.attach(run, out)
    said = f"the key is {key} ok"
    for i, ev in enumerate([ReasoningDelta(p) for p in _pieces(said, 3)] + [TextDelta(p) for p in _pieces(said, 3)]):
        run._receive(nbstream.run.Message(i, i, "message", "{}", None, 2), [ev])
    settle(run, None)  # the end: what was held back for a key still being completed is printed
    printed = out.getvalue()
    assert printed.count(" ok") == 2, printed
    assert key[:8] not in printed and key[-8:] not in printed, printed
