"""Shared fixtures: the embedded demo endpoint, one per test module (a real HTTP server
on 127.0.0.1, stopped when the module ends); a fresh Session per test, closed after it;
``no_providers``: none of the provider variables set (``tests/_provider_env.py``);
``tracked``: every Run the ``session`` starts, as it starts (a state a test can wait for)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from nbstream import Run, Session
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


@pytest.fixture
def tracked(session: Session, monkeypatch: pytest.MonkeyPatch) -> list[Run]:
    """The Runs ``session`` tracks, in the order they start (a sweep's included)."""
    runs: list[Run] = []
    track = session.track
    monkeypatch.setattr(session, "track", lambda run: track(run) if runs.append(run) is None else run)
    return runs
