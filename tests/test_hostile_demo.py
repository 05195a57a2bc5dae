"""The demo endpoint under hostile knobs and bodies: every bad value is an HTTP 400 that
names the knob, never a crashed handler or a timetable that never ends."""

from __future__ import annotations

import httpx
import pytest


def _post(demo, body: bytes | dict) -> httpx.Response:
    url = demo.base_url + "/chat/completions"
    if isinstance(body, dict):
        return httpx.post(url, json=body, timeout=30)
    return httpx.post(url, content=body, headers={"Content-Type": "application/json"}, timeout=30)


@pytest.mark.parametrize("knob, value", [
    ("ttft", 1e308), ("ttft", -1), ("ttft", "soon"), ("tps", 1e-308), ("tps", 0), ("stall", 1e308),
    ("keepalive", 1e308), ("retry_after", 1e308), ("tokens_per_chunk", 10**30), ("after", 10**30),
    ("jitter", 2), ("tokens_per_chunk", 1.5),
])
def test_out_of_range_knob_is_a_400_naming_it(demo, knob, value):
    response = _post(demo, {"model": "demo", "messages": [{"role": "user", "content": "hi"}],
                            "stream": True, "demo": {knob: value}})
    assert response.status_code == 400
    assert knob in response.json()["error"]["message"]


def test_nan_knob_sent_as_raw_json_is_a_400(demo):
    raw = b'{"model": "demo", "messages": [{"role": "user", "content": "hi"}], "demo": {"ttft": NaN}}'
    response = _post(demo, raw)
    assert response.status_code == 400
    assert "ttft" in response.json()["error"]["message"]


def test_deeply_nested_body_is_a_400(demo):
    response = _post(demo, b"[" * 100_000 + b"]" * 100_000)
    assert response.status_code == 400
    assert "nested" in response.json()["error"]["message"]


def test_the_endpoint_still_answers_after_hostile_requests(demo):
    _post(demo, b"[" * 100_000)
    _post(demo, {"model": "demo", "messages": [{"role": "user", "content": "hi"}], "demo": {"ttft": 1e308}})
    response = _post(demo, {"model": "demo", "messages": [{"role": "user", "content": "hi"}],
                            "demo": {"ttft": 0, "tps": 1e6}})
    assert response.status_code == 200
    assert response.json()["choices"][0]["message"]["content"]
