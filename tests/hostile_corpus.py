"""Hostile payloads and the checks every rendering of them must pass.

Each payload, if it ever executed, would set ``window.__xss`` (the browser tests look for
it); the Python checks parse the produced HTML with ``html.parser`` tag by tag: only
allow-listed elements and attributes, no event handler, no URL with a scheme other than
http, https or mailto once entities, whitespace and controls are taken out as a browser
would, and nothing in a terminal rendering but printable text, newlines and tabs.
The allow-list here is written independently of ``nbstream.views.render``'s, so a widened
sanitizer fails these tests.
"""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

X = "window.__xss=1"

PAYLOADS: list[str] = [
    # raw HTML of every kind
    f"<script>{X}</script>",
    f"Hi <img src=x onerror={X}> there",
    f"<svg onload={X}>",
    f"<svg><script>{X}</script></svg>",
    f"<iframe src=javascript:{X}></iframe>",
    f"<iframe srcdoc='<script>{X}</script>'></iframe>",
    "<style>body{display:none}</style>",
    f"<!-- --><img src=x onerror={X}>",
    f'<a href="javascript:{X}">x</a>',
    f"<div onclick={X}>\n\ntext\n\n</div>",
    f"<details open ontoggle={X}>",
    f"<object data='javascript:{X}'></object>",
    f"<form><button formaction=javascript:{X}>x</button></form>",
    f"<math><mtext><table><mglyph><style><img src=x onerror={X}></style></mglyph></table></mtext></math>",
    f"<math><maction actiontype=statusline xlink:href=javascript:{X}>x</maction></math>",
    f"<noscript><p title=\"</noscript><img src=x onerror={X}>\">",
    f"<scr<script>ipt>{X}</script>",
    "<scr",
    "<img src=x onerr",
    # links and images with bad schemes, spelled every way
    f"[x](javascript:{X})",
    f"[x](jav&#x09;ascript:{X})",
    f"[x](JaVaScRiPt:{X})",
    f"[x](  javascript:{X}  )",
    f"[x](&#106;avascript:{X})",
    f"[x](&#x6A;&#x61;&#x76;&#x61;&#x73;&#x63;&#x72;&#x69;&#x70;&#x74;&#x3A;{X})",
    f"[x](javascript&colon;{X})",
    f"[x](javascript&amp;colon;{X})",
    f"[x](<java\tscript:{X}>)",
    f"[x](java\x00script:{X})",
    f"[x](\x01javascript:{X})",
    "[x](vbscript:msgbox(1))",
    "[x](data:text/html;base64,PHNjcmlwdD53aW5kb3cuX194c3M9MTwvc2NyaXB0Pg==)",
    "[x](file:///etc/passwd)",
    f"[x](jav%61script:{X})",
    f"[x]( \njavascript:{X})",
    f"[x](\njavascript:{X})",
    f"![x](javascript:{X})",
    "![x](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)",
    f'![x" onerror="{X}](https://example.com/i.png)',
    f"<javascript:{X}>",
    f"<JAVASCRIPT:{X}>",
    "<data:text/html,x>",
    "<vbscript:msgbox(1)>",
    # reference-style definitions
    f"[x][r]\n\n[r]: javascript:{X}",
    f"[x][r]\n\n[r]: <javascript:{X}> 'title'",
    f"[r]\n\n[r]: JaVaScRiPt:{X}",
    f"[x][r]\n\n[r]:\n  javascript:{X}",
    # tables, lists, quotes
    f"| a | b |\n|---|---|\n| <script>{X}</script> | <img src=x onerror={X}> |",
    f"| a |\n|---|\n| [x](javascript:{X}) |",
    f"- <img src=x onerror={X}>\n- [y](vbscript:x)\n  - <svg onload={X}>",
    f"> <iframe srcdoc='<script>{X}</script>'>",
    # code that tries to leave code (issue 9's list)
    f"```\n</code></pre><script>{X}</script>\n```",
    f'```js" onmouseover="{X}\ncode\n```',
    f"Look: \\`<img src=x onerror={X}>`",
    f"```x`y\n<img src=x onerror={X}>\n```",
    f"- a\n  ```\n<img src=x onerror={X}>\n  ```",
    f"text\u2028```\n<img src=x onerror={X}>\n```",
    f"text\x85```\n<img src=x onerror={X}>\n```",
    f"text\x0b```\n<img src=x onerror={X}>\n```",
    f"text\x0c```\n<img src=x onerror={X}>\n```",
    f"text\x1c```\n<img src=x onerror={X}>\n```",
    f"a\r\n```\r\n<img src=x onerror={X}>\r\n```",
    f"a\r```\r<img src=x onerror={X}>\r```",
    f"````\n```\n<img src=x onerror={X}>\n````",
    f"`<script>{X}</script>`",
    f"``<img src=x onerror={X}>``",
    f'{{"a": "```\\n<img src=x onerror={X}>"}}',
    # titles, emphasis, math
    f'[x](https://ok.example "t" onmouseover={X})',
    f'[x](https://ok.example "a\\" onmouseover=\\"{X}")',
    f"$<script>{X}</script>$ and $$<img src=x onerror={X}>$$",
    f"$\\href{{javascript:{X}}}{{x}}$",
    f"\\(<img src=x onerror={X}>\\) \\[\\href{{javascript:{X}}}{{y}}\\]",
    f"**<script>{X}</script>**",
    f"[<img src=x onerror={X}>](https://ok.example)",
    f"```markdown\n<script>{X}</script>\n[x](javascript:{X})\n```",
    f"&lt;img src=x onerror={X}&gt; &#60;script&#62;{X}&#60;/script&#62;",
    f"&#x2028;```\n<img src=x onerror={X}>",
    # terminal tricks (harmless in HTML, must vanish in a terminal)
    "\x1b]52;c;ZXZpbA==\x07clipboard",
    "\x1b]0;pwned title\x07\x1b[2J\x1b[1;1Hfake status line",
    "\x1bP+q\x1b\\\x9b31mred\x1b[0m\r overwritten",
    "bidi \u202eevil\u202c and \u2066isolate\u2069",
]

# elements a rendering may contain, and the attributes each may carry
HTML_ALLOWED: dict[str, set[str]] = {
    "p": set(), "h1": set(), "h2": set(), "h3": set(), "h4": set(), "h5": set(), "h6": set(),
    "ul": {"style"}, "ol": {"start", "style"}, "li": set(), "blockquote": set(), "pre": set(), "code": {"class"},
    "span": {"style"}, "em": set(), "strong": set(), "s": set(), "br": set(), "hr": set(),
    "table": set(), "thead": set(), "tbody": set(), "tr": set(), "th": {"style"}, "td": {"style"},
    "a": {"href", "title", "target", "rel"}, "img": {"src", "alt", "title", "loading", "referrerpolicy"},
}
MATHML = {"math", "mi", "mn", "mo", "ms", "mtext", "mspace", "mrow", "mfrac", "msqrt", "mroot", "msub",
          "msup", "msubsup", "munder", "mover", "munderover", "mtable", "mtr", "mtd", "mstyle", "mpadded",
          "mphantom", "menclose", "merror", "mmultiscripts", "mprescripts", "none"}
MATHML_ATTRS = {"display", "mathvariant", "stretchy", "fence", "separator", "lspace", "rspace", "largeop",
                "movablelimits", "form", "accent", "accentunder", "linethickness", "width", "height", "depth",
                "columnalign", "rowspacing", "columnspacing", "displaystyle",
                "scriptlevel", "notation", "voffset", "symmetric", "minsize", "maxsize", "columnlines",
                "rowlines", "frame", "mathcolor", "mathsize"}
STYLE_RE = re.compile(r"(?:(?:color|background-color|font-weight|font-style|text-align|text-decoration)"
                      r":[#\w ,.%-]+;?|margin-(?:top|bottom):0;?)*")
CLASS_RE = re.compile(r"language-[\w+#.\-]+")
SAFE_SCHEMES = {"http", "https", "mailto"}
URL_ATTRS = {"href", "src", "action", "formaction", "xlink:href", "data", "srcdoc", "background", "poster"}


def safe_url(value: str) -> bool:
    """As a browser reads it: entities decoded, whitespace and controls removed, scheme case-blind."""
    url = re.sub(r"[\x00-\x20\x7f-\x9f]", "", html.unescape(value))
    match = re.match(r"([A-Za-z][A-Za-z0-9+.\-]*):", url)
    if match:
        return match.group(1).lower() in SAFE_SCHEMES
    return ":" not in re.split(r"[/?#\\]", url, maxsplit=1)[0]


class _Audit(HTMLParser):
    """``strict``: nbstream's own HTML (the allow-list). Otherwise: a trusting renderer's
    output, which may use more markup of its own, but never anything that runs or links out."""

    EXECUTABLE = frozenset({"script", "iframe", "object", "embed", "style", "svg", "form", "base", "meta", "link",
                  "frame", "frameset", "noscript", "template", "textarea", "button", "input", "select",
                  "audio", "video", "source", "applet", "xmp", "noembed", "annotation-xml", "maction", "math"})

    def __init__(self, strict: bool) -> None:
        super().__init__(convert_charrefs=True)
        self.strict = strict
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.strict and tag not in HTML_ALLOWED and tag not in MATHML:
            self.problems.append(f"tag <{tag}>")
        if not self.strict and tag in self.EXECUTABLE:
            self.problems.append(f"tag <{tag}>")
        for name, value in attrs:
            value = value or ""
            if name.startswith("on"):
                self.problems.append(f"event {tag}[{name}]")
            elif name in URL_ATTRS and not safe_url(value):
                self.problems.append(f"url {tag}[{name}={value!r}]")
            elif self.strict:
                allowed = MATHML_ATTRS if tag in MATHML else HTML_ALLOWED.get(tag, set())
                if name not in allowed:
                    self.problems.append(f"attribute {tag}[{name}]")
                elif name == "style" and not STYLE_RE.fullmatch(value):
                    self.problems.append(f"style {value!r}")
                elif name == "class" and not CLASS_RE.fullmatch(value):
                    self.problems.append(f"class {value!r}")
            elif name == "style" and re.search(r"url\(|expression|javascript", value, re.IGNORECASE):
                self.problems.append(f"style {value!r}")

    handle_startendtag = handle_starttag

    def handle_comment(self, data: str) -> None:
        if self.strict:
            self.problems.append("comment")

    def handle_decl(self, decl: str) -> None:
        if self.strict:
            self.problems.append("declaration")


def problems(fragment: str, *, strict: bool = True) -> list[str]:
    """Everything in ``fragment`` that the allow-list (or, not strict, safety) forbids."""
    audit = _Audit(strict)
    audit.feed(fragment)
    audit.close()
    return audit.problems


_TERMINAL_BAD = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def terminal_problems(text: str) -> list[str]:
    """Control characters (ESC included) and bidi overrides a terminal would act on."""
    return [repr(m.group()) for m in _TERMINAL_BAD.finditer(text)]
