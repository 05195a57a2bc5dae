"""HTTP errors of the demo endpoint, in OpenAI's shape (or Ollama's on ``/api/*``).

Raising ``DemoError`` anywhere while a request is handled turns into one JSON error
response; the handler picks the body shape from the path, since Ollama clients read
``{"error": "..."}`` and OpenAI clients read ``{"error": {"message", "type", ...}}``.
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

    def body(self, *, ollama: bool = False) -> dict[str, Any]:
        """The JSON body: OpenAI's nested error object, or Ollama's plain string."""
        if ollama:
            return {"error": self.message}
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "param": self.param,
                "code": self.code,
            }
        }


def bad_request(message: str, param: str | None = None, code: str | None = None) -> DemoError:
    """A 400 ``invalid_request_error`` naming the offending parameter."""
    return DemoError(400, message, param=param, code=code)
