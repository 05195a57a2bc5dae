"""Prompt templating fills only what exists and never breaks code or JSON."""

from __future__ import annotations

import types

import pytest

from nbstream._template import fill

NS = {"topic": "SSE", "d": {"k": "keys", 1: "one"}, "xs": ["zero", "first"],
      "obj": types.SimpleNamespace(attr="an attribute", _hidden="secret"), "n": 3, "fill": fill}


@pytest.mark.parametrize("text, expected", [
    ("Explain {topic}", "Explain SSE"),
    ('{d["k"]} and {d[1]}', "keys and one"),
    ("{xs[1]}", "first"),
    ("{obj.attr}", "an attribute"),
    ("{n} items", "3 items"),
    ("keep {missing}", "keep {missing}"),
    ("keep {obj._hidden}", "keep {obj._hidden}"),
    ("keep {d['nope']}", "keep {d['nope']}"),
    ('{"json": 1}', '{"json": 1}'),
    ('{"a": {"b": 1}}', '{"a": {"b": 1}}'),
    ("{k: v for k, v in x}", "{k: v for k, v in x}"),
    ("f'{topic!r}'", "f'{topic!r}'"),
    ("{{topic}}", "{topic}"),
    ("function f() {{ return 1 }}", "function f() { return 1 }"),
    ("{__import__('os')}", "{__import__('os')}"),
    ("keep {topic.upper}", "keep {topic.upper}"),  # a method: its repr holds an address, junk
    ("keep {d.get}", "keep {d.get}"),
    ("keep {fill}", "keep {fill}"),
])
def test_fill(text, expected):
    assert fill(text, NS) == expected


def test_subscripts_are_literals_never_evaluated():
    called = []
    ns = {"d": {"x": 1}, "f": lambda: called.append(1)}
    assert fill("{d[f()]}", ns) == "{d[f()]}"
    assert not called
