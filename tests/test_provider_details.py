"""Details that keep providers on an equal footing, over loopback to the demo endpoint: a
404 hint in the API's own words, a shown stream named by the format it turned out to be,
``max_tokens=None`` meaning "not given", and the provider's own finish word in the run table."""

from __future__ import annotations

import anthropic
import httpx
import pytest
from google import genai

import nbstream
from nbstream.demo import serve

pytestmark = pytest.mark.usefixtures("no_providers")  # none of the provider variables set

FAST = {"ttft": 0.0, "tps": 5000.0, "jitter": 0.0}


@pytest.fixture(scope="module")
def server():
    with serve(**FAST) as running:
        yield running



def root_of(server) -> str:
    return server.base_url.removesuffix("/v1")


def ask(server, session, api: str, **kw) -> nbstream.Run:
    base = server.base_url if api in ("chat", "responses") else root_of(server)
    return nbstream.stream("hi", base_url=base, api=api, api_key="x", session=session, **{"model": "demo", **kw})


# ---- the 404 hint ----------------------------------------------------------------------------
@pytest.mark.parametrize(("api", "listing", "words"), [
    ("chat", "/v1/models lists", "usually ends in /v1"),
    ("anthropic", "/v1/models lists", "Anthropic's base URL has no /v1"),
    ("gemini", "/v1beta/models lists", "Gemini's base URL is the host"),
    ("ollama", "/api/tags lists", "Ollama's base URL is the host"),
])
def test_a_404_names_the_api_s_own_models_listing(server, session, api, listing, words):
    run = ask(server, session, api, model="no-such-model")
    assert run.http_status == 404
    message = str(run.error)
    assert f"GET {root_of(server)}{listing} the models" in message and words in message


# ---- a shown stream takes the format it turned out to be ------------------------------------
def test_a_shown_anthropic_sdk_stream_is_an_anthropic_run(server, session):
    client = anthropic.Anthropic(base_url=root_of(server), api_key="x")
    stream = client.messages.create(model="demo", max_tokens=100, stream=True,
                                    messages=[{"role": "user", "content": "hi"}])
    run = nbstream.show(stream, display=False, session=session)
    assert (run.status, run.wire_format, run.api) == ("done", "anthropic", "anthropic")


def test_shown_google_genai_chunks_are_a_gemini_run(server, session):
    client = genai.Client(api_key="x", http_options=genai.types.HttpOptions(base_url=root_of(server),
                                                                         api_version="v1beta"))
    run = nbstream.show(client.models.generate_content_stream(model="demo", contents="hi"), display=False,
                        session=session)
    assert (run.status, run.wire_format) == ("done", "gemini")


def test_a_shown_httpx_response_is_named_by_its_bytes(server, session):
    body = {"model": "demo", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    with httpx.Client() as client, client.stream("POST", server.base_url + "/responses",
                                                 json={"model": "demo", "stream": True, "input": "hi"}) as r:
        run = nbstream.show(r, display=False, session=session)
    assert (run.status, run.wire_format) == ("done", "responses")
    with httpx.Client() as client, client.stream("POST", server.base_url + "/chat/completions", json=body) as r:
        assert nbstream.show(r, display=False, session=session).wire_format == "chat"


def test_a_shown_run_that_never_decided_stays_auto(session):
    assert nbstream.show(iter([]), display=False, session=session).wire_format == "auto"


def test_shown_messages_no_format_claims_are_a_generic_feed(session):
    run = nbstream.show(iter([{"temperature_c": 21}]), display=False, session=session)
    assert (run.status, run.wire_format) == ("done", "sse")


# ---- max_tokens=None is "not given" ----------------------------------------------------------
@pytest.mark.parametrize("api", ["anthropic", "gemini"])
def test_max_tokens_none_sends_the_default_not_null(server, session, api):
    run = ask(server, session, api, max_tokens=None, max_output_tokens=None)
    assert run.status == "done", run.error


def test_anthropic_max_tokens_none_with_an_alias_takes_the_alias(server, session):
    from nbstream.wire.anthropic import DEFAULT_MAX_TOKENS, body

    messages = [{"role": "user", "content": "hi"}]
    assert body("m", messages, {"max_tokens": None})["max_tokens"] == DEFAULT_MAX_TOKENS
    assert body("m", messages, {"max_tokens": None, "max_output_tokens": 7})["max_tokens"] == 7
    assert body("m", messages, {"max_tokens": 5, "max_output_tokens": 7})["max_tokens"] == 5


# ---- the run table ---------------------------------------------------------------------------
def test_the_run_table_has_the_provider_s_own_finish_word(server, session):
    runs = [ask(server, session, api) for api in ("chat", "anthropic", "gemini")]
    table = session.runs(*runs)
    assert list(table["finish_reason"]) == ["stop", "stop", "stop"]
    # OpenAI's word is the common word: no separate raw one, as on the Run
    assert [r.finish_reason_raw for r in runs] == [None, "end_turn", "STOP"]
    assert list(table["finish_reason_raw"].astype(object).where(table["finish_reason_raw"].notna(), None)) == [
        None, "end_turn", "STOP"]


# ---- a nested setting given as no dict: one line naming it, nothing sent ------------------------
@pytest.mark.parametrize(("api", "name", "extra"), [
    ("anthropic", "output_config", {"response_format": {"type": "object"}}),
    ("responses", "text", {"response_format": {"type": "object"}}),
    ("gemini", "generationConfig", {}),
    ("ollama", "options", {}),
])
@pytest.mark.parametrize("value", ["json", ["a"], 3])
def test_a_nested_setting_that_is_no_dict_is_a_one_line_error_naming_it(server, session, api, name, extra, value):
    with pytest.raises(TypeError) as info:
        ask(server, session, api, **{name: value, **extra})
    message = str(info.value)
    assert message.startswith(f"{name} must be a dict") and type(value).__name__ in message and "\n" not in message
    assert session.runs().empty  # nothing was sent
