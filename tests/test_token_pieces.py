"""Per-piece token counts (the chunk table's ``n_tokens_est``) computed on UTF-8 byte
offsets equal tiktoken's own character offsets, pieces with multi-byte characters,
emoji split across tokens and empty pieces included."""

from __future__ import annotations

import random

import pytest

from nbstream.data import tokens

_ALPHABET = ["a", "b", " ", "é", "世", "🙂", "\n", "ab", "", "x y", " the", "ing", "👩‍💻"]


def test_byte_offset_counts_equal_tiktokens_character_offsets():
    est = tokens.estimator()
    if est._enc is None:
        pytest.skip("no offline tiktoken encoding installed (extra 'tokens')")
    rng = random.Random(7)
    for _ in range(500):
        pieces = ["".join(rng.choice(_ALPHABET) for _ in range(rng.randint(0, 4))) for _ in range(rng.randint(1, 40))]
        if "".join(pieces):
            assert est.per_piece(pieces) == est._per_piece_chars("".join(pieces), pieces), pieces


def test_lone_surrogates_fall_back_to_character_offsets():
    est = tokens.estimator()
    if est._enc is None:
        pytest.skip("no offline tiktoken encoding installed (extra 'tokens')")
    counts = est.per_piece(["ab", "\ud800", "cd"])
    assert sum(counts) == len(est._enc.encode_ordinary("ab\ud800cd")) and len(counts) == 3


@pytest.mark.parametrize("name", [None, tokens.CHARS])
def test_the_total_equals_the_sum_of_the_per_piece_counts(name):
    est = tokens.estimator(name)
    rng = random.Random(11)
    for _ in range(200):
        pieces = ["".join(rng.choice([*_ALPHABET, "\ud800"]) for _ in range(rng.randint(0, 4)))
                  for _ in range(rng.randint(1, 40))]
        assert est.total(pieces) == sum(est.per_piece(pieces)), pieces
