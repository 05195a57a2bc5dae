"""Keep API keys out of every message, repr, log line and DataFrame.

Each key nbstream is given (argument or environment) is registered here; ``redact``
replaces any occurrence with a short masked form that still tells keys apart.
"""

from __future__ import annotations

import threading

_lock = threading.Lock()
_secrets: set[str] = set()
_MIN_LEN = 6  # shorter "keys" (like "x" for local servers) would mask ordinary words


def register(secret: str | None) -> None:
    """Remember ``secret`` so that :func:`redact` masks it from now on."""
    if secret and len(secret) >= _MIN_LEN:
        with _lock:
            _secrets.add(secret)


def mask(secret: str) -> str:
    """``sk-abc…wxyz`` style: enough to recognise a key, never enough to use it."""
    if len(secret) < 12:
        return "***"
    return f"{secret[:3]}…{secret[-4:]}"


def redact(text: str) -> str:
    """``text`` with every registered secret masked."""
    if not _secrets or not text:
        return text
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, mask(secret))
    return text
