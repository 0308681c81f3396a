from __future__ import annotations

import dataclasses

import msgspec
import pytest

from fastware_sse import EventValidationError, encode_payload, format_event
from fastware_sse.framing import HEARTBEAT, format_comment, format_retry, validate_event_name


class Point(msgspec.Struct):
    x: int
    y: int


@dataclasses.dataclass
class Label:
    text: str


def test_a_dict_is_compact_json() -> None:
    assert encode_payload({"a": 1, "b": [1, 2]}) == '{"a":1,"b":[1,2]}'


def test_a_str_is_sent_verbatim() -> None:
    assert encode_payload('{"not": "re-encoded"}') == '{"not": "re-encoded"}'


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ([1, "a"], '[1,"a"]'),
        (42, "42"),
        (1.5, "1.5"),
        (None, "null"),
        (True, "true"),
        (Point(1, 2), '{"x":1,"y":2}'),
        (Label("hi"), '{"text":"hi"}'),
    ],
)
def test_any_msgspec_encodable_payload_is_json(value: object, text: str) -> None:
    assert encode_payload(value) == text


def test_an_unencodable_payload_is_a_clear_error() -> None:
    with pytest.raises(EventValidationError, match="object"):
        encode_payload(object())


def test_event_wire_format() -> None:
    assert format_event("tick", "1") == b"event: tick\ndata: 1\n\n"
    assert format_event("tick", "1", "abc-3") == b"id: abc-3\nevent: tick\ndata: 1\n\n"


@pytest.mark.parametrize(
    ("data", "lines"),
    [
        ("a\nb", ["a", "b"]),
        ("a\r\nb", ["a", "b"]),
        ("a\rb", ["a", "b"]),
        ("a\n", ["a", ""]),
        ("\n\n", ["", "", ""]),
        ("", [""]),
        ("a\u2028b", ["a\u2028b"]),  # only CR and LF end lines in an event stream
    ],
)
def test_every_line_of_the_payload_gets_a_data_field(data: str, lines: list[str]) -> None:
    expected = "event: e\n" + "".join(f"data: {line}\n" for line in lines) + "\n"
    assert format_event("e", data) == expected.encode()


def test_no_raw_carriage_return_reaches_the_wire() -> None:
    frame = format_event("e", "one\rtwo\r\nthree")
    assert b"\r" not in frame


def test_utf8_payloads() -> None:
    assert format_event("e", "héllo ☃") == "event: e\ndata: héllo ☃\n\n".encode()


def test_heartbeat_comment_and_retry() -> None:
    assert HEARTBEAT == b": heartbeat\n\n"
    assert format_comment("a\nb") == b": a\n: b\n\n"
    assert format_retry(2.5) == b"retry: 2500\n\n"


@pytest.mark.parametrize("name", ["", "a\nb", "a\rb", "a\x00"])
def test_event_names_that_would_break_the_framing_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match="event name"):
        validate_event_name(name)
