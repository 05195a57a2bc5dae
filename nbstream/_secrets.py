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

Beyond the raw wire text, the decoded events are masked too (a JSON ``\\u`` escape
hides a key from the wire text but not from the decoded answer), as are SSE ``id`` and
``event`` fields; :func:`append_redacted` catches a key split across chunks by
looking only at a few characters before each boundary,
and :func:`scrub_exception` keeps a key out of the traceback of an error's cause.
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
import sys
import threading
import traceback
from collections.abc import Mapping
from dataclasses import fields, replace
from typing import Any
from urllib.parse import parse_qsl, quote, quote_plus, unquote

__all__ = ["Settled", "after_fork", "append_redacted", "clean_key", "is_secret_name", "mask", "redact", "redact_value",
           "register", "register_headers", "register_url", "scrub", "scrub_exception"]

_MIN_LEN = 6  # shorter "keys" (like "x" for local servers) would mask ordinary words
PREFIX = 8  # a cut-off key leaves at least this many of its first characters: still masked
_SECRET_WORDS = ("key", "token", "secret", "passw", "pwd", "sig", "auth", "credential", "session",
                 "cookie", "access")
# query parameter names that carry a credential although no word above is in them
# (Azure Functions' ``code``, SAS ``sig``…); matched whole, since "code" is in "zipcode"
_SECRET_QUERY_NAMES = frozenset({"code", "sig", "signature", "key", "token", "secret", "password",
                                 "api-key", "apikey", "api_key", "access_token"})
_RANDOM_AFTER_SCHEME = 4  # this many characters past a key's scheme (sk-proj-): its own, whatever follows
_SCHEME = re.compile(r"(?:[a-z0-9]{1,6}[-_]){1,3}")



class _Registry:
    """The secrets registered so far. Process-wide on purpose — the one documented
    exception to "state lives in a Session": a key is a secret for every output of the
    process (stderr, a notebook, a recording another session writes), and redaction
    runs in places that know no session (errors, events, views, tables)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.secrets: set[str] = set()
        # (form, prefix of that form, mask, length masked whatever follows) for every form
        # of every secret, longest first; replaced as a whole (copy-on-write) so readers
        # on other threads never need the lock
        self.forms: tuple[tuple[str, str, str, int], ...] = ()
        self.noticed: set[str] = set()  # key sources already told about stripped whitespace


_REGISTRY = _Registry()


def after_fork() -> None:
    """In a forked child: a lock another thread of the parent held is free again
    (called by the one fork hook, in :mod:`nbstream.session`)."""
    _REGISTRY.lock = threading.Lock()


def register(secret: str | None) -> None:
    """Remember ``secret`` so that :func:`redact` masks it (in every form) from now on."""
    if not isinstance(secret, str) or len(secret) < _MIN_LEN:
        return
    with _REGISTRY.lock:
        if secret in _REGISTRY.secrets:
            return
        _REGISTRY.secrets.add(secret)
        masked = mask(secret.strip())
        forms = {(form, masked) for form in _forms_of(secret) if len(form) >= _MIN_LEN}
        merged = {(f, m) for f, _, m, _ in _REGISTRY.forms} | forms
        _REGISTRY.forms = tuple(sorted(((f, f[:PREFIX], m, _own_length(f)) for f, m in merged),
                              key=lambda x: -len(x[0])))


def _own_length(form: str) -> int:
    """How much of ``form``'s start is its own whatever follows: past its scheme
    (``sk-proj-``, shared by every key of that kind) by a few random characters."""
    scheme = _SCHEME.match(form)
    return max(PREFIX, (scheme.end() if scheme else 0) + _RANDOM_AFTER_SCHEME)


_ESCAPE = re.compile(r"%[0-9A-F]{2}")


def _forms_of(secret: str) -> set[str]:
    forms = {secret, secret.strip(), repr(secret)[1:-1], json.dumps(secret)[1:-1],
             json.dumps(secret)[1:-1].replace("/", "\\/"),  # encoders that escape the slash
             quote(secret, safe=""), quote(secret), quote_plus(secret),
             repr(secret.encode("utf-8", "replace"))[2:-1]}
    # the same escapes in lowercase hex (%2f), as many clients and servers write them
    return forms | {_ESCAPE.sub(lambda m: m.group().lower(), f) for f in forms}


def is_secret_name(name: str) -> bool:
    """Whether a header or query parameter name suggests a credential."""
    low = name.lower()
    return any(word in low for word in _SECRET_WORDS)


_USERINFO = re.compile(r"//([^/?#@\s]*)@")
_QUERY_PAIR = re.compile(r"[?&]([^=&#\s]+)=([^&#\s]*)")


def register_url(url: str | None) -> None:
    """Register the credentials a URL carries: ``user:password@`` (also as the Basic
    auth header a client makes of it) and the values of token-like query parameters
    (``api-key``, ``token``, ``sig``, ``code``, ``access_token``…). Read with plain
    patterns, so a URL too malformed to parse still has its password masked in the
    error that says so."""
    if not isinstance(url, str):
        return
    userinfo = _USERINFO.search(url)
    if userinfo:
        user, has_password, password = userinfo.group(1).partition(":")
        for secret in {password, unquote(password)} if has_password else {user, unquote(user)}:
            register(secret)  # https://TOKEN@host: the user name is the token
        for u, p in {(user, password), (unquote(user), unquote(password))}:
            register(base64.b64encode(f"{u}:{p}".encode()).decode())
    query = url.partition("?")[2].partition("#")[0]
    for name, value in _QUERY_PAIR.findall("?" + query):
        if is_secret_name(name) or unquote(name).lower() in _SECRET_QUERY_NAMES:
            register(value)
            register(unquote(value))
    for name, value in parse_qsl(query, keep_blank_values=True):
        if is_secret_name(name) or name.lower() in _SECRET_QUERY_NAMES:
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
    if stripped != key and stripped and source not in _REGISTRY.noticed:
        _REGISTRY.noticed.add(source)
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
    forms = _REGISTRY.forms
    if not forms or not text or not isinstance(text, str):
        return text
    # whole forms first: a form that only shares a start with another (the JSON form's
    # ``\/`` where the key has ``/``) would otherwise mask that start and leave the rest
    for whole_only in (True, False):
        for form, head, masked, own in forms:
            start = text.find(head)
            while start >= 0:
                end = start + len(head)
                limit = min(len(text), start + len(form))
                while end < limit and text[end] == form[end - start]:
                    end += 1
                # the whole form, a cut-off start of it (nothing key-like follows), or a start
                # long enough to be this key's own (a server that masks the rest with letters);
                # a token that shares no more than the scheme (sk-proj-) is someone else's
                if end - start == len(form) or not whole_only and (
                        end - start >= own or end == len(text) or not _KEY_CHAR.match(text, end)):
                    text = text[:start] + masked + text[end:]
                    end = start + len(masked)
                start = text.find(head, end)
    return text


MAX_DEPTH = 64  # nesting deeper than this is hostile: dropped, never walked (no RecursionError)
TOO_DEEP = f"(nested deeper than {MAX_DEPTH} levels: dropped unchecked)"


def redact_value(value: Any, _depth: int = 0) -> Any:
    """``value`` with secrets masked in every string inside it (dicts, their keys too, and
    lists walked); the same object when there was nothing to mask. What is nested deeper than
    ``MAX_DEPTH`` levels is replaced by a note, since it cannot be checked cheaply."""
    if not _REGISTRY.forms:
        return value
    if isinstance(value, str):
        return redact(value)
    if _depth >= MAX_DEPTH and isinstance(value, (dict, list, tuple)):
        return TOO_DEEP
    if isinstance(value, dict):  # keys too: a key named by a secret is as much a leak
        pairs = [(redact(k) if isinstance(k, str) else k, redact_value(v, _depth + 1)) for k, v in value.items()]
        if all(nk == k and nv is v for (nk, nv), (k, v) in zip(pairs, value.items(), strict=True)):
            return value
        return dict(pairs)
    if isinstance(value, (list, tuple)):
        items = [redact_value(v, _depth + 1) for v in value]
        if all(a is b for a, b in zip(items, value, strict=True)):
            return value
        return items if isinstance(value, list) else tuple(items)
    return value


def append_redacted(parts: list[str], chunk: str) -> None:
    """Append ``chunk`` to the accumulated ``parts``, masking a key that the boundary
    split in two (``sk-12`` then ``34…``). Only ``PREFIX - 1`` characters before the
    boundary are looked at again: a key whose first ``PREFIX`` characters were all
    before it was masked then, as a cut-off key at the end of the text. So each chunk
    costs the same however long the answer grows."""
    if not _REGISTRY.forms or not parts:
        parts.append(chunk)
        return
    chunk = _drop_rest_of_masked_key(parts[-1], chunk)
    if not chunk:
        return
    window = PREFIX - 1
    taken, i = 0, len(parts)
    while i > 0 and taken < window:
        i -= 1
        taken += len(parts[i])
    joined = "".join(parts[i:]) + chunk
    clean = redact(joined)
    if clean == joined:
        parts.append(chunk)
    else:
        del parts[i:]
        parts.append(clean)


class Settled:
    """Redaction for text shown while it streams (a live view, a terminal): ``feed(delta)``
    returns the part of the text that no later delta can change, with a key split across
    deltas masked as ``append_redacted`` masks it in the run; the last characters, which
    a key may still be completing, wait for the next delta; ``finish()`` returns them.
    With no secret registered, text passes straight through."""

    __slots__ = ("_forms", "_hold", "_pending")

    def __init__(self) -> None:
        self._pending = ""
        self._forms: tuple[tuple[str, str, str, int], ...] = ()
        self._hold = 0

    def feed(self, chunk: str) -> str:
        forms = _REGISTRY.forms
        if not forms:
            text, self._pending = self._pending + chunk, ""
            return text
        if forms is not self._forms:  # once per registration, not per delta
            # masking only reaches PREFIX - 1 characters back, and the next delta needs the
            # whole mask before it to drop the rest of a masked key: hold back the longer
            self._forms, self._hold = forms, max(PREFIX - 1, max(len(masked) for _, _, masked, _ in forms))
        if self._pending:
            parts = [self._pending]
            append_redacted(parts, chunk)
            text = "".join(parts)
        else:
            text = redact(chunk)
        self._pending = text[-self._hold:]
        return text[:-self._hold]

    def finish(self) -> str:
        text, self._pending = self._pending, ""
        return text


_KEY_RUN = re.compile(r"[A-Za-z0-9_\-%\\]+")


def _drop_rest_of_masked_key(before: str, chunk: str) -> str:
    """``chunk`` without its leading characters when they go on a key that the text
    ``before`` it ends with, cut off and masked (``sk-…wxyz``): the rest of the key."""
    run = _KEY_RUN.match(chunk)
    if run is None:
        return chunk
    for form, _, masked, _ in _REGISTRY.forms:
        if "…" in masked and before.endswith(masked) and form.find(run.group(), PREFIX) >= 0:
            return chunk[run.end():]
    return chunk


def scrub_exception(exc: BaseException) -> None:
    """Keep registered secrets out of the traceback of ``exc``'s chain (``__cause__``,
    ``__context__``, as printed under "The above exception was the direct cause…"):
    their ``args`` are masked, and a link whose text still shows a secret is cut."""
    if not _REGISTRY.forms:
        return
    seen: set[int] = set()
    todo = [exc]
    while todo:
        current = todo.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        for attr in ("__cause__", "__context__"):
            link = getattr(current, attr)
            if link is None:
                continue
            with contextlib.suppress(Exception):  # an exception type with read-only args
                link.args = redact_value(link.args)
            text = "".join(traceback.format_exception_only(type(link), link))
            if redact(text) != text:
                setattr(current, attr, None)
                current.__suppress_context__ = True
            else:
                todo.append(link)


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
    if not _REGISTRY.forms:
        return message, events
    data = message.data
    if isinstance(data, str):
        clean = redact(data)
        if "\\u" in clean:
            clean = _redact_json_escapes(clean)
    else:
        clean = redact_value(data)
    name, msg_id = redact(message.name), redact(message.id) if message.id else message.id
    if clean is not data or name != message.name or msg_id != message.id:
        message = message._replace(data=clean, name=name, id=msg_id)
    return message, [_scrub_event(ev) for ev in events]


def _redact_json_escapes(text: str) -> str:
    """JSON text whose ``\\u`` escapes spell a secret, re-encoded with that secret masked
    (the same JSON otherwise); ``text`` itself when it is no JSON or hides no secret."""
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return text
    clean = redact_value(value)
    return text if clean is value else json.dumps(clean, ensure_ascii=False)
