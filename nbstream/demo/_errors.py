"""HTTP errors of the demo endpoint, in the shape of the API that was called.

Raising ``DemoError`` anywhere while a request is handled turns into one JSON error
response; the handler picks the body shape from the path: Ollama clients read
``{"error": "..."}``, OpenAI clients ``{"error": {"message", "type", ...}}``, Anthropic's
``{"type": "error", "error": {"type", "message"}}`` and Gemini's
``{"error": {"code", "message", "status"}}``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["DemoError", "bad_request"]


class DemoError(Exception):
    """An HTTP error response: status, OpenAI error fields and extra headers."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code
        self.headers = dict(headers or {})

    def body(self, *, style: str = "openai") -> dict[str, Any]:
        """The JSON body in the ``style`` of the API called: openai, ollama, anthropic, gemini."""
        if style == "ollama":
            return {"error": self.message}
        if style == "anthropic":
            kind = _ANTHROPIC_TYPES.get(self.status, "api_error" if self.status >= 500 else "invalid_request_error")
            return {"type": "error", "error": {"type": kind, "message": self.message}}
        if style == "gemini":
            return {"error": {"code": self.status, "message": self.message,
                              "status": _GEMINI_STATUS.get(self.status, "INTERNAL" if self.status >= 500
                                                           else "INVALID_ARGUMENT")}}
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "param": self.param,
                "code": self.code,
            }
        }


_ANTHROPIC_TYPES = {401: "authentication_error", 403: "permission_error", 404: "not_found_error",
                    413: "request_too_large", 429: "rate_limit_error", 529: "overloaded_error"}
_GEMINI_STATUS = {401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND", 429: "RESOURCE_EXHAUSTED"}


def bad_request(message: str, param: str | None = None, code: str | None = None) -> DemoError:
    """A 400 ``invalid_request_error`` naming the offending parameter."""
    return DemoError(400, message, param=param, code=code)
