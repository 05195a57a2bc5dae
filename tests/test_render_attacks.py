"""Attacks on the render boundary that used to break it: lone surrogates (no encoder accepts
them), MathML lengths that move or blow up math outside its box, control bytes in a saved
comparison's plain text, and unclosed ``\\(`` openers that made inline parsing quadratic."""

from __future__ import annotations

import io
import re

import pytest
from hostile_corpus import terminal_problems
from test_render_boundary import hostile_run

from nbstream.events import TextDelta
from nbstream.run import Run
from nbstream.views import console as _console
from nbstream.views import render as _render
from nbstream.views.compare import CompareView, compare_output
from nbstream.wire.framing import Message


def test_render_html_of_text_with_a_lone_surrogate_does_not_raise():
    # a lone surrogate reaches the renderer from a prompt, a recording or show() on a str
    html = _render.render_html("caf\ud800 <b>x</b>")
    assert "caf\ufffd" in html and "<b>" not in html


def test_clean_replaces_lone_surrogates_so_every_consumer_can_encode():
    assert _render.clean("a\udfffb\ud83d") == "a\ufffdb\ufffd"
    assert _render.render_markdown("x\ud800y").encode("utf-8")


def test_terminal_text_with_a_lone_surrogate_can_be_written_as_utf8():
    assert _render.terminal("a\ud800b more").encode("utf-8").endswith(b"b more")


def test_console_view_keeps_printing_after_a_lone_surrogate():
    raw = io.BytesIO()
    out = io.TextIOWrapper(raw, encoding="utf-8", errors="strict")
    run = Run(model="m", api="chat")
    _console.attach(run, out)
    run._receive(Message(run.t0_ns + 1, 0, "", "{}", None, 1), [TextDelta("a\ud800b")])
    run._receive(Message(run.t0_ns + 2, 1, "", "{}", None, 1), [TextDelta(" more")])
    run._finish()
    out.flush()
    assert "b more" in raw.getvalue().decode("utf-8")


def _lengths(html: str) -> list[str]:
    return re.findall(r'\b(?:width|height|depth|lspace|rspace|voffset|minsize|maxsize|mathsize|'
                      r'linethickness|rowspacing|columnspacing)="([^"]*)"', html)


@pytest.mark.parametrize("latex", ["\\moveleft{900em}{PAY HERE}", "\\moveright{900em}{x}", "\\kern{-900em}x",
                                   "\\kern{900em}x", "\\rule{900em}{900em}", "\\hspace{-50cm}x",
                                   "\\raise{900em}{x}", "\\llap{PAY HERE}", "{\\Huge{\\Huge{\\Huge x}}}"])
def test_math_cannot_move_or_blow_up_content_outside_its_box(latex):
    html = _render.render_html(f"before ${latex}$ after")
    assert "<math" in html, html
    for value in _lengths(html):
        for item in value.split():
            number = re.fullmatch(r"\+?([0-9.]+)(em|ex|px|pt|mu)?", item)
            assert number is not None, (value, html)
            scale = {"em": 1, "ex": 0.5, "px": 1 / 16, "pt": 0.1, "mu": 1 / 18, None: 1}[number.group(2)]
            assert float(number.group(1)) * scale <= _render.MAX_MATH_EM, (value, html)
    assert "lspace" not in html.split("<mpadded")[-1].split(">")[0]
    assert "mathsize" not in html and "voffset" not in html


def test_the_sanitizer_drops_table_spans_from_math_cells():
    cell = _render.sanitize('<math><mtable><mtr><mtd rowspan="99999" columnspan="99999" columnalign="left">'
                            'x</mtd></mtr></mtable></math>')
    assert "x</mtd>" in cell and 'columnalign="left"' in cell
    assert "rowspan" not in cell and "columnspan" not in cell


def test_a_huge_code_block_is_shown_plain_not_highlighted_into_many_times_its_size():
    code = '{"k": [1, 2, 3], "s": "<b>x</b>"}\n' * (_render.MAX_HIGHLIGHT_CHARS // 30)
    html = _render.render_html(f"```json\n{code}```")
    assert len(html) < 1.5 * len(code) and "&lt;b&gt;" in html and "<b>" not in html
    small = _render.render_html('```json\n{"k": 1}\n```')
    assert "style=" in small  # a block under the cap is still highlighted


def test_ordinary_math_spacing_and_sizes_survive():
    html = _render.render_html("$a\\,b\\quad c$ and $\\Big( \\binom{n}{k} \\Big)$ and $\\rule{1em}{2pt}$")
    assert 'width="0.167em"' in html and 'width="1em"' in html
    assert 'minsize="1.623em"' in html and 'linethickness="0"' in html
    assert 'height="2pt"' in html


def test_saved_plain_text_of_a_comparison_has_no_control_bytes():
    payload = "\x1b]0;pwned title\x07\x1b[2J\u202eevil"  # in the run's label (the pane title)
    view = CompareView([(hostile_run(payload), payload)])
    bundle, _ = compare_output(view.panes, view.final_id)
    assert terminal_problems(bundle["text/plain"]) == [], repr(bundle["text/plain"][:80])


def test_comparison_pane_title_stays_on_its_own_line():
    run = hostile_run("ok")
    run.label = "left\n[right]\nfake answer"
    view = CompareView([(run, "p")])
    bundle, _ = compare_output(view.panes, view.final_id)
    assert bundle["text/plain"].startswith("[left [right] fake answer]\n"), bundle["text/plain"][:80]


def _scanned(monkeypatch: pytest.MonkeyPatch, text: str) -> int:
    """Characters the bracket-math rule scanned looking for closers while rendering ``text``."""
    total = 0
    real = _render._scan

    def counting(src: str, closer: str, start: int) -> int:
        nonlocal total
        found = real(src, closer, start)
        total += (found + len(closer) if found >= 0 else len(src)) - start
        return found

    monkeypatch.setattr(_render, "_scan", counting)
    _render.render_html(text)
    return total


def test_unclosed_bracket_math_openers_scan_the_paragraph_once(monkeypatch):
    text = "\\(x " * 40_000  # never closed: each opener used to scan to the end for "\\)"
    assert _scanned(monkeypatch, text) <= len(text)


def test_bracket_math_openers_each_scan_only_to_their_closer(monkeypatch):
    text = "\\(x\\) \\[y\\] \\(z " * 10_000
    html = _render.render_html(text)
    assert html.count("<math") == 20_000
    assert _scanned(monkeypatch, text) <= 2 * len(text)


def test_bracket_math_still_pairs_openers_with_the_next_closer():
    html = _render.render_html("\\(a \\(b\\) c \\[d\\] \\(e")
    assert html.count('<math display="inline">') == 1 and html.count('<math display="block">') == 1
    assert "(e" in html
