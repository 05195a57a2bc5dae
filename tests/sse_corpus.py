"""Conformance cases for SSE decoding, shared by tests/test_sse.py and bench/sse.py.

Built from the WHATWG HTML "interpreting an event stream" text (its examples
included) and the web-platform-tests ``eventsource/format-*`` cases. Each case
is ``(name, input, expected)``: ``input`` is the whole byte stream or a list of
chunks fed in order; ``expected`` lists the dispatched events as
``(event, data, id)`` or ``(event, data, id, retry)``; a 3-tuple means the
event's ``retry`` is None. The stream simply ends after the last chunk.
"""

from __future__ import annotations

from typing import NamedTuple

Expected = tuple[str, str, str] | tuple[str, str, str, int | None]


class Case(NamedTuple):
    name: str
    input: bytes | list[bytes]
    expected: list[Expected]


def chunks_of(case: Case) -> list[bytes]:
    """The case's input as a list of chunks."""
    return [case.input] if isinstance(case.input, bytes) else list(case.input)


def normalized(expected: list[Expected]) -> list[tuple[str, str, str, int | None]]:
    """Expected events as 4-tuples (retry None where not given)."""
    return [e if len(e) == 4 else (*e, None) for e in expected]  # type: ignore[misc]


def _u(text: str) -> bytes:
    return text.encode("utf-8")


_LONG = "x" * 5000
M = "message"

CASES: list[Case] = [
    # --- dispatch basics -------------------------------------------------------
    Case("single_event", b"data: hello\n\n", [(M, "hello", "")]),
    Case("two_events", b"data: 1\n\ndata: 2\n\n", [(M, "1", ""), (M, "2", "")]),
    Case("spec_multiline_data", b"data: YHOO\ndata: +2\ndata: 10\n\n", [(M, "YHOO\n+2\n10", "")]),
    Case(
        "spec_example_ids",
        b": test stream\n\ndata: first event\nid: 1\n\ndata:second event\nid\n\ndata:  third event\n\n",
        [(M, "first event", "1"), (M, "second event", ""), (M, " third event", "")],
    ),
    Case("spec_example_empty_data", b"data\n\ndata\ndata\n\ndata:", [(M, "", ""), (M, "\n", "")]),
    Case("spec_example_space_optional", b"data:test\n\ndata: test\n\n", [(M, "test", ""), (M, "test", "")]),
    Case("blank_lines_alone_dispatch_nothing", b"\n\n\ndata: x\n\n\n\n", [(M, "x", "")]),
    Case("empty_stream", b"", []),
    Case("only_newlines", b"\n\r\n\r\n\n", []),
    # --- event type --------------------------------------------------------------
    Case("event_type", b"event: add\ndata: 73857293\n\n", [("add", "73857293", "")]),
    Case(
        "spec_stock_event_types",
        b"event: add\ndata: 73857293\n\nevent: remove\ndata: 2153\n\nevent: add\ndata: 113411\n\n",
        [("add", "73857293", ""), ("remove", "2153", ""), ("add", "113411", "")],
    ),
    Case("event_type_reset_after_dispatch", b"event: a\ndata: 1\n\ndata: 2\n\n", [("a", "1", ""), (M, "2", "")]),
    Case("event_only_block_dispatches_nothing", b"event: a\n\ndata: 1\n\n", [(M, "1", "")]),
    Case("event_only_block_then_event", b"event: a\n\nevent: b\n\n", []),
    Case("wpt_field_event_empty", b"event: \ndata:data\n\n", [(M, "data", "")]),
    Case("wpt_field_event", b"event: test\ndata\n\n", [("test", "", "")]),
    Case("event_without_colon_is_empty", b"event\ndata: x\n\n", [(M, "x", "")]),
    Case("event_last_one_wins", b"event: a\nevent: b\ndata: x\n\n", [("b", "x", "")]),
    Case("event_name_case_sensitive", b"Event: a\nEVENT: b\ndata: x\n\n", [(M, "x", "")]),
    Case("event_keeps_inner_and_trailing_spaces", b"event:  a b \ndata: x\n\n", [(" a b ", "x", "")]),
    Case("event_after_data_in_block", b"data: x\nevent: late\n\n", [("late", "x", "")]),
    Case("event_named_message", b"event: message\ndata: x\n\n", [(M, "x", "")]),
    # --- line endings --------------------------------------------------------------
    Case("crlf", b"data: a\r\n\r\ndata: b\r\n\r\n", [(M, "a", ""), (M, "b", "")]),
    Case("lone_cr", b"data: a\r\rdata: b\r\r", [(M, "a", ""), (M, "b", "")]),
    Case("mixed_endings", b"data: a\r\ndata: b\rdata: c\n\r\n", [(M, "a\nb\nc", "")]),
    Case("wpt_newlines", b"data:test\r\ndata\ndata:test\r\n\r\n", [(M, "test\n\ntest", "")]),
    Case("lf_then_cr_is_two_endings", b"data: a\n\rdata: b\n\n", [(M, "a", ""), (M, "b", "")]),
    Case("cr_cr_lf_is_two_endings", b"data: a\r\r\ndata: b\n\n", [(M, "a", ""), (M, "b", "")]),
    Case(
        "crlf_split_across_chunks",
        [b"data: a\r", b"\ndata: b\r", b"\n\r", b"\n"],
        [(M, "a\nb", "")],
    ),
    Case("cr_at_chunk_end_then_cr", [b"data: a\r", b"\r"], [(M, "a", "")]),
    Case("cr_at_chunk_end_then_text", [b"data: a\r", b"data: b\r\n\r\n"], [(M, "a\nb", "")]),
    Case("crlf_split_by_empty_chunk", [b"data: a\r", b"", b"\n", b"\n"], [(M, "a", "")]),
    Case("crlf_split_then_lf_chunk_is_blank", [b"data: a\r\n", b"\n"], [(M, "a", "")]),
    Case("u2028_u2029_are_data", _u("data: a\u2028b\u2029c\n\n"), [(M, "a\u2028b\u2029c", "")]),
    Case("nel_is_data", _u("data: a\x85b\n\n"), [(M, "a\x85b", "")]),
    Case("vt_ff_separators_are_data", b"data: a\x0bb\x0cc\x1cd\x1de\x1ef\n\n", [(M, "a\x0bb\x0cc\x1cd\x1de\x1ef", "")]),
    # --- BOM ---------------------------------------------------------------------
    Case("bom_stripped", b"\xef\xbb\xbfdata: 1\n\n", [(M, "1", "")]),
    Case("wpt_bom", _u("\ufeffdata:1\n\n\ufeffdata:2\n\ndata:3\n\n"), [(M, "1", ""), (M, "3", "")]),
    Case("wpt_bom_2", _u("\ufeff\ufeffdata:1\n\ndata:2\n\ndata:3\n\n"), [(M, "2", ""), (M, "3", "")]),
    Case("bom_split_across_chunks", [b"\xef", b"\xbb", b"\xbfdata: 1\n\n"], [(M, "1", "")]),
    Case("bom_alone_in_first_chunk", [b"\xef\xbb\xbf", b"data: 1\n\n"], [(M, "1", "")]),
    Case("bom_after_empty_chunk", [b"", b"\xef\xbb\xbfdata: 1\n\n"], [(M, "1", "")]),
    Case("bom_inside_data_kept", b"data: a\xef\xbb\xbfb\n\n", [(M, "a\ufeffb", "")]),
    Case("bom_at_line_start_later_is_field_name", b"data: 1\n\xef\xbb\xbfdata: 2\n\n", [(M, "1", "")]),
    Case("bom_then_crlf", b"\xef\xbb\xbf\r\ndata: x\r\n\r\n", [(M, "x", "")]),
    # --- comments ------------------------------------------------------------------
    Case("comment_ignored", b": hello\ndata: x\n\n", [(M, "x", "")]),
    Case("comments_only", b": ping\n\n: ping\n\n", []),
    Case(
        "wpt_comments",
        _u("data:1\r:\0\n:\r\ndata:2\n:" + _LONG + "\rdata:3\n:data:fail\r:" + _LONG + "\ndata:4\n\n"),
        [(M, "1\n2\n3\n4", "")],
    ),
    Case("bare_colon_comment", b":\ndata: x\n\n", [(M, "x", "")]),
    Case("comment_inside_block", b"data: a\n: c\ndata: b\n\n", [(M, "a\nb", "")]),
    Case("space_then_colon_is_not_comment", b" :x\ndata: y\n\n", [(M, "y", "")]),
    Case("keepalive_comments_between_events", b": ka\n\ndata: x\n\n: ka\n\n", [(M, "x", "")]),
    # --- field parsing ---------------------------------------------------------------
    Case("data_without_colon_is_empty", b"data\n\n", [(M, "", "")]),
    Case("wpt_field_data", b"data:\n\ndata\ndata\n\ndata:test\n\n", [(M, "", ""), (M, "\n", ""), (M, "test", "")]),
    Case("only_one_space_removed", b"data:  two\n\n", [(M, " two", "")]),
    Case("no_space_after_colon", b"data:x\n\n", [(M, "x", "")]),
    Case("wpt_leading_space", b"data:\ttest\rdata: \ndata:test\n\n", [(M, "\ttest\n\ntest", "")]),
    Case("trailing_spaces_kept", b"data: x  \n\n", [(M, "x  ", "")]),
    Case("value_with_colons", b"data: a:b: c\n\n", [(M, "a:b: c", "")]),
    Case("field_names_case_sensitive", b"DATA: x\nData: y\ndata: z\n\n", [(M, "z", "")]),
    Case("space_before_colon_is_other_field", b"data : x\ndata: y\n\n", [(M, "y", "")]),
    Case(
        "wpt_field_unknown",
        b"data:test\n data\ndata\nfoobar:xxx\njustsometext\n:thisisacommentyay\ndata:test\n\n",
        [(M, "test\n\ntest", "")],
    ),
    Case(
        "wpt_field_parsing",
        b"data:\x00\ndata:  2\rData:1\ndata\x00:2\ndata:1\r\x00data:4\nda-ta:3\rdata_5\ndata:3\rdata:\r\n"
        b" data:32\ndata:4\n\n",
        [(M, "\x00\n 2\n1\n3\n\n4", "")],
    ),
    Case("wpt_null_character", b"data:\x00\n\n\n\n", [(M, "\x00", "")]),
    Case("data_single_space_is_empty", b"data: \n\n", [(M, "", "")]),
    Case("data_three_spaces", b"data:   \n\n", [(M, "  ", "")]),
    Case("unknown_field_only_block", b"foo: bar\n\ndata: x\n\n", [(M, "x", "")]),
    # --- data joining ----------------------------------------------------------------
    Case("empty_data_line_in_middle", b"data: a\ndata:\ndata: b\n\n", [(M, "a\n\nb", "")]),
    Case("empty_data_line_at_end", b"data: a\ndata\n\n", [(M, "a\n", "")]),
    Case("empty_data_line_at_start", b"data\ndata: a\n\n", [(M, "\na", "")]),
    Case("escaped_newline_in_json_untouched", b'data: {"a": "b\\nc"}\n\n', [(M, '{"a": "b\\nc"}', "")]),
    # --- id ------------------------------------------------------------------------------
    Case("id_sets_last_event_id", b"id: 1\ndata: x\n\n", [(M, "x", "1")]),
    Case("id_persists", b"id: 1\ndata: a\n\ndata: b\n\n", [(M, "a", "1"), (M, "b", "1")]),
    Case("empty_id_resets", b"id: 1\ndata: a\n\nid:\ndata: b\n\n", [(M, "a", "1"), (M, "b", "")]),
    Case("id_without_colon_resets", b"id: 1\ndata: a\n\nid\ndata: b\n\n", [(M, "a", "1"), (M, "b", "")]),
    Case("id_with_nul_ignored", b"id: 1\ndata: a\n\nid: 2\x003\ndata: b\n\n", [(M, "a", "1"), (M, "b", "1")]),
    Case("id_only_nul_ignored", b"id: \x00\ndata: x\n\n", [(M, "x", "")]),
    Case("id_only_block_updates_id", b"id: 7\n\ndata: x\n\n", [(M, "x", "7")]),
    Case("id_after_data_in_block", b"data: x\nid: 9\n\n", [(M, "x", "9")]),
    Case("id_last_one_wins", b"id: 1\nid: 2\ndata: x\n\n", [(M, "x", "2")]),
    Case("id_keeps_inner_spaces", b"id:  a b\ndata: x\n\n", [(M, "x", " a b")]),
    Case("id_unicode", _u("id: é\ndata: x\n\n"), [(M, "x", "é")]),
    Case("id_name_case_sensitive", b"ID: 1\nId: 2\ndata: x\n\n", [(M, "x", "")]),
    Case("extra_blank_line_after_id_event", b"id: 1\ndata: a\n\n\ndata: b\n\n", [(M, "a", "1"), (M, "b", "1")]),
    Case("keepalive_comment_after_id_event", b"id: 1\ndata: a\n\n: ka\n\n", [(M, "a", "1")]),
    Case("id_in_unterminated_block_not_dispatched", b"data: a\n\nid: 5\ndata: b", [(M, "a", "")]),
    # --- retry -----------------------------------------------------------------------------
    Case("retry_on_event", b"retry: 1000\ndata: x\n\n", [(M, "x", "", 1000)]),
    Case("wpt_field_retry_leading_zero", b"retry:03000\ndata:x\n\n", [(M, "x", "", 3000)]),
    Case("retry_zero", b"retry: 0\ndata: x\n\n", [(M, "x", "", 0)]),
    Case("retry_huge", b"retry: 99999999999999999999\ndata: x\n\n", [(M, "x", "", 99999999999999999999)]),
    Case("retry_bogus_ignored", b"retry: 1000x\ndata: x\n\n", [(M, "x", "")]),
    Case("wpt_field_retry_bogus_keeps_previous", b"retry:3000\nretry:1000x\ndata:x\n\n", [(M, "x", "", 3000)]),
    Case("retry_extra_space_ignored", b"retry:  1000\ndata: x\n\n", [(M, "x", "")]),
    Case("retry_trailing_space_ignored", b"retry: 1000 \ndata: x\n\n", [(M, "x", "")]),
    Case("retry_plus_sign_ignored", b"retry: +1000\ndata: x\n\n", [(M, "x", "")]),
    Case("retry_negative_ignored", b"retry: -1\ndata: x\n\n", [(M, "x", "")]),
    Case("retry_underscore_ignored", b"retry: 1_000\ndata: x\n\n", [(M, "x", "")]),
    Case("retry_decimal_ignored", b"retry: 1.5\ndata: x\n\n", [(M, "x", "")]),
    Case("retry_non_ascii_digits_ignored", _u("retry: \u0661\u0662\ndata: x\n\n"), [(M, "x", "")]),
    Case("wpt_field_retry_empty", b"retry\ndata:test\n\n", [(M, "test", "")]),
    Case("retry_empty_value_ignored", b"retry:\ndata: x\n\n", [(M, "x", "")]),
    Case("retry_belongs_to_its_block", b"retry: 5\ndata: a\n\ndata: b\n\n", [(M, "a", "", 5), (M, "b", "")]),
    Case("retry_only_block_dispatches_nothing", b"retry: 5\n\n", []),
    Case(
        "wpt_data_before_final_empty_line",
        b"retry:1000\ndata:test1\n\nid:test\ndata:test2",
        [(M, "test1", "", 1000)],
    ),
    # --- end of stream --------------------------------------------------------------------
    Case("unterminated_event_discarded", b"data: x\n", []),
    Case("unterminated_line_discarded", b"data: x", []),
    Case("unterminated_after_complete_event", b"data: 1\n\ndata: 2\n", [(M, "1", "")]),
    Case("unterminated_cr", b"data: 1\r", []),
    Case("terminated_by_two_crs", b"data: 1\r\r", [(M, "1", "")]),
    # --- UTF-8 -----------------------------------------------------------------------------
    Case("utf8_multibyte", _u("data: héllo 日本 🎉\n\n"), [(M, "héllo 日本 🎉", "")]),
    Case(
        "utf8_split_into_single_bytes",
        [bytes([b]) for b in _u("data: é日🎉\n\n")],
        [(M, "é日🎉", "")],
    ),
    Case("utf8_split_before_cr", [b"data: \xc3", b"\xa9\r", b"\n\n"], [(M, "é", "")]),
    Case("invalid_byte_replaced", b"data: a\xffb\n\n", [(M, "a\ufffdb", "")]),
    Case("truncated_sequence_replaced", b"data: \xe2\x82\n\n", [(M, "\ufffd", "")]),
    Case("overlong_replaced", b"data: \xc0\xaf\n\n", [(M, "\ufffd\ufffd", "")]),
    Case("surrogate_replaced", b"data: \xed\xa0\x80\n\n", [(M, "\ufffd\ufffd\ufffd", "")]),
    Case("invalid_split_across_chunks", [b"data: \xf0\x9f", b"\x98x\n\n"], [(M, "\ufffdx", "")]),
    Case("invalid_in_id", b"id: \xff\ndata: x\n\n", [(M, "x", "\ufffd")]),
    Case("latin1_is_not_guessed", b"data: caf\xe9\n\n", [(M, "caf\ufffd", "")]),
    Case("lone_continuation_bytes", b"data: \x80\x80\n\n", [(M, "\ufffd\ufffd", "")]),
    # --- chunking and realistic streams ---------------------------------------------------
    Case("chunk_split_inside_field_name", [b"da", b"ta", b": x", b"\n", b"\n"], [(M, "x", "")]),
    Case("chunk_split_after_colon", [b"data:", b" x\n\n"], [(M, "x", "")]),
    Case(
        "openai_chat_chunks",
        b'data: {"choices":[{"delta":{"content":"Hi"}}]}\n\ndata: [DONE]\n\n',
        [(M, '{"choices":[{"delta":{"content":"Hi"}}]}', ""), (M, "[DONE]", "")],
    ),
    Case(
        "anthropic_named_events",
        b'event: message_start\ndata: {"type":"message_start"}\n\nevent: ping\ndata: {"type": "ping"}\n\n',
        [("message_start", '{"type":"message_start"}', ""), ("ping", '{"type": "ping"}', "")],
    ),
    Case(
        "everything_mixed",
        b"\xef\xbb\xbf: hi\r\nid: 1\r\nevent: a\r\ndata: x\r\ndata:y\r\nretry: 10\r\n\r\n"
        b"id\rdata\r\r",
        [("a", "x\ny", "1", 10), (M, "", "")],
    ),
]

assert len({c.name for c in CASES}) == len(CASES), "duplicate case names"
