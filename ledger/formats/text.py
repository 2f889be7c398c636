"""Strict text scalars of the C2SP formats: canonical base64, decimals without leading zeros."""

from __future__ import annotations

import base64
import re

from ledger.errors import MalformedError

_DECIMAL = re.compile(r"0|[1-9][0-9]{0,19}")


def decode_base64(text: str, *, what: str, category: str | None = None) -> bytes:
    """Standard padded base64, canonical only (re-encoding must give ``text`` back).

    Raises:
        MalformedError: not base64, or not its canonical form.
    """
    try:
        raw = base64.b64decode(text, validate=True)
    except ValueError as e:  # binascii.Error, or non-ASCII text
        raise MalformedError(f"{what} is not valid base64", category=category) from e
    if base64.b64encode(raw).decode("ascii") != text:
        raise MalformedError(f"{what} is not canonical base64", category=category)
    return raw


def encode_base64(data: bytes) -> str:
    """Standard padded base64 text."""
    return base64.b64encode(data).decode("ascii")


def parse_decimal(text: str, *, what: str, limit: int, category: str | None = None) -> int:
    """ASCII decimal without leading zeros, at most ``limit``.

    Raises:
        MalformedError: anything else.
    """
    if not _DECIMAL.fullmatch(text) or int(text) > limit:
        raise MalformedError(
            f"{what} must be a decimal from 0 to {limit} without leading zeros, got {text[:40]!r}",
            category=category,
        )
    return int(text)




