"""One ``%%stream --compare`` cell streams the same prompt through OpenAI's Chat
Completions and Anthropic's Messages API (llama.cpp's llama-server) and Gemini's
``streamGenerateContent`` (LiteLLM's proxy in front of it), side by side, in a real kernel
run by nbclient. Each model's prefix picks its API and that provider's own variables."""

from __future__ import annotations

import json

import pytest
from _kernel import execute

pytestmark = pytest.mark.peers

PROMPT = "Write a short story about a cat who learns to fly."


@pytest.fixture(scope="module")
def notebook(llama, litellm):
    setup = ("import os\n"
             f"os.environ.update(OPENAI_BASE_URL={llama.base_url!r}, OPENAI_API_KEY='sk-llama-needs-no-key',\n"
             f"                  ANTHROPIC_BASE_URL={llama.root!r}, ANTHROPIC_API_KEY='x',\n"
             f"                  GOOGLE_GEMINI_BASE_URL={litellm.root!r}, GEMINI_API_KEY='x')\n"
             "import nbstream\n%load_ext nbstream")
    cell = (f"%%stream --compare -m openai:{llama.model} -m anthropic:{llama.model} -m gemini:{litellm.model} "
            f"--max-tokens 12 -p temperature=0 -o three\n{PROMPT}")
    report = ("import json\nprint(json.dumps([[r.label, r.status, r.wire_format, r.finish_reason, r.base_url, "
              "bool(r.text.strip())] for r in three]))")
    return execute([setup, cell, report], setup=False, timeout=240)


def test_the_compare_cell_streams_all_three_apis_to_their_own_servers(notebook, llama, litellm):
    rows = json.loads(notebook.cells[2]["outputs"][0]["text"])
    assert [r[0] for r in rows] == [f"openai:{llama.model}", f"anthropic:{llama.model}", f"gemini:{litellm.model}"]
    assert [r[1:3] for r in rows] == [["done", "chat"], ["done", "anthropic"], ["done", "gemini"]]
    assert [r[4] for r in rows] == [llama.base_url, llama.root, litellm.root]
    assert all(r[3] in ("stop", "length") and r[5] for r in rows)


def test_the_compare_cell_saves_one_static_answer_holding_the_three(notebook, llama, litellm):
    outputs = notebook.cells[1]["outputs"]
    answer = outputs[-1]
    assert answer["output_type"] == "display_data" and "text/markdown" in answer["data"]
    text = answer["data"]["text/plain"]
    for label in (f"openai:{llama.model}", f"anthropic:{llama.model}", f"gemini:{litellm.model}"):
        assert f"[{label}]" in text
    assert not any(o["output_type"] == "error" or o.get("name") == "stderr" for o in outputs)
