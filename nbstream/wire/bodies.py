"""Request bodies for each API from one set of arguments (prompt or messages, system,
params), so callers never care which wire format a server speaks."""

from __future__ import annotations

from typing import Any

PATHS = {"chat": "/chat/completions", "responses": "/responses", "ollama": "/api/chat"}
_OLLAMA_OPTIONS = {"temperature": "temperature", "top_p": "top_p", "seed": "seed", "stop": "stop",
                   "max_tokens": "num_predict", "max_completion_tokens": "num_predict",
                   "max_output_tokens": "num_predict", "frequency_penalty": "frequency_penalty",
                   "presence_penalty": "presence_penalty", "top_k": "top_k"}


def messages_for(prompt: str | None, messages: list[dict] | None, system: str | None) -> list[dict]:
    """The chat message list: ``messages`` as given, or ``system`` + ``prompt``."""
    if messages is not None and prompt is not None:
        raise ValueError("pass either a prompt or messages=[...], not both")
    if messages is None:
        if prompt is None:
            raise ValueError("nothing to send: pass a prompt string or messages=[{'role': 'user', "
                             "'content': '...'}]")
        if not isinstance(prompt, str):
            raise TypeError(f"the prompt must be a string, not {type(prompt).__name__}; "
                            "for a conversation pass messages=[...]")
        messages = [{"role": "user", "content": prompt}]
    elif not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
        raise TypeError("messages must be a list of dicts like {'role': 'user', 'content': '...'}")
    if system is not None:
        messages = [{"role": "system", "content": system}, *messages]
    return list(messages)


def body_for(api: str, model: str, messages: list[dict], params: dict[str, Any]) -> dict[str, Any]:
    """The streaming request body for ``api`` (chat, responses or ollama)."""
    if api == "chat":
        return {"model": model, "messages": messages, "stream": True,
                "stream_options": {"include_usage": True}, **params}
    if api == "responses":
        params = dict(params)
        if "max_tokens" in params:  # the Responses API's name for the same limit
            params["max_output_tokens"] = params.pop("max_tokens")
        system = [m["content"] for m in messages if m.get("role") == "system"]
        rest = [m for m in messages if m.get("role") != "system"]
        body: dict[str, Any] = {"model": model, "input": rest, "stream": True}
        if system:
            body["instructions"] = "\n\n".join(str(s) for s in system)
        return {**body, **params}
    if api == "ollama":
        params = dict(params)
        options = dict(params.pop("options", {})) if "options" in params else {}
        rest = {}
        for key, value in params.items():
            if key in _OLLAMA_OPTIONS:
                options[_OLLAMA_OPTIONS[key]] = value
            else:
                rest[key] = value
        body = {"model": model, "messages": messages, "stream": True, **rest}
        if options:
            body["options"] = options
        return body
    raise ValueError(f"unknown api {api!r}: use 'chat', 'responses' or 'ollama'")
