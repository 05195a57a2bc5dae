"""``import nbstream`` (or ``%load_ext nbstream``) → ``%%stream``: the cell body is the
prompt; the answer streams into the cell and the Run lands in a variable.

Event loop: measured on ipykernel 7 (../shared/research/jupyter_runtime.md), a cell that
runs as top-level ``await`` on the kernel's own loop blocks the way Run All, nbclient
and nbval expect, turns the kernel's Interrupt into a clean cancellation, needs no
thread or patching, and on ipykernel >= 7.4 lets widget clicks (Stop) through while it
streams. So an input transformer rewrites a ``%%stream`` cell into
``await nbstream.magic.run_cell(line, body)``. Where that cannot apply (autoawait off,
``run_cell_magic`` calls, exported scripts) the registered cell magic runs the same
thing blocking on nbstream's I/O thread. Never nest_asyncio.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import itertools
import json
import shlex
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from IPython.core.magic_arguments import argument, magic_arguments
from traitlets import Any as AnyTrait
from traitlets.config import Config, Configurable

from nbstream import _template
from nbstream import api as _api
from nbstream._params import parse_params
from nbstream.engine import config as _config
from nbstream.engine import loop as _loop
from nbstream.engine import pump as _pump
from nbstream.engine import replay as _replay
from nbstream.engine import request as _request
from nbstream.run import Run
from nbstream.session import get_session
from nbstream.sweeps import asweep as _asweep
from nbstream.views import attach as _views
from nbstream.views.compare import CompareView
from nbstream.views.feed import FeedBody
from nbstream.views.live import NotebookView
from nbstream.views.render import terminal
from nbstream.wire import anthropic as _anthropic
from nbstream.wire import registry as _formats

__all__ = ["NBStream", "load_ipython_extension", "register_in_running_shell", "run_cell", "stream",
           "stream_config", "stream_reset", "unload_ipython_extension"]


@magic_arguments()
@argument("-m", "--model", action="append", help="model name; repeat with --compare to stream several side by side")
@argument("--base-url", help="OpenAI-compatible base URL, e.g. http://localhost:11434/v1 (default: config, "
                             "OPENAI_BASE_URL, else the embedded demo endpoint)")
@argument("--api", choices=_formats.requestable(), help="wire API (default chat)")
@argument("-s", "--system", help="system prompt (quote it: -s \"Be brief.\")")
@argument("-t", "--temperature", type=float, action="append", help="sampling temperature; repeat with --compare")
@argument("--max-tokens", type=int, help="cap on generated tokens")
@argument("-p", "--param", action="append", metavar="KEY=VALUE",
          help="any other request field; the value is read as JSON when it parses; dots nest "
               "(-p seed=1 -p top_p=0.9 -p demo.tps=500)")
@argument("-o", "--out", metavar="NAME", help="store the Run (a list with --compare) in this variable; _ works too")
@argument("--chat", metavar="NAME", help="multi-turn conversation remembered across cells; %%stream_reset NAME")
@argument("--compare", action="store_true",
          help="stream every combination of -m, -t and prompt variants (separated by a line '---') at once")
@argument("--over", metavar="NAME",
          help="sweep: the body is a template filled from each row of the DataFrame NAME, sent to every "
               "combination of -m, -t and repeated -p KEY=VALUE; the result table goes to -o")
@argument("--cache", metavar="FOLDER", help="with --over: the cache folder (default ./.nbstream-cache), or off")
@argument("--raw", action="store_true", help="show the wire: the raw SSE events beside the answer")
@argument("--bg", action="store_true", help="return at once, keep streaming in the background (Stop button)")
@argument("--no-render", action="store_true", help="plain text instead of Markdown")
@argument("--json", action="store_true", help="the body is a raw JSON request object, sent as is")
@argument("--record", metavar="FILE", help="save the raw timed events to FILE (JSONL)")
@argument("--replay", metavar="FILE", help="re-stream a recording offline (no network, no key)")
@argument("--speed", type=float, default=1.0, help="replay speed factor (default 1; 0 = at once)")
@argument("--no-template", action="store_true", help="send {braces} literally (no {name} filling)")
@argument("--sse", metavar="URL", help="follow a generic Server-Sent-Events feed instead of asking a model")
@argument("--raise", dest="raise_error", action="store_true", help="raise the error instead of showing a banner")
def stream(line: str, cell: str) -> None:
    """Stream an LLM answer to the cell body (the prompt) live into this cell.

    ``{name}``, ``{obj.attr}`` and ``{d["k"]}`` in the body are filled from the notebook's
    variables when they exist; other braces stay literal (``{{``/``}}`` escape). The Run is
    in ``_`` afterwards (and in ``-o NAME``). Interrupt the kernel to stop: the partial
    answer is kept.
    """
    future = get_session().io.submit(run_cell(line, cell))

    def cancel() -> None:
        future.cancel()

    _loop.wait(future, on_interrupt=cancel)


stream.__doc__ = stream.__doc__.replace("%stream [", "%%stream [")  # it is a cell magic
stream.parser.prog = "%%stream"


async def run_cell(line: str, cell: str, *, expand: bool = False) -> None:
    """What a ``%%stream`` cell does (awaited on the kernel's loop by the transformer, which
    asks to ``expand`` ``{var}``/``$var`` in the options line as IPython does for magics)."""
    from IPython import get_ipython

    shell = get_ipython()
    ns = shell.user_ns if shell is not None else {}
    if expand and shell is not None:
        line = shell.var_expand(line)
    try:  # POSIX quoting, so -s "Be brief." sends Be brief. (IPython's own split keeps quotes)
        args = stream.parser.parse_args(shlex.split(line))
    except Exception as exc:  # argparse's UsageError: one line, no traceback
        _say(f"%%stream: {exc}  (see %%stream? for the options)")
        return
    misfit = _over_misfit(args)
    if misfit is not None:
        _say(f"%%stream: {misfit}  (see %%stream? for the options)")
        return
    if args.over:
        await _over(args, cell, ns)
        return
    try:
        jobs = _jobs(args, cell, ns)
    except (ValueError, TypeError, FileNotFoundError) as exc:
        if args.raise_error:
            raise
        _say(f"%%stream: {exc}")
        return
    runs = [job[0] for job in jobs]
    result: Any = runs if args.compare else runs[0]
    if args.out:
        ns[args.out] = result
    ns["_"] = result
    views = _show(jobs, args)
    tasks = [asyncio.ensure_future(_pump.drive(run, work)) for run, work, _ in jobs]
    for run, task in zip(runs, tasks, strict=True):
        run._task = task
        run._canceller = _api._threadsafe_cancel(task)
    if args.bg:
        return
    try:
        await asyncio.gather(*tasks, return_exceptions=True)
    except asyncio.CancelledError:  # the kernel's Interrupt: stop, keep the partials, no traceback
        for run in runs:
            run.cancel()
        await asyncio.wait(tasks, timeout=5)
        current = asyncio.current_task()
        if current is not None:
            current.uncancel()
    if views is not None:
        await views.finished()
    _after(args, runs)


async def _over(args: argparse.Namespace, cell: str, ns: dict[str, Any]) -> None:
    """``--over NAME``: the cell body as a sweep template over the DataFrame ``NAME``."""
    try:
        if args.over not in ns:
            raise ValueError(f"--over {args.over}: no variable {args.over!r} in the notebook; "
                             "make it a DataFrame of inputs first")
        fixed, swept = _sweep_params(args.param)
        if args.temperature:
            swept["temperature"] = args.temperature
        if args.max_tokens is not None:
            fixed["max_tokens"] = args.max_tokens
        call = {k: v for k, v in (("base_url", args.base_url), ("api", args.api), ("system", args.system))
                if v is not None}
        cache: str | bool = True if args.cache is None else False if args.cache == "off" else args.cache
        for name in set(fixed) & _SWEEP_OPTIONS:  # -p concurrency=… is a request field, never the sweep's option
            swept[name] = [fixed.pop(name)]
        result = await _asweep(cell.strip(), ns[args.over], models=args.model, params=swept or None,
                               cache=cache, **call, **fixed)
    except (ValueError, TypeError) as exc:
        if args.raise_error:
            raise
        _say(f"%%stream --over: {exc}")
        return
    if args.out:
        ns[args.out] = result
    ns["_"] = result


#: options of one stream that a sweep has no place for: each row is its own request into one table
_STREAM_ONLY = ("chat", "compare", "raw", "bg", "no_render", "json", "record", "replay", "sse", "no_template")


def _over_misfit(args: argparse.Namespace) -> str | None:
    """An option given with ``--over`` that a sweep would silently ignore (or ``--cache``
    without it): a one-line error rather than a cell that does something else."""
    if args.over is None:
        return "--cache goes with --over only (a sweep's cache folder)" if args.cache is not None else None
    used = [name for name in _STREAM_ONLY if getattr(args, name)]
    if used:
        return f"--{used[0].replace('_', '-')} does not go with --over (each row is its own request); leave it out"
    return None


# asweep's own keyword arguments: a -p field of that name goes to the request as a one-value parameter
_SWEEP_OPTIONS = frozenset(name for name, p in inspect.signature(_asweep).parameters.items()
                           if p.kind is not inspect.Parameter.VAR_KEYWORD)


def _sweep_params(items: list[str] | None) -> tuple[dict[str, Any], dict[str, list[Any]]]:
    """``-p`` for ``--over``: a key given once is a field of every request, a top-level key
    given several times is swept over its values."""
    keys = [item.partition("=")[0] for item in items or []]
    repeated = {k for k in keys if keys.count(k) > 1}
    nested = sorted(k for k in repeated if "." in k)
    if nested:
        raise ValueError(f"-p {nested[0]}=… is repeated: only top-level keys are swept (-p seed=1 -p seed=2)")
    fixed = parse_params([i for i, k in zip(items or [], keys, strict=True) if k not in repeated])
    swept: dict[str, list[Any]] = {}
    for item, key in zip(items or [], keys, strict=True):
        if key in repeated:
            swept.setdefault(key, []).append(parse_params([item])[key])
    return fixed, swept


def _jobs(args: argparse.Namespace, cell: str, ns: dict[str, Any]) -> list[tuple[Run, Any, str | None]]:
    """(run, work, shown prompt) for every stream this cell starts."""
    session = get_session()
    if args.replay:
        run, work = _replay.prepare(args.replay, args.speed)
        session.track(run)
        return [(run, work, None)]
    if args.sse:
        run, req = _request.prepare(url=args.sse, context=session.context)
        session.track(run)
        return [(run, lambda: _pump.request_work(run, req), None)]
    body = cell if args.no_template else _template.fill(cell, ns)
    if args.json:
        try:
            request = json.loads(body)
        except json.JSONDecodeError as exc:
            raise ValueError(f"--json: the cell is not a JSON object ({exc.msg} at line {exc.lineno})") from None
        run, req = _request.prepare(model=(args.model or [None])[0], base_url=args.base_url, api=args.api,
                                    request_body=request, context=session.context)
        session.track(run)
        return [(run, lambda: _pump.request_work(run, req), None)]
    prompts = [p.strip() for p in body.split("\n---\n")] if args.compare else [body.strip()]
    if not any(prompts):
        raise ValueError("the cell body is the prompt, and it is empty")
    models = args.model or [None]
    temps = args.temperature or [None]
    if not args.compare and (len(models) > 1 or len(temps) > 1):
        raise ValueError("several -m or -t values need --compare")
    jobs = []
    for model, temp, prompt in itertools.product(models, temps, prompts):
        params: dict[str, Any] = {}
        if temp is not None:
            params["temperature"] = temp
        if args.max_tokens is not None:
            params["max_tokens"] = args.max_tokens
        params.update(parse_params(args.param))
        messages = None
        if args.chat:
            history = session.conversations.setdefault(args.chat, [])
            if args.system and not history:
                history.append({"role": "system", "content": args.system})
            messages = [*history, {"role": "user", "content": prompt}]
        run, req = _request.prepare(prompt=None if messages else prompt, messages=messages, model=model,
                                    base_url=args.base_url, api=args.api,
                                    system=None if args.chat else args.system, params=params,
                                    context=session.context)
        if messages and req.format.name != "anthropic" and messages != _texts_only(messages):
            # Anthropic's thinking blocks from earlier turns: other APIs get the turns' text
            run, req = _request.prepare(messages=_texts_only(messages), model=model, base_url=args.base_url,
                                        api=args.api, params=params, context=session.context)
        session.track(run)
        label = " · ".join(str(x) for x in (model or run.model, f"T={temp}" if temp is not None else None,
                                             prompt[:40] if len(prompts) > 1 else None) if x)
        run.label = label
        shown = prompt if body != cell else None  # the filled-in prompt, when templating changed it
        jobs.append((run, _work(run, req), shown))
    return jobs


def _texts_only(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The conversation with each assistant turn kept as content blocks reduced to its text."""
    return [{**m, "content": "".join(b.get("text") or "" for b in m["content"] if isinstance(b, dict)
                                     and b.get("type") == "text")}
            if m.get("role") == "assistant" and isinstance(m.get("content"), list) else m for m in messages]


def _work(run: Run, req: Any) -> Callable[[], Awaitable[None]]:
    return lambda: _pump.request_work(run, req)


def _show(jobs: list[tuple[Run, Any, str | None]], args: argparse.Namespace) -> Any:
    """Attach the views: one live view per run (a wrapping grid with --compare)."""
    if not _views.in_notebook():
        if len(jobs) == 1:
            _views.attach(jobs[0][0])
        else:
            for run, _, _ in jobs:
                _views.attach(run)
        return None
    if args.sse:
        NotebookView(jobs[0][0], body=FeedBody(), raw=args.raw, stop_button=args.bg).start()
        return None
    if len(jobs) == 1 and not args.compare:
        run, _, prompt = jobs[0]
        NotebookView(run, prompt=prompt, raw=args.raw, stop_button=args.bg, render=not args.no_render).start()
        return None
    return CompareView([(run, prompt) for run, _, prompt in jobs], raw=args.raw, stop_button=args.bg,
                       render=not args.no_render).start()


def _after(args: argparse.Namespace, runs: list[Run]) -> None:
    """Conversation memory, recording and --raise, once the runs have ended."""
    run = runs[0]
    if args.chat and run.text:
        history = get_session().conversations.setdefault(args.chat, [])
        user = run.prompt[-1] if isinstance(run.prompt, list) else {"role": "user", "content": run.prompt}
        # Anthropic wants thinking blocks back with their signatures: the turn as its blocks
        content = _anthropic.assistant_content(run.events) if run.wire_format == "anthropic" else run.text
        history.extend([user, {"role": "assistant", "content": content}])
    if args.record:
        _replay.save(run, args.record)
    if args.raise_error:
        for r in runs:
            r.raise_for_status()


def _say(message: str) -> None:
    print(terminal(message), file=sys.stderr)  # server text in errors: no escape sequences


# ---- line magics -----------------------------------------------------------------------
def stream_config(line: str) -> Any:
    """``%stream_config model=gpt-4o-mini base_url=http://localhost:11434/v1 api=chat``:
    set nbstream's defaults for this session (no arguments: show them). Keys: model,
    base_url, api_key, api, connect_timeout, first_byte_timeout, idle_timeout,
    keep_runs, tokenizer, aliases (``aliases="claude=anthropic:claude-sonnet-4-5 fast=gemini:…"``)."""
    cfg = get_session().settings
    if not line.strip():
        return cfg
    for item in shlex.split(line):
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"%stream_config: expected key=value with key one of "
                             f"{', '.join(cfg.__dataclass_fields__)}; got {item!r}")
        try:
            cfg.set_from_text(key, value)  # typed and checked there; 'none' where None means something
        except (AttributeError, TypeError, ValueError) as exc:
            raise ValueError(f"%stream_config: {exc}") from None
    return None


def stream_line(line: str) -> Any:
    """``%stream list``: each configured provider's models and the aliases, as
    ``nbstream.models()`` gives them (``%%stream``, two percent signs, streams a prompt)."""
    words = line.split()
    if words != ["list"]:
        _say(f"%stream: unknown command {line.strip()[:40]!r}; %stream list lists the models "
             "(%%stream, with two percent signs, streams the cell's prompt)")
        return None
    return _api.models()


def stream_reset(line: str) -> None:
    """``%stream_reset NAME`` forgets the ``--chat NAME`` conversation (no NAME: all)."""
    name = line.strip()
    conversations = get_session().conversations
    if name:
        conversations.pop(name, None)
    else:
        conversations.clear()


# ---- %config NBStream.NAME = value -----------------------------------------------------------
_SETTINGS = tuple(_config.Settings.__dataclass_fields__)


class NBStream(Configurable):
    """nbstream's settings as IPython configuration: ``%config NBStream.model = "gpt-4o-mini"``
    sets the default session's setting, with the same checks as ``%stream_config
    model=gpt-4o-mini`` and ``nbstream.config.model = ...``; ``%config NBStream`` lists
    them; ``c.NBStream.model = ...`` in an IPython profile works too. Values are Python
    values here (``None``, ``2.5``), not the text ``%stream_config`` parses."""

    model = AnyTrait(None, help="default model name").tag(config=True)
    base_url = AnyTrait(None, help="OpenAI-compatible base URL, e.g. http://localhost:11434/v1").tag(config=True)
    api_key = AnyTrait(None, help="API key (never shown)").tag(config=True)
    api = AnyTrait("chat", help=f"wire API: one of {', '.join(_formats.requestable())}").tag(config=True)
    connect_timeout = AnyTrait(10.0, help="seconds to connect; None: no deadline").tag(config=True)
    first_byte_timeout = AnyTrait(120.0, help="seconds to the first byte; None: no deadline").tag(config=True)
    idle_timeout = AnyTrait(60.0, help="seconds of silence mid-stream; None: no deadline").tag(config=True)
    keep_runs = AnyTrait(100, help="runs nbstream.runs() keeps whole (an integer >= 0)").tag(config=True)
    tokenizer = AnyTrait(None, help="token estimates: None, 'chars/4' or a tiktoken encoding").tag(config=True)
    aliases = AnyTrait({}, help="model aliases, e.g. {'claude': 'anthropic:claude-sonnet-4-5'}").tag(config=True)

    def __getattribute__(self, name: str) -> Any:
        if name in _SETTINGS:  # always the live value, however it was set
            value = getattr(get_session().settings, name)
            return ("set" if value else None) if name == "api_key" else value
        return super().__getattribute__(name)

    def _load_config(self, cfg: Config, section_names: list[str] | None = None,
                     traits: dict[str, Any] | None = None) -> None:
        """Each ``NBStream.NAME`` in ``cfg`` goes through the session's checks: a wrong
        type or unknown name is a one-line error naming what is valid."""
        settings = get_session().settings
        for name, value in self._find_my_config(cfg).items():
            if name not in _SETTINGS:
                raise AttributeError(f"%config: NBStream has no setting {name!r}; the settings are "
                                     f"{', '.join(_SETTINGS)}")
            try:
                setattr(settings, name, value)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"%config NBStream.{name}: {exc}") from None


def _register_config(shell: Any) -> None:
    """Add :class:`NBStream` to the shell's configurables (once), loading the profile's
    ``c.NBStream.*`` values."""
    if not any(isinstance(c, NBStream) for c in shell.configurables):
        shell.configurables.append(NBStream(parent=shell, config=shell.config))


# ---- registration ------------------------------------------------------------------------
def _transform(lines: list[str]) -> list[str]:
    """Rewrite a ``%%stream`` cell into an awaited call (top-level await on the kernel loop)."""
    if not lines or not lines[0].startswith("%%stream"):
        return lines
    first = lines[0].rstrip("\n")
    head = first.split(None, 1)[0]
    if head != "%%stream" or first.rstrip().endswith("?"):
        return lines
    from IPython import get_ipython

    shell = get_ipython()
    if shell is None or not getattr(shell, "autoawait", False) or getattr(shell, "kernel", None) is None:
        return lines  # the registered cell magic handles it, blocking on the I/O thread
    line = first[len("%%stream"):].strip()
    body = "".join(lines[1:])
    return [f"await __import__('nbstream.magic').magic.run_cell({line!r}, {body!r}, expand=True)\n"]


def load_ipython_extension(shell: Any) -> None:
    """``%load_ext nbstream``: register %%stream, %stream_config, %stream_reset and the
    ``%config NBStream.*`` settings."""
    shell.register_magic_function(stream, "cell", "stream")
    shell.register_magic_function(stream_line, "line", "stream")
    shell.register_magic_function(stream_config, "line", "stream_config")
    shell.register_magic_function(stream_reset, "line", "stream_reset")
    _register_config(shell)
    cleanup = shell.input_transformers_cleanup
    if _transform not in cleanup:
        cleanup.append(_transform)


def register_in_running_shell() -> None:
    """Called on ``import nbstream``: inside IPython (a Jupyter kernel, terminal IPython)
    the magics are registered right away, as ``ipytest.autoconfig()`` or ``import
    aimagics`` do, so ``%%stream`` works after ``import nbstream`` alone. Outside IPython
    nothing happens; ``%load_ext nbstream`` stays valid (loading twice is harmless)."""
    from IPython import get_ipython

    shell = get_ipython()
    if shell is not None:
        load_ipython_extension(shell)


def unload_ipython_extension(shell: Any) -> None:
    if _transform in shell.input_transformers_cleanup:
        shell.input_transformers_cleanup.remove(_transform)
