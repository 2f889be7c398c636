"""Canonical MessagePack (docs/records.md, "Record kinds"): the only module that imports
``msgpack``.

One byte form per value: str keys sorted by their UTF-8 bytes, no duplicates, every integer and
length header in its shortest form (non-negative integers in the unsigned family), str for text,
bin for bytes; only int, str, bin, bool, array and map; nothing after the value. Decoding uses
msgpack's C unpacker with strict limits, checks types and key order, then re-encodes and compares
bytes. Any failure is re-read by a plain byte scanner that says exactly what and where.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import msgpack

from ledger.errors import MalformedError

#: Default size limit of one decoded value: the largest entry (docs/records.md, "Entries").
MAX_VALUE_SIZE = 65_535
#: Default limit on the items of one array or map: no limit of ours beyond the size, since each
#: item takes at least one byte (an entry is bounded by its 65,535 bytes alone, docs/records.md,
#: "Canonical MessagePack"; an auditor with a private limit would refuse logs others accept).
MAX_ITEMS = MAX_VALUE_SIZE
#: Default limit on nesting (a record is at most 3 deep).
MAX_DEPTH = 8

# One packer, reused: packing holds the GIL throughout, and a packer resets after each value.
_repack = msgpack.Packer(use_bin_type=True).pack

_INT_MIN = -(2**63)
#: Largest integer a value holds (MessagePack uint64).
UINT_MAX = 2**64 - 1
_ENCODE_DEPTH = 64


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


def encode_checked(value: Any) -> bytes:
    """Bytes of a value already in canonical form: maps built in key order from checked fields.

    The fast path for records (docs/performance.md: no sorting in Python); it checks nothing,
    so use :func:`encode_value` for anything not built that way.

    Raises:
        ValueError: a value msgpack cannot pack at all (an integer outside 64 bits).
    """
    try:
        return msgpack.packb(value, use_bin_type=True)  # type: ignore[no-any-return]
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
        value = _unpack(data, max_size, max_items)
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


def unpack_shortest(data: bytes, *, max_size: int = MAX_VALUE_SIZE) -> Any | None:
    """The value in ``data`` when ``data`` is exactly its shortest encoding, else None.

    A fast path for values whose schema the caller checks field by field: map key order and
    value types are NOT checked here (a float, a nil or an unsorted map may come back), so only
    a caller that checks both may use it. None says nothing about why (and a lone nil reads
    the same: callers expect a map); :func:`decode_value` explains.
    """
    if len(data) > max_size:
        return None
    try:
        value = _unpack(data, max_size, MAX_ITEMS)
        again = _repack(value)
    except (ValueError, TypeError, OverflowError, msgpack.UnpackException):
        return None  # decode_value says what is wrong
    return value if again == data else None


def _unpack(data: bytes, max_size: int, max_items: int) -> Any:
    """msgpack's C unpacker: str keys, no raw strings, no ext types, every length bounded."""
    return msgpack.unpackb(
        data,
        raw=False,
        strict_map_key=True,
        max_str_len=max_size,
        max_bin_len=max_size,
        max_array_len=max_items,
        max_map_len=max_items,
        max_ext_len=0,
    )


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
        previous = ""
        first = True
        for key in value:
            if type(key) is not str:
                return "a map key is not a str"
            if key <= previous and not first:
                return f"map key {key!r} is not after {previous!r}"
            previous = key
            first = False
        return _items_problem(value.values(), depth_left - 1)
    if t is list:
        return _items_problem(value, depth_left - 1)
    return f"a {t.__name__} is not allowed"


def _items_problem(items: Iterable[Any], depth_left: int) -> str | None:
    """The first problem among the values of a map or the items of an array, or None."""
    for item in items:
        i = type(item)
        if i is int or i is str or i is bytes or i is bool:
            continue
        if (reason := _type_and_order_problem(item, depth_left)) is not None:
            return reason
    return None


def _canonical(value: Any, depth: int) -> Any:
    """``value`` checked for the canonical types, with maps in key order (copied only if not)."""
    t = type(value)
    if t is str or t is bool or t is bytes:
        return value
    if t is int:
        if not _INT_MIN <= value <= UINT_MAX:
            raise ValueError(f"integer {value} is outside the 64-bit range")
        return value
    if depth >= _ENCODE_DEPTH:
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
    """Scan ``data`` byte by byte and return its first canonical-form violation, or None.

    Slow but exact: it runs only once the fast path has refused ``data``, to say what and where.
    """
    scan = _Scan(data, limits)
    try:
        scan.value("", 0)
        if scan.pos != len(data):
            extra = len(data) - scan.pos
            raise scan.error(
                scan.pos, "", f"{extra} trailing byte(s) after the value", "trailing-bytes"
            )
    except MalformedError as e:
        return e
    return None


_FORBIDDEN = {0xC0: "nil", 0xC1: "the never-used byte 0xc1", 0xCA: "a float32", 0xCB: "a float64"}
# Smallest value each wider header may carry: below it, a shorter form exists.
_UINT_MIN = {0xCC: 0x80, 0xCD: 0x100, 0xCE: 0x1_0000, 0xCF: 0x1_0000_0000}
_INT_MAX = {0xD0: -0x21, 0xD1: -0x81, 0xD2: -0x8001, 0xD3: -0x8000_0001}
_WIDTH = {0xCC: 1, 0xCD: 2, 0xCE: 4, 0xCF: 8, 0xD0: 1, 0xD1: 2, 0xD2: 4, 0xD3: 8}
# header byte -> (what, length bytes, smallest length that needs this header)
_SIZED = {
    0xC4: ("bin", 1, 0),
    0xC5: ("bin", 2, 0x100),
    0xC6: ("bin", 4, 0x1_0000),
    0xD9: ("str", 1, 32),
    0xDA: ("str", 2, 0x100),
    0xDB: ("str", 4, 0x1_0000),
    0xDC: ("array", 2, 16),
    0xDD: ("array", 4, 0x1_0000),
    0xDE: ("map", 2, 16),
    0xDF: ("map", 4, 0x1_0000),
}


class _Scan:
    """A strict MessagePack reader over bytes that raises at the first non-canonical byte."""

    __slots__ = ("data", "limits", "pos")

    def __init__(self, data: bytes, limits: Limits) -> None:
        self.data = data
        self.limits = limits
        self.pos = 0

    def error(self, at: int, path: str, message: str, code: str) -> MalformedError:
        where = f"in {path!r}" if path else "at the top level"
        return MalformedError(f"byte {at} ({where}): {message}", code=code)

    def take(self, n: int, path: str) -> bytes:
        if self.pos + n > len(self.data):
            left = len(self.data) - self.pos
            raise self.error(
                self.pos, path, f"truncated: {n} bytes needed, {left} left", "truncated"
            )
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def value(self, path: str, depth: int) -> object:
        """Read one value; return it when it is a str (map keys are compared), else None."""
        at = self.pos
        b = self.take(1, path)[0]
        if b <= 0x7F or b >= 0xE0 or b in (0xC2, 0xC3):
            return None
        if b in _FORBIDDEN or 0xC7 <= b <= 0xC9 or 0xD4 <= b <= 0xD8:
            what = _FORBIDDEN.get(b, "an ext type")
            raise self.error(at, path, f"{what} (0x{b:02x}) is not allowed", "forbidden-type")
        if b in _WIDTH:
            self.integer(b, at, path)
            return None
        if 0x80 <= b <= 0x9F:
            kind, n = ("map" if b < 0x90 else "array"), b & 0x0F
        elif 0xA0 <= b <= 0xBF:
            kind, n = "str", b & 0x1F
        else:
            kind, size, smallest = _SIZED[b]
            n = int.from_bytes(self.take(size, path), "big")
            if n < smallest:
                raise self.error(
                    at,
                    path,
                    f"{kind} of length {n} with a {size}-byte length "
                    "header: a shorter header holds it",
                    "not-shortest",
                )
        if kind == "str" or kind == "bin":
            chunk = self.take(n, path)
            if kind == "bin":
                return None
            try:
                return chunk.decode("utf-8")
            except UnicodeDecodeError as e:
                raise self.error(at, path, f"str is not UTF-8: {e.reason}", "invalid-utf8") from e
        if n > self.limits.max_items:
            raise self.error(
                at,
                path,
                f"{kind} of {n} items, over the limit of {self.limits.max_items}",
                "too-many-items",
            )
        if depth >= self.limits.max_depth:
            raise self.error(at, path, f"nested deeper than {self.limits.max_depth}", "too-deep")
        if kind == "array":
            for i in range(n):
                self.value(f"{path}[{i}]", depth + 1)
        else:
            self.map_items(n, path, depth)
        return None

    def integer(self, b: int, at: int, path: str) -> None:
        raw = self.take(_WIDTH[b], path)
        if b in _UINT_MIN:
            n = int.from_bytes(raw, "big")
            if n < _UINT_MIN[b]:
                raise self.error(
                    at, path, f"{n} written as 0x{b:02x}: a shorter form holds it", "not-shortest"
                )
            return
        n = int.from_bytes(raw, "big", signed=True)
        if n >= 0:
            raise self.error(
                at,
                path,
                f"non-negative {n} in a signed format (0x{b:02x}): "
                "non-negative integers use the unsigned forms",
                "not-shortest",
            )
        if n > _INT_MAX[b]:
            raise self.error(
                at, path, f"{n} written as 0x{b:02x}: a shorter form holds it", "not-shortest"
            )

    def map_items(self, n: int, path: str, depth: int) -> None:
        previous: bytes | None = None
        for _ in range(n):
            at = self.pos
            key = self.value(f"{path}.<key>" if path else "<key>", depth + 1)
            if not isinstance(key, str):
                raise self.error(at, path, "a map key is not a str", "key-not-str")
            raw = key.encode("utf-8")
            if previous is not None and raw <= previous:
                code = "duplicate-key" if raw == previous else "keys-unsorted"
                order = "repeated" if raw == previous else "not after the key before it"
                raise self.error(at, path, f"key {key!r} {order}", code)
            previous = raw
            self.value(f"{path}.{key}" if path else key, depth + 1)
