"""nbstream.show() reads the streaming responses of the HTTP clients people use — httpx,
httpx2 (the fork the openai SDK moved to) and aiohttp — at the byte level, each network
read stamped as it lands, over loopback against the demo endpoint, sync and async."""

from __future__ import annotations

import asyncio

import aiohttp
import httpx
import httpx2
import pytest

import nbstream

PACED = {"ttft": 0.01, "tps": 400, "jitter": 0}  # separate network reads, still quick
BODY = {"model": "demo", "stream": True, "messages": [{"role": "user", "content": "Explain SSE"}],
        "demo": PACED}


@pytest.fixture(scope="module")
def expected(demo):
    return nbstream.stream("Explain SSE", base_url=demo.base_url, model="demo", demo=PACED).text


def _check(run: nbstream.Run, expected: str) -> None:
    assert run.status == "done", run.error
    assert run.text == expected
    chunks = run.chunks
    assert chunks["read_idx"].nunique() > 5  # read by read, not the whole body at the end
    assert chunks["t_recv_s"].is_monotonic_increasing
    assert chunks["t_recv_s"].iloc[-1] > chunks["t_recv_s"].iloc[0]


@pytest.mark.parametrize("client_module", [httpx, httpx2], ids=["httpx", "httpx2"])
def test_a_sync_streaming_response(demo, expected, client_module):
    with client_module.Client() as client, client.stream("POST", demo.base_url + "/chat/completions",
                                                         json=BODY) as response:
        run = nbstream.show(response, display=False)
    _check(run, expected)


@pytest.mark.parametrize("client_module", [httpx, httpx2], ids=["httpx", "httpx2"])
def test_an_async_streaming_response(demo, expected, client_module):
    async def main():
        async with client_module.AsyncClient() as client, client.stream(
                "POST", demo.base_url + "/chat/completions", json=BODY) as response:
            return await nbstream.ashow(response, display=False)

    _check(asyncio.run(main()), expected)


def test_an_aiohttp_response_through_ashow(demo, expected):
    async def main():
        async with aiohttp.ClientSession() as session, session.post(
                demo.base_url + "/chat/completions", json=BODY) as response:
            return await nbstream.ashow(response, display=False)

    _check(asyncio.run(main()), expected)


def test_an_aiohttp_response_through_show_inside_a_running_loop(demo, expected):
    async def main():
        async with aiohttp.ClientSession() as session, session.post(
                demo.base_url + "/chat/completions", json=BODY) as response:
            run = nbstream.show(response, display=False)  # returns at once, fills on this loop
            return await run

    _check(asyncio.run(main()), expected)


def test_an_aiohttp_ndjson_response(demo, expected):
    async def main():
        async with aiohttp.ClientSession() as session, session.post(
                demo.base_url.removesuffix("/v1") + "/api/chat", json=BODY) as response:
            return await nbstream.ashow(response, display=False)

    run = asyncio.run(main())
    assert run.status == "done" and run.text
