"""JSON encoding and hardened decoding.

msgspec is fast but trusts its input: nesting deeper than the recursion limit raises
``RecursionError`` (or worse, when the limit was raised), invalid UTF-8 raises
``UnicodeDecodeError`` and decoding amplifies memory. Every decode of client input goes
through :func:`decode_json`, which caps the nesting depth before msgspec sees the bytes and
maps every failure to a 400 (malformed) or 422 (valid JSON, wrong shape).
"""

from __future__ import annotations

import re
from typing import Any

import msgspec

from .exceptions import HTTPError

__all__ = ("DEFAULT_MAX_DEPTH", "decode_json", "encode_json", "exceeds_depth")

DEFAULT_MAX_DEPTH = 256

# A JSON string with its escapes; unrolled so that long strings match in linear time.
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_TO_PARENS = bytes.maketrans(b"[]{}", b"()()")


def _enc_hook(obj: Any) -> Any:
    if isinstance(obj, str):  # str subclasses such as URL
        return str(obj)
    # pydantic models (and anything else with the same method) encode through their dump.
    dump = getattr(obj, "model_dump", None)
    if dump is not None:
        return dump(mode="json")
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


_encoder = msgspec.json.Encoder(enc_hook=_enc_hook)
encode_json = _encoder.encode
"""Encode a value as compact JSON bytes (Structs, dataclasses, pydantic models included)."""


def exceeds_depth(data: bytes, limit: int) -> bool:
    """Tell whether JSON ``data`` nests arrays/objects deeper than ``limit``.

    Runs in linear time without recursion; brackets inside strings are ignored. On malformed
    input (an unterminated string, stray closing brackets) the count may be off, which only
    turns one 400 into another: msgspec rejects such input anyway.
    """
    if data.count(b"[") + data.count(b"{") <= limit:
        return False
    if b'"' in data:
        data = _STRING.sub(b'""', data)
    brackets = data.translate(_TO_PARENS, _NOT_BRACKETS)
    depth = 0
    step = max(1, limit // 2)
    for start in range(0, len(brackets), step):
        piece = brackets[start : start + step]
        opens = piece.count(b"(")
        if depth + opens <= limit:
            # The deepest point inside this piece cannot pass the limit: skip it whole.
            depth = max(0, depth + 2 * opens - len(piece))
            continue
        for byte in piece:
            if byte == 40:  # "("
                depth += 1
                if depth > limit:
                    return True
            elif depth:
                depth -= 1
    return False


_decoders: dict[Any, msgspec.json.Decoder[Any]] = {}


def _decoder_for(type_: Any) -> msgspec.json.Decoder[Any]:
    decoder = _decoders.get(type_)
    if decoder is None:
        decoder = _decoders[type_] = msgspec.json.Decoder(type_)
    return decoder


_any_decoder: msgspec.json.Decoder[Any] = msgspec.json.Decoder()


def decode_json(data: bytes, *, max_depth: int = DEFAULT_MAX_DEPTH, type_: Any = Any) -> Any:
    """Decode client JSON, raising :class:`HTTPError` instead of decoder exceptions.

    Args:
        data: The raw bytes.
        max_depth: The deepest nesting of arrays and objects accepted.
        type_: A msgspec-supported type to decode into (Struct, dataclass, ...);
            ``Any`` decodes into plain Python values.

    Raises:
        HTTPError: 400 for malformed JSON, invalid UTF-8, too-deep nesting or numbers out of
            range; 422 when well-formed JSON does not match ``type_``.
    """
    # Each level of nesting takes a byte: a body no longer than the limit cannot pass it.
    if len(data) > max_depth and exceeds_depth(data, max_depth):
        raise HTTPError(400, f"JSON nested deeper than {max_depth} levels")
    try:
        if type_ is Any:
            return _any_decoder.decode(data)
        decoder = _decoders.get(type_)
        if decoder is None:
            decoder = _decoder_for(type_)
        return decoder.decode(data)
    except msgspec.ValidationError as exc:
        if type_ is Any:
            raise HTTPError(400, f"Invalid JSON: {exc}") from None
        raise HTTPError(422, str(exc)) from None
    except msgspec.DecodeError as exc:
        raise HTTPError(400, f"Invalid JSON: {exc}") from None
    except UnicodeDecodeError:
        raise HTTPError(400, "Invalid JSON: body is not valid UTF-8") from None
    except (RecursionError, ValueError) as exc:
        raise HTTPError(400, f"Invalid JSON: {exc}") from None
