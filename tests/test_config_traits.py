"""In a real kernel, ``%config NBStream.NAME = value`` sets the same checked setting as
``%stream_config NAME=value`` and ``nbstream.config.NAME = value``: a wrong type or an
unknown name is a one-line error naming what is valid, and the old value stays."""

from __future__ import annotations

import pytest

from tests._kernel import Session as Kernel


def _text(result: dict, name: str) -> str:
    return "".join(m["content"]["text"] for m in result["messages"]
                   if m["msg_type"] == "stream" and m["content"]["name"] == name)


@pytest.fixture(scope="module")
def kernel():
    with Kernel() as k:
        k.run("import nbstream\nfrom nbstream import demo\nserver = demo.serve()")
        yield k
        k.run("server.stop()")


def test_config_sets_the_setting_nbstream_config_reads(kernel):
    kernel.run('%config NBStream.model = "gpt-4o-mini"')
    assert kernel.stdout("print(nbstream.config.model)").strip() == "gpt-4o-mini"


def test_stream_config_and_config_are_the_same_setting(kernel):
    kernel.run("%stream_config idle_timeout=2.5")
    result = kernel.run("%config NBStream.idle_timeout")
    values = [m["content"]["data"]["text/plain"] for m in result["messages"] if m["msg_type"] == "execute_result"]
    assert values == ["2.5"]


def test_a_wrong_type_is_one_line_naming_the_valid_values_and_the_old_value_stays(kernel):
    result = kernel.run("%config NBStream.keep_runs = None")
    err = _text(result, "stderr").strip()
    assert "NBStream.keep_runs" in err and "must be an integer >= 0" in err and "\n" not in err
    assert "Traceback" not in err
    assert kernel.stdout("print(nbstream.config.keep_runs)").strip() == "100"


def test_an_unknown_name_lists_the_settings(kernel):
    result = kernel.run('%config NBStream.modle = "x"')
    err = _text(result, "stderr").strip()
    assert "no setting 'modle'; the settings are model, base_url, api_key" in err and "\n" not in err


def test_none_works_where_it_means_no_deadline(kernel):
    kernel.run("%config NBStream.first_byte_timeout = None")
    assert kernel.stdout("print(nbstream.config.first_byte_timeout)").strip() == "None"


def test_a_key_set_through_config_is_never_shown(kernel):
    kernel.run('%config NBStream.api_key = "sk-test-0123456789abcdef"')
    result = kernel.run("%config NBStream")
    shown = _text(result, "stdout")
    assert "NBStream.api_key" in shown and "0123456789abcdef" not in shown
    kernel.run("nbstream.config.api_key = None")


def test_a_stream_uses_what_config_set(kernel):
    kernel.run("%config NBStream.base_url = server.base_url")
    kernel.run('%config NBStream.model = "demo"')
    out = kernel.stdout('run = nbstream.stream("hi", demo={"ttft": 0, "tps": 5000})\n'
                        "print(run.status, run.base_url == server.base_url)")
    assert out.strip() == "done True"
