"""Gemini's ``streamGenerateContent`` stream (``?alt=sse``) -> normalized events.

Each SSE ``data:`` is a whole ``GenerateContentResponse``: ``candidates[].content.parts[]``
carry ``text`` (``thought: true`` marks reasoning), whole ``functionCall`` parts (not
fragments) and other parts (code execution, inline data: kept as ``Other``);
``finishReason`` arrives on the last chunk; ``usageMetadata`` is cumulative (the last one
wins); ``promptFeedback.blockReason`` says the prompt itself was blocked. The stream has
no ``[DONE]``: it ends when the connection closes after a chunk with ``finishReason``, so
that chunk is the format's end marker (``end_marker=True``): a clean close before any
finish reason is an incomplete run, its partial text kept.
Without ``?alt=sse`` Gemini answers one JSON array of those objects: a payload that is a
list is read element by element.

Finish reasons are given in OpenAI's words (``STOP`` -> ``stop``, ``MAX_TOKENS`` ->
``length``, the safety family -> ``content_filter``; ``tool_calls`` when the answer
called functions), the provider's own word kept in ``Finish.raw``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from nbstream.events import (
    Done,
    ErrorEvent,
    Event,
    Finish,
    Meta,
    Other,
    ReasoningDelta,
    TextDelta,
    ToolCallDelta,
    Usage,
)
from nbstream.wire import structured
from nbstream.wire.payload import (
    DONE,
    EMPTY,
    SHAPE_ERRORS,
    count,
    dumps,
    error_event,
    index,
    label,
    load,
    section,
    string,
    unexpected_shape,
    word,
)
from nbstream.wire.spec import WireFormat

__all__ = ["FINISH_REASONS", "FORMAT", "GeminiAdapter", "body", "detect", "path", "root"]

_FILTERED = ("SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY",
             "LANGUAGE", "IMAGE_PROHIBITED_CONTENT", "IMAGE_RECITATION")
#: Gemini's finish reasons in OpenAI's words (anything else is kept, lower-cased).
FINISH_REASONS = {"STOP": "stop", "MAX_TOKENS": "length", **{r: "content_filter" for r in _FILTERED}}
_GENERATION = {"temperature": "temperature", "top_p": "topP", "top_k": "topK", "seed": "seed",
               "max_tokens": "maxOutputTokens", "max_completion_tokens": "maxOutputTokens",
               "max_output_tokens": "maxOutputTokens", "n": "candidateCount",
               "presence_penalty": "presencePenalty", "frequency_penalty": "frequencyPenalty",
               "thinking_config": "thinkingConfig", "response_mime_type": "responseMimeType"}


class GeminiAdapter:
    """One Gemini stream's adapter (state: first chunk seen, function calls numbered so
    far per candidate)."""

    __slots__ = ("_started", "_calls")

    def __init__(self) -> None:
        self._started = False
        self._calls: dict[int, int] = {}

    def feed(self, name: str, data: Any, id: str | None = None) -> list[Event]:
        """One SSE message (a ``GenerateContentResponse`` as JSON text or dict) -> events."""
        obj = load(data)
        if obj.__class__ is list:  # the JSON-array answer of a request without ?alt=sse
            out: list[Event] = []
            for item in obj:  # one level only: a chunk is an object, anything else is kept raw
                if isinstance(item, dict):
                    out.extend(self.feed(name, item, id))
                else:
                    out.append(Other(type=name or "message", data=item, id=id))
            return out
        if obj.__class__ is not dict:
            if obj is EMPTY:
                return []
            if obj.__class__ is ErrorEvent:
                return [obj]
            return [Other(type=name or "message", data="[DONE]" if obj is DONE else obj, id=id)]
        try:
            return self._chunk(obj, name, id)
        except SHAPE_ERRORS as exc:
            return [unexpected_shape(data, exc)]

    def _chunk(self, obj: dict, name: str, id: str | None) -> list[Event]:
        if "error" in obj:
            return [error_event(obj["error"])]
        out: list[Event] = []
        if not self._started:
            self._started = True
            out.append(Meta(stage="created", id=label(obj.get("responseId")), model=label(obj.get("modelVersion"))))
        candidates = obj.get("candidates") or []
        if candidates.__class__ is not list:
            raise TypeError(f"candidates must be a list, not {type(candidates).__name__}")
        for pos, cand in enumerate(candidates):
            if not isinstance(cand, dict):
                raise TypeError(f"candidates[] must be objects, not {type(cand).__name__}")
            choice = index(cand.get("index", pos), "candidates[].index")
            content = cand.get("content")
            if isinstance(content, dict):
                self._parts(content.get("parts") or [], choice, out)
            reason = word(cand.get("finishReason"), "candidates[].finishReason")
            if reason and reason != "FINISH_REASON_UNSPECIFIED":
                mapped = FINISH_REASONS.get(reason, reason.lower())
                if mapped == "stop" and self._calls.get(choice):
                    mapped = "tool_calls"
                out.append(Finish(mapped, choice, raw=reason))
        feedback = obj.get("promptFeedback")
        if isinstance(feedback, dict):
            blocked = word(feedback.get("blockReason"), "promptFeedback.blockReason")
            if blocked:
                out.append(Finish("content_filter", raw=blocked))
                out.append(Done())  # nothing more comes for a blocked prompt
        usage = obj.get("usageMetadata")
        if isinstance(usage, dict):
            out.append(_usage(usage))
        if not out:
            out.append(Other(type=name or "message", data=obj, id=id))
        return out

    def _parts(self, parts: Any, choice: int, out: list[Event]) -> None:
        if parts.__class__ is not list:
            raise TypeError(f"content.parts must be a list, not {type(parts).__name__}")
        for part in parts:
            if not isinstance(part, dict):
                continue
            piece = string(part.get("text"), "parts[].text")
            call = part.get("functionCall")
            if piece:
                out.append(ReasoningDelta(piece, choice) if part.get("thought") is True else TextDelta(piece, choice))
            elif isinstance(call, dict):
                number = self._calls.get(choice, 0)
                self._calls[choice] = number + 1
                args = call.get("args")
                out.append(ToolCallDelta(number, id=string(call.get("id"), "functionCall.id"),
                                         name=string(call.get("name"), "functionCall.name"),
                                         arguments=dumps(args) if args is not None else "", choice=choice))
            elif piece is None and "thoughtSignature" not in part:
                out.append(Other(type="part", data=part))
            if isinstance(part.get("thoughtSignature"), str):
                out.append(Other(type="thought.signature", data={"signature": part["thoughtSignature"]}))


def _usage(meta: dict) -> Usage:
    """``usageMetadata`` (cumulative): prompt, candidates, thoughts and cached token counts.
    Thinking tokens are output tokens as OpenAI counts them (``reasoning_tokens`` of
    ``completion_tokens``), so they are added to the candidates' count."""
    prompt = count(meta.get("promptTokenCount"))
    answer = count(meta.get("candidatesTokenCount"))
    thoughts = count(meta.get("thoughtsTokenCount"))
    output = answer + (thoughts or 0) if answer is not None else thoughts
    total = count(meta.get("totalTokenCount"))
    if total is None and prompt is not None and output is not None:
        total = prompt + output
    return Usage(input_tokens=prompt, output_tokens=output, total_tokens=total, reasoning_tokens=thoughts,
                 cached_tokens=count(meta.get("cachedContentTokenCount")))


def path(model: str) -> str:
    """The request path for ``model`` (``models/`` prefix optional), its name URL-quoted."""
    name = model.removeprefix("models/")
    return f"/v1beta/models/{quote(name, safe='')}:streamGenerateContent?alt=sse"


def body(model: str, messages: list[dict[str, Any]], params: dict[str, Any]) -> dict[str, Any]:
    """The request body: chat messages become ``contents`` (``assistant`` -> ``model``),
    system messages ``systemInstruction``; sampling settings go into ``generationConfig``
    under Gemini's names (``max_tokens`` -> ``maxOutputTokens``, ``stop`` -> ``stopSequences``;
    None for any of them means not given). List content's OpenAI-style text parts become
    Gemini's ``{"text": ...}`` parts."""
    params = dict(params)
    schema = structured.take(params)
    config = section(params, "generationConfig")
    if schema is not None:  # JSON mode, with the schema as JSON Schema ($defs and $ref allowed)
        config["responseMimeType"] = "application/json"
        if schema.schema is not None:
            config["responseJsonSchema"] = schema.schema
    for key in list(params):
        if key in _GENERATION:
            value = params.pop(key)
            if value is not None:  # None means "not given" (Gemini refuses a null setting)
                config[_GENERATION[key]] = value
    if "stop" in params:
        stop = params.pop("stop")
        if stop is not None:  # None means "not given"
            config["stopSequences"] = [stop] if isinstance(stop, str) else stop
    system = [m.get("content") for m in messages if m.get("role") == "system"]
    contents = [{"role": "model" if m.get("role") == "assistant" else "user", "parts": _parts(m.get("content"))}
                for m in messages if m.get("role") != "system"]
    out: dict[str, Any] = {"contents": contents}
    if system:
        texts = [c for c in system if isinstance(c, str)]
        if len(texts) == len(system):
            out["systemInstruction"] = {"parts": [{"text": "\n\n".join(texts)}]}
        else:
            out["systemInstruction"] = {"parts": [p for c in system for p in _parts(c)]}
    if config:
        out["generationConfig"] = config
    return {**out, **params}


def _parts(content: Any) -> list[Any]:
    """A chat message's content as Gemini ``parts``: text is one ``{"text"}`` part; a list's
    OpenAI-style ``{"type": "text", "text"}`` parts (and plain strings) become ``{"text"}``
    parts, anything else (Gemini's own parts: ``inlineData``, ``functionCall``…) goes as given."""
    if not isinstance(content, list):
        return [{"text": content if isinstance(content, str) else str(content)}]
    out: list[Any] = []
    for part in content:
        if isinstance(part, str):
            out.append({"text": part})
        elif isinstance(part, dict) and part.get("type") == "text" and isinstance(part.get("text"), str):
            out.append({"text": part["text"]})
        else:
            out.append(part)
    return out


def detect(name: str, obj: Any) -> bool:
    """A ``GenerateContentResponse``: it has ``candidates``, ``usageMetadata`` or ``promptFeedback``."""
    return obj.__class__ is dict and ("candidates" in obj or "promptFeedback" in obj
                                      or ("usageMetadata" in obj and "choices" not in obj))


def root(base_url: str) -> str:
    """The API root: a base URL ending in ``/v1beta`` or ``/v1`` loses it."""
    parts = urlsplit(base_url)
    return urlunsplit(parts._replace(path=parts.path.rstrip("/").removesuffix("/v1beta").removesuffix("/v1")))


def _auth(key: str) -> dict[str, str]:
    return {"x-goog-api-key": key}


FORMAT = WireFormat(name="gemini", description="Gemini's streamGenerateContent", adapter=GeminiAdapter,
                    end_marker=True,  # the chunk carrying finishReason (see the module docstring)
                    path=path, body=body, root=root,
                    key_envs=("GEMINI_API_KEY", "GOOGLE_API_KEY"), url_envs=(("GOOGLE_GEMINI_BASE_URL", None),),
                    default_url="https://generativelanguage.googleapis.com", auth=_auth, detect=detect,
                    reads_arrays=True, prefixes=("gemini", "google"))
