"""Shared fixtures: the embedded demo endpoint, one per test module (a real HTTP server
on 127.0.0.1, stopped when the module ends); a fresh Session per test, closed after it;
``no_providers``: none of the provider variables set (``tests/_provider_env.py``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from nbstream import Session
from nbstream import demo as demo_endpoint
from tests._provider_env import PROVIDER_VARIABLES


@pytest.fixture(scope="module")
def demo():
    server = demo_endpoint.serve()
    yield server
    server.stop()


@pytest.fixture
def session() -> Iterator[Session]:
    s = Session()
    yield s
    s.close()


@pytest.fixture
def no_providers(monkeypatch: pytest.MonkeyPatch) -> None:
    """No provider's key, server, model or alias variable is set for this test."""
    for var in PROVIDER_VARIABLES:
        monkeypatch.delenv(var, raising=False)
