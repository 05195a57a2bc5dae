"""Structured output: ``response_format=`` (a JSON schema or a pydantic model) asks each
wire format for JSON its own way; the answer is parsed while it streams and at the end
(``run.json``, ``run.parsed``), and whatever the model sends — not JSON, cut off, huge,
deeply nested, carrying script — ends as data or an error string on the run, never as
an exception in the caller's cell."""

from __future__ import annotations

import json

import httpx
import pydantic
import pytest
from _body_server import BodyServer

import nbstream
from nbstream.events import TextDelta
from nbstream.session import Session
from nbstream.views import jsonview
from nbstream.wire import structured

FAST = {"ttft": 0.0, "tps": 5000, "jitter": 0}
FORMATS = ("chat", "responses", "ollama", "anthropic", "gemini")


class Pet(pydantic.BaseModel):
    kind: str
    legs: int


class Person(pydantic.BaseModel):
    name: str
    age: int
    pets: list[Pet]


PERSON_SCHEMA = structured.closed(Person.model_json_schema())



@pytest.fixture
def proxy(demo):
    """A loopback server that keeps each request body and forwards it to the demo endpoint."""
    root = demo.base_url.removesuffix("/v1")

    def answer(path: str, body: object) -> bytes:
        reply = httpx.post(root + path, json=body, timeout=30, headers={"Authorization": "Bearer k"})
        head = (f"HTTP/1.1 {reply.status_code} OK\r\nContent-Type: {reply.headers.get('content-type')}\r\n"
                f"Content-Length: {len(reply.content)}\r\nConnection: close\r\n\r\n")
        return head.encode() + reply.content

    with BodyServer(answer) as server:
        yield server


def ask(session: Session, api: str, response_format: object, base_url: str, **params: object) -> nbstream.Run:
    return nbstream.stream("Tell me about Ada", api=api, model="demo", base_url=base_url, api_key="k",
                           response_format=response_format, session=session, **params)


# ---- each wire format asks its own way (bodies captured on the wire) -----------------------
def test_chat_sends_response_format_json_schema_with_name_schema_and_strict(proxy, session):
    run = ask(session, "chat", Person, proxy.url + "/v1", demo=FAST)
    (path, body), = proxy.requests
    assert path == "/v1/chat/completions"
    assert body["response_format"] == {"type": "json_schema", "json_schema": {
        "name": "Person", "schema": PERSON_SCHEMA, "strict": True}}
    assert isinstance(run.parsed, Person)


def test_responses_sends_text_format(proxy, session):
    run = ask(session, "responses", Person, proxy.url + "/v1", demo=FAST)
    (path, body), = proxy.requests
    assert path == "/v1/responses"
    assert body["text"] == {"format": {"type": "json_schema", "name": "Person", "schema": PERSON_SCHEMA,
                                       "strict": True}}
    assert isinstance(run.parsed, Person)


def test_ollama_sends_the_schema_as_format(proxy, session):
    run = ask(session, "ollama", Person, proxy.url, demo=FAST)
    (path, body), = proxy.requests
    assert path == "/api/chat"
    assert body["format"] == PERSON_SCHEMA
    assert isinstance(run.parsed, Person)


def test_gemini_sends_json_mime_type_and_the_schema_in_generation_config(proxy, session):
    run = ask(session, "gemini", Person, proxy.url, demo=FAST, temperature=0.5)
    (path, body), = proxy.requests
    assert path.startswith("/v1beta/models/demo:streamGenerateContent")
    assert body["generationConfig"] == {"temperature": 0.5, "responseMimeType": "application/json",
                                        "responseJsonSchema": PERSON_SCHEMA}
    assert isinstance(run.parsed, Person)


def test_anthropic_sends_output_config_format_with_closed_objects(proxy, session):
    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    run = ask(session, "anthropic", schema, proxy.url + "/v1", demo=FAST)
    (path, body), = proxy.requests
    assert path == "/v1/messages"
    assert body["output_config"] == {"format": {"type": "json_schema", "schema": {
        **schema, "additionalProperties": False}}}
    assert run.json == {"city": "Paris"}


def test_a_schema_dict_not_closed_is_sent_as_given_and_not_strict(proxy, session):
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}}
    ask(session, "chat", schema, proxy.url + "/v1", demo=FAST)
    (_, body), = proxy.requests
    assert body["response_format"]["json_schema"] == {"name": "response", "schema": schema, "strict": False}


def test_openais_own_wrapper_is_read_too(proxy, session):
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"],
              "additionalProperties": False}
    wrapper = {"type": "json_schema", "json_schema": {"name": "count me!", "schema": schema, "strict": True}}
    run = ask(session, "chat", wrapper, proxy.url + "/v1", demo=FAST)
    (_, body), = proxy.requests
    assert body["response_format"]["json_schema"] == {"name": "count_me_", "schema": schema, "strict": True}
    assert run.json == {"n": 3}


def test_without_response_format_the_body_asks_for_nothing(proxy, session):
    run = ask(session, "chat", None, proxy.url + "/v1", demo=FAST)
    (_, body), = proxy.requests
    assert "response_format" not in body and run.json is None and run.json_error is None


# ---- end to end against the demo ---------------------------------------------------------
@pytest.mark.parametrize("api", FORMATS)
def test_every_format_answers_json_that_validates_into_the_model(demo, session, api):
    run = ask(session, api, Person, demo.base_url, demo=FAST)
    assert run.status == "done", run.error
    assert run.json == json.loads(run.text)
    assert isinstance(run.parsed, Person) and run.parsed.pets and run.json_error is None


def test_astream_takes_response_format(demo, session):
    import asyncio

    run = asyncio.run(nbstream.astream("Hi", model="demo", base_url=demo.base_url, response_format=Person,
                                       session=session, demo=FAST))
    assert isinstance(run.parsed, Person)


def test_while_streaming_run_json_is_the_partial_object(demo, session):
    seen: list[object] = []
    run = nbstream.stream("Hi", model="demo", base_url=demo.base_url, response_format=Person, session=session,
                          demo={**FAST, "tps": 200}, block=False)
    run.subscribe(lambda r, events: seen.append(r.json) if events and not r.done else None)
    run.wait(30)
    partials = [value for value in seen if isinstance(value, dict)]
    assert partials and run.json == run.parsed.model_dump()
    assert any(set(p) < set(run.json) for p in partials)  # some fields had not arrived yet


# ---- hostile model output: recorded on the run, never raised -----------------------------------
def with_text(demo, session: Session, text: str, response_format: object = Person, **params: object) -> nbstream.Run:
    return nbstream.stream("Hi", model="demo", base_url=demo.base_url, response_format=response_format,
                           session=session, demo={**FAST, "tps": 1e6, "text": text}, **params)


def test_an_answer_that_is_not_json_is_an_error_string_on_the_run(demo, session):
    run = with_text(demo, session, "Sure! Here is the person you asked for.")
    assert run.status == "done" and run.json is None and run.parsed is None
    assert run.json_error.startswith("the answer is not valid JSON")


@pytest.mark.parametrize("answer", ['{"age": NaN}', '[Infinity]', '{"x": -Infinity}'])
def test_nan_and_infinity_are_not_json(answer):
    outcome = structured.final(answer, structured.normalize({"type": "object"}))
    assert outcome.value is None and "not valid JSON" in outcome.error


def test_a_cut_off_answer_says_it_was_cut_off(demo, session):
    run = with_text(demo, session, json.dumps({"name": "Ada " * 50, "age": 36, "pets": []}), max_tokens=5)
    assert run.finish_reason == "length" and run.json is None
    assert "cut off" in run.json_error


def test_a_validation_failure_keeps_the_json_and_records_the_error(demo, session):
    run = with_text(demo, session, json.dumps({"name": "Ada", "age": "old", "pets": "none"}))
    assert run.json == {"name": "Ada", "age": "old", "pets": "none"}
    assert run.parsed is None
    assert run.json_error.startswith("the JSON does not match Person") and "\n" not in run.json_error
    assert len(run.json_error) <= 500


def test_a_huge_answer_parses(demo, session):
    items = [{"kind": "cat" * 3000, "legs": i} for i in range(200)]
    text = json.dumps({"name": "Ada", "age": 36, "pets": items})
    run = with_text(demo, session, text)
    assert len(run.text) > 500_000 and run.json_error is None and len(run.parsed.pets) == 200


def test_deeply_nested_json_is_an_error_not_a_recursion_crash(demo, session):
    run = with_text(demo, session, "[" * 50_000 + "]" * 50_000, response_format={"type": "array"})
    assert run.status == "done" and run.json is None and "not valid JSON" in run.json_error


def refusing_every_name(title: str, error: Exception | None = None) -> type[pydantic.BaseModel]:
    """A model ``title`` whose validator raises ``error`` (default: ValueError naming the value)."""
    def never(_cls: type, value: str) -> str:
        raise error or ValueError(f"bad name {value}")  # the model's text, control characters and all

    return pydantic.create_model(title, name=(str, ...),
                                 __validators__={"never": pydantic.field_validator("name")(classmethod(never))})


def test_a_custom_validator_that_raises_is_a_recorded_error(demo, session):
    run = with_text(demo, session, '{"name": "x"}', response_format=refusing_every_name("Picky", RuntimeError("boom")))
    assert run.parsed is None and "does not match Picky" in run.json_error


def test_a_validator_echoing_the_answer_leaves_no_terminal_escape_in_the_error(demo, session):
    answer = '{"name": "\\u001b]0;pwned\\u0007\\u001b[2J\\r\\u009b31m"}'
    run = with_text(demo, session, answer, response_format=refusing_every_name("Echo"))
    assert run.json == {"name": "\x1b]0;pwned\x07\x1b[2J\r\x9b31m"}
    assert "does not match Echo" in run.json_error and "pwned" in run.json_error
    assert not any(ord(ch) < 32 or 0x7f <= ord(ch) <= 0x9f for ch in run.json_error), repr(run.json_error)


def test_a_json_answer_wrapped_in_a_code_fence_still_parses(demo, session):
    run = with_text(demo, session, '```json\n{"name": "Ada", "age": 36, "pets": []}\n```')
    assert run.parsed == Person(name="Ada", age=36, pets=[])


def test_an_error_string_never_shows_a_key(demo, session):
    key = "sk-proj-" + "A1b2C3d4" * 6
    run = with_text(demo, session, f'{{"name": 1, "age": "{key}", "pets": []}}', api_key=key)
    assert key not in (run.json_error or "") and key not in run.text


def test_a_key_spelled_with_escapes_inside_the_json_answer_is_masked_once_decoded(demo, session):
    key = "sk-proj-" + "A1b2C3d4" * 6
    hidden = "\\u0073" + key[1:]  # the answer's own JSON escape (not the wire's): no key in the text
    text = f'{{"name": "{hidden}", "age": 1, "pets": [], "{hidden}": 2}}'
    run = with_text(demo, session, text, response_format={"type": "object"}, api_key=key)
    assert run.text == text and run.json is not None and len(run.json) == 4
    assert key not in repr(run.json)
    body = jsonview.JsonBody()
    body.take(TextDelta(text[:-12]))
    _, tail = body.flush()
    assert "name" in tail and key not in tail
    body.take(TextDelta(text[-12:]))
    assert key not in body.whole() and key not in repr(structured.partial(text))


def test_a_pydantic_model_validates_the_masked_json(demo, session):
    key = "sk-proj-" + "A1b2C3d4" * 6
    run = with_text(demo, session, f'{{"name": "\\u0073{key[1:]}", "age": 1, "pets": []}}', api_key=key)
    assert run.parsed is not None and run.parsed.name != key and run.parsed.name == run.json["name"]


# ---- bad arguments: one clear line, before anything is sent ----------------------------------
@pytest.mark.parametrize(("value", "error", "words"), [
    (42, TypeError, "JSON-schema dict"),
    ("{\"type\": \"object\"}", TypeError, "pydantic model class"),
    ({"type": "object", "x": object()}, ValueError, "not JSON"),
    ({"type": "json_schema", "json_schema": {"name": "x", "schema": "nope"}}, TypeError, "must be a dict"),
    ({"type": "object", "description": "x" * (2 << 20)}, ValueError, "under 1 MiB"),
])
def test_a_bad_response_format_is_a_one_line_error(demo, session, value, error, words):
    with pytest.raises(error, match=words) as info:
        nbstream.stream("Hi", model="demo", base_url=demo.base_url, response_format=value, session=session)
    assert "\n" not in str(info.value)


def test_a_feed_takes_no_response_format(session):
    with pytest.raises(TypeError, match="response_format"):
        nbstream.stream(url="http://127.0.0.1:9/events", response_format={"type": "object"}, session=session)


# ---- the live view: partial JSON through the render boundary ----------------------------------
def test_the_view_shows_fields_filling_in():
    body = jsonview.JsonBody()
    body.take(TextDelta('{"name": "Ad'))
    _, tail = body.flush()
    assert '"name"' in tail and '"Ad"' in tail and '"age"' not in tail
    body.take(TextDelta('a", "age": 36}'))
    whole = body.whole()
    assert '"age"' in whole and "36" in whole


def test_script_in_json_values_and_keys_reaches_the_view_only_escaped():
    payload = {"<script>alert(1)</script>": "<img src=x onerror=alert(2)>", "a": "</code></pre><script>x()</script>"}
    for text in (json.dumps(payload), json.dumps(payload)[:-3], "<script>alert(3)</script>"):
        body = jsonview.JsonBody()
        body.take(TextDelta(text))
        _, tail = body.flush()
        for html in (tail, body.whole()):
            assert "<script" not in html and "<img" not in html


def test_a_huge_partial_answer_is_cut_in_the_live_view():
    body = jsonview.JsonBody()
    body.take(TextDelta(json.dumps({"items": ["x" * 100] * 5000})[:-5]))
    _, tail = body.flush()
    assert "more characters" in tail and len(tail) < 4 * jsonview.LIVE_CHARS


def test_a_deeply_nested_partial_answer_does_not_break_the_view():
    body = jsonview.JsonBody()
    body.take(TextDelta("[" * 100_000))
    blocks, tail = body.flush()  # no JSON to show: its text, cut
    assert blocks == [] and "[[[" in tail and "more characters" in tail and len(tail) < 4 * jsonview.LIVE_CHARS
    assert "[[[" in body.whole()


def test_an_answer_that_is_no_json_shows_live_as_text_not_a_blank_view():
    body = jsonview.JsonBody()
    body.take(TextDelta("Sure! Here is <b>the person</b> you asked for:"))
    _, tail = body.flush()
    assert "Sure! Here is" in tail and "<b>" not in tail
    body.take(TextDelta(' {"name": "Ada"}'))
    _, tail = body.flush()
    assert "Ada" in tail
    assert tail == body.whole()  # live and final agree: the text as it came


def test_nothing_but_whitespace_shows_nothing_yet():
    body = jsonview.JsonBody()
    body.take(TextDelta("\n  "))
    assert body.flush() == ([], "")


# ---- OpenAI's JSON mode ({"type": "json_object"}): any JSON, each API its own way -------------
@pytest.mark.parametrize(("api", "suffix", "where"), [
    ("chat", "/v1", lambda b: b["response_format"] == {"type": "json_object"}),
    ("responses", "/v1", lambda b: b["text"] == {"format": {"type": "json_object"}}),
    ("ollama", "", lambda b: b["format"] == "json"),
    ("gemini", "", lambda b: b["generationConfig"] == {"responseMimeType": "application/json"}),
])
def test_json_mode_asks_for_any_json(proxy, session, api, suffix, where):
    run = ask(session, api, {"type": "json_object"}, proxy.url + suffix, demo=FAST)
    (_, body), = proxy.requests
    assert where(body)
    assert isinstance(run.json, dict) and run.json_error is None


def test_anthropic_has_no_json_mode_so_nothing_is_asked_but_the_answer_is_still_read(proxy, session):
    run = ask(session, "anthropic", {"type": "json_object"}, proxy.url + "/v1", demo=FAST)
    (_, body), = proxy.requests
    assert "output_config" not in body
    assert run.json is None and run.json_error.startswith("the answer is not valid JSON")


def test_a_text_format_asks_for_nothing(proxy, session):
    run = ask(session, "chat", {"type": "text"}, proxy.url + "/v1", demo=FAST)
    (_, body), = proxy.requests
    assert "response_format" not in body and run.json is None and run.json_error is None


def test_a_recursive_schema_gets_a_bounded_answer_from_the_demo(demo, session):
    node = {"type": "object", "properties": {f"k{i}": {"$ref": "#/$defs/Node"} for i in range(10)}}
    schema = {"$defs": {"Node": node}, **node}
    run = nbstream.stream("Hi", model="demo", base_url=demo.base_url, response_format=schema, session=session,
                          demo={**FAST, "tps": 1e6})
    assert run.status == "done" and isinstance(run.json, dict) and len(run.text) < 1_000_000


@pytest.mark.parametrize("minimum", ["abc", [1], {"x": 1}, "9" * 400, 1e300],
                         ids=["text", "list", "dict", "400 digits", "1e300"])
def test_a_schema_with_a_minimum_that_is_no_number_gets_an_answer_from_the_demo_not_a_500(demo, session, minimum):
    schema = {"type": "object", "properties": {"age": {"type": "integer", "minimum": minimum},
                                               "height": {"type": "number", "minimum": minimum}}}
    run = nbstream.stream("Hi", model="demo", base_url=demo.base_url, response_format=schema, session=session,
                          demo={**FAST, "tps": 1e6})
    assert run.status == "done", run.error
    assert run.json == {"age": 3, "height": 1.5}
