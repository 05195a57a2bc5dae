"""The render boundary: the one place that turns untrusted strings into HTML, Markdown or
terminal text. Nothing else in nbstream builds output from model text, server text or user
arguments by hand.

* ``render_html(markdown)`` -- the answer as HTML. Parsed with markdown-it-py (CommonMark +
  GFM tables and strikethrough, raw HTML *off*, so every ``<`` the model wrote is text);
  links and images survive only with an http, https, mailto or relative/anchor URL (entity
  encoded schemes, whitespace and control characters inside a scheme, ``data:``, ``vbscript:``
  ... all become text); code is highlighted by Pygments with inline styles (JupyterLab's
  sanitizer keeps ``color``/``font-weight``/``font-style``; a stylesheet would not survive);
  math (``$…$``, ``$$…$$``, ``\\(…\\)``, ``\\[…\\]``) becomes MathML (latex2mathml), which
  Chromium renders natively, so live and saved look the same. The HTML then passes an
  allow-list sanitizer (nh3) as a second wall: only the tags and attributes listed here,
  MathML elements without links or event attributes, no ``style``/``annotation-xml`` inside
  ``<math>`` (the mutation-XSS vector).
* ``render_markdown(markdown)`` -- the saved ``text/markdown``: re-serialised from the same
  parse, not patched source. Text is escaped (``&``, ``<``, ``>`` as entities, Markdown
  punctuation with backslashes, line separators as entities), code goes in fences longer than
  any backtick run inside, links keep only allowed destinations, math is kept as its LaTeX in
  a code span. A trusting renderer (JupyterLab, nbconvert, GitHub) can only show text.
* ``html_text`` / ``md_text`` / ``md_code`` / ``md_fence`` -- every piece of text nbstream puts
  around the answer (titles, labels, tool names and arguments, errors, reasoning, step names,
  feed cells, status lines, the prompt).
* ``terminal(text)`` -- model text for a terminal: no C0/C1 controls except newline and tab,
  no escape sequences (CSI, OSC, DCS ...), no bidi overrides.

Input normalisation: CR, CRLF and the separators other tools split lines on (U+2028, U+2029,
U+0085, ``\\x0b``, ``\\x0c``, ``\\x1c``-``\\x1e``) become ``\\n`` *before* parsing, and other
control characters become U+FFFD, so every consumer sees the same lines the parser saw.
"""

from __future__ import annotations

import html as _html
import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import nh3
from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml
from markdown_it.rules_inline import StateInline
from markdown_it.token import Token
from markdown_it.tree import SyntaxTreeNode
from mdit_py_plugins.dollarmath import dollarmath_plugin

from nbstream.engine.gcfreeze import no_collection

__all__ = [
    "ALLOWED_ATTRIBUTES",
    "ALLOWED_TAGS",
    "answer_html",
    "answer_markdown",
    "clean",
    "html_text",
    "is_safe_url",
    "md_code",
    "md_fence",
    "md_text",
    "plot_text",
    "render_html",
    "render_markdown",
    "sanitize",
    "terminal",
]

# ---- text normalisation ------------------------------------------------------------------
_SEPARATORS_RE = re.compile("\r\n?|[\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")
# controls, and lone surrogates (from a prompt, a recording, a str source): no UTF-8 encoder,
# nh3 or JSON writer accepts those
_CONTROLS_RE = re.compile("[\x00-\x08\x0e-\x1b\x1f\x7f-\x84\x86-\x9f\ud800-\udfff]")


def clean(text: str) -> str:
    """Line separators as ``\\n``, other control characters (not tab) and lone surrogates
    as U+FFFD."""
    text = _SEPARATORS_RE.sub("\n", text)
    return _CONTROLS_RE.sub("\ufffd", text)


# ---- terminal ------------------------------------------------------------------------------
_ESCAPES_RE = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]?"  # CSI
    r"|\x1b[\]PX^_][^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"  # OSC, DCS, SOS, PM, APC (to ST or BEL)
    r"|\x1b[ -/]*[0-~]?"  # other ESC sequences (and a lone ESC)
    r"|[\x9b\x9d\x90\x98\x9e\x9f][^\x07\x1b\x9c]*(?:\x07|\x9c)?"  # 8-bit CSI/OSC/DCS/SOS/PM/APC
)
_SURROGATES_RE = re.compile("[\ud800-\udfff]")
_TERMINAL_JUNK_RE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def terminal(text: str) -> str:
    """Text safe to print to a terminal: only printable characters, newlines and tabs (lone
    surrogates as U+FFFD, so the text always encodes)."""
    text = _SURROGATES_RE.sub("\ufffd", text.replace("\r\n", "\n").replace("\r", "\n"))
    return _TERMINAL_JUNK_RE.sub("", _ESCAPES_RE.sub("", text))


# ---- escaping for text nbstream places around the answer ------------------------------------
def plot_text(text: Any) -> str:
    """Any value as matplotlib text: ``$`` escaped (no mathtext, which raises on a stray
    ``$``), controls replaced."""
    return clean(str(text)).replace("$", r"\$")


def html_text(text: Any) -> str:
    """Any value as HTML text (also safe inside a double- or single-quoted attribute)."""
    return _html.escape(clean(str(text)), quote=True)


_MD_PUNCT_RE = re.compile(r"[\\`*_\[\]!|~$]")
# Markers that only mean something at the start of a line: headings, list items, quotes,
# setext underlines, rules, ordered list numbers.
_MD_LINE_START_RE = re.compile(r"(?m)^([ \t]*)(?:([#+=\-])|([0-9]+)([.)]))")
_MD_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_MD_SPECIAL_RE = re.compile("[&<>\u2028\u2029\x85]")


def _md_line_start(m: re.Match[str]) -> str:
    if m.group(2):
        return m.group(1) + "\\" + m.group(2)
    return m.group(1) + m.group(3) + "\\" + m.group(4)


def _md_escape(text: str) -> str:
    text = _MD_SPECIAL_RE.sub(lambda m: _MD_ENTITIES.get(m.group(), f"&#x{ord(m.group()):x};"), text)
    text = _MD_PUNCT_RE.sub(lambda m: "\\" + m.group(), text)
    return _MD_LINE_START_RE.sub(_md_line_start, text)


def md_text(text: Any) -> str:
    """Any value as one line of Markdown text that every renderer shows literally (no
    markup, no HTML; newlines become spaces): labels, titles, errors, table cells."""
    return _md_escape(" ".join(clean(str(text)).split("\n")))


def _longest_run(text: str, char: str) -> int:
    runs = re.findall(re.escape(char) + "+", text)
    return max((len(r) for r in runs), default=0)


def md_code(text: Any) -> str:
    """Any value as an inline code span that cannot be closed early (single line)."""
    value = " ".join(clean(str(text)).split("\n"))
    if not value:
        return ""
    ticks = "`" * (_longest_run(value, "`") + 1)
    pad = " " if value[0] in "` " or value[-1] in "` " else ""
    return f"{ticks}{pad}{value}{pad}{ticks}"


_LANG_RE = re.compile(r"[^A-Za-z0-9_+#.\-]")


def md_fence(text: Any, lang: str = "") -> str:
    """Any value as a fenced code block no line of it can close (fence longer than any run)."""
    value = clean(str(text))
    fence = "`" * max(3, _longest_run(value, "`") + 1)
    info = _LANG_RE.sub("", lang.split()[0]) if lang.split() else ""
    body = value if value.endswith("\n") or not value else value + "\n"
    return f"{fence}{info}\n{body}{fence}"


# Math in saved Markdown is typeset by the reader's renderer (MathJax in JupyterLab, GitHub's
# math): it is written as ``$…$`` only when it cannot be anything else anywhere -- plain
# characters (no ``&``, backticks, quotes, ``$``, ``](``; ``<``/``>`` as ``\lt``/``\gt``) and
# only these commands (no ``\href``, ``\class``, ``\style``, ``\html``, ``\require`` ...).
# Anything else is kept as its source in a code span.
_MATH_COMMANDS = frozenset("""
alpha beta gamma delta epsilon varepsilon zeta eta theta vartheta iota kappa lambda mu nu xi pi varpi rho
varrho sigma varsigma tau upsilon phi varphi chi psi omega Gamma Delta Theta Lambda Xi Pi Sigma Upsilon Phi
Psi Omega frac dfrac tfrac sqrt sum prod int iint iiint oint lim limsup liminf sup inf max min arg log ln exp
sin cos tan cot sec csc arcsin arccos arctan sinh cosh tanh det dim ker deg gcd Pr mod bmod pmod cdot cdots
ldots dots vdots ddots times div pm mp leq le geq ge neq ne approx equiv sim simeq cong propto ll gg subset
subseteq supset supseteq in notin ni cup cap setminus emptyset varnothing forall exists nexists neg land lor
to rightarrow leftarrow Rightarrow Leftarrow leftrightarrow Leftrightarrow mapsto implies iff infty partial
nabla prime hbar ell Re Im aleph angle perp parallel mid circ bullet star ast oplus otimes odot left right
big Big bigg Bigg langle rangle lceil rceil lfloor rfloor lvert rvert lVert rVert vert Vert quad qquad
mathrm mathbf mathit mathsf mathtt mathcal mathbb mathfrak boldsymbol text textbf textit operatorname hat bar
tilde vec dot ddot overline underline overbrace underbrace widehat widetilde binom choose over lt gt
displaystyle textstyle begin end matrix pmatrix bmatrix vmatrix cases aligned align
""".split())  # noqa: SIM905 -- a word list reads better than 200 quoted names
_MATH_CHARS_RE = re.compile(r"[A-Za-z0-9\s\\{}^_+\-=*/().,;:'!|\[\]<>]*")
_MATH_COMMAND_RE = re.compile(r"\\([A-Za-z]+|.)")


def md_math(latex: str, delim: str = "$") -> str:
    """LaTeX for saved Markdown: ``$…$``/``$$…$$`` when harmless everywhere, else a code span."""
    flat = " ".join(clean(latex).split())
    names = _MATH_COMMAND_RE.findall(flat)
    safe = (flat and _MATH_CHARS_RE.fullmatch(flat) and "](" not in flat.replace(" ", "")
            and all(n in _MATH_COMMANDS or n in "{}[]|,;:! \\" for n in names))
    if not safe:
        return md_code(delim + latex + delim)
    return delim + flat.replace("<", "\\lt ").replace(">", "\\gt ") + delim


# ---- URLs ----------------------------------------------------------------------------------
_SAFE_SCHEMES = frozenset({"http", "https", "mailto"})
_SCHEME_RE = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):")
_URL_JUNK_RE = re.compile(r"[\x00-\x20\x7f-\x9f]+")


def is_safe_url(url: str) -> bool:
    """http(s), mailto, relative and anchor URLs; nothing else, however it is spelled.

    The URL is read as a browser reads it: entities decoded (twice, for double encoding),
    whitespace and control characters dropped, scheme compared case-blind. A colon before
    the first ``/``, ``?`` or ``#`` that is not a safe scheme counts as an unknown scheme."""
    cleaned = _URL_JUNK_RE.sub("", _html.unescape(_html.unescape(url)))
    if not cleaned:
        return False
    match = _SCHEME_RE.match(cleaned)
    if match:
        return match.group(1).lower() in _SAFE_SCHEMES
    head = re.split(r"[/?#\\]", cleaned, maxsplit=1)[0]
    return ":" not in head and "%3a" not in head.lower() and "&" not in head


# ---- the sanitizer (second wall) ----------------------------------------------------------------
_MATHML = {
    "math": {"display"}, "mi": {"mathvariant"}, "mn": {"mathvariant"}, "mo": {
        "stretchy", "fence", "separator", "lspace", "rspace", "largeop", "movablelimits", "form",
        "accent", "symmetric", "minsize", "maxsize"},
    "ms": set(), "mtext": set(), "mspace": {"width", "height", "depth"}, "mrow": set(),
    "mfrac": {"linethickness"}, "msqrt": set(), "mroot": set(), "msub": set(), "msup": set(),
    "msubsup": set(), "munder": {"accentunder"}, "mover": {"accent"}, "munderover": set(),
    "mtable": {"columnalign", "rowspacing", "columnspacing", "columnlines", "rowlines", "frame"},
    "mtr": set(), "mtd": {"columnalign"}, "mstyle": {
        "displaystyle", "scriptlevel", "mathvariant", "mathcolor"},
    "mpadded": {"width", "height", "depth"}, "mphantom": set(),
    "menclose": {"notation"}, "merror": set(), "mmultiscripts": set(), "mprescripts": set(),
    "none": set(),
}
ALLOWED_ATTRIBUTES: dict[str, set[str]] = {
    "p": set(), "h1": set(), "h2": set(), "h3": set(), "h4": set(), "h5": set(), "h6": set(),
    "ul": {"style"}, "ol": {"start", "style"}, "li": set(), "blockquote": set(), "pre": {"style"},
    "code": {"class"}, "span": {"style"}, "em": set(), "strong": set(), "s": set(), "br": set(),
    "hr": set(), "table": set(), "thead": set(), "tbody": set(), "tr": set(), "th": {"style"},
    "td": {"style"}, "a": {"href", "title", "target"}, "img": {"src", "alt", "title", "loading",
                                                           "referrerpolicy"},
    **_MATHML,
}
ALLOWED_TAGS = frozenset(ALLOWED_ATTRIBUTES)
ALLOWED_STYLES = frozenset({"color", "background-color", "font-weight", "font-style", "text-align",
                            "text-decoration", "margin-top", "margin-bottom"})


# MathML sizes come from model text (``\\kern{-900em}``, ``\\rule{900em}{900em}``): a negative
# or huge length draws the answer over the rest of the page or covers it. Lengths are kept only
# when non-negative and at most MAX_MATH_EM (a ``\\qquad`` is 2em, ``\\Bigg`` 2.47em); lists
# (``rowspacing``) only when every item is. Moving and compounding attributes are not allowed
# at all: ``mpadded`` ``lspace``/``voffset`` (``\\moveleft``, ``\\raise``, ``\\llap``) and
# ``mstyle`` ``mathsize`` (nested ``\\Huge`` multiplies); nor ``mtd`` ``rowspan``/``columnspan``
# (latex2mathml never writes them; an unbounded span stretches the table over the page).
MAX_MATH_EM = 4.0
_MATH_LENGTHS = frozenset({"width", "height", "depth", "lspace", "rspace", "minsize", "maxsize",
                           "linethickness", "rowspacing", "columnspacing"})
_LENGTH_RE = re.compile(r"\+?([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(em|ex|px|pt|mu)?")
_EM_PER_UNIT = {"em": 1.0, "ex": 0.5, "px": 1 / 16, "pt": 1 / 10, "mu": 1 / 18, None: 1.0}


def _small_length(value: str) -> bool:
    items = value.split()
    for item in items:
        match = _LENGTH_RE.fullmatch(item)
        if match is None or float(match.group(1)) * _EM_PER_UNIT[match.group(2)] > MAX_MATH_EM:
            return False
    return bool(items)


def _math_attribute(tag: str, attribute: str, value: str) -> str | None:
    if attribute in _MATH_LENGTHS and tag in _MATHML and not _small_length(value):
        return None
    return value


def sanitize(fragment: str) -> str:
    """The allow-list wall every HTML fragment passes before it leaves the kernel."""
    return nh3.clean(
        fragment,
        tags=set(ALLOWED_TAGS),
        attributes={tag: set(attrs) for tag, attrs in ALLOWED_ATTRIBUTES.items()},
        attribute_filter=_math_attribute,
        url_schemes=set(_SAFE_SCHEMES),
        link_rel="noopener noreferrer",
        strip_comments=True,
        filter_style_properties=set(ALLOWED_STYLES),
    )


# ---- code and math -----------------------------------------------------------------------------
@lru_cache(maxsize=1)
def _formatter() -> Any:
    from pygments.formatters import HtmlFormatter

    return HtmlFormatter(noclasses=True, nowrap=True, style="default")


@lru_cache(maxsize=64)
def _lexer(lang: str) -> Any:
    from pygments.lexers import get_lexer_by_name
    from pygments.util import ClassNotFound

    try:
        return get_lexer_by_name(lang, stripnl=False, ensurenl=False)
    except ClassNotFound:
        return None


#: characters of a code block highlighted at most: inline styles make the HTML ~6x the code
#: (a 4 MB JSON answer: 4.2 s and 27 MB saved into the notebook); a bigger block stays plain
MAX_HIGHLIGHT_CHARS = 200_000


def highlight(code: str, lang: str) -> str:
    """``<pre><code>`` for a code block, Pygments-highlighted with inline styles when the
    language is known (same look live, saved, and after JupyterLab's sanitizer) and the
    block is at most ``MAX_HIGHLIGHT_CHARS`` long."""
    lang = _LANG_RE.sub("", lang)
    cls = f' class="language-{lang}"' if lang else ""
    lexer = _lexer(lang.lower()) if lang and len(code) <= MAX_HIGHLIGHT_CHARS else None
    if lexer is None:
        return f"<pre><code{cls}>{escapeHtml(code)}</code></pre>\n"
    from pygments import highlight as _pyg

    return f"<pre><code{cls}>{_pyg(code, lexer, _formatter())}</code></pre>\n"


def math_html(latex: str, display: bool) -> str:
    """MathML for a LaTeX formula; the source as code if it does not convert."""
    from latex2mathml.converter import convert

    try:
        out = convert(latex, display="block" if display else "inline")
    except Exception:  # noqa: BLE001 -- latex2mathml raises many unrelated kinds of error on bad input
        delim = "$$" if display else "$"
        return f"<code>{escapeHtml(delim + latex + delim)}</code>"
    return out


# ---- the parser ------------------------------------------------------------------------------
def _scan(src: str, closer: str, start: int) -> int:
    """Where ``closer`` next occurs in ``src`` from ``start`` (-1: nowhere)."""
    return src.find(closer, start)


def _next_closer(state: StateInline, closer: str, start: int) -> int:
    """The next ``closer`` at or after ``start``, each stretch of the paragraph scanned once.

    Remembers, per closer, the last scan (from where, what it found): a later opener before
    the found closer gets it, an opener after the last closer fails at once. Without this,
    ``"\\\\(x " * n`` (n unclosed openers) scans to the end n times: quadratic."""
    memo: dict[str, tuple[int, int]] = state.__dict__.setdefault("_nbs_closers", {})
    searched_from, found = memo.get(closer, (len(state.src) + 1, -1))
    if searched_from <= start and (found < 0 or found >= start):
        return found
    found = _scan(state.src, closer, start)
    memo[closer] = (start, found)
    return found


def _bracket_math(state: StateInline, silent: bool) -> bool:
    """``\\(…\\)`` and ``\\[…\\]`` inside a paragraph (before the escape rule takes ``\\(``)."""
    src, pos = state.src, state.pos
    if src[pos] != "\\" or pos + 1 >= state.posMax or src[pos + 1] not in "([":
        return False
    closer = "\\)" if src[pos + 1] == "(" else "\\]"
    end = _next_closer(state, closer, pos + 2)
    if end < 0 or end + 2 > state.posMax or not src[pos + 2:end].strip():
        return False
    if not silent:
        tok = state.push("math_inline" if closer == "\\)" else "math_inline_double", "math", 0)
        tok.content = src[pos + 2:end]
        tok.markup = src[pos:pos + 2]
    state.pos = end + 2
    return True


def _sanitize_inline(children: list[Token]) -> list[Token]:
    """Unwrap links with an unsafe href, drop unsafe images (after markdown-it's own check)."""
    out: list[Token] = []
    dropped: list[bool] = []
    for tok in children:
        if tok.type == "link_open":
            drop = not is_safe_url(str(tok.attrGet("href") or ""))
            dropped.append(drop)
            if drop:
                continue
            tok.attrSet("target", "_blank")
        elif tok.type == "link_close":
            if dropped and dropped.pop():
                continue
        elif tok.type == "image":
            if not is_safe_url(str(tok.attrGet("src") or "")):
                tok.type = "text"
                tok.content = "".join(c.content for c in tok.children or [])
                tok.children = None
                tok.attrs = {}
            else:
                tok.attrSet("loading", "lazy")
                tok.attrSet("referrerpolicy", "no-referrer")
        out.append(tok)
    return out


def _harden(state: Any) -> None:
    for tok in state.tokens:
        if tok.type == "inline" and tok.children:
            tok.children = _sanitize_inline(tok.children)
        elif tok.type == "fence":
            words = tok.info.split(maxsplit=1)
            tok.info = _LANG_RE.sub("", words[0]) if words else ""


def _render_fence(self: Any, tokens: Sequence[Token], idx: int, options: Any, env: Any) -> str:
    tok = tokens[idx]
    if env.get("plain_code"):
        lang = _LANG_RE.sub("", tok.info)
        cls = f' class="language-{lang}"' if lang else ""
        return f"<pre><code{cls}>{escapeHtml(tok.content)}</code></pre>\n"
    return highlight(tok.content, tok.info)


def _render_math_inline(self: Any, tokens: Sequence[Token], idx: int, options: Any, env: Any) -> str:
    return math_html(tokens[idx].content, display=False)


def _render_math_double(self: Any, tokens: Sequence[Token], idx: int, options: Any, env: Any) -> str:
    return math_html(tokens[idx].content, display=True)


def _base() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.enable(["table", "strikethrough"])
    # Inline math only: the block rule looks ahead for its closing `$$` across later blocks,
    # which would let text that has not arrived yet change blocks already sent as final.
    md.use(dollarmath_plugin, allow_labels=False, allow_space=False, allow_digits=False,
           allow_blank_lines=False, double_inline=True)
    md.disable("math_block")
    md.inline.ruler.before("escape", "bracket_math", _bracket_math)
    md.validateLink = is_safe_url  # type: ignore[method-assign]
    return md


def _make_renderer() -> MarkdownIt:
    md = _base()
    md.core.ruler.after("inline", "nbstream_harden", _harden)
    md.add_render_rule("fence", _render_fence)
    md.add_render_rule("math_inline", _render_math_inline)
    md.add_render_rule("math_inline_double", _render_math_double)
    return md


def _make_block_parser() -> MarkdownIt:
    md = _base()
    md.disable("inline")  # block structure only; inline tokens keep .content
    return md


_MD = _make_renderer()
_MD_BLOCKS = _make_block_parser()


def render_html(markdown: str, env: dict[str, Any] | None = None, *, plain_code: bool = False) -> str:
    """Safe HTML for Markdown from an untrusted source; ``env`` carries reference definitions
    between calls; ``plain_code`` skips highlighting (for a code block still being written)."""
    if not isinstance(markdown, str):
        raise TypeError(f"render_html() needs the Markdown as str, got {type(markdown).__name__}")
    env = {} if env is None else env
    env["plain_code"] = plain_code
    with no_collection():  # a large parse is superlinear with collections inside it (see gcfreeze)
        out = _MD.render(clean(markdown), env)
    env.pop("plain_code", None)
    return sanitize(out) if out else ""


def parse_blocks(text: str) -> list[Token]:
    """Block-level tokens of ``text`` (no inline parsing; maps are line ranges)."""
    with no_collection():
        return _MD_BLOCKS.parse(text, {})


def top_blocks(tokens: list[Token]) -> list[Token]:
    """The top-level block tokens (the opening token of each container, or the leaf)."""
    return [t for t in tokens if t.level == 0 and t.nesting >= 0 and t.map is not None]


_CLOSING_FENCE_RE = re.compile(r" {0,3}(`{3,}|~{3,})[ \t]*")


def fence_is_closed(tok: Token, lines: list[str]) -> bool:
    """Whether a fence token ends with its closing fence line (an unclosed one runs to the end)."""
    start, end = tok.map  # type: ignore[misc]
    if end - start < 2 or end > len(lines):
        return False
    match = _CLOSING_FENCE_RE.fullmatch(lines[end - 1])
    if match is None:
        return False
    return match.group(1)[0] == tok.markup[0] and len(match.group(1)) >= len(tok.markup)


def line_offsets(text: str) -> list[int]:
    """Character offset of the start of every line, plus ``len(text)`` as a sentinel."""
    offsets = [0]
    find = text.find
    pos = find("\n")
    while pos != -1:
        offsets.append(pos + 1)
        pos = find("\n", pos + 1)
    if offsets[-1] != len(text):
        offsets.append(len(text))
    return offsets


# ---- a whole answer with its status line --------------------------------------------------------
def answer_html(answer: str, *, status: str, error: str | None = None) -> str:
    """An answer with its error banner and status line, as one safe HTML fragment."""
    parts = [render_html(answer)]
    if error:
        parts.append(f"<blockquote><p>⚠ {html_text(error)}</p></blockquote>\n")
    parts.append(f"<p><em>{html_text(status)}</em></p>\n")
    return "".join(parts)


def answer_markdown(answer: str, *, status: str, error: str | None = None) -> str:
    """The same as safe Markdown."""
    parts = [render_markdown(answer)] if answer.strip() else []
    if error:
        parts.append(f"> ⚠ {md_text(error)}")
    parts.append(f"*{md_text(status)}*")
    return "\n\n".join(parts)


# ---- the saved Markdown: re-serialised from the parse ------------------------------------------------
def render_markdown(markdown: str) -> str:
    """Markdown that shows what ``render_html`` shows, safe for a renderer that trusts HTML."""
    if not isinstance(markdown, str):
        raise TypeError(f"render_markdown() needs the Markdown as str, got {type(markdown).__name__}")
    env: dict[str, Any] = {}
    with no_collection():
        tokens = _MD.parse(clean(markdown), env)
        tree = SyntaxTreeNode(tokens)
        return "\n\n".join(b for b in _md_blocks(tree.children) if b)


def _md_blocks(nodes: Sequence[SyntaxTreeNode], tight: bool = False) -> list[str]:
    out: list[str] = []
    prev_list = ""
    for node in nodes:
        kind = node.type
        if kind == "paragraph":
            out.append(_md_inline_block(node))
        elif kind == "heading":
            out.append("#" * int(node.tag[1]) + " " + _md_inline_block(node).replace("\n", " "))
        elif kind in ("fence", "code_block"):
            out.append(md_fence(node.content, node.info if kind == "fence" else ""))
        elif kind == "hr":
            out.append("* * *")
        elif kind == "blockquote":
            inner = "\n\n".join(_md_blocks(node.children))
            out.append("\n".join(("> " + line) if line else ">" for line in inner.split("\n")))
        elif kind in ("bullet_list", "ordered_list"):
            # two lists in a row must stay two lists: alternate the marker
            alt = prev_list == kind
            out.append(_md_list(node, alt))
        elif kind == "table":
            out.append(_md_table(node))
        elif kind in ("math_block", "math_block_label"):
            out.append(md_fence(node.content, "latex"))
        elif node.children:
            out.extend(_md_blocks(node.children))
        prev_list = kind if kind in ("bullet_list", "ordered_list") else ""
    return out


def _md_list(node: SyntaxTreeNode, alt: bool) -> str:
    ordered = node.type == "ordered_list"
    start = int(node.attrs.get("start", 1)) if ordered else 1
    tight = all(p.hidden for item in node.children for p in item.children if p.type == "paragraph")
    items = []
    for i, item in enumerate(node.children):
        marker = f"{start + i}{')' if alt else '.'}" if ordered else ("*" if alt else "-")
        blocks = _md_blocks(item.children)
        body = ("\n" if tight else "\n\n").join(b for b in blocks if b) or ""
        pad = " " * (len(marker) + 1)
        lines = body.split("\n")
        first = f"{marker} {lines[0]}" if lines[0] else marker
        items.append("\n".join([first] + [pad + line if line else "" for line in lines[1:]]))
    return ("\n" if tight else "\n\n").join(items)


def _md_table(node: SyntaxTreeNode) -> str:
    rows: list[list[str]] = []
    aligns: list[str] = []
    for section in node.children:
        for tr in section.children:
            cells = []
            for cell in tr.children:
                if section.type == "thead":
                    style = str(cell.attrs.get("style", ""))
                    aligns.append({"text-align:left": ":--", "text-align:right": "--:",
                                   "text-align:center": ":-:"}.get(style, "---"))
                cells.append(_md_inline_block(cell, in_table=True).replace("\n", " "))
            rows.append(cells)
    if not rows:
        return ""
    lines = ["| " + " | ".join(rows[0]) + " |", "|" + "|".join(aligns) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows[1:]]
    return "\n".join(lines)


def _md_inline_block(node: SyntaxTreeNode, in_table: bool = False) -> str:
    inline = node.children[0] if node.children and node.children[0].type == "inline" else None
    if inline is None:
        return ""
    text = _md_inline(inline.children, in_table)
    return "\n".join(line.lstrip(" \t") for line in text.split("\n"))


def _md_inline(nodes: Sequence[SyntaxTreeNode], in_table: bool) -> str:
    parts: list[str] = []
    for node in nodes:
        kind = node.type
        if kind == "text":
            parts.append(_md_escape(node.content))
        elif kind == "softbreak":
            parts.append("\n")
        elif kind == "hardbreak":
            parts.append("\\\n")
        elif kind == "code_inline":
            code = md_code(node.content)
            parts.append(code.replace("|", "\\|") if in_table else code)
        elif kind in ("math_inline", "math_inline_double"):
            delim = "$$" if kind == "math_inline_double" else "$"
            math = md_math(node.content, delim)
            parts.append(math.replace("|", "\\|") if in_table else math)
        elif kind in ("em", "strong", "s"):
            mark = {"em": "*", "strong": "**", "s": "~~"}[kind]
            parts.append(mark + _md_inline(node.children, in_table) + mark)
        elif kind == "link":
            inner = _md_inline(node.children, in_table)
            href = str(node.attrs.get("href", ""))
            if is_safe_url(href):
                title = node.attrs.get("title")
                ttl = ' "' + _md_escape(str(title)).replace('"', '\\"') + '"' if title else ""
                parts.append(f"[{inner}](<{_md_dest(href)}>{ttl})")
            else:
                parts.append(inner)
        elif kind == "image":
            alt = _md_escape("".join(c.content for c in node.children if c.type == "text"))
            src = str(node.attrs.get("src", ""))
            if is_safe_url(src):
                parts.append(f"![{alt}](<{_md_dest(src)}>)")
            else:
                parts.append(alt)
        elif node.children:
            parts.append(_md_inline(node.children, in_table))
        else:
            parts.append(_md_escape(node.content))
    return "".join(parts)


_DEST_RE = re.compile(r"[&<>\s\\`|]")


def _md_dest(url: str) -> str:
    """A link destination for ``<…>``: entities and separators cannot change it."""
    return _DEST_RE.sub(lambda m: f"%{ord(m.group()):02X}" if m.group() != "&" else "&amp;", url)
