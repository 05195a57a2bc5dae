"""Model aliases (``claude = anthropic:claude-sonnet-4-5``): given as ``nbstream.config.aliases``,
``%stream_config aliases=...`` text or ``NBSTREAM_ALIASES`` (environment or ``.env``), followed
wherever a model name is read (``stream()``, ``%%stream --compare``, ``nbstream ask``), over
loopback HTTP to the embedded demo endpoint. A loop or an empty target is a one-line error."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from _provider_env import command_env, without_providers

import nbstream
from nbstream.demo import serve
from nbstream.session import Session

FAST = {"ttft": 0.0, "tps": 5000.0, "jitter": 0.0}


@pytest.fixture(scope="module")
def server():
    with serve(**FAST) as running:
        yield running


@pytest.fixture
def session(monkeypatch, tmp_path, server) -> Session:
    without_providers(monkeypatch, tmp_path)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", server.base_url.removesuffix("/v1"))
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-alias-test")
    return Session(base_url=server.base_url)


def test_an_alias_picks_the_provider_and_model_it_names(session):
    session.settings.aliases = {"claude": "anthropic:demo-reasoning"}
    run = nbstream.stream("hi", model="claude", session=session)
    assert (run.status, run.wire_format, run.model) == ("done", "anthropic", "demo-reasoning")


def test_an_alias_of_an_alias_is_followed_to_the_end(session):
    session.settings.aliases = {"best": "claude", "claude": "anthropic:demo"}
    run = nbstream.stream("hi", model="best", session=session)
    assert (run.wire_format, run.model) == ("anthropic", "demo")


def test_the_configured_default_model_may_be_an_alias(session):
    session.settings.aliases = {"claude": "anthropic:demo"}
    session.settings.model = "claude"
    assert nbstream.stream("hi", session=session).wire_format == "anthropic"


def test_an_alias_to_gemini_goes_to_google_gemini_base_url(session, server, monkeypatch):
    monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", server.base_url.removesuffix("/v1"))
    session.settings.aliases = {"flash": "gemini:demo"}
    run = nbstream.stream("hi", model="flash", session=session)
    assert (run.status, run.wire_format, run.base_url) == ("done", "gemini", server.base_url.removesuffix("/v1"))


def test_a_name_that_is_no_alias_is_sent_unchanged(session):
    session.settings.aliases = {"claude": "anthropic:demo"}
    run = nbstream.stream("hi", model="demo-reasoning", session=session)
    assert (run.wire_format, run.model) == ("chat", "demo-reasoning")


def test_an_alias_loop_is_a_one_line_error_naming_the_loop(session):
    session.settings.aliases = {"a": "b", "b": "c", "c": "a"}
    with pytest.raises(ValueError, match=r"^model aliases loop: a -> b -> c -> a; fix ") as err:
        nbstream.stream("hi", model="a", session=session)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("target", ["", "   ", None, 3])
def test_an_alias_to_no_model_is_refused_when_set(session, target):
    with pytest.raises(ValueError, match="alias 'claude' names no model") as err:
        session.settings.aliases = {"claude": target}
    assert "\n" not in str(err.value) and dict(session.settings.aliases) == {}


def test_an_alias_to_a_provider_prefix_without_a_model_is_a_one_line_error(session):
    session.settings.aliases = {"claude": "anthropic:"}
    with pytest.raises(ValueError, match="names the 'anthropic' API but no model"):
        nbstream.stream("hi", model="claude", session=session)


@pytest.mark.parametrize("name", ["", "has space", "a=b", "x" * 65, "<script>"])
def test_a_bad_alias_name_is_refused(session, name):
    with pytest.raises(ValueError, match="an alias name is a short word"):
        session.settings.aliases = {name: "anthropic:demo"}


def test_aliases_are_read_only_so_every_change_is_checked(session):
    session.settings.aliases = {"claude": "anthropic:demo"}
    with pytest.raises(TypeError):
        session.settings.aliases["other"] = ""  # type: ignore[index]


def test_stream_config_text_sets_several_aliases(session):
    session.settings.set_from_text("aliases", "claude=anthropic:demo, fast=demo-reasoning")
    assert dict(session.settings.aliases) == {"claude": "anthropic:demo", "fast": "demo-reasoning"}


def test_stream_config_text_without_equals_is_a_one_line_error(session):
    with pytest.raises(ValueError, match="expected NAME=MODEL"):
        session.settings.set_from_text("aliases", "claude")


def test_nbstream_aliases_in_the_environment_are_followed(session, monkeypatch):
    monkeypatch.setenv("NBSTREAM_ALIASES", "claude=anthropic:demo")
    assert nbstream.stream("hi", model="claude", session=session).wire_format == "anthropic"


def test_the_settings_alias_wins_over_the_environment_s(session, monkeypatch):
    monkeypatch.setenv("NBSTREAM_ALIASES", "fast=demo-reasoning")
    session.settings.aliases = {"fast": "anthropic:demo"}
    assert nbstream.stream("hi", model="fast", session=session).wire_format == "anthropic"


def test_nbstream_aliases_in_a_dotenv_file_are_followed(session, tmp_path):
    (tmp_path / ".env").write_text("NBSTREAM_ALIASES=claude=anthropic:demo\n")
    assert nbstream.stream("hi", model="claude", session=session).wire_format == "anthropic"


def test_a_broken_environment_alias_names_the_variable(session, monkeypatch):
    monkeypatch.setenv("NBSTREAM_ALIASES", "claude=")
    with pytest.raises(ValueError, match=r"^NBSTREAM_ALIASES: alias 'claude' names no model"):
        nbstream.stream("hi", model="claude", session=session)


def test_the_command_line_follows_an_alias(server, tmp_path):
    env = command_env(NBSTREAM_ALIASES="fast=ollama:demo-reasoning",
                      OLLAMA_HOST=server.base_url.removesuffix("/v1"), NO_COLOR="1")
    record = tmp_path / "run.jsonl"
    out = subprocess.run([sys.executable, "-m", "nbstream", "ask", "-m", "fast", "--record", str(record), "hi"],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=90, stdin=subprocess.DEVNULL)
    assert out.returncode == 0, out.stderr
    head = json.loads(record.read_text().splitlines()[0])
    assert (head["api"], head["model"], head["status"]) == ("ollama", "demo-reasoning", "done")
