"""The checks CI holds the code to: ruff over the package, the tests and the benchmarks, and
mypy (``disallow_untyped_defs``, configured in pyproject.toml) over the package."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_ruff_finds_nothing_in_the_package_tests_and_benchmarks() -> None:
    done = _run("ruff", "check", "--no-cache", "nbstream", "tests", "bench")
    assert done.returncode == 0, done.stdout + done.stderr


def test_ruff_rules_come_from_pyproject() -> None:
    """The rule set is the project's, not ruff's default (which would pass almost anything)."""
    done = _run("ruff", "check", "--no-cache", "--show-settings", "nbstream/run.py")
    assert done.returncode == 0, done.stderr
    assert f'Settings path: "{ROOT / "pyproject.toml"}"' in done.stdout
    enabled = done.stdout.split("linter.rules.enabled = [", 1)[1].split("]", 1)[0]
    for rule in ("E501", "F401", "W291", "I001", "B905", "UP035", "SIM102"):
        assert f"({rule})" in enabled, rule
    assert "(SIM105)" not in enabled
    assert "linter.line_length = 120" in done.stdout


@pytest.mark.timeout(600)
def test_mypy_finds_nothing_in_the_package() -> None:
    done = _run("mypy", "--no-incremental", "--cache-dir", "/dev/null")
    assert done.returncode == 0, done.stdout[-20000:] + done.stderr
    assert "disallow_untyped_defs = true" in (ROOT / "pyproject.toml").read_text()


def test_the_package_says_it_is_typed() -> None:
    assert (ROOT / "nbstream" / "py.typed").is_file()
    assert '"py.typed"' in (ROOT / "pyproject.toml").read_text()
