"""What llama-server is doing, read from its own endpoints: whether its one slot is
generating (``/slots``) and how many tokens it has made (``/metrics``)."""

from __future__ import annotations

import re
import time

import httpx


def slot_busy(llama) -> bool:
    (slot,) = httpx.get(llama.root + "/slots", timeout=60).json()
    return slot["is_processing"]


def decodes(llama) -> int:
    """llama_decode() calls so far (llamacpp:n_decode_total): one per token the model made."""
    metrics = httpx.get(llama.root + "/metrics", timeout=60).text
    return int(float(re.search(r"^llamacpp:n_decode_total (\S+)$", metrics, re.MULTILINE).group(1)))


def wait_idle(llama) -> None:
    deadline = time.monotonic() + 60  # a hang guard: the wait is for the slot's state
    while slot_busy(llama):
        assert time.monotonic() < deadline, "llama-server is still generating for a cancelled request"
        time.sleep(0.05)
