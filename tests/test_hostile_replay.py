"""Hostile recordings: whatever a file holds, nbstream.replay() either re-streams it or
says in one line what is wrong with it — never a RecursionError, a UnicodeDecodeError or
a sleep that never ends."""

from __future__ import annotations

import json

import pytest

import nbstream

HEADER = json.dumps({"nbstream_record": 1, "api": "chat", "model": "m"})


def _write(tmp_path, *lines: str | bytes):
    path = tmp_path / "rec.jsonl"
    path.write_bytes(b"\n".join(x if isinstance(x, bytes) else x.encode() for x in lines) + b"\n")
    return path


def _message(t, data='{"choices": [{"index": 0, "delta": {"content": "hi"}}]}') -> str:
    return json.dumps({"t": t, "read": 0, "event": "message", "data": data})


def test_deeply_nested_json_is_a_clear_error(tmp_path):
    path = _write(tmp_path, HEADER, "[" * 200_000 + "]" * 200_000)
    with pytest.raises(ValueError, match="line 2 is nested too deeply"):
        nbstream.replay(str(path))


def test_invalid_utf8_is_a_clear_error(tmp_path):
    path = _write(tmp_path, HEADER, b'{"t": 0, "data": "\xff\xfe"}')
    with pytest.raises(ValueError, match="not UTF-8 text"):
        nbstream.replay(str(path))


@pytest.mark.parametrize("t", ["1e308", "-1", "NaN", "Infinity", '"soon"', "true", "null"])
def test_a_message_time_that_is_no_sane_number_of_seconds_is_refused(tmp_path, t):
    line = _message(0).replace('"t": 0', f'"t": {t}')
    path = _write(tmp_path, HEADER, line)
    with pytest.raises(ValueError, match="line 2"):
        nbstream.replay(str(path))


def test_a_message_without_data_is_refused(tmp_path):
    path = _write(tmp_path, HEADER, json.dumps({"t": 0}))
    with pytest.raises(ValueError, match="line 2 has no data"):
        nbstream.replay(str(path))


@pytest.mark.parametrize("speed", [-1, 1e-300, float("nan"), "fast"])
def test_a_speed_that_would_never_finish_is_refused(tmp_path, speed):
    path = _write(tmp_path, HEADER, _message(0.5))
    with pytest.raises(ValueError, match="speed must be"):
        nbstream.replay(str(path), speed=speed)


def test_a_sane_recording_still_replays(tmp_path):
    path = _write(tmp_path, HEADER, _message(0.01), _message(0.02, "[DONE]"))
    run = nbstream.replay(str(path), speed=0)
    assert run.status == "done" and run.text == "hi"
