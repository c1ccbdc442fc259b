"""Level-marked output: single, multiline, stderr, mixed, malformed and oversized input."""

from __future__ import annotations

import pytest

from watchkeeper.agent.parser import LineSplitter, Message, StreamParser


def parse(text: str, plain_level: int = 1, max_bytes: int = 1 << 20) -> list[Message]:
    parser = StreamParser(plain_level, max_bytes)
    splitter = LineSplitter(max_bytes)
    out = []
    for line, cut in [*splitter.feed(text.encode()), *splitter.close()]:
        message = parser.line(line, 100.0, cut)
        if message is not None:
            out.append(message)
    last = parser.close()
    return out + ([last] if last else [])


def test_single_line_messages_carry_their_level():
    found = parse("3::for the public\n9::disk on fire\nplain text\n")
    assert [(m.level, m.data) for m in found] == [
        (3, "for the public"),
        (9, "disk on fire"),
        (1, "plain text"),
    ]
    assert all(m.error is None for m in found)


def test_plain_stderr_lines_are_level_2_and_empty_lines_are_skipped():
    found = parse("oops\n\nagain\r\n", plain_level=2)
    assert [(m.level, m.data) for m in found] == [(2, "oops"), (2, "again")]


def test_multiline_message_until_a_line_of_exactly_three_colons():
    found = parse("4:::first\n  second\n5::not a marker inside\n::: \n:::\nafter\n")
    assert [(m.level, m.data) for m in found] == [
        (4, "first\n  second\n5::not a marker inside\n::: "),
        (1, "after"),
    ]


def test_multiline_opened_without_text_starts_with_its_next_line():
    found = parse('20:::\n{"a":\n 1}\n:::\n')
    assert [(m.level, m.data, m.result) for m in found] == [(20, '{"a":\n 1}', {"a": 1})]


def test_mixed_markers_and_text_that_only_looks_like_one():
    found = parse("12:30 meeting\n7::careful\n100::too high a level\n2::\n")
    assert [(m.level, m.data) for m in found] == [
        (1, "12:30 meeting"),
        (7, "careful"),
        (1, "100::too high a level"),
        (2, ""),
    ]


@pytest.mark.parametrize(
    ("line", "value"),
    [
        ('20::{"ok": true, "n": [1, 2]}', {"ok": True, "n": [1, 2]}),
        ("21::{ok: yes, n: 3}", {"ok": True, "n": 3}),
        ("22::ok = true", {"ok": True}),
        ('30::{"state": "done"}', {"state": "done"}),
    ],
)
def test_results_are_parsed(line, value):
    (message,) = parse(line + "\n")
    assert message.result == value and message.error is None


def test_toml_result_as_a_multiline_message():
    (message,) = parse('22:::ok = true\nname = "x"\n:::\n')
    assert message.result == {"ok": True, "name": "x"}


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("20::{not json", "invalid JSON"),
        ("21::a: [unclosed", "invalid YAML"),
        ("22::= nothing", "invalid TOML"),
        ("30::", "invalid JSON"),
    ],
)
def test_unparsable_results_are_kept_as_text_with_the_reason(line, reason):
    (message,) = parse(line + "\n")
    assert message.data == line.split("::", 1)[1]
    assert message.result is None
    assert message.error is not None and message.error.startswith(reason)


def test_unterminated_multiline_is_kept_at_the_end_of_the_stream():
    (message,) = parse("6:::one\ntwo\n")
    assert (message.level, message.data) == (6, "one\ntwo")
    assert "not closed" in message.error


def test_a_last_line_without_newline_is_not_lost():
    assert [m.data for m in parse("a\nb")] == ["a", "b"]


def test_a_huge_line_is_cut_and_costs_bounded_memory():
    splitter = LineSplitter(1000)
    out = []
    for _ in range(2000):  # 2000 chunks of 64 KiB: 128 MiB without a newline
        out.extend(splitter.feed(b"x" * 65536))
        assert len(splitter._buf) <= 1000 + 65536
    out.extend(splitter.feed(b"tail\nnext line\n"))
    assert [(len(line), cut) for line, cut in out] == [(1000, True), (9, False)]
    parser = StreamParser(1, 1000)
    message = parser.line(out[0][0], 1.0, out[0][1])
    assert message is not None and "cut" in message.error and len(message.data) == 1000


def test_a_huge_multiline_message_is_cut_with_a_note():
    lines = "\n".join(["8:::start", *("y" * 100 for _ in range(100)), ":::"]) + "\n"
    (message,) = parse(lines, max_bytes=1000)
    assert len(message.data) <= 1000 + 100
    assert "cut" in message.error


def test_lines_split_across_chunks_and_invalid_utf8():
    splitter = LineSplitter(100)
    parser = StreamParser(1, 100)
    out = splitter.feed(b"3::hal") + splitter.feed(b"f\xff line\n")
    (message,) = [parser.line(line, 1.0, cut) for line, cut in out]
    assert (message.level, message.data) == (3, "half\ufffd line")
