"""JSON helpers: the linear-time depth check, decoding errors and encoding."""

from __future__ import annotations

import dataclasses
from typing import Any

import msgspec
import pytest

from fastware_core import HTTPError
from fastware_core._json import DEFAULT_MAX_DEPTH, decode_json, encode_json, exceeds_depth


class Item(msgspec.Struct):
    name: str
    price: int


@dataclasses.dataclass
class Point:
    x: int
    y: int


def arrays(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def objects(depth: int) -> bytes:
    return b'{"a":' * depth + b"1" + b"}" * depth


def test_default_max_depth_is_256() -> None:
    assert DEFAULT_MAX_DEPTH == 256


@pytest.mark.parametrize("limit", [1, 2, 3, 10, 255, 256, 1000])
def test_exactly_at_the_limit_passes_and_one_more_fails(limit: int) -> None:
    assert exceeds_depth(arrays(limit), limit) is False
    assert exceeds_depth(arrays(limit + 1), limit) is True
    assert exceeds_depth(objects(limit), limit) is False
    assert exceeds_depth(objects(limit + 1), limit) is True


def test_mixed_objects_and_arrays_count_together() -> None:
    document = b'{"a": [{"b": [1]}]}'

    assert exceeds_depth(document, 4) is False
    assert exceeds_depth(document, 3) is True


def test_brackets_inside_strings_are_ignored() -> None:
    document = b'["[[[[[[", {"k{{{{": "]]]]"}, "\\"[[[[\\\\", "{"]'

    assert exceeds_depth(document, 2) is False
    assert exceeds_depth(b'["' + b"[" * 10_000 + b'"]', 1) is False


def test_escaped_quote_does_not_end_a_string() -> None:
    document = b'["a\\"[[[[", 1]'

    assert exceeds_depth(document, 1) is False
    assert exceeds_depth(b'["\\\\", [[1]]]', 2) is True


def test_wide_shallow_documents_pass() -> None:
    wide = b"[" + b",".join([b"[]"] * 50_000) + b"]"
    objects_wide = b"[" + b",".join([b'{"a":[1]}'] * 20_000) + b"]"

    assert exceeds_depth(wide, 2) is False
    assert exceeds_depth(wide, 1) is True
    assert exceeds_depth(objects_wide, 3) is False


def test_deep_run_after_a_wide_prefix_is_caught() -> None:
    document = b"[" + b"[]," * 1000 + arrays(300) + b"]"

    assert exceeds_depth(document, 300) is True
    assert exceeds_depth(document, 301) is False


def test_depth_goes_back_down_between_siblings() -> None:
    siblings = b"[" + b",".join([arrays(200)] * 10) + b"]"

    assert exceeds_depth(siblings, 201) is False
    assert exceeds_depth(siblings, 200) is True


def test_decode_json_returns_python_values() -> None:
    assert decode_json(b'{"a": [1, 2.5, "x", null, true]}') == {"a": [1, 2.5, "x", None, True]}


@pytest.mark.parametrize(
    "data",
    [b"", b"{", b'{"a":}', b"[1,]", b"nope", b'{"a": 1} x', b"\xff", b'"\xff"', b"1e400"],
)
def test_decode_json_maps_malformed_input_to_400(data: bytes) -> None:
    with pytest.raises(HTTPError) as caught:
        decode_json(data)
    assert caught.value.status_code == 400
    assert str(caught.value.detail).startswith("Invalid JSON")


def test_decode_json_too_deep_is_a_400() -> None:
    with pytest.raises(HTTPError) as caught:
        decode_json(arrays(11), max_depth=10)
    assert caught.value.status_code == 400
    assert "10" in caught.value.detail
    assert decode_json(arrays(10), max_depth=10) == [[[[[[[[[[]]]]]]]]]]


def test_decode_json_deep_hostile_document_is_a_400_not_a_crash() -> None:
    with pytest.raises(HTTPError) as caught:
        decode_json(b"[" * 1_000_000)
    assert caught.value.status_code == 400


def test_decode_json_into_a_type() -> None:
    assert decode_json(b'{"name": "pen", "price": 2}', type_=Item) == Item("pen", 2)
    assert decode_json(b'{"x": 1, "y": 2}', type_=Point) == Point(1, 2)
    assert decode_json(b"[1, 2]", type_=list[int]) == [1, 2]


@pytest.mark.parametrize(
    ("data", "type_"),
    [
        (b'{"name": "pen", "price": "two"}', Item),
        (b'{"name": "pen"}', Item),
        (b"null", Item),
        (b'{"x": 1}', Point),
        (b'["a"]', list[int]),
    ],
)
def test_decode_json_shape_mismatch_is_a_422(data: bytes, type_: Any) -> None:
    with pytest.raises(HTTPError) as caught:
        decode_json(data, type_=type_)
    assert caught.value.status_code == 422


def test_decode_json_into_a_type_still_maps_malformed_input_to_400() -> None:
    with pytest.raises(HTTPError) as caught:
        decode_json(b'{"name": ', type_=Item)
    assert caught.value.status_code == 400


def test_encode_json_handles_structs_dataclasses_and_model_dump() -> None:
    class Model:
        def model_dump(self, mode: str = "python") -> dict[str, str]:
            return {"mode": mode}

    assert encode_json({"item": Item("pen", 2)}) == b'{"item":{"name":"pen","price":2}}'
    assert encode_json(Point(1, 2)) == b'{"x":1,"y":2}'
    assert encode_json([Model()]) == b'[{"mode":"json"}]'


def test_encode_json_refuses_unknown_objects() -> None:
    with pytest.raises(TypeError, match="not JSON serializable"):
        encode_json(object())
