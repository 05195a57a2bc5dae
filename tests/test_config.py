"""nbstream.config is typed and checked on assignment: a wrong type, an unknown name or
``none`` where None means nothing is a one-line error naming what is valid; ``none``
where it does mean something (a timeout: no deadline) works end to end."""

from __future__ import annotations

import pytest

import nbstream
from nbstream import magic

FAST = {"ttft": 0, "tps": 5000, "jitter": 0}


@pytest.fixture(autouse=True)
def fresh_settings():
    """Each test edits the settings of its own default session."""
    session = nbstream.Session()
    previous = nbstream.session.set_session(session)
    yield session.settings
    nbstream.session.set_session(previous)
    session.close()


@pytest.mark.parametrize("name, value, words", [
    ("keep_runs", None, "keep_runs must be an integer >= 0"),
    ("keep_runs", "100", "keep_runs must be an integer >= 0"),
    ("keep_runs", -1, "keep_runs must be an integer >= 0"),
    ("keep_runs", True, "keep_runs must be an integer >= 0"),
    ("connect_timeout", 0, "connect_timeout must be a number of seconds > 0"),
    ("idle_timeout", float("nan"), "idle_timeout must be a number of seconds > 0"),
    ("first_byte_timeout", "120", "first_byte_timeout must be a number of seconds > 0"),
    ("tokenizer", "o200k_bsae", "tokenizer must be None, 'chars/4' or one of"),
    ("api", "chatt", "api must be one of 'chat', 'responses', 'ollama'"),
    ("model", 5, "model must be a non-empty string"),
    ("base_url", "localhost:11434", "base_url must be an http:// or https:// URL"),
])
def test_a_bad_value_is_refused_on_assignment_and_the_old_one_kept(fresh_settings, name, value, words):
    before = getattr(fresh_settings, name)
    with pytest.raises((TypeError, ValueError)) as info:
        setattr(fresh_settings, name, value)
    assert words in str(info.value) and "\n" not in str(info.value)
    assert getattr(fresh_settings, name) == before


def test_an_unknown_setting_names_the_valid_ones(fresh_settings):
    with pytest.raises(AttributeError, match="no setting 'modle'; the settings are model, base_url"):
        fresh_settings.modle = "gpt-4o-mini"


def test_stream_config_none_for_keep_runs_is_refused_and_runs_still_end(fresh_settings, demo):
    with pytest.raises(ValueError, match="%stream_config: nbstream.config.keep_runs must be an integer"):
        magic.stream_config("keep_runs=none")
    run = nbstream.stream("hi", base_url=demo.base_url, model="demo", demo=FAST)
    assert run.status == "done"


def test_stream_config_numbers_are_stored_typed(fresh_settings):
    magic.stream_config("keep_runs=100 idle_timeout=2.5")
    assert fresh_settings.keep_runs == 100 and type(fresh_settings.keep_runs) is int
    assert fresh_settings.idle_timeout == 2.5


def test_stream_config_text_that_is_not_a_number_is_one_line(fresh_settings):
    with pytest.raises(ValueError, match="connect_timeout must be a number; got 'soon'"):
        magic.stream_config("connect_timeout=soon")


def test_first_byte_timeout_none_means_no_deadline(fresh_settings, demo):
    magic.stream_config("first_byte_timeout=none idle_timeout=none connect_timeout=none")
    assert fresh_settings.first_byte_timeout is None
    run = nbstream.stream("hi", base_url=demo.base_url, model="demo", demo=FAST)
    assert run.status == "done", run.error


def test_a_misspelt_tokenizer_never_reaches_the_summary(fresh_settings, demo):
    with pytest.raises(ValueError):
        magic.stream_config("tokenizer=cl100k_bsae")
    run = nbstream.stream("hi", base_url=demo.base_url, model="demo", demo=FAST)
    assert run.summary["status"] == "done"


def test_a_known_tokenizer_is_accepted(fresh_settings):
    fresh_settings.tokenizer = "chars/4"
    fresh_settings.tokenizer = "cl100k_base"
    assert fresh_settings.tokenizer == "cl100k_base"
