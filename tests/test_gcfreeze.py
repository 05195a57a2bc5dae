"""While a stream runs, the objects that existed before it are frozen out of the cyclic
garbage collector (a full collection of them would stop the reading thread and stamp
arrivals late); when the last stream ends they are collected as before."""

from __future__ import annotations

import asyncio
import gc
import subprocess
import sys
import threading
import weakref

import pytest

import nbstream
from nbstream import Session

CHUNK = {"choices": [{"index": 0, "delta": {"content": "hi"}}]}  # items as an SDK gives them
END = {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}


class _Cycle:
    def __init__(self) -> None:
        self.me = self



def test_old_objects_are_frozen_while_a_stream_is_read_and_thawed_after(session):
    seen = []

    def source():
        seen.append(gc.get_freeze_count())
        yield CHUNK
        yield END

    run = nbstream.show(source(), display=False, session=session)
    assert run.text == "hi" and run.error is None
    assert seen[0] > 1000  # the interpreter's own objects, at least
    assert gc.get_freeze_count() == 0


def test_an_old_cycle_dropped_while_streaming_is_freed_once_the_stream_ends(session):
    holder = {"cycle": _Cycle()}
    alive = weakref.ref(holder["cycle"])
    during = []

    def source():
        del holder["cycle"]
        gc.collect()
        during.append(alive() is not None)  # frozen: a collection does not even look at it
        yield CHUNK

    nbstream.show(source(), display=False, session=session)
    gc.collect()
    assert during == [True]
    assert alive() is None


def test_an_async_stream_on_the_io_loop_freezes_too(session):
    seen = []

    async def source():
        seen.append(gc.get_freeze_count())
        yield CHUNK
        yield END

    run = nbstream.show(source(), display=False, session=session)
    assert run.text == "hi" and run.error is None
    assert seen[0] > 1000
    assert gc.get_freeze_count() == 0


def test_objects_stay_frozen_until_the_last_of_two_overlapping_streams_ends(session):
    async def main() -> list[int]:
        first_may_end = asyncio.Event()
        second_ended = asyncio.Event()
        counts: list[int] = []

        async def first():
            yield CHUNK
            await first_may_end.wait()
            counts.append(gc.get_freeze_count())  # the second has ended: still frozen
            yield END

        async def second():
            yield CHUNK
            yield END

        a = nbstream.show(first(), display=False, session=session)
        b = await nbstream.ashow(second(), display=False, session=session)
        assert b.text == "hi" and b.error is None
        second_ended.set()
        first_may_end.set()
        await a._task
        counts.append(gc.get_freeze_count())
        return counts

    during, after = asyncio.run(main())
    assert during > 1000
    assert after == 0


def test_a_stream_whose_source_fails_still_thaws_the_objects(session):
    def source():
        yield CHUNK
        raise RuntimeError("the source broke")

    run = nbstream.show(source(), display=False, session=session)
    assert run.status == "error" and run.text == "hi"
    assert gc.get_freeze_count() == 0


def test_a_process_that_froze_objects_itself_keeps_them_frozen(session):
    gc.freeze()
    try:
        mine = gc.get_freeze_count()
        seen = []

        def source():
            seen.append(gc.get_freeze_count())
            yield CHUNK

        nbstream.show(source(), display=False, session=session)
        assert seen == [mine]  # not ours to freeze more
        assert gc.get_freeze_count() == mine  # nor to thaw
    finally:
        gc.unfreeze()


def test_a_child_forked_mid_stream_thaws_what_its_parent_froze():
    code = """
import gc, os, sys, nbstream
def source():
    pid = os.fork()
    if pid == 0:
        os._exit(0 if gc.get_freeze_count() == 0 else 3)
    _, status = os.waitpid(pid, 0)
    print("child", os.waitstatus_to_exitcode(status), "parent", gc.get_freeze_count() > 0)
    yield {"choices": [{"index": 0, "delta": {"content": "hi"}}]}
nbstream.show(source(), display=False)
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["child", "0", "parent", "True"]



def test_closing_the_session_mid_stream_cancels_the_run_and_thaws_the_objects():
    s = Session()
    started = threading.Event()

    async def source():
        yield CHUNK
        started.set()
        await asyncio.sleep(3600)

    async def start():
        return nbstream.show(source(), display=False, session=s)  # in a running loop: at once, filling

    run = s.io.submit(start()).result(10)
    assert started.wait(30)
    assert gc.get_freeze_count() > 0
    s.close()
    assert run.status == "cancelled" and run.text == "hi"  # the partial answer kept, not "streaming" for ever
    assert gc.get_freeze_count() == 0


def test_a_stream_whose_event_loop_was_closed_under_it_stops_counting_at_the_next_stream(session):
    async def cell():
        reading = asyncio.Event()

        async def endless():
            yield CHUNK
            reading.set()
            await asyncio.sleep(3600)

        nbstream.show(endless(), display=False, session=session)  # returned at once, never awaited
        await reading.wait()  # the stream is being read

    loop = asyncio.new_event_loop()
    loop.run_until_complete(cell())
    loop.close()  # its task never finishes: frozen with the rest, not even the collector would end it
    assert gc.get_freeze_count() > 0

    def source():
        yield CHUNK
        yield END

    nbstream.show(source(), display=False, session=session)
    assert gc.get_freeze_count() == 0


def test_starting_and_ending_a_stream_never_counts_the_frozen_objects(session, monkeypatch):
    counted = []

    def count() -> int:  # gc.get_freeze_count walks every frozen object: 17 ms for a kernel's 176k
        counted.append(n := real())
        return n

    real = gc.get_freeze_count
    monkeypatch.setattr(gc, "get_freeze_count", count)

    def source():
        yield CHUNK
        yield END

    nbstream.show(source(), display=False, session=session)
    assert counted == [0]  # once, before freezing, when nothing is frozen (no walk)


def test_a_markdown_parse_runs_with_cyclic_collection_off_and_restores_it():
    from nbstream.views import render

    seen = []
    real = render._MD.render

    def spy(*args, **kwargs):
        seen.append(gc.isenabled())
        return real(*args, **kwargs)

    assert gc.isenabled()
    render._MD.render = spy
    try:
        assert "<table>" in render.render_html("| a |\n|---|\n| 1 |\n")
    finally:
        render._MD.render = real
    assert seen == [False]
    assert gc.isenabled()


def test_collection_comes_back_only_when_the_last_of_two_overlapping_parses_ends():
    from nbstream.engine.gcfreeze import no_collection

    inside, leave = threading.Event(), threading.Event()

    def other_parse():
        with no_collection():
            inside.set()
            leave.wait(30)

    thread = threading.Thread(target=other_parse)
    thread.start()
    assert inside.wait(30)
    with no_collection():
        assert not gc.isenabled()
    assert not gc.isenabled()  # the other thread's parse still runs
    leave.set()
    thread.join(30)
    assert gc.isenabled()


def test_a_parse_that_raises_still_restores_collection():
    from nbstream.engine.gcfreeze import no_collection

    with pytest.raises(ValueError), no_collection():
        raise ValueError("bad")
    assert gc.isenabled()


def test_a_process_that_turned_collection_off_itself_keeps_it_off_after_a_parse():
    from nbstream.views import render

    gc.disable()
    try:
        render.render_html("*a*")
        render.render_markdown("*a*")
        assert not gc.isenabled()
    finally:
        gc.enable()


class _Held:
    """A stream on another thread that runs until released (the freeze stays ours meanwhile)."""

    def __init__(self, session) -> None:
        self.started, self.release = threading.Event(), threading.Event()

        def held():
            self.started.set()
            self.release.wait(30)
            yield CHUNK
            yield END

        self.thread = threading.Thread(target=lambda: nbstream.show(held(), display=False, session=session))

    def __enter__(self) -> _Held:
        self.thread.start()
        assert self.started.wait(30)
        return self

    def __exit__(self, *exc) -> None:
        self.release.set()
        self.thread.join(30)


def _frozen_while_held(session, freeze_more) -> tuple[bool, bool]:
    """Whether a cycle made while a stream runs, then dropped, survives a full collection
    after ``freeze_more()`` (frozen), and whether it is freed once that stream ended."""
    with _Held(session):
        holder = {"cycle": _Cycle()}  # made after the running stream froze the old objects
        alive = weakref.ref(holder["cycle"])
        freeze_more()
        del holder["cycle"]
        gc.collect()
        during = alive() is not None
    gc.collect()
    return during, alive() is None


def test_what_a_running_stream_made_is_frozen_when_another_stream_starts(session):
    def another():
        assert nbstream.show(iter([CHUNK, END]), display=False, session=session).text == "hi"

    assert _frozen_while_held(session, another) == (True, True)


def test_what_was_made_since_is_frozen_when_a_response_arrives(session):
    from nbstream.engine.gcfreeze import connected

    assert _frozen_while_held(session, connected) == (True, True)
    assert _frozen_while_held(session, lambda: None) == (False, True)  # without it: collected at once


def test_every_http_stream_freezes_what_was_made_for_it_when_its_response_arrives(session, monkeypatch):
    from nbstream.engine import pump

    calls = []
    monkeypatch.setattr(pump, "connected", lambda: calls.append(1))
    run = nbstream.stream("Explain SSE", display=False, session=session)  # the demo endpoint, over HTTP
    assert run.error is None and run.text
    assert calls == [1]


DEAD_LOOP_FINALIZED_INSIDE = """
import asyncio, gc
from nbstream.engine import gcfreeze

async def stuck(fut):
    with gcfreeze.streaming():
        await fut

loop = asyncio.new_event_loop()
fut = loop.create_future()
task = loop.create_task(stuck(fut))
loop.run_until_complete(asyncio.sleep(0))  # the task is inside streaming(), waiting on fut
loop.close()  # dropped under its stream: forgotten at the next start, then collected
del task, fut, loop
gc.unfreeze()
gc.collect(0)
gc.set_threshold(1, 1, 1)  # a collection at every allocation: also inside the freezer's lock
with gcfreeze.streaming():
    pass
print("ended")
"""


def test_a_stream_finalized_by_a_collection_inside_the_freezers_lock_does_not_deadlock():
    out = subprocess.run([sys.executable, "-c", DEAD_LOOP_FINALIZED_INSIDE], capture_output=True, text=True,
                         timeout=120, check=False)
    assert out.returncode == 0 and "ended" in out.stdout, out.stderr[-2000:]



@pytest.mark.parametrize(("ended", "frozen"), [(2, True), (3, False)])
def test_once_enough_streams_ended_under_one_freeze_what_later_streams_make_is_collected(
        session, monkeypatch, ended, frozen):
    """A long sweep always has a stream running: were every later stream's objects frozen
    too, the cycles of all its ended streams would be held until the sweep ends."""
    from nbstream.engine import gcfreeze

    monkeypatch.setattr(gcfreeze, "MAX_ENDED_HELD", 3)
    with _Held(session):
        for _ in range(ended):
            assert nbstream.show(iter([CHUNK, END]), display=False, session=session).text == "hi"
        holder = {"cycle": _Cycle()}
        alive = weakref.ref(holder["cycle"])
        gcfreeze.connected()  # a response arrives
        assert nbstream.show(iter([CHUNK, END]), display=False, session=session).text == "hi"  # a stream starts
        del holder["cycle"]
        gc.collect()
        assert (alive() is not None) == frozen
    gc.collect()
    assert alive() is None
