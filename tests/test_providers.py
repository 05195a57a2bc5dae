"""Anthropic's Messages API and Gemini natively: ``stream(api=...)`` and ``show()`` of the
providers' own SDK streams, over loopback HTTP to the embedded demo endpoint (which speaks
both), into the same Run, events and tables as the OpenAI formats."""

from __future__ import annotations

import asyncio

import anthropic
import httpx
import pytest
from google import genai

import nbstream
from nbstream import errors
from nbstream.demo import serve
from nbstream.session import Session

pytestmark = pytest.mark.usefixtures("no_providers")  # none of the provider variables set

FAST = {"ttft": 0.0, "tps": 5000.0, "jitter": 0.0}
ASK = "Explain streaming responses in notebooks"


@pytest.fixture(scope="module")
def server():
    with serve(**FAST) as running:
        yield running



def root_of(server) -> str:
    return server.base_url.removesuffix("/v1")


def chat_answer(server, session: Session, model: str = "demo") -> nbstream.Run:
    return nbstream.stream(ASK, base_url=server.base_url, model=model, session=session)


@pytest.mark.parametrize("api", ["anthropic", "gemini"])
def test_a_native_stream_gives_the_same_answer_and_usage_as_chat_completions(server, session, api) -> None:
    reference = chat_answer(server, session)
    run = nbstream.stream(ASK, base_url=server.base_url, model="demo", api=api, session=session)
    assert run.status == "done", run.error
    assert run.text == reference.text and (run.source, run.wire_format) == ("request", api)
    assert run.usage.output_tokens == reference.usage.output_tokens
    assert run.finish_reason == "stop" and run.finish_reason_raw == {"anthropic": "end_turn", "gemini": "STOP"}[api]
    assert run.summary["n_output_tokens_source"] in ("usage", "continuous_usage")  # Gemini: every chunk
    assert run.summary["api"] == api


@pytest.mark.parametrize("api", ["anthropic", "gemini"])
def test_reasoning_arrives_as_reasoning_and_counts_for_ttft(server, session, api) -> None:
    # the demo holds every token after the first (a thinking token) back: the answer comes measurably later
    run = nbstream.stream(ASK, base_url=server.base_url, model="demo-reasoning", api=api, session=session,
                          demo={**FAST, "after": 1, "stall": 1.0})
    assert run.reasoning and run.text and run.status == "done"
    assert run.summary["ttft_s"] < run.summary["ttfo_s"]  # TTFT counts thinking, TTFO only the answer


@pytest.mark.parametrize("api", ["anthropic", "gemini"])
def test_tool_calls_are_assembled_and_finish_as_tool_calls(server, session, api) -> None:
    run = nbstream.stream("weather in Paris?", base_url=server.base_url, model="demo-tools", api=api,
                          session=session)
    assert run.finish_reason == "tool_calls"
    assert [(c.name, c.arguments.replace(" ", "")) for c in run.tool_calls] == [("get_weather", '{"city":"Paris"}')]


@pytest.mark.parametrize("api", ["anthropic", "gemini"])
def test_a_limit_ends_with_length_in_both_words(server, session, api) -> None:
    run = nbstream.stream(ASK, base_url=server.base_url, model="demo", api=api, max_tokens=3, session=session)
    assert run.finish_reason == "length"
    assert run.finish_reason_raw == {"anthropic": "max_tokens", "gemini": "MAX_TOKENS"}[api]


def test_a_matched_stop_sequence_is_kept_as_the_runs_stop_sequence(server, session) -> None:
    reference = chat_answer(server, session).text
    stop = reference.split()[6]  # a word from inside the answer
    run = nbstream.stream(ASK, base_url=server.base_url, model="demo", api="anthropic", stop=[stop, "never said"],
                          session=session)
    assert (run.finish_reason, run.finish_reason_raw, run.stop_sequence) == ("stop", "stop_sequence", stop)
    assert run.summary["stop_sequence"] == stop and run.text == reference[:reference.index(stop)]


@pytest.mark.parametrize("api", ["anthropic", "gemini"])
def test_a_dropped_connection_keeps_the_partial_answer_and_says_incomplete(server, session, api) -> None:
    run = nbstream.stream(ASK, base_url=server.base_url, model="demo-disconnect", api=api, session=session)
    assert run.status == "incomplete" and run.text and "mid-stream" in str(run.error)


@pytest.mark.parametrize(("model", "status", "error", "said"), [
    ("demo-429", 429, errors.RateLimitError, "Rate limit reached"),
    ("demo-401", 401, errors.AuthenticationError, "Incorrect API key provided"),
], ids=["429", "401"])
@pytest.mark.parametrize("api", ["chat", "anthropic", "gemini"])
def test_http_errors_carry_the_providers_message(server, session, api, model, status, error, said) -> None:
    run = nbstream.stream(ASK, base_url=server.base_url, model=model, api=api, session=session)
    assert run.status == "error" and run.http_status == status and said in str(run.error)
    assert isinstance(run.error, error)


def test_the_anthropic_key_goes_in_x_api_key_and_never_into_output(session, monkeypatch) -> None:
    key = "sk-ant-api03-" + "K" * 40
    with serve(api_key=key, **FAST) as keyed:
        monkeypatch.setenv("ANTHROPIC_API_KEY", key)
        monkeypatch.setenv("ANTHROPIC_BASE_URL", root_of(keyed))
        run = nbstream.stream(ASK, model="demo", api="anthropic", session=session)
        assert run.status == "done", run.error
        sent = keyed.requests[-1]
        assert sent.path == "/v1/messages"
    shown = repr(run) + run._repr_html_() + str(run.summary.to_dict()) + run.chunks.to_string()
    assert key not in shown and key[:20] not in shown


def test_a_refused_gemini_key_names_where_it_came_from_never_the_key(session, monkeypatch) -> None:
    key = "AIza" + "G" * 35
    with serve(api_key="the-right-one", **FAST) as keyed:
        monkeypatch.setenv("GOOGLE_API_KEY", key)
        run = nbstream.stream(ASK, base_url=keyed.base_url, model="demo", api="gemini", session=session)
    assert run.status == "error" and "GOOGLE_API_KEY" in str(run.error) and key not in str(run.error)


def test_a_hostile_model_name_stays_inside_the_gemini_path(server, session) -> None:
    run = nbstream.stream(ASK, base_url=server.base_url, model="../../v1/chat/completions?x=", api="gemini",
                          session=session)
    assert run.status == "error" and run.http_status == 404
    assert server.requests[-1].path.startswith("/v1beta/models/")


def test_the_demo_is_the_default_for_the_native_formats_too(session, monkeypatch) -> None:
    for api in ("anthropic", "gemini"):
        run = nbstream.stream(ASK, api=api, model="demo-fast", session=session)
        assert run.status == "done" and run.text, (api, run.error)


# ---- show() of the providers' SDK streams -------------------------------------------------
def test_show_reads_an_anthropic_sdk_stream_at_the_byte_level(server, session) -> None:
    client = anthropic.Anthropic(base_url=root_of(server), api_key="x")
    stream = client.messages.create(model="demo-reasoning", max_tokens=1000, stream=True,
                                    messages=[{"role": "user", "content": ASK}])
    run = nbstream.show(stream, display=False, session=session)
    reference = nbstream.stream(ASK, base_url=server.base_url, model="demo-reasoning", session=session)
    assert run.status == "done" and run.text == reference.text and run.reasoning
    assert run.finish_reason_raw == "end_turn" and run.records[0].message.read_idx == 0


def test_show_reads_the_anthropic_message_stream_helper(server, session) -> None:
    client = anthropic.Anthropic(base_url=root_of(server), api_key="x")
    with client.messages.stream(model="demo", max_tokens=1000, messages=[{"role": "user", "content": ASK}]) as s:
        run = nbstream.show(s, display=False, session=session)
    assert run.status == "done" and run.text == chat_answer(server, session).text


@pytest.mark.parametrize(("client", "how"), [
    (anthropic.Anthropic, "with client.messages.stream(...) as s: nbstream.show(s)"),
    (anthropic.AsyncAnthropic, "async with client.messages.stream(...) as s: await nbstream.ashow(s)"),
], ids=["sync", "async"])
def test_an_unentered_message_stream_helper_is_a_type_error_saying_how_to_enter_it(server, session, client, how):
    manager = client(base_url=root_of(server), api_key="x").messages.stream(
        model="demo", max_tokens=10, messages=[{"role": "user", "content": ASK}])
    with pytest.raises(TypeError) as info:
        nbstream.show(manager, display=False, session=session)
    assert how in str(info.value) and "\n" not in str(info.value)
    pending = getattr(manager, "_AsyncMessageStreamManager__api_request", None)
    if pending is not None:
        pending.close()  # the request the async helper would have awaited once entered: never sent


def test_ashow_reads_an_async_anthropic_sdk_stream(server, session) -> None:
    async def main() -> nbstream.Run:
        client = anthropic.AsyncAnthropic(base_url=root_of(server), api_key="x")
        stream = await client.messages.create(model="demo", max_tokens=1000, stream=True,
                                              messages=[{"role": "user", "content": ASK}])
        return await nbstream.ashow(stream, display=False, session=session)

    run = asyncio.run(main())
    assert run.status == "done" and run.text == chat_answer(server, session).text


def test_show_reads_google_genai_chunks_sync_and_async(server, session) -> None:
    client = genai.Client(api_key="x", http_options=genai.types.HttpOptions(base_url=root_of(server),
                                                                         api_version="v1beta"))
    run = nbstream.show(client.models.generate_content_stream(model="demo", contents=ASK), display=False,
                        session=session)

    async def main() -> nbstream.Run:
        chunks = await client.aio.models.generate_content_stream(model="demo", contents=ASK)
        return await nbstream.ashow(chunks, display=False, session=session)

    again = asyncio.run(main())
    reference = chat_answer(server, session)
    assert run.text == again.text == reference.text
    assert run.finish_reason == again.finish_reason == "stop"
    assert run.usage.output_tokens == reference.usage.output_tokens


def test_a_google_genai_function_call_is_a_tool_call(server, session) -> None:
    client = genai.Client(api_key="x", http_options=genai.types.HttpOptions(base_url=root_of(server),
                                                                         api_version="v1beta"))
    run = nbstream.show(client.models.generate_content_stream(model="demo-tools", contents="weather?"),
                        display=False, session=session)
    assert run.finish_reason == "tool_calls" and run.tool_calls[0].name == "get_weather"


def test_the_registry_lists_the_native_formats_for_api() -> None:
    with pytest.raises(ValueError) as info:
        nbstream.stream("x", api="claude")
    assert "'anthropic'" in str(info.value) and "'gemini'" in str(info.value) and "\n" not in str(info.value)


def test_httpx_reads_what_the_demo_streams_for_gemini_without_alt_sse(server) -> None:
    r = httpx.post(f"{root_of(server)}/v1beta/models/demo:streamGenerateContent",
                   json={"contents": [{"parts": [{"text": "hi"}]}]})
    assert r.status_code == 200 and r.text.startswith("[") and r.text.endswith("]")


# ---- a provider per model: PREFIX:NAME -----------------------------------------------------
@pytest.mark.parametrize(("model", "api"), [("anthropic:demo", "anthropic"), ("gemini:demo", "gemini"),
                                            ("google:demo", "gemini"), ("openai:demo", "chat"),
                                            ("ollama:demo", "ollama")])
def test_a_provider_prefix_picks_the_wire_format_and_is_not_sent(server, session, model, api) -> None:
    run = nbstream.stream(ASK, base_url=server.base_url, model=model, session=session)
    assert run.status == "done" and run.wire_format == api and run.model == "demo"
    assert run.text == chat_answer(server, session).text


def test_a_prefix_uses_that_providers_variables_not_the_configured_endpoint_or_key(server, session, monkeypatch):
    openai_key = "sk-proj-" + "O" * 40
    session.settings.base_url = "http://127.0.0.1:9/v1"  # the default provider: must not be used
    session.settings.api_key = openai_key  # …nor its key sent to another provider
    monkeypatch.setenv("ANTHROPIC_BASE_URL", root_of(server))
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-" + "A" * 40)
    run = nbstream.stream(ASK, model="anthropic:demo", session=session)
    assert run.status == "done", run.error
    assert run.base_url == root_of(server) and server.requests[-1].path == "/v1/messages"


def test_a_prefix_and_a_different_api_are_a_one_line_error(session) -> None:
    with pytest.raises(ValueError, match="names the 'anthropic' API, but api='gemini'") as info:
        nbstream.stream(ASK, model="anthropic:claude-x", api="gemini", session=session)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("model", ["llama3.2:3b", "openai/gpt-5.2", "unknown:thing"])
def test_other_colons_and_slashes_are_part_of_the_model_name(server, session, model) -> None:
    run = nbstream.stream(ASK, base_url=server.base_url, model=model, session=session)
    assert run.model == model and server.requests[-1].model == model


def test_one_compare_cell_streams_three_providers_side_by_side(server) -> None:
    from _kernel import execute

    nb = execute([f"import nbstream\nnbstream.config.base_url = {server.base_url!r}",
                  "%%stream --compare -m openai:demo -m anthropic:demo -m gemini:demo -o runs\nHello",
                  "print([(r.label, r.wire_format, r.status, r.finish_reason) for r in runs])"], timeout=120)
    printed = "".join(o.get("text", "") for o in nb.cells[-1].outputs)
    assert "('openai:demo', 'chat', 'done', 'stop')" in printed
    assert "('anthropic:demo', 'anthropic', 'done', 'stop')" in printed
    assert "('gemini:demo', 'gemini', 'done', 'stop')" in printed
