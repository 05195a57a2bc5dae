"""Waiting for a state another thread reaches: polled, with a deadline that is only a hang
guard (a test never waits for a duration)."""

from __future__ import annotations

import time
from collections.abc import Callable


def wait_for(condition: Callable[[], object], deadline: float = 60.0) -> None:
    """Return once ``condition()`` is true; fail the test if it never is within ``deadline``."""
    end = time.monotonic() + deadline
    while not condition():
        assert time.monotonic() < end, "the state was never reached"
        time.sleep(0.01)
