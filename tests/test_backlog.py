"""Reads are stamped as they arrive and parsed in batches (``nbstream.engine.backlog``):
queued, parsed a window later in arrival order, a budget per loop iteration; what a
stream records is what it received, each read with its own stamp; a stream that ends,
fails or is cancelled loses nothing it received."""

from __future__ import annotations

import asyncio
import json
import time
import types
from collections.abc import AsyncIterator
from typing import Any

import pytest
from _golden_corpus import GOLDEN, T0, corpus, snapshot
from _servers import ScriptedServer

import nbstream
from nbstream.engine import backlog as backlog_module
from nbstream.engine import pump
from nbstream.engine.backlog import Backlog
from nbstream.engine.pump import Step, read_stamped
from nbstream.run import Run
from nbstream.wire.adapters import make_adapter

HANG_GUARD_S = 60  # deadlines of waits for states: only a hung test ever reaches one


@pytest.fixture
def no_budget(monkeypatch):
    """One read parsed per loop iteration: the queue's later reads wait, deterministically."""
    monkeypatch.setattr(backlog_module, "BUDGET_NS", 0)


class Recorder:
    """A step that records what it is fed, in one log shared by several streams; it can
    fail on one read, or end the stream after ``over_after`` reads."""

    def __init__(self, name: str, log: list[tuple[str, Any]], *, fail_on: Any = None,
                 over_after: int | None = None) -> None:
        self.name, self.log, self.fail_on, self.over_after = name, log, fail_on, over_after
        self.fed: list[tuple[Any, int]] = []
        self.ended_after: int | None = None

    @property
    def over(self) -> bool:
        return self.over_after is not None and len(self.fed) >= self.over_after

    def feed(self, item: Any, t_ns: int) -> None:
        if item == self.fail_on:
            raise ValueError(f"bad read {item!r}")
        self.fed.append((item, t_ns))
        self.log.append((self.name, item))

    def end(self, t_ns: int | None = None) -> None:
        self.ended_after = len(self.fed)


async def reads(items: list[Any], arrived: list[tuple[str, Any]] | None = None, name: str = "",
                *, then: asyncio.Event | None = None, probe: Any = None,
                fail: BaseException | None = None) -> AsyncIterator[tuple[int, Any]]:
    """Stamped reads, all at once (no await between them); then ``probe()`` (when given),
    then fail with ``fail`` or wait on ``then`` (a connection held open)."""
    for i, item in enumerate(items):
        if arrived is not None:
            arrived.append((name, item))
        yield 1_000 + i, item
    if probe is not None:
        probe()
    if fail is not None:
        raise fail
    if then is not None:
        await then.wait()


def run_loop(coro: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coro, HANG_GUARD_S))


# ---- batches ---------------------------------------------------------------------------
def test_reads_that_arrive_together_are_parsed_together_after_they_are_all_stamped(monkeypatch):
    monkeypatch.setattr(backlog_module, "BUDGET_NS", 10**15)  # however slow this machine is now
    log: list[tuple[str, Any]] = []
    step = Recorder("a", log)
    parsed_when_next_read_was_asked: list[int] = []

    async def source() -> AsyncIterator[tuple[int, Any]]:
        for i in range(3):
            yield i, f"r{i}"
            parsed_when_next_read_was_asked.append(len(step.fed))

    run_loop(read_stamped(source(), step, Backlog()))
    assert parsed_when_next_read_was_asked == [0, 0, 0]
    assert step.fed == [("r0", 0), ("r1", 1), ("r2", 2)] and step.ended_after == 3


def test_a_lone_read_is_parsed_without_waiting_for_another():
    parsed = asyncio.Event()

    class Noting(Recorder):
        def feed(self, item: Any, t_ns: int) -> None:
            super().feed(item, t_ns)
            parsed.set()

    step = Noting("a", [])

    async def source() -> AsyncIterator[tuple[int, Any]]:
        yield 1, "r0"
        await parsed.wait()  # no further read comes until the first one is parsed
        yield 2, "r1"

    run_loop(read_stamped(source(), step, Backlog()))
    assert step.fed == [("r0", 1), ("r1", 2)]


def test_a_streams_reads_share_one_context_whoever_parses_them():
    import contextvars

    last: contextvars.ContextVar[str] = contextvars.ContextVar("last")
    parsed = asyncio.Event()

    class Chaining(Recorder):  # each read sees what the one before set
        def feed(self, item: Any, t_ns: int) -> None:
            super().feed(item, (last.get("none"), t_ns))  # type: ignore[arg-type]
            last.set(item)
            parsed.set()

    step = Chaining("a", [])

    async def source() -> AsyncIterator[tuple[int, Any]]:
        yield 1, "r0"
        await parsed.wait()  # r0 parsed by a tick; r1, the body's last, by the stream itself
        yield 2, "r1"

    run_loop(read_stamped(source(), step, Backlog()))
    assert [seen for _, (seen, _) in step.fed] == ["none", "r0"]


def test_a_body_that_ends_is_parsed_then_not_after_the_window(monkeypatch):
    monkeypatch.setattr(backlog_module, "WINDOW_S", 3600)  # only the hang guard ends a wait for it
    step = Recorder("a", [])
    run_loop(read_stamped(reads(["r0", "r1"]), step, Backlog()))
    assert [item for item, _ in step.fed] == ["r0", "r1"] and step.ended_after == 2


def test_each_streams_reads_are_parsed_in_its_own_context():
    import contextvars

    cell: contextvars.ContextVar[str] = contextvars.ContextVar("cell")

    class Noting(Recorder):
        def feed(self, item: Any, t_ns: int) -> None:
            super().feed(item, (cell.get("none"), t_ns))  # type: ignore[arg-type]

    async def one(name: str, backlog: Backlog) -> Noting:
        cell.set(name)  # as a notebook cell's parent header is set for its own task
        step = Noting(name, [])
        await read_stamped(reads([f"{name}0", f"{name}1"]), step, backlog)
        return step

    async def main() -> list[Noting]:
        backlog = Backlog()
        return await asyncio.gather(one("a", backlog), one("b", backlog))

    a, b = run_loop(main())
    assert [seen for _, (seen, _) in a.fed] == ["a", "a"]
    assert [seen for _, (seen, _) in b.fed] == ["b", "b"]


# ---- a budget per tick: the rest parsed later, in arrival order --------------------------
def test_queued_reads_are_parsed_later_in_arrival_order_across_streams(no_budget):
    log: list[tuple[str, Any]] = []
    arrived: list[tuple[str, Any]] = []
    all_parsed = asyncio.Event()

    class Counting(Recorder):
        def feed(self, item: Any, t_ns: int) -> None:
            super().feed(item, t_ns)
            if len(self.log) == 12:
                all_parsed.set()

    steps = {name: Counting(name, log) for name in "abc"}
    parsed_at_arrival: list[int] = []

    async def main() -> None:
        backlog = Backlog()

        async def one(name: str) -> None:  # its connection held open until all is parsed
            await read_stamped(reads([f"{name}{i}" for i in range(4)], arrived, name, then=all_parsed),
                               steps[name], backlog)

        async def watch() -> None:  # runs after the three streams' first step: all 12 reads queued
            parsed_at_arrival.append(len(log))

        await asyncio.gather(one("a"), one("b"), one("c"), watch())

    run_loop(main())
    assert parsed_at_arrival == [0]
    assert log == arrived and len(log) == 12
    for name, step in steps.items():
        assert [item for item, _ in step.fed] == [f"{name}{i}" for i in range(4)]
        assert [t for _, t in step.fed] == [1_000, 1_001, 1_002, 1_003]  # the arrival stamps, not parse times
        assert step.ended_after == 4  # its end came after its last read was parsed


def test_past_the_byte_limit_one_tick_parses_the_queue_down_to_it(no_budget, monkeypatch):
    monkeypatch.setattr(backlog_module, "MAX_QUEUED_BYTES", 2 * (len(b"r0") + backlog_module._ENTRY_BYTES))
    log: list[tuple[str, Any]] = []
    step = Recorder("a", log)
    after_one_tick: list[int] = []

    backlog_holder: list[Backlog] = []

    async def main() -> None:
        backlog = Backlog()
        backlog_holder.append(backlog)
        reader = backlog.reader(step)
        for i in range(6):
            reader.feed(f"r{i}".encode(), i)
        assert step.fed == []
        await asyncio.sleep(0)  # the tick scheduled by the first feed runs before this task resumes
        after_one_tick.append(len(step.fed))
        await reader.drained()

    run_loop(main())
    assert after_one_tick == [4]  # 6 queued, down to 2 in one tick despite a zero budget
    assert [item for item, _ in step.fed] == [f"r{i}".encode() for i in range(6)]
    assert backlog_holder[0].queued_bytes == 0


# ---- ends, failures and cancels ----------------------------------------------------------
def test_a_failing_queued_parse_fails_its_stream_and_drops_its_later_reads(no_budget):
    log: list[tuple[str, Any]] = []
    step = Recorder("a", log, fail_on="bad")
    parsed_on_arrival: list[int] = []
    with pytest.raises(ValueError, match="bad read 'bad'"):
        run_loop(read_stamped(reads(["r0", "bad", "r2", "r3"], probe=lambda: parsed_on_arrival.append(len(step.fed))),
                              step, Backlog()))
    assert parsed_on_arrival == [0]  # all four were queued
    assert [item for item, _ in step.fed] == ["r0"] and step.ended_after is None


@pytest.mark.parametrize("how", ["end marker", "failure"])
def test_a_queued_read_that_ended_the_stream_decides_its_end_when_the_source_then_fails(no_budget, how):
    from nbstream import errors

    log: list[tuple[str, Any]] = []
    step = Recorder("a", log, over_after=2) if how == "end marker" else Recorder("a", log, fail_on="r1")
    parsed_on_arrival: list[int] = []
    source = reads(["r0", "r1", "r2"], probe=lambda: parsed_on_arrival.append(len(step.fed)),
                   fail=errors.IncompleteStreamError("the server closed the connection mid-stream"))
    if how == "end marker":  # ended cleanly before the connection dropped: no error
        run_loop(read_stamped(source, step, Backlog()))
        assert [item for item, _ in step.fed] == ["r0", "r1"]
    else:  # the parse failure, not the dropped connection after it
        with pytest.raises(ValueError, match="bad read 'r1'"):
            run_loop(read_stamped(source, step, Backlog()))
        assert [item for item, _ in step.fed] == ["r0"]
    assert parsed_on_arrival == [0]


@pytest.mark.parametrize("how", ["end marker", "failure"])
def test_a_stream_ended_by_a_queued_read_stops_reading_though_the_server_holds_on(no_budget, how):
    log: list[tuple[str, Any]] = []
    step = Recorder("a", log, over_after=2) if how == "end marker" else Recorder("a", log, fail_on="r1")
    held_open = asyncio.Event  # never set: the server keeps the connection open after its end

    parsed_on_arrival: list[int] = []

    async def main() -> None:
        await read_stamped(reads(["r0", "r1", "r2"], then=held_open(),
                                 probe=lambda: parsed_on_arrival.append(len(step.fed))), step, Backlog())

    if how == "end marker":
        run_loop(main())
        assert [item for item, _ in step.fed] == ["r0", "r1"] and step.ended_after is None
    else:
        with pytest.raises(ValueError, match="bad read 'r1'"):
            run_loop(main())
        assert [item for item, _ in step.fed] == ["r0"]
    assert parsed_on_arrival == [0]  # the end was found in the queue, after the reads had arrived


def test_a_cancel_from_the_caller_still_cancels_when_a_queued_read_ends_the_stream(no_budget):
    log: list[tuple[str, Any]] = []
    step = Recorder("a", log, over_after=1)

    async def main() -> str:
        task = asyncio.ensure_future(read_stamped(reads(["r0"], then=asyncio.Event()), step, Backlog()))
        await asyncio.sleep(0)  # the task queued r0 and waits for more
        task.cancel()  # the caller's cancel, in the same iteration as the backlog's wake-up
        try:
            await task
        except asyncio.CancelledError:
            return "cancelled"
        return "returned"

    assert run_loop(main()) == "cancelled"
    assert [item for item, _ in step.fed] == ["r0"]


def test_a_cancelled_stream_parses_every_read_it_had_queued(no_budget):
    log: list[tuple[str, Any]] = []
    step = Recorder("a", log)
    all_read = asyncio.Event  # made on the loop below

    async def main() -> None:
        done_reading = all_read()

        async def source() -> AsyncIterator[tuple[int, Any]]:
            for i in range(5):
                yield i, f"r{i}"
            done_reading.set()
            await asyncio.Event().wait()  # a stalled server

        backlog = Backlog()
        task = asyncio.ensure_future(read_stamped(source(), step, backlog))
        await done_reading.wait()
        assert len(step.fed) < 5  # some reads still queued when the stream is stopped
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert backlog.queued_bytes == 0

    run_loop(main())
    assert [item for item, _ in step.fed] == [f"r{i}" for i in range(5)]


@pytest.mark.parametrize("budget", [backlog_module.BUDGET_NS, 0], ids=["one tick", "a read per tick"])
def test_a_read_that_ends_the_stream_and_fails_fails_it_whatever_the_budget(monkeypatch, budget):
    monkeypatch.setattr(backlog_module, "BUDGET_NS", budget)

    class EndsThenFails(Recorder):
        def feed(self, item: Any, t_ns: int) -> None:
            super().feed(item, t_ns)
            if item == "r1":
                self.over_after = len(self.fed)  # the end marker...
                raise ValueError("...and a failure in the same read")

    step = EndsThenFails("a", [])
    with pytest.raises(ValueError, match="in the same read"):
        run_loop(read_stamped(reads(["r0", "r1", "r2"], then=asyncio.Event()), step, Backlog()))
    assert [item for item, _ in step.fed] == ["r0", "r1"]


def test_loops_on_many_threads_get_their_backlogs_at_once():
    import sys
    import threading

    from nbstream.engine.http import Transport

    transport = Transport()
    failures: list[BaseException] = []

    async def first_stream() -> Backlog:
        return transport.backlog()

    def worker() -> None:
        try:
            for _ in range(100):
                assert isinstance(asyncio.run(first_stream()), Backlog)
        except BaseException as exc:  # noqa: BLE001 - reported below
            failures.append(exc)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible: races show
    try:
        threads = [threading.Thread(target=worker) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(HANG_GUARD_S)
    finally:
        sys.setswitchinterval(interval)
    assert failures == []


def test_an_interrupt_inside_a_queued_parse_leaves_the_queue_working(no_budget):
    log: list[tuple[str, Any]] = []

    class Interrupting(Recorder):
        def feed(self, item: Any, t_ns: int) -> None:
            if item == "ctrl-c":
                raise KeyboardInterrupt
            super().feed(item, t_ns)

    backlog = Backlog()
    loop = asyncio.new_event_loop()
    try:
        interrupted = Interrupting("a", log)
        held = asyncio.Event()  # its connection open: the read is parsed by a tick
        first = loop.create_task(read_stamped(reads(["ctrl-c"], then=held), interrupted, backlog))
        with pytest.raises(KeyboardInterrupt):
            loop.run_until_complete(first)
        held.set()  # the interrupted stream then ends, and is not left waiting for its reads
        loop.run_until_complete(asyncio.wait_for(first, HANG_GUARD_S))
        later = Recorder("b", log)  # the next stream on the same loop and backlog
        loop.run_until_complete(asyncio.wait_for(read_stamped(reads(["b0", "b1"]), later, backlog), HANG_GUARD_S))
    finally:
        loop.close()
    assert interrupted.ended_after == 0
    assert [item for item, _ in later.fed] == ["b0", "b1"] and backlog.queued_bytes == 0


def test_an_interrupt_inside_the_parse_an_ended_stream_waits_for_does_not_leave_it_waiting(no_budget):
    held = asyncio.Event()

    class Interrupting(Recorder):
        def feed(self, item: Any, t_ns: int) -> None:
            if item == "ctrl-c":
                raise KeyboardInterrupt
            super().feed(item, t_ns)
            held.set()  # the body ends right after this tick: its last read waits for the next

    step = Interrupting("a", [])
    loop = asyncio.new_event_loop()
    try:
        task = loop.create_task(read_stamped(reads(["r0", "ctrl-c"], then=held), step, Backlog()))
        with pytest.raises(KeyboardInterrupt):
            loop.run_until_complete(task)
        loop.run_until_complete(asyncio.wait_for(task, HANG_GUARD_S))
    finally:
        loop.close()
    assert step.ended_after == 1


def test_the_end_of_a_body_is_stamped_when_it_ended_not_when_its_reads_were_parsed(no_budget):
    run = Run(model="m", source="replay", wire_format="ollama", base_url="http://x/v1", prompt="p")
    run.t0_ns = 0
    body_ended: list[int] = []
    last_parse: list[int] = []

    class TimedStep:  # the real step, noting when each read was parsed
        inner = Step(run, make_adapter("ollama"), mode="bytes")

        @property
        def over(self) -> bool:
            return self.inner.over

        def feed(self, item: Any, t_ns: int) -> None:
            self.inner.feed(item, t_ns)
            last_parse.append(time.perf_counter_ns())

        def end(self, t_ns: int | None = None) -> None:
            self.inner.end(t_ns)

    step = TimedStep()
    lines = [b'{"model":"m","message":{"role":"assistant","content":"a"},"done":false}\n',
             b'{"model":"m","message":{"role":"assistant","content":"b"},"done":false}']  # no final newline

    async def source() -> AsyncIterator[tuple[int, bytes]]:
        for line in lines:
            yield time.perf_counter_ns(), line
        body_ended.append(time.perf_counter_ns())

    returned = run_loop(read_stamped(source(), step, Backlog()))  # type: ignore[arg-type]
    last = run.records[-1].message
    assert run.text == "ab"
    assert body_ended[0] <= last.t_ns < last_parse[-1]  # the last line's own stamp: the body's end
    assert body_ended[0] <= returned < last_parse[-1]  # and the body's end is returned


def test_a_closed_event_loop_is_not_kept_alive_by_its_backlog(no_budget):
    import gc
    import weakref

    from nbstream.engine.http import Transport

    transport = Transport()

    async def stopped_stream() -> None:  # reads queued, then the stream is stopped
        task = asyncio.ensure_future(read_stamped(reads(["r0", "r1"], then=asyncio.Event()),
                                                  Recorder("a", []), transport.backlog()))
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    async def abandoned_stream() -> None:  # reads queued, the loop closed under it
        asyncio.ensure_future(read_stamped(reads(["r0", "r1"], then=asyncio.Event()),
                                           Recorder("b", []), transport.backlog()))
        await asyncio.sleep(0)

    refs = []
    for work in (stopped_stream, abandoned_stream):
        loop = asyncio.new_event_loop()
        loop.run_until_complete(work())
        loop.close()
        refs.append(weakref.ref(loop))
        del loop
    gc.collect()
    assert refs[0]() is None  # a stopped stream's queue left nothing that holds its loop

    async def another_loops_first_stream() -> None:  # drops closed loops' backlogs
        transport.backlog()

    asyncio.run(another_loops_first_stream())
    gc.collect()
    assert [ref() for ref in refs] == [None, None]


# ---- what a stream records does not depend on when it was parsed -------------------------
_GOLDEN = json.loads(GOLDEN.read_text())


@pytest.mark.parametrize("name,fmt,chunks", corpus(), ids=[name for name, _, _ in corpus()])
def test_a_stream_parsed_from_the_queue_records_its_golden_copy(no_budget, monkeypatch, name, fmt, chunks):
    # the golden copy was recorded with every read parsed on arrival (tests/_golden_corpus.py)
    end_ns = T0 + 1_000_000 * (len(chunks) + 2)
    monkeypatch.setattr(pump, "time", types.SimpleNamespace(perf_counter_ns=lambda: end_ns))  # Step.end's stamp
    run = Run(model="m", source="replay", wire_format=fmt, base_url="http://x/v1", prompt="p")
    run.run_id = name
    run.t0_ns = T0

    async def stamped() -> AsyncIterator[tuple[int, bytes]]:
        for i, chunk in enumerate(chunks):
            yield T0 + 1_000_000 * (i + 1) + 37 * i * i, chunk

    async def main() -> None:
        backlog = Backlog()
        other = Recorder("other", [])  # a second stream interleaved on the same backlog
        await asyncio.gather(read_stamped(stamped(), Step(run, make_adapter(fmt), mode="bytes"), backlog),
                             read_stamped(reads([f"o{i}" for i in range(40)]), other, backlog))

    run_loop(main())
    run._finish()
    run.t_end_ns = T0 + 1_000_000 * (len(chunks) + 5)
    run._row = None
    got = json.loads(json.dumps(snapshot(run), ensure_ascii=False))
    assert got == _GOLDEN[name]


# ---- through real HTTP ---------------------------------------------------------------------
def test_concurrent_streams_through_the_queue_record_what_the_server_wrote(no_budget, demo):
    texts = [f"Stream {i}: " + " ".join(f"word{i}-{k}" for k in range(60)) for i in range(12)]

    async def main() -> list[nbstream.Run]:
        return await asyncio.gather(*(nbstream.astream("x", base_url=demo.base_url, model="demo",
                                                       demo={"ttft": 0.01, "tps": 500, "jitter": 0, "text": t})
                                      for t in texts))

    before = len(demo.requests)
    runs = run_loop(main())
    logs = {log.knobs["text"]: log for log in demo.requests[before:]}
    for text, run in zip(texts, runs, strict=True):
        assert run.status == "done" and run.finish_reason == "stop" and run.text == text, run.error
        writes = [t for t, kind, _ in logs[text].writes if kind == "content"]
        chunks = run.chunks[run.chunks["is_token"]]
        received = (chunks["t_recv_s"].to_numpy() * 1e9 + run.t0_ns).tolist()
        assert len(received) == len(writes)
        # each token was stamped when its bytes were read: never before the server wrote it
        assert all(r >= w - 1_000 for r, w in zip(received, writes, strict=True))
        assert chunks["read_idx"].is_monotonic_increasing


def test_a_stream_ended_by_an_error_event_in_a_queued_read_ends_the_same_whatever_the_budget(monkeypatch):
    good = b'data: {"choices":[{"index":0,"delta":{"content":"Hello"}}]}\n\n'
    body = good * 3 + b'data: {"error":{"message":"overloaded"}}\n\n' + good + b"data: [DONE]\n\n"

    def script(handler: Any, n: int) -> None:
        handler.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n"
                            b"Content-Length: %d\r\n\r\n%s" % (len(body), body))

    outcomes = []
    with ScriptedServer(script) as server:
        for budget in (backlog_module.BUDGET_NS, 0):
            monkeypatch.setattr(backlog_module, "BUDGET_NS", budget)
            run = nbstream.stream("x", base_url=server.url + "/v1", model="m", api_key="k", display=False)
            outcomes.append((run.status, type(run.error).__name__, str(run.error), run.text, len(run.records)))
    assert outcomes[0] == outcomes[1]
    assert outcomes[0][:2] == ("error", "StreamError") and outcomes[0][3].startswith("HelloHelloHello")


def test_a_run_whose_body_ends_without_an_end_marker_ends_when_the_body_did(monkeypatch):
    body = b'data: {"choices":[{"index":0,"delta":{"content":"Hello"}}]}\n\n' * 3  # no [DONE]

    def script(handler: Any, n: int) -> None:
        handler.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n"
                            b"Content-Length: %d\r\n\r\n%s" % (len(body), body))

    body_ends: list[int | None] = []
    real = pump.read_stamped

    async def noting(*args: Any) -> int | None:
        body_ends.append(await real(*args))
        return body_ends[-1]

    monkeypatch.setattr(pump, "read_stamped", noting)
    with ScriptedServer(script) as server:
        run = nbstream.stream("x", base_url=server.url + "/v1", model="m", api_key="k", display=False)
    assert run.text == "HelloHelloHello" and run.status == "incomplete"  # (chat ends with [DONE])
    assert body_ends[0] is not None and run.t_end_ns == body_ends[0]  # not when its reads were parsed


def test_a_run_ended_by_its_end_marker_ends_when_the_marker_arrived_though_the_server_holds_on():
    import threading

    from _servers import sse_head

    body = b'data: {"choices":[{"index":0,"delta":{"content":"Hello"}}]}\n\ndata: [DONE]\n\n'
    release = threading.Event()

    def script(handler: Any, n: int) -> None:
        handler.wfile.write(sse_head() + body)
        handler.wfile.flush()
        release.wait(HANG_GUARD_S)  # the connection held open after the end marker

    try:
        with ScriptedServer(script) as server:
            run = nbstream.stream("x", base_url=server.url + "/v1", model="m", api_key="k", display=False)
            release.set()
    finally:
        release.set()
    assert run.status == "done" and run.text == "Hello"
    assert run.t_end_ns == run.records[-1].message.t_ns  # [DONE]'s own stamp, not when it was parsed
