"""The demo's tokenizer and stable hash.

The tokenizer is a GPT-2-style pre-tokenizer regex, small enough to read and exact
enough to make token counts plausible:

* a run of letters, with at most one leading space (``" hello"``),
* a single digit, with at most one leading space (``" 2"``, then ``"0"``),
* a run of punctuation/symbols (underscore included), with at most one leading space,
* a run of whitespace (newlines included) in one token, except that a single space
  right before a non-space is left to lead the next token.

Every character falls in one of those classes, so ``"".join(tokenize(s)) == s`` for
any string. Usage figures (prompt, completion, reasoning tokens) all count with it.

``stable_hash`` exists because Python's ``hash()`` of a string is salted per process;
answers and jitter must be the same in every process, so they hash with SHA-256.
"""

from __future__ import annotations

import hashlib
import re

__all__ = ["tokenize", "count_tokens", "stable_hash"]

_TOKEN = re.compile(r" ?[^\W\d_]+| ?\d| ?(?:[^\s\w]|_)+|\s+(?= \S)|\s+")


def tokenize(text: str) -> list[str]:
    """Split ``text`` into demo tokens; joining them gives ``text`` back exactly."""
    return _TOKEN.findall(text)


def count_tokens(text: str) -> int:
    """The number of demo tokens in ``text``."""
    return sum(1 for _ in _TOKEN.finditer(text))


def stable_hash(text: str) -> int:
    """A 64-bit hash of ``text`` that is the same in every process and on every run."""
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big")
