"""A test environment with no provider configured: none of the variables a wire format
reads its key or server from (taken from the registry, so a new provider's are included),
nor nbstream's model and alias variables, and no ``.env`` of the checkout."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from nbstream.wire import registry

ROOT = Path(__file__).resolve().parent.parent
PROVIDER_VARIABLES = frozenset(
    {"NBSTREAM_MODEL", "NBSTREAM_ALIASES"}
    | {var for fmt in registry.FORMATS.values() for var in (*fmt.key_envs, *(name for name, _ in fmt.url_envs))})


def without_providers(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """Unset every provider variable and work in ``tmp_path`` (no ``.env``) for this test."""
    for var in PROVIDER_VARIABLES:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)
    return monkeypatch


def command_env(**extra: str) -> dict[str, str]:
    """The environment for ``python -m nbstream`` from this checkout: no provider
    variables, this checkout importable, then ``extra``."""
    env = {k: v for k, v in os.environ.items() if k not in PROVIDER_VARIABLES}
    return {**env, "PYTHONPATH": str(ROOT), **extra}
