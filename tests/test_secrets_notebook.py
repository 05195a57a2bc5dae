"""In a real kernel, a key a server echoes mid-stream and a password in the base URL
never reach the saved notebook: not its Markdown, its plain text, its metadata nor the
``--raw`` wire panel."""

from __future__ import annotations

import json
import secrets as pysecrets
from urllib.parse import quote

from _kernel import execute
from _servers import ScriptedServer, sse_head


def test_a_saved_raw_stream_cell_holds_no_key_or_url_password():
    key = f"sk-{pysecrets.token_hex(16)}"
    password = "pw" + pysecrets.token_hex(10)

    def script(handler, n):
        chunk = {"choices": [{"index": 0, "delta": {"content": "partial answer"}}]}
        error = {"error": {"message": f"Incorrect API key provided: {key}", "code": "invalid_api_key"}}
        handler.wfile.write(sse_head() + f"data: {json.dumps(chunk)}\n\ndata: {json.dumps(error)}\n\n".encode())

    with ScriptedServer(script) as server:
        base = server.url.replace("http://", f"http://alice:{password}@") + "/v1"
        nb = execute([f"nbstream.config.api_key = {key!r}\nnbstream.config.base_url = {base!r}",
                      "%%stream --raw -m m\nhi"])
    saved = json.dumps(nb.cells[-1]["outputs"])
    assert "partial answer" in saved and "Incorrect API key" in saved  # the cell did run
    for secret in (key, password):
        for form in (secret, quote(secret, safe=""), json.dumps(secret)[1:-1]):
            assert form[:8] not in saved, f"{secret[:3]}… leaks into the saved output"
