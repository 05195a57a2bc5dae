"""The demo's answer texts: deterministic, Markdown-rich, picked by a stable hash.

Same prompt, same answer, byte for byte, in every process: notebooks that print a
demo answer stay comparable under nbval. Every default template carries a heading, a
paragraph naming the topic of the last user message, a bullet list, a numbered list, a
fenced Python block, a table, inline code, inline math ``$E = mc^2$`` and a display
math block, so a renderer shows all of them while tokens arrive.
"""

from __future__ import annotations

import re

from ._tokens import count_tokens, stable_hash

__all__ = [
    "topic_of", "default_answer", "long_answer", "reasoning_text", "xss_answer", "fenced_answer",
    "tool_result_answer",
]

_TEMPLATES: tuple[str, ...] = (
    """## Streaming, one token at a time

You asked about *{topic}*. This demo answer is deterministic: the same question always gets the same text.

- The first token marks the **time to first token**
- Every later token adds to the running text
- The `finish_reason` says why the answer ended

1. Send the request
2. Read each event as it arrives
3. Render the final Markdown

```python
def tokens_per_second(tokens, seconds):
    return tokens / seconds
```

| Metric | Meaning |
| --- | --- |
| TTFT | time to first token |
| TPS | tokens per second |

Recall $E = mc^2$; the mean gap between tokens is

$$
\\bar{{g}} = \\frac{{t_n - t_1}}{{n - 1}}
$$
""",
    """## Notes on {topic}

Here is a short, structured reply about *{topic}*. The text never changes for the same prompt, which makes it handy for tests.

- Headings give the answer a shape
- Lists keep the steps readable
- Code such as `len(tokens)` stays inline

1. Measure the latency
2. Count the tokens
3. Divide to get the rate

```python
import time

start = time.perf_counter()
elapsed = time.perf_counter() - start
```

| Step | Cost |
| --- | --- |
| prompt | paid once |
| decode | paid per token |

Physics would say $E = mc^2$; for streams, the total time is roughly

$$
T \\approx t_{{first}} + \\frac{{n}}{{r}}
$$
""",
    """## A small worked example

Let us take *{topic}* as the running example. It streams at a steady pace, with a little seeded jitter.

- **Latency**: the wait for the start
- **Throughput**: the pace of the rest
- **Jitter**: the spread of the `gaps`

1. Start the stream
2. Watch the cell update
3. Inspect the recorded events

```python
gaps = [b - a for a, b in zip(times, times[1:])]
print(sum(gaps) / len(gaps))
```

| Term | Unit |
| --- | --- |
| latency | seconds |
| rate | tokens per second |

Inline $E = mc^2$ sits in a sentence; display math stands alone:

$$
r = \\frac{{n}}{{t_n - t_1}}
$$
""",
    """## Quick answer

In short, *{topic}* is a good question for a streaming demo. The reply below is built from fixed parts chosen by a stable hash of your prompt.

- Text arrives in small deltas
- Each delta is stamped with a time
- The final text is the join of all deltas

1. Open the connection
2. Decode the events
3. Close the stream at `[DONE]`

```python
text = "".join(deltas)
assert text.endswith("\\n")
```

| Event | Carries |
| --- | --- |
| delta | new text |
| finish | the reason |

A classic formula is $E = mc^2$; the tokens left after time $t$ are

$$
n(t) = n - r \\, (t - t_0)
$$
""",
)

_REASONING = (
    "The user asks about {topic}. I should answer with a clear structure: a heading, "
    "a short paragraph, two lists, a code example, a table and some math. "
    "Keeping it short and deterministic matters more than being exhaustive, "
    "so I will follow the usual template."
)

_XSS = """## Untrusted output

This answer about *{topic}* contains markup that a safe renderer must not execute:

<script>window.__xss=1</script>

<img src=x onerror="window.__xss=1">

A link that should be neutralised: [click](javascript:window.__xss=1).

If `window.__xss` is still undefined after rendering, the renderer escaped it.
"""

_FENCED = """```markdown
# {title}

Models often wrap a whole answer in a Markdown fence, like this one about *{topic}*.

```python
print("a fence inside a fence")
```

The renderer has to decide where each fence ends.
```
"""

_TOOL_RESULT = """The `{name}` tool returned:

> {result}

So, about *{topic}*: the answer is in the result above.
"""

_WORD = re.compile(r"[^\W_][\w'-]*")
_LONG_TARGET = 2000


def topic_of(text: str, words: int = 6) -> str:
    """The first few words of ``text``, stripped of Markdown, for quoting in an answer."""
    found = _WORD.findall(text)[:words]
    return " ".join(found) if found else "your question"


def default_answer(prompt: str, variant: int = 0) -> str:
    """The standard answer for ``prompt``; ``variant`` picks another template (for n > 1)."""
    index = (stable_hash(prompt) + variant) % len(_TEMPLATES)
    return _TEMPLATES[index].format(topic=topic_of(prompt))


def long_answer(prompt: str, variant: int = 0) -> str:
    """About 2,000 tokens: numbered parts cycling through the templates."""
    topic = topic_of(prompt)
    start = stable_hash(prompt) + variant
    parts = [f"# A long answer about {topic}\n\n"]
    total = count_tokens(parts[0])
    part = 1
    while total < _LONG_TARGET:
        body = _TEMPLATES[(start + part) % len(_TEMPLATES)].format(topic=topic)
        body = body.replace("## ", f"## Part {part}: ", 1)
        parts.append(body + "\n")
        total += count_tokens(parts[-1])
        part += 1
    return "".join(parts)


def reasoning_text(prompt: str) -> str:
    """The visible reasoning that ``demo-reasoning`` streams before its answer."""
    return _REASONING.format(topic=topic_of(prompt))


def xss_answer(prompt: str) -> str:
    """An answer full of script injection attempts, for renderer safety tests."""
    return _XSS.format(topic=topic_of(prompt))


def fenced_answer(prompt: str) -> str:
    """The whole answer inside a ```markdown fence that itself holds a python fence."""
    topic = topic_of(prompt)
    return _FENCED.format(topic=topic, title=topic.capitalize())


def tool_result_answer(prompt: str, tool_name: str, result: str) -> str:
    """The text answer after a tool call: quotes (a one-line cut of) the tool's result."""
    flat = " ".join(result.split())
    if len(flat) > 300:
        flat = flat[:297] + "..."
    return _TOOL_RESULT.format(name=tool_name, result=flat or "(nothing)", topic=topic_of(prompt))
