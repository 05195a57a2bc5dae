"""Request bodies of every API the demo serves, read into one ``Conversation``.

Chat Completions, the Responses API, Ollama's ``/api/chat`` and ``/api/generate``,
Anthropic's Messages API and Gemini's ``generateContent`` all say the same few things in
different shapes: the input texts, the last user message, the tools offered, whether the
last turn is a tool result, limits and stop strings.
Everything downstream (answers, timing, wire formats) reads only the ``Conversation``.
Bad input raises a 400 ``DemoError`` that names the parameter and how to fix it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ._errors import DemoError, bad_request

__all__ = [
    "ToolSpec", "ToolResult", "Conversation", "parse_json_body", "parse_chat", "parse_responses",
    "parse_ollama_chat", "parse_ollama_generate", "response_schema",
]


@dataclass(frozen=True)
class ToolSpec:
    """A function tool offered by the request: its name and JSON-schema parameters."""

    name: str
    parameters: dict[str, Any]


@dataclass(frozen=True)
class ToolResult:
    """The tool result that ends the conversation: which tool, and what it returned."""

    name: str
    content: str


@dataclass
class Conversation:
    """What a request asks, whatever its API."""

    api: str  # chat | responses | ollama_chat | ollama_generate | anthropic | gemini | gemini_array
    model: str
    stream: bool
    texts: list[str]
    last_user: str
    tools: list[ToolSpec] = field(default_factory=list)
    tool_result: ToolResult | None = None
    n: int = 1
    max_tokens: int | None = None
    stop: list[str] = field(default_factory=list)
    include_usage: bool = False
    has_stream_options: bool = False
    knobs: Any = None
    instructions: str | None = None
    fingerprint: str = ""
    can_call_tools: bool = True
    schema: dict[str, Any] | None = None  # the JSON schema the answer must follow (structured output)


def response_schema(body: dict[str, Any]) -> dict[str, Any] | None:
    """The JSON schema a body asks the answer to follow, wherever its API puts it: Chat's
    ``response_format``, the Responses API's ``text.format``, Ollama's ``format``,
    Anthropic's ``output_config.format``, Gemini's ``generationConfig``."""
    def at(obj: Any, *path: str) -> Any:
        for key in path:
            obj = obj.get(key) if isinstance(obj, dict) else None
        return obj

    for found in (at(body, "response_format", "json_schema", "schema"), at(body, "text", "format", "schema"),
                  at(body, "format"), at(body, "output_config", "format", "schema"),
                  at(body, "generationConfig", "responseJsonSchema"), at(body, "generationConfig", "responseSchema")):
        if isinstance(found, dict):
            return found
    json_mode = (at(body, "response_format", "type") == "json_object" or at(body, "text", "format", "type")
                 == "json_object" or body.get("format") == "json"
                 or at(body, "generationConfig", "responseMimeType") == "application/json")
    return {"type": "object", "properties": {"answer": {"type": "string"}}} if json_mode else None


def parse_json_body(raw: bytes) -> dict[str, Any]:
    """The request body as a JSON object, or a 400 saying what is wrong with it."""
    if not raw.strip():
        raise bad_request("The request body is empty; send a JSON object (Content-Type: application/json).")
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, ValueError) as exc:
        raise bad_request(f"The request body is not valid JSON ({exc}); send a JSON object.") from None
    except RecursionError:
        raise bad_request("The request body is nested too deeply; send a flat JSON object.") from None
    if not isinstance(body, dict):
        raise bad_request(f"The request body must be a JSON object, got a JSON {type(body).__name__}.")
    return body


def _missing(param: str) -> DemoError:
    return bad_request(f"Missing required parameter: '{param}'.", param, "missing_required_parameter")


def _model(body: dict[str, Any]) -> str:
    model = body.get("model")
    if model is None:
        raise _missing("model")
    if not isinstance(model, str) or not model:
        raise bad_request("'model' must be a non-empty string, e.g. \"demo\" (GET /v1/models lists them).", "model")
    return model


def _flag(body: dict[str, Any], name: str, default: bool) -> bool:
    value = body.get(name, default)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise bad_request(f"'{name}' must be true or false, got {value!r}.", name)
    return value


def _positive_int(body: dict[str, Any], name: str, *, high: int | None = None) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1 or (high is not None and value > high):
        limit = f" and at most {high}" if high is not None else ""
        raise bad_request(f"'{name}' must be an integer of at least 1{limit}, got {value!r}.", name)
    return value


def _stop(value: Any, param: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value] if value else []
    if isinstance(value, list) and all(isinstance(s, str) for s in value):
        return [s for s in value if s]
    raise bad_request(f"'{param}' must be a string or a list of strings, got {value!r}.", param)


def _text_of(content: Any) -> str:
    """The text of a message content: a string, or the text parts of a list of parts."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content
                       if isinstance(part, dict) and isinstance(part.get("text"), str))
    if isinstance(content, dict) and isinstance(content.get("text"), str):
        return content["text"]
    return json.dumps(content, ensure_ascii=False)


def _fingerprint(body: dict[str, Any]) -> str:
    return json.dumps(body, sort_keys=True, ensure_ascii=False, default=str)


def _chat_tools(body: dict[str, Any]) -> list[ToolSpec]:
    tools = body.get("tools") or []
    if not isinstance(tools, list):
        raise bad_request("'tools' must be a list of {\"type\": \"function\", \"function\": {...}} objects.", "tools")
    found = []
    for tool in tools:
        function = tool.get("function") if isinstance(tool, dict) else None
        if isinstance(function, dict) and isinstance(function.get("name"), str):
            parameters = function.get("parameters")
            found.append(ToolSpec(function["name"], parameters if isinstance(parameters, dict) else {}))
    return found


def _messages(body: dict[str, Any]) -> list[dict[str, Any]]:
    messages = body.get("messages")
    if messages is None:
        raise _missing("messages")
    if (not isinstance(messages, list) or not messages
            or not all(isinstance(m, dict) and isinstance(m.get("role"), str) for m in messages)):
        raise bad_request(
            "'messages' must be a non-empty list of objects like {\"role\": \"user\", \"content\": \"Hi\"}.",
            "messages",
        )
    return messages


def _read_messages(messages: list[dict[str, Any]]) -> tuple[list[str], str, ToolResult | None]:
    """Input texts, last user text and the trailing tool result of a chat-style message list."""
    texts: list[str] = []
    last_user = ""
    call_names: dict[str, str] = {}
    for message in messages:
        texts.append(_text_of(message.get("content")))
        if message["role"] == "user":
            last_user = texts[-1]
        for call in message.get("tool_calls") or []:
            function = call.get("function") if isinstance(call, dict) else None
            if isinstance(function, dict):
                arguments = function.get("arguments", "")
                texts.append(arguments if isinstance(arguments, str) else json.dumps(arguments))
                if isinstance(call.get("id"), str) and isinstance(function.get("name"), str):
                    call_names[call["id"]] = function["name"]
    last = messages[-1]
    tool_result = None
    if last["role"] == "tool":
        name = last.get("tool_name") or last.get("name") or call_names.get(last.get("tool_call_id", ""), "")
        tool_result = ToolResult(name if isinstance(name, str) and name else "tool", _text_of(last.get("content")))
    return texts, last_user, tool_result


def parse_chat(body: dict[str, Any]) -> Conversation:
    """A ``POST /v1/chat/completions`` body."""
    model = _model(body)
    texts, last_user, tool_result = _read_messages(_messages(body))
    stream_options = body.get("stream_options")
    if stream_options is not None and not isinstance(stream_options, dict):
        raise bad_request("'stream_options' must be an object like {\"include_usage\": true}.", "stream_options")
    include_usage = bool((stream_options or {}).get("include_usage"))
    max_tokens = _positive_int(body, "max_completion_tokens") or _positive_int(body, "max_tokens")
    return Conversation(
        api="chat", model=model, stream=_flag(body, "stream", False), texts=texts, last_user=last_user,
        tools=_chat_tools(body), tool_result=tool_result, n=_positive_int(body, "n", high=16) or 1,
        max_tokens=max_tokens, stop=_stop(body.get("stop"), "stop"), include_usage=include_usage,
        has_stream_options="stream_options" in body, knobs=body.get("demo"), fingerprint=_fingerprint(body),
    )


def parse_responses(body: dict[str, Any]) -> Conversation:
    """A ``POST /v1/responses`` body: ``input`` (string or items) plus ``instructions``."""
    model = _model(body)
    items = body.get("input")
    if items is None:
        raise _missing("input")
    if isinstance(items, str):
        items = [{"role": "user", "content": items}]
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise bad_request("'input' must be a string or a list of input items "
                          "(e.g. {\"role\": \"user\", \"content\": \"Hi\"}).", "input")
    instructions = body.get("instructions")
    if instructions is not None and not isinstance(instructions, str):
        raise bad_request("'instructions' must be a string.", "instructions")
    texts = [instructions] if instructions else []
    last_user = ""
    call_names: dict[str, str] = {}
    for item in items:
        kind = item.get("type", "message")
        if kind == "message" or ("role" in item and kind not in ("function_call", "function_call_output")):
            texts.append(_text_of(item.get("content")))
            if item.get("role") == "user":
                last_user = texts[-1]
        elif kind == "function_call":
            texts.append(str(item.get("arguments", "")))
            if isinstance(item.get("call_id"), str) and isinstance(item.get("name"), str):
                call_names[item["call_id"]] = item["name"]
        elif kind == "function_call_output":
            texts.append(_text_of(item.get("output")))
    tool_result = None
    if items and items[-1].get("type") == "function_call_output":
        last = items[-1]
        tool_result = ToolResult(call_names.get(last.get("call_id", ""), "tool"), _text_of(last.get("output")))
    tools = []
    raw_tools = body.get("tools") or []
    if not isinstance(raw_tools, list):
        raise bad_request("'tools' must be a list of {\"type\": \"function\", \"name\": ...} objects.", "tools")
    for tool in raw_tools:
        if isinstance(tool, dict) and isinstance(tool.get("name"), str):
            parameters = tool.get("parameters")
            tools.append(ToolSpec(tool["name"], parameters if isinstance(parameters, dict) else {}))
    return Conversation(
        api="responses", model=model, stream=_flag(body, "stream", False), texts=texts, last_user=last_user,
        tools=tools, tool_result=tool_result, max_tokens=_positive_int(body, "max_output_tokens"),
        has_stream_options="stream_options" in body, knobs=body.get("demo"), instructions=instructions,
        fingerprint=_fingerprint(body),
    )


def _ollama_options(body: dict[str, Any]) -> tuple[int | None, list[str]]:
    options = body.get("options") or {}
    if not isinstance(options, dict):
        raise bad_request("'options' must be an object like {\"num_predict\": 64}.", "options")
    num_predict = options.get("num_predict")
    if num_predict is not None and (isinstance(num_predict, bool) or not isinstance(num_predict, int)):
        raise bad_request(f"'options.num_predict' must be an integer, got {num_predict!r}.", "options")
    max_tokens = num_predict if num_predict is not None and num_predict > 0 else None
    return max_tokens, _stop(options.get("stop"), "options.stop")


def parse_ollama_chat(body: dict[str, Any]) -> Conversation:
    """An Ollama ``POST /api/chat`` body (streams unless ``"stream": false``)."""
    model = _model(body)
    texts, last_user, tool_result = _read_messages(_messages(body))
    max_tokens, stop = _ollama_options(body)
    return Conversation(
        api="ollama_chat", model=model, stream=_flag(body, "stream", True), texts=texts, last_user=last_user,
        tools=_chat_tools(body), tool_result=tool_result, max_tokens=max_tokens, stop=stop,
        has_stream_options="stream_options" in body, knobs=body.get("demo"), fingerprint=_fingerprint(body),
    )


def parse_ollama_generate(body: dict[str, Any]) -> Conversation:
    """An Ollama ``POST /api/generate`` body: ``prompt`` plus an optional ``system``."""
    model = _model(body)
    prompt = body.get("prompt")
    if prompt is None:
        raise _missing("prompt")
    if not isinstance(prompt, str):
        raise bad_request("'prompt' must be a string.", "prompt")
    system = body.get("system")
    texts = ([system] if isinstance(system, str) and system else []) + [prompt]
    max_tokens, stop = _ollama_options(body)
    return Conversation(
        api="ollama_generate", model=model, stream=_flag(body, "stream", True), texts=texts, last_user=prompt,
        max_tokens=max_tokens, stop=stop, has_stream_options="stream_options" in body, knobs=body.get("demo"),
        fingerprint=_fingerprint(body), can_call_tools=False,
    )


def _block_texts(content: Any) -> tuple[str, ToolResult | None, list[str]]:
    """The text of an Anthropic message content (a string or a list of blocks), the
    tool result it carries, and the tool arguments it sends back."""
    if not isinstance(content, list):
        return _text_of(content), None, []
    texts: list[str] = []
    calls: list[str] = []
    result = None
    for block in content:
        if not isinstance(block, dict):
            continue
        kind = block.get("type")
        if kind == "text" and isinstance(block.get("text"), str):
            texts.append(block["text"])
        elif kind == "tool_use":
            calls.append(json.dumps(block.get("input", {}), ensure_ascii=False))
        elif kind == "tool_result":
            result = ToolResult(str(block.get("tool_use_id") or "tool"), _text_of(block.get("content")))
    return "".join(texts), result, calls


def parse_anthropic(body: dict[str, Any]) -> Conversation:
    """A ``POST /v1/messages`` body: ``messages``, top-level ``system``, required ``max_tokens``."""
    model = _model(body)
    messages = _messages(body)
    if body.get("max_tokens") is None:
        raise _missing("max_tokens")
    max_tokens = _positive_int(body, "max_tokens")
    system = body.get("system")
    if system is not None and not isinstance(system, (str, list)):
        raise bad_request("'system' must be a string or a list of text blocks.", "system")
    texts = [_text_of(system)] if system else []
    last_user = ""
    tool_result = None
    names: dict[str, str] = {}
    for message in messages:
        text, result, calls = _block_texts(message.get("content"))
        texts += [text, *calls]
        content = message.get("content")
        for block in content if isinstance(content, list) else []:
            if isinstance(block, dict) and block.get("type") == "tool_use":
                names[str(block.get("id"))] = str(block.get("name") or "tool")
        if message["role"] == "user":
            last_user = text or last_user
            tool_result = result
    if tool_result is not None:
        tool_result = ToolResult(names.get(tool_result.name, "tool"), tool_result.content)
    raw_tools = body.get("tools") or []
    if not isinstance(raw_tools, list):
        raise bad_request("'tools' must be a list of {\"name\": ..., \"input_schema\": {...}} objects.", "tools")
    tools = [ToolSpec(t["name"], t["input_schema"] if isinstance(t.get("input_schema"), dict) else {})
             for t in raw_tools if isinstance(t, dict) and isinstance(t.get("name"), str)]
    return Conversation(
        api="anthropic", model=model, stream=_flag(body, "stream", False), texts=texts, last_user=last_user,
        tools=tools, tool_result=tool_result, max_tokens=max_tokens,
        stop=_stop(body.get("stop_sequences"), "stop_sequences"), knobs=body.get("demo"),
        fingerprint=_fingerprint(body),
    )


def parse_gemini(body: dict[str, Any], model: str, *, stream: bool, sse: bool) -> Conversation:
    """A ``POST /v1beta/models/{model}:streamGenerateContent`` (or ``:generateContent``)
    body: ``contents``, ``systemInstruction``, ``generationConfig``, ``tools``."""
    contents = body.get("contents")
    if contents is None:
        raise _missing("contents")
    if (not isinstance(contents, list) or not contents
            or not all(isinstance(c, dict) and isinstance(c.get("parts", []), list) for c in contents)):
        raise bad_request("'contents' must be a non-empty list of {\"role\": \"user\", \"parts\": [{\"text\": ...}]}.",
                          "contents")
    config = body.get("generationConfig") or {}
    if not isinstance(config, dict):
        raise bad_request("'generationConfig' must be an object like {\"maxOutputTokens\": 64}.", "generationConfig")
    system = body.get("systemInstruction")
    texts = [_text_of((system or {}).get("parts"))] if isinstance(system, dict) else []
    last_user = ""
    tool_result = None
    for content in contents:
        parts = [p for p in content.get("parts", []) if isinstance(p, dict)]
        text = _text_of(parts)
        texts.append(text)
        for part in parts:
            call = part.get("functionCall")
            if isinstance(call, dict):
                texts.append(json.dumps(call.get("args", {}), ensure_ascii=False))
        answer = next((p["functionResponse"] for p in parts if isinstance(p.get("functionResponse"), dict)), None)
        if content.get("role", "user") == "user":
            last_user = text or last_user
            tool_result = (ToolResult(str(answer.get("name") or "tool"), json.dumps(answer.get("response", {})))
                           if answer is not None else None)
    tools: list[ToolSpec] = []
    raw_tools = body.get("tools") or []
    if not isinstance(raw_tools, list):
        raise bad_request("'tools' must be a list of {\"functionDeclarations\": [...]} objects.", "tools")
    for tool in raw_tools:
        for decl in (tool.get("functionDeclarations") or []) if isinstance(tool, dict) else []:
            if isinstance(decl, dict) and isinstance(decl.get("name"), str):
                params = decl.get("parameters")
                tools.append(ToolSpec(decl["name"], params if isinstance(params, dict) else {}))
    return Conversation(
        api="gemini" if sse or not stream else "gemini_array", model=model, stream=stream, texts=texts,
        last_user=last_user, tools=tools, tool_result=tool_result,
        n=_positive_int(config, "candidateCount", high=8) or 1, max_tokens=_positive_int(config, "maxOutputTokens"),
        stop=_stop(config.get("stopSequences"), "generationConfig.stopSequences"), knobs=body.get("demo"),
        fingerprint=_fingerprint({"model": model, **body}),
    )
