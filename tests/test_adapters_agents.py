"""OpenAI Agents SDK stream events -> normalized events, built from the installed SDK's own types."""

from __future__ import annotations

import asyncio
import types

import pytest
from agents import Agent, RunConfig, Runner, function_tool
from agents.items import (
    HandoffCallItem,
    HandoffOutputItem,
    MessageOutputItem,
    ReasoningItem,
    ToolCallItem,
    ToolCallOutputItem,
)
from agents.stream_events import (
    AgentUpdatedStreamEvent,
    RawResponsesStreamEvent,
    RunItemStreamEvent,
)
from agents.testing import ModelStep, ScriptedModel, assistant_message, function_call
from agents.usage import Usage as AgentsUsage
from openai.types.responses import (
    Response,
    ResponseCompletedEvent,
    ResponseCreatedEvent,
    ResponseFunctionCallArgumentsDeltaEvent,
    ResponseFunctionToolCall,
    ResponseOutputItemAddedEvent,
    ResponseOutputMessage,
    ResponseOutputText,
    ResponseReasoningItem,
    ResponseTextDeltaEvent,
)
from openai.types.responses.response_reasoning_item import Summary

from nbstream.events import (
    Done,
    Finish,
    Meta,
    Other,
    Step,
    TextDelta,
    ToolCallDelta,
    Usage,
)
from nbstream.wire.adapters import AgentsAdapter

TRIAGE = Agent(name="triage")
BILLING = Agent(name="billing")


def response(usage=None, status="completed"):
    return Response.model_validate({
        "id": "resp_1", "object": "response", "created_at": 1741290958, "model": "gpt-4.1", "output": [],
        "parallel_tool_calls": True, "tool_choice": "auto", "tools": [], "status": status,
        "usage": usage,
    })


def usage(inp, out):
    return {"input_tokens": inp, "output_tokens": out, "total_tokens": inp + out,
            "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
            "output_tokens_details": {"reasoning_tokens": 0}}


def completed(inp, out):
    return RawResponsesStreamEvent(data=ResponseCompletedEvent(
        type="response.completed", sequence_number=9, response=response(usage(inp, out))))


def created():
    return RawResponsesStreamEvent(data=ResponseCreatedEvent(
        type="response.created", sequence_number=0, response=response(status="in_progress")))


def call(name="get_weather", arguments='{"city":"Paris"}', call_id="call_1"):
    return ResponseFunctionToolCall(type="function_call", id="fc_1", call_id=call_id, name=name,
                                    arguments=arguments, status="completed")


def call_added(output_index, call_id):
    return RawResponsesStreamEvent(data=ResponseOutputItemAddedEvent(
        type="response.output_item.added", sequence_number=1, output_index=output_index,
        item=call(call_id=call_id, arguments="")))


# ---- raw model events --------------------------------------------------------------------

def test_raw_text_delta_becomes_text_delta():
    event = RawResponsesStreamEvent(data=ResponseTextDeltaEvent(
        type="response.output_text.delta", content_index=0, delta="Hi", item_id="msg_1", logprobs=[],
        output_index=0, sequence_number=3))
    assert AgentsAdapter().feed_object(event) == [TextDelta("Hi")]


def test_raw_created_becomes_created_meta():
    assert AgentsAdapter().feed_object(created()) == [Meta(stage="created", id="resp_1", model="gpt-4.1",
                                                           created=1741290958)]


def test_a_turn_completing_gives_usage_and_finish_but_not_done():
    events = AgentsAdapter().feed_object(completed(10, 5))
    assert events == [Usage(input_tokens=10, output_tokens=5, total_tokens=15, reasoning_tokens=0, cached_tokens=0),
                      Finish("completed")]


def test_each_turn_reports_its_own_usage():
    ad = AgentsAdapter()
    events = [e for ev in (created(), completed(10, 5), created(), completed(20, 7)) for e in ad.feed_object(ev)]
    assert [(u.input_tokens, u.output_tokens) for u in events if type(u) is Usage] == [(10, 5), (20, 7)]
    assert not any(type(e) is Done for e in events)


def test_tool_calls_of_successive_turns_never_share_an_index():
    ad = AgentsAdapter()
    events = [e for ev in (created(), call_added(0, "call_1"), completed(1, 1), created(), call_added(0, "call_2"))
              for e in ad.feed_object(ev)]
    assert [(e.index, e.id) for e in events if type(e) is ToolCallDelta] == [(0, "call_1"), (1, "call_2")]


def test_raw_arguments_delta_becomes_tool_call_delta():
    event = RawResponsesStreamEvent(data=ResponseFunctionCallArgumentsDeltaEvent(
        type="response.function_call_arguments.delta", delta='{"a":', item_id="__fake_id__", output_index=0,
        sequence_number=2))
    assert AgentsAdapter().feed_object(event) == [ToolCallDelta(0, arguments='{"a":')]


# ---- run items ---------------------------------------------------------------------------

def test_tool_called_becomes_step_with_tool_name_and_arguments():
    event = RunItemStreamEvent(name="tool_called", item=ToolCallItem(agent=TRIAGE, raw_item=call()))
    assert AgentsAdapter().feed_object(event) == [Step("tool_called", "get_weather", '{"city":"Paris"}')]


def test_tool_output_becomes_step_named_after_its_call():
    ad = AgentsAdapter()
    ad.feed_object(RunItemStreamEvent(name="tool_called", item=ToolCallItem(agent=TRIAGE, raw_item=call())))
    output = ToolCallOutputItem(agent=TRIAGE, output="Sunny, 21 °C",
                                raw_item={"call_id": "call_1", "output": "Sunny, 21 °C",
                                          "type": "function_call_output"})
    assert ad.feed_object(RunItemStreamEvent(name="tool_output", item=output)) == [
        Step("tool_output", "get_weather", "Sunny, 21 °C")]


def test_tool_output_that_is_not_text_is_shown_as_json():
    output = ToolCallOutputItem(agent=TRIAGE, output={"temp": 21},
                                raw_item={"call_id": "call_9", "output": "{'temp': 21}",
                                          "type": "function_call_output"})
    [step] = AgentsAdapter().feed_object(RunItemStreamEvent(name="tool_output", item=output))
    assert step.detail == '{"temp":21}'


def test_handoff_requested_becomes_step_with_the_handoff_tool():
    item = HandoffCallItem(agent=TRIAGE, raw_item=call(name="transfer_to_billing", arguments="{}"))
    assert AgentsAdapter().feed_object(RunItemStreamEvent(name="handoff_requested", item=item)) == [
        Step("handoff_requested", "transfer_to_billing", "{}")]


def test_handoff_becomes_step_from_source_to_target_agent():
    item = HandoffOutputItem(agent=TRIAGE, source_agent=TRIAGE, target_agent=BILLING,
                             raw_item={"call_id": "call_1", "output": "{}", "type": "function_call_output"})
    assert AgentsAdapter().feed_object(RunItemStreamEvent(name="handoff_occured", item=item)) == [
        Step("handoff", "triage", "billing")]


def test_message_output_becomes_step_with_the_message_text():
    message = ResponseOutputMessage(id="msg_1", type="message", role="assistant", status="completed",
                                    content=[ResponseOutputText(type="output_text", text="Hello!", annotations=[])])
    item = MessageOutputItem(agent=TRIAGE, raw_item=message)
    assert AgentsAdapter().feed_object(RunItemStreamEvent(name="message_output_created", item=item)) == [
        Step("message_output", "triage", "Hello!")]


def test_reasoning_item_becomes_step_with_its_summary():
    raw = ResponseReasoningItem(id="rs_1", type="reasoning", summary=[Summary(type="summary_text", text="Checked.")])
    item = ReasoningItem(agent=TRIAGE, raw_item=raw)
    assert AgentsAdapter().feed_object(RunItemStreamEvent(name="reasoning_item_created", item=item)) == [
        Step("reasoning", "triage", "Checked.")]


def test_step_detail_is_cut_to_500_characters():
    item = ToolCallItem(agent=TRIAGE, raw_item=call(arguments='{"text":"' + "x" * 1000 + '"}'))
    [step] = AgentsAdapter().feed_object(RunItemStreamEvent(name="tool_called", item=item))
    assert len(step.detail) == 500
    assert step.detail.startswith('{"text":"xxx')


def test_agent_updated_becomes_step_with_the_new_agent_name():
    assert AgentsAdapter().feed_object(AgentUpdatedStreamEvent(new_agent=BILLING)) == [Step("agent_updated",
                                                                                            "billing")]


def test_event_type_this_sdk_version_does_not_have_is_kept_as_other():
    newer = types.SimpleNamespace(type="future_stream_event")
    assert AgentsAdapter().feed_object(newer) == [Other(type="future_stream_event", data=newer)]


# ---- a whole run through the SDK's own runner and scripted model -------------------------

@function_tool
def get_weather(city: str) -> str:
    """The weather in a city."""
    return f"Sunny in {city}"


def run_events():
    model = ScriptedModel([
        ModelStep(output=[function_call("get_weather", {"city": "Paris"}, call_id="call_1")],
                  usage=AgentsUsage(requests=1, input_tokens=10, output_tokens=5, total_tokens=15)),
        ModelStep(output=[assistant_message("It is sunny in Paris.")],
                  usage=AgentsUsage(requests=1, input_tokens=20, output_tokens=7, total_tokens=27)),
    ])
    agent = Agent(name="weather", model=model, tools=[get_weather])

    async def collect():
        ad = AgentsAdapter()
        result = Runner.run_streamed(agent, "Weather in Paris?", run_config=RunConfig(tracing_disabled=True))
        return [e async for ev in result.stream_events() for e in ad.feed_object(ev)]

    return asyncio.run(asyncio.wait_for(collect(), timeout=90))  # a hang guard


@pytest.fixture(scope="module")
def agent_run():
    return run_events()


def test_agent_run_text_deltas_join_to_the_answer(agent_run):
    assert "".join(e.text for e in agent_run if type(e) is TextDelta) == "It is sunny in Paris."


def test_agent_run_steps_follow_the_run(agent_run):
    assert [(s.kind, s.name) for s in agent_run if type(s) is Step] == [
        ("agent_updated", "weather"),
        ("tool_called", "get_weather"),
        ("tool_output", "get_weather"),
        ("message_output", "weather"),
    ]


def test_agent_run_reports_usage_per_turn_and_no_done(agent_run):
    assert [u.total_tokens for u in agent_run if type(u) is Usage] == [15, 27]
    assert not any(type(e) is Done for e in agent_run)
