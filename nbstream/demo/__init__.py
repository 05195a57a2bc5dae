"""An embedded OpenAI-compatible demo endpoint: offline, no account, deterministic.

``serve()`` starts a real HTTP server on a background thread that speaks Chat
Completions (``/v1/chat/completions``), the Responses API (``/v1/responses``),
Anthropic's Messages API (``/v1/messages``), Gemini's ``generateContent`` and
``streamGenerateContent`` (``/v1beta/models/MODEL:...``), Ollama's native API
(``/api/chat``, ``/api/generate``) and ``GET /v1/models``, so httpx and the openai,
Agents, anthropic and google-genai SDKs talk to it like to the real thing::

    from nbstream.demo import serve
    server = serve()                      # http://127.0.0.1:<port>/v1
    client = openai.OpenAI(base_url=server.base_url, api_key="demo")

Answers are deterministic Markdown (same request, same bytes), streamed on an exact
timetable (``ttft``, ``tps``, seeded ``jitter``). Model names pick a scenario: ``demo``,
``demo-fast``, ``demo-reasoning``, ``demo-tools``, fault injections like
``demo-disconnect`` or ``demo-429``... (``GET /v1/models`` lists them all). A request's
``"demo": {...}`` object overrides the timing knobs per request, e.g.
``extra_body={"demo": {"ttft": 0.05, "tps": 200}}``.

Why the standard library's ``ThreadingHTTPServer``: no dependency to install; one
thread per stream is fine for a few hundred concurrent streams; and blocking writes on
TCP_NODELAY sockets give exact per-write timestamps, recorded in ``server.requests``
(``RequestLog``) as ground truth for timing tests.

Run ``python -m nbstream.demo`` to serve in the foreground.
"""

from ._log import RequestLog, RequestLogList
from ._scenarios import KNOB_HELP, SCENARIOS, Knobs, Scenario, check_knobs
from ._server import DemoServer, serve
from ._tokens import count_tokens, tokenize

__all__ = [
    "KNOB_HELP",
    "SCENARIOS",
    "DemoServer",
    "Knobs",
    "RequestLog",
    "RequestLogList",
    "Scenario",
    "check_knobs",
    "count_tokens",
    "serve",
    "tokenize",
]
