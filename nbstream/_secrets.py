"""Keep API keys and URL credentials out of every message, repr, record and DataFrame.

The one owner of redaction. Every secret nbstream is given — an ``api_key`` argument,
``nbstream.config.api_key``, an environment variable, a credential header passed in
``headers=``, the user:password or a token-like query value of a URL — is registered
here; :func:`redact` masks it in every form it can take on its way out: raw,
``repr``-escaped, JSON-escaped, URL-encoded, and cut short (any prefix of at least
``PREFIX`` characters, as left by a message truncated mid-key). The pump passes every
received wire message and its events through :func:`scrub`, errors pass their text
through :func:`redact`, so nothing downstream (events, records, recordings, tables,
views) ever sees a registered secret.
"""

from __future__ import annotations

import json
import os
import re
import sys
import threading
from collections.abc import Mapping
from dataclasses import fields, replace
from typing import Any
from urllib.parse import parse_qsl, quote, quote_plus, urlsplit

__all__ = ["is_secret_name", "register", "register_url", "register_headers", "clean_key", "mask", "redact",
           "redact_value", "scrub"]

_MIN_LEN = 6  # shorter "keys" (like "x" for local servers) would mask ordinary words
PREFIX = 8  # a cut-off key leaves at least this many of its first characters: still masked
_SECRET_WORDS = ("key", "token", "secret", "passw", "pwd", "sig", "auth", "credential", "session",
                 "cookie", "access")

_lock = threading.Lock()
_secrets: set[str] = set()
# (form, prefix of that form, mask) for every form of every secret, longest first;
# replaced as a whole (copy-on-write) so readers on other threads never need the lock
_forms: tuple[tuple[str, str, str], ...] = ()
_noticed: set[str] = set()


def register(secret: str | None) -> None:
    """Remember ``secret`` so that :func:`redact` masks it (in every form) from now on."""
    global _forms
    if not isinstance(secret, str) or len(secret) < _MIN_LEN:
        return
    with _lock:
        if secret in _secrets:
            return
        _secrets.add(secret)
        masked = mask(secret.strip())
        forms = {(form, masked) for form in _forms_of(secret) if len(form) >= _MIN_LEN}
        merged = {(f, m) for f, _, m in _forms} | forms
        _forms = tuple(sorted(((f, f[:PREFIX], m) for f, m in merged), key=lambda x: -len(x[0])))


def _forms_of(secret: str) -> set[str]:
    return {secret, secret.strip(), repr(secret)[1:-1], json.dumps(secret)[1:-1],
            json.dumps(secret)[1:-1].replace("/", "\\/"),  # encoders that escape the slash
            quote(secret, safe=""), quote(secret), quote_plus(secret),
            repr(secret.encode("utf-8", "replace"))[2:-1]}


def is_secret_name(name: str) -> bool:
    """Whether a header or query parameter name suggests a credential."""
    low = name.lower()
    return any(word in low for word in _SECRET_WORDS)


def register_url(url: str | None) -> None:
    """Register the credentials a URL carries: ``user:password@`` and the values of
    token-like query parameters (``api-key``, ``token``, ``sig``, ``access_token``…)."""
    if not isinstance(url, str):
        return
    try:
        parts = urlsplit(url)
        user, password = parts.username, parts.password
    except ValueError:
        return
    register(password)
    if password is None:
        register(user)  # https://TOKEN@host: the user name is the token
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        if is_secret_name(name):
            register(value)


def register_headers(headers: Mapping[str, Any] | None) -> None:
    """Register credential headers (``Authorization``, ``api-key``, ``x-api-key``,
    ``x-goog-api-key``…): the whole value and the part after an auth scheme."""
    for name, value in (headers or {}).items():
        if isinstance(name, str) and isinstance(value, str) and is_secret_name(name):
            register(value)
            scheme, _, rest = value.strip().partition(" ")
            if rest:
                register(rest.strip())


_KEY_CHAR = re.compile(r"[A-Za-z0-9_\-]")
_BAD_IN_KEY = re.compile(r"[\s\x00-\x1f\x7f]")
_BAD_IN_HEADER = re.compile(r"[\x00-\x1f\x7f]")


def clean_key(key: Any, source: str, *, header: bool = False) -> str | None:
    """A key as it will be sent: surrounding whitespace (a newline from a file) is
    stripped with a one-line notice; any other whitespace or control character, or a
    value that is not a string, is a ``ValueError`` naming ``source`` — never the key.
    ``header=True`` checks a whole header value (``Bearer …``: inner spaces allowed)."""
    if key is None:
        return None
    if not isinstance(key, str):
        raise TypeError(f"the API key from {source} must be a string, not {type(key).__name__}")
    register(key)
    stripped = key.strip()
    if stripped != key and stripped and source not in _noticed:
        _noticed.add(source)
        print(f"nbstream: the API key from {source} had whitespace around it (a trailing newline?); "
              "it was stripped", file=sys.stderr)
    if (_BAD_IN_HEADER if header else _BAD_IN_KEY).search(stripped):
        what = "a control character" if header else "whitespace or a control character"
        raise ValueError(f"the API key from {source} contains {what}; an API key is one unbroken "
                         "string — check how it was copied")
    return stripped or None


def mask(secret: str) -> str:
    """``sk-…wxyz`` style: enough to recognise a key, never enough to use it."""
    if len(secret) < 12:
        return "***"
    return f"{secret[:3]}…{secret[-4:]}"


def redact(text: str) -> str:
    """``text`` with every form of every registered secret masked, cut-off prefixes too."""
    forms = _forms
    if not forms or not text or not isinstance(text, str):
        return text
    for form, head, masked in forms:
        start = text.find(head)
        while start >= 0:
            end = start + len(head)
            limit = min(len(text), start + len(form))
            while end < limit and text[end] == form[end - start]:
                end += 1
            # the whole form, or a cut-off start of it (nothing key-like follows); a longer
            # token that merely shares the first characters is someone else's
            if end - start == len(form) or end == len(text) or not _KEY_CHAR.match(text, end):
                text = text[:start] + masked + text[end:]
                end = start + len(masked)
            start = text.find(head, end)
    return text


def redact_value(value: Any) -> Any:
    """``value`` with secrets masked in every string inside it (dicts and lists walked);
    the same object when there was nothing to mask."""
    if not _forms:
        return value
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        new = {k: redact_value(v) for k, v in value.items()}
        return value if all(new[k] is value[k] for k in value) else new
    if isinstance(value, list):
        items = [redact_value(v) for v in value]
        return value if all(a is b for a, b in zip(items, value, strict=True)) else items
    return value


def _scrub_event(ev: Any) -> Any:
    changes = {}
    for f in fields(ev):
        old = getattr(ev, f.name)
        new = redact_value(old)
        if new is not old and new != old:
            changes[f.name] = new
    return replace(ev, **changes) if changes else ev


def scrub(message: Any, events: list[Any]) -> tuple[Any, list[Any]]:
    """A received wire message and its events with every secret masked (the pump's
    boundary: what is recorded, shown, saved and tabulated passes through here)."""
    if not _forms:
        return message, events
    data = message.data
    if isinstance(data, str):
        clean = redact(data)
        if clean is data or clean == data:
            return message, events  # events are derived from the data: nothing to mask there
        message = message._replace(data=clean)
    else:
        clean = redact_value(data)
        if clean is not data:
            message = message._replace(data=clean)
    return message, [_scrub_event(ev) for ev in events]


def _reset_after_fork() -> None:
    global _lock
    _lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)
