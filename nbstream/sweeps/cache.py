"""The sweep cache: a request's canonical body and endpoint hash to a recording.

The key is the SHA-256 of the JSON (sorted keys, no whitespace) of the redacted endpoint
URL, the request body and its headers but credentials — never the API key. The value is the
recording ``run.save`` writes (the record/replay format), put in place atomically, so a
sweep killed mid-write leaves no half file: a re-run answers every completed request
from here and sends only the rest.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from nbstream._secrets import is_secret_name, redact
from nbstream.engine import replay as _replay
from nbstream.run import Run

__all__ = ["DEFAULT_FOLDER", "Cache", "keepable", "key"]

DEFAULT_FOLDER = ".nbstream-cache"


def key(url: str, body: Any, extra: Any = None, headers: Mapping[str, Any] | None = None) -> str:
    """The hex digest naming a request's recording. ``extra`` holds what shapes the answer
    but is not in the body yet (a ``response_format``); ``headers`` count too (a beta flag,
    an API version changes the answer) except credentials: a name that says so
    (``x-api-key``, ``Authorization``…) or a value holding a registered secret."""
    shaping = {str(name).lower(): str(value) for name, value in (headers or {}).items()
               if not is_secret_name(str(name)) and redact(str(value)) == str(value)}
    blob = json.dumps({"endpoint": redact(url), "body": body, "extra": extra, "headers": shaping},
                      sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=repr)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def keepable(run: Run) -> bool:
    """An answer the cache keeps and serves: a whole one, and with ``response_format`` the
    JSON asked for (an invalid one is asked again next time)."""
    return run.status == "done" and run.json_error is None


class Cache:
    """Recordings under ``folder``, one file per key."""

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        if not str(folder).strip():
            raise ValueError("cache='' names no folder: give a folder path, True for ./.nbstream-cache, or False")
        self.folder = Path(folder).expanduser()  # "~/.cache/x" is the home's, not a folder named "~" here

    @classmethod
    def of(cls, cache: Any) -> Cache | None:
        """``cache=`` as given to ``sweep``: True (``./.nbstream-cache``), a folder, or False/None."""
        if cache is None or cache is False:
            return None
        if cache is True:
            return cls(DEFAULT_FOLDER)
        if isinstance(cache, (str, os.PathLike)):
            return cls(cache)
        raise TypeError(f"cache must be True, False or a folder path, not {type(cache).__name__}")

    def path(self, digest: str) -> Path:
        return self.folder / digest[:2] / f"{digest}.jsonl"

    def get(self, digest: str) -> Path | None:
        """The recording for ``digest`` if there is a file; whether it replays whole (a
        damaged or cut-short one is a miss) the replay itself tells, so it is read once."""
        path = self.path(digest)
        return path if path.is_file() else None

    def put(self, run: Run, digest: str) -> Path | None:
        """Record ``run`` under ``digest``: written beside, then renamed into place. An
        answer that is not the JSON asked for is not kept (None): a re-run asks again."""
        if not keepable(run):
            return None
        path = self.path(digest)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".jsonl")
        os.close(fd)
        try:
            _replay.save(run, tmp)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return path
