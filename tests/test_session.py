"""A Session owns what nbstream remembers between calls — settings, finished runs,
endpoint quirks, conversations, HTTP clients, the I/O loop — so two sessions never see
each other's state; the module-level functions use one default session made on first use."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import nbstream
from nbstream import magic
from nbstream.session import Session, get_session, set_session

FAST = {"ttft": 0, "tps": 5000, "jitter": 0}
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def two():
    a, b = Session(), Session()
    yield a, b
    a.close()
    b.close()


@pytest.fixture
def own_default():
    """A fresh default session for the test, the previous one put back after."""
    session = Session()
    previous = set_session(session)
    yield session
    set_session(previous)
    session.close()


def test_settings_of_two_sessions_are_separate(two):
    a, b = two
    a.settings.model = "model-a"
    assert b.settings.model is None
    assert Session(model="model-c").settings.model == "model-c"


def test_a_session_checks_its_settings_when_made():
    with pytest.raises(AttributeError, match="no setting 'modle'; the settings are model"):
        Session(modle="x")
    with pytest.raises(ValueError, match="keep_runs must be an integer >= 0"):
        Session(keep_runs=None)


def test_each_session_records_only_its_own_runs(two, demo):
    a, b = two
    run = nbstream.stream("hi", base_url=demo.base_url, model="demo", demo=FAST, session=a)
    assert a.runs()["run_id"].tolist() == [run.run_id]
    assert b.runs().empty
    assert run.run_id not in set(nbstream.runs().get("run_id", ()))


def test_a_run_is_in_the_history_as_soon_as_wait_returns(two, demo):
    a, _ = two
    run = nbstream.stream("hi", base_url=demo.base_url, model="demo", demo=FAST, block=False, session=a)
    run.wait(120)
    assert run.run_id in set(a.runs()["run_id"])


def test_views_hear_the_end_after_the_session_recorded_it(two, demo):
    a, _ = two
    seen: list[bool] = []
    run = nbstream.stream("hi", base_url=demo.base_url, model="demo", demo=FAST, block=False, session=a)
    run.subscribe(lambda r, _events: seen.append(any(x is r for x in a.history.recent())) if r.done else None)
    run.wait(120)
    assert seen in ([True], [])  # [] only when it ended before the listener was added
    assert any(x is run for x in a.history.recent())


def test_a_run_takes_the_tokenizer_setting_of_its_session(two):
    a, _ = two
    a.settings.tokenizer = "chars/4"
    run = a.track(nbstream.Run(model="m", api="chat"))
    a.settings.tokenizer = None
    assert run.tokenizer == "chars/4"


def test_keep_runs_zero_keeps_every_row_and_no_chunk_table(demo):
    session = Session(keep_runs=0)
    try:
        made = [nbstream.stream("hi", base_url=demo.base_url, model="demo", demo=FAST, session=session)
                for _ in range(2)]
        assert session.history.recent() == []
        assert session.runs()["run_id"].tolist() == [r.run_id for r in made]
        assert session.chunks().empty
    finally:
        session.close()


def test_keep_runs_none_is_refused_with_the_valid_values_and_the_old_value_kept(two):
    a, _ = two
    with pytest.raises(ValueError, match=r"keep_runs must be an integer >= 0 .*got None"):
        a.settings.keep_runs = None
    with pytest.raises(ValueError, match="keep_runs must be an integer >= 0"):
        a.settings.set_from_text("keep_runs", "none")
    assert a.settings.keep_runs == 100


def test_the_stream_options_quirk_is_remembered_per_session(two, demo):
    a, b = two

    def requests_for(session: Session) -> int:
        before = len(demo.requests)
        run = nbstream.stream("hi", base_url=demo.base_url, model="demo-no-stream-options", demo=FAST,
                              session=session)
        assert run.status == "done", run.error
        return len(demo.requests) - before

    assert requests_for(a) == 2  # refused with stream_options, then sent without
    assert requests_for(a) == 1  # remembered by a
    assert requests_for(b) == 2  # b never heard of it


def test_conversations_belong_to_the_default_session_of_the_time(own_default, demo, capsys):
    first = own_default
    line = f"--chat c -m demo --base-url {demo.base_url} -p demo.ttft=0 -p demo.tps=5000"
    asyncio.run(magic.run_cell(line, "hello"))
    assert [m["role"] for m in first.conversations["c"]] == ["user", "assistant"]
    second = Session()
    set_session(second)
    try:
        asyncio.run(magic.run_cell(line, "hello again"))
        assert [m["content"] for m in second.conversations["c"] if m["role"] == "user"] == ["hello again"]
        assert len(first.conversations["c"]) == 2
        magic.stream_reset("c")
        assert "c" not in second.conversations and "c" in first.conversations
    finally:
        set_session(first)
        second.close()


def test_nbstream_config_is_the_default_sessions_settings(own_default):
    assert nbstream.config is own_default.settings is get_session().settings
    nbstream.config.model = "gpt-4o-mini"
    magic.stream_config("idle_timeout=2.5")
    assert own_default.settings.model == "gpt-4o-mini" and own_default.settings.idle_timeout == 2.5


def test_set_session_takes_only_a_session():
    with pytest.raises(TypeError, match="takes a nbstream.Session or None, not dict"):
        set_session({})  # type: ignore[arg-type]


def test_a_closed_session_keeps_its_runs_and_can_stream_again(demo):
    session = Session()
    first = nbstream.stream("hi", base_url=demo.base_url, model="demo", demo=FAST, session=session)
    session.close()
    assert session.runs()["run_id"].tolist() == [first.run_id]
    again = nbstream.stream("hi", base_url=demo.base_url, model="demo", demo=FAST, session=session)
    session.close()
    assert again.status == "done"


def _python(code: str) -> dict:
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], check=False, capture_output=True, text=True,
                         timeout=120, cwd=ROOT, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_import_creates_no_session_thread_loop_or_executor():
    result = _python("""
        import json, threading
        import nbstream
        from nbstream import session
        after_import = [t.name for t in threading.enumerate()]
        made_at_import = session._SLOT.default is not None
        nbstream.config.model = "demo"          # the default session is made, still no thread
        after_config = [t.name for t in threading.enumerate()]
        print(json.dumps({"import": after_import, "made": made_at_import, "config": after_config}))
    """)
    assert result == {"import": ["MainThread"], "made": False, "config": ["MainThread"]}


def test_the_default_session_starts_its_io_thread_on_the_first_blocking_call():
    result = _python("""
        import json, threading
        import nbstream
        from nbstream import demo
        server = demo.serve()
        run = nbstream.stream("hi", base_url=server.base_url, model="demo", demo={"ttft": 0, "tps": 5000})
        names = sorted(t.name for t in threading.enumerate()
                       if t.name.startswith("nbstream") and not t.name.startswith("nbstream-demo"))
        server.stop()
        print(json.dumps({"status": run.status, "threads": names}))
    """)
    assert result == {"status": "done", "threads": ["nbstream-io"]}
