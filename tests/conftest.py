"""Shared fixtures: the embedded demo endpoint, one per test module (a real HTTP server
on 127.0.0.1, stopped when the module ends)."""

from __future__ import annotations

import pytest

from nbstream import demo as demo_endpoint


@pytest.fixture(scope="module")
def demo():
    server = demo_endpoint.serve()
    yield server
    server.stop()
