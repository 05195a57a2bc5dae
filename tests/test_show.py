"""nbstream.show() / ashow() read streams opened elsewhere: plain iterators, byte streams,
httpx responses, the openai SDK's streams and the OpenAI Agents SDK — all into one Run."""

from __future__ import annotations

import asyncio
import threading

import httpx
import pytest

import nbstream
from nbstream import errors
from nbstream.events import Step, TextDelta

FAST = {"ttft": 0.01, "tps": 2000, "jitter": 0}


@pytest.fixture(scope="module")
def expected(demo):
    """The demo's answer to 'Explain SSE', as nbstream's own client receives it."""
    return nbstream.stream("Explain SSE", base_url=demo.base_url, model="demo", demo=FAST).text


def chunk(text=None, finish=None):
    delta = {} if text is None else {"content": text}
    return {"id": "c1", "object": "chat.completion.chunk", "model": "m",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}


# ---- plain Python iterators -------------------------------------------------------------
def test_an_iterable_of_strings_is_the_answer_text():
    run = nbstream.show(iter(["Hello", ", ", "world"]), display=False)
    assert run.status == "done" and run.text == "Hello, world"


def test_an_iterable_of_chat_chunk_dicts_is_normalized():
    run = nbstream.show([chunk("Hi"), chunk(" there"), chunk(finish="stop")], display=False)
    assert run.text == "Hi there" and run.finish_reason == "stop" and run.status == "done"


def test_an_iterable_of_sse_bytes_is_framed_across_item_boundaries():
    wire = b'data: {"choices":[{"index":0,"delta":{"content":"Hel"}}]}\n\ndata: {"choices":[{"index":0,' \
           b'"delta":{"content":"lo"},"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n'
    pieces = [wire[i:i + 7] for i in range(0, len(wire), 7)]
    run = nbstream.show(pieces, display=False)
    assert run.text == "Hello" and run.status == "done"


def test_an_async_generator_is_read_on_the_io_thread_from_sync_code():
    async def tokens():
        for t in ["a", "b", "c"]:
            await asyncio.sleep(0.01)
            yield t

    run = nbstream.show(tokens(), display=False)
    assert run.text == "abc" and run.status == "done"


def test_inside_a_running_loop_show_returns_at_once_and_await_waits_for_the_end():
    gate = threading.Event()  # the source yields nothing until the test has looked at the run

    async def tokens():
        assert await asyncio.to_thread(gate.wait, 60)
        for t in ["x"] * 5:
            await asyncio.sleep(0.02)
            yield t

    async def cell():
        run = nbstream.show(tokens(), display=False)
        assert not run.done
        gate.set()
        await run
        return run

    run = asyncio.run(cell())
    assert run.text == "xxxxx" and run.status == "done"


def test_a_source_that_raises_keeps_the_partial_and_reports_the_cause():
    def tokens():
        yield "partial "
        raise RuntimeError("model crashed")

    run = nbstream.show(tokens(), display=False)
    assert run.status == "error" and run.text == "partial "
    assert isinstance(run.error, errors.SourceError) and "model crashed" in str(run.error)


def test_ctrl_c_while_reading_a_sync_source_cancels_and_keeps_the_partial():
    def tokens():
        yield "one "
        yield "two "
        raise KeyboardInterrupt

    run = nbstream.show(tokens(), display=False)
    assert run.status == "cancelled" and run.text == "one two "


def test_an_unsupported_source_gets_a_clear_type_error():
    with pytest.raises(TypeError, match="cannot read a int"):
        nbstream.show(42)


def test_show_prints_the_answer_and_a_status_line_outside_notebooks(capsys):
    nbstream.show(iter(["Hello", " world"]))
    out = capsys.readouterr().out
    assert out.startswith("Hello world\n") and "text" in out.splitlines()[-1]


# ---- httpx responses --------------------------------------------------------------------
def test_a_sync_httpx_streaming_response(demo, expected):
    body = {"model": "demo", "stream": True, "messages": [{"role": "user", "content": "Explain SSE"}],
            "demo": FAST}
    with httpx.Client() as client, client.stream("POST", demo.base_url + "/chat/completions",
                                                 json=body) as response:
        run = nbstream.show(response, display=False)
    assert run.status == "done" and run.text == expected


def test_an_async_httpx_streaming_response(demo, expected):
    body = {"model": "demo", "stream": True, "messages": [{"role": "user", "content": "Explain SSE"}],
            "demo": FAST}

    async def main():
        async with httpx.AsyncClient() as client, client.stream(
                "POST", demo.base_url + "/chat/completions", json=body) as response:
            return await nbstream.ashow(response, display=False)

    run = asyncio.run(main())
    assert run.status == "done" and run.text == expected


# ---- the openai SDK -----------------------------------------------------------------------
import openai  # noqa: E402  (a test extra: a missing SDK is a failure, not a skip)


def test_an_openai_sdk_chat_stream(demo, expected):
    client = openai.OpenAI(base_url=demo.base_url, api_key="sk-demo-not-a-real-key")
    stream = client.chat.completions.create(model="demo", messages=[{"role": "user", "content": "Explain SSE"}],
                                            stream=True, stream_options={"include_usage": True},
                                            extra_body={"demo": FAST})
    run = nbstream.show(stream, display=False)
    assert run.status == "done" and run.text == expected
    assert run.usage.output_tokens > 0


def test_an_openai_sdk_async_chat_stream(demo, expected):
    async def main():
        client = openai.AsyncOpenAI(base_url=demo.base_url, api_key="sk-demo-not-a-real-key")
        stream = await client.chat.completions.create(
            model="demo", messages=[{"role": "user", "content": "Explain SSE"}], stream=True,
            extra_body={"demo": FAST})
        return await nbstream.ashow(stream, display=False)

    run = asyncio.run(main())
    assert run.status == "done" and run.text == expected


def test_an_openai_sdk_responses_stream(demo, expected):
    client = openai.OpenAI(base_url=demo.base_url, api_key="sk-demo-not-a-real-key")
    stream = client.responses.create(model="demo", input="Explain SSE", stream=True,
                                     extra_body={"demo": FAST})
    run = nbstream.show(stream, display=False)
    assert run.status == "done" and run.text == expected
    assert run.finish_reason == "completed"


def test_sdk_chunk_objects_iterated_by_the_user_work_too(demo, expected):
    client = openai.OpenAI(base_url=demo.base_url, api_key="sk-demo-not-a-real-key")
    stream = client.chat.completions.create(model="demo", messages=[{"role": "user", "content": "Explain SSE"}],
                                            stream=True, extra_body={"demo": FAST})
    run = nbstream.show((c for c in stream), display=False)
    assert run.text == expected and run.finish_reason == "stop"


# ---- the OpenAI Agents SDK -------------------------------------------------------------------
import agents  # noqa: E402,F401


def _agent(demo, model_name="demo", tools=()):
    from agents import Agent, OpenAIChatCompletionsModel, set_tracing_disabled

    set_tracing_disabled(True)
    client = openai.AsyncOpenAI(base_url=demo.base_url, api_key="sk-demo-not-a-real-key")
    return Agent(name="Tutor", instructions="Be helpful.", tools=list(tools),
                 model=OpenAIChatCompletionsModel(model=model_name, openai_client=client))


def test_an_agents_sdk_streamed_run_text_equals_the_final_output(demo):
    from agents import Runner

    async def main():
        result = Runner.run_streamed(_agent(demo), "Explain SSE")
        run = await nbstream.ashow(result, display=False)
        return run, result.final_output

    run, final = asyncio.run(main())
    assert run.status == "done"
    assert run.text == final and final


def test_an_agents_sdk_tool_call_and_its_output_appear_as_steps(demo):
    from agents import Runner, function_tool

    @function_tool
    def get_weather(city: str) -> str:
        """The weather in a city."""
        return f"Sunny in {city}"

    async def main():
        result = Runner.run_streamed(_agent(demo, "demo-tools", [get_weather]), "Weather in Paris?")
        run = await nbstream.ashow(result, display=False)
        return run, result.final_output

    run, final = asyncio.run(main())
    kinds = [e.kind for e in run.events if isinstance(e, Step)]
    assert "tool_called" in kinds and "tool_output" in kinds
    assert run.status == "done" and final and final in run.text
    assert any(isinstance(e, TextDelta) for e in run.events)
