"""Strict, streaming CSV reading for the AEP importers: every fault names file, line and column.

UTF-8 with or without a BOM, comma-separated, ``"``-quoted, LF or CRLF line ends. Each physical
line is decoded strictly (bad UTF-8 is located to its line and column), rows must have exactly
the header's cells, and numbers are plain decimals without sign or leading zeros. Anything else
is an :class:`~ledger.errors.InputError`: the file is refused whole.
"""

from __future__ import annotations

import csv
import hashlib
import re
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, TypeVar
from zoneinfo import ZoneInfo

from ledger.errors import InputError, Where
from ledger.formats.times import local_to_ms

BOM = b"\xef\xbb\xbf"
#: Longest physical line accepted (a 2024 turnout row with every age column is ~1.5 KB).
MAX_LINE_BYTES = 1 << 20
#: Most digits in a count: far above any electorate, far below 2**64.
MAX_DIGITS = 15

_UINT = re.compile(r"0|[1-9][0-9]*")
_LOCAL_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}")

T = TypeVar("T")


@dataclass(frozen=True, slots=True, kw_only=True)
class CsvRow:
    """One data row: the physical line it starts on and its cells, one per header column."""

    line: int
    cells: list[str]


class CsvFile:
    """One pass over a CSV file: :attr:`header`, then :meth:`rows`; :attr:`digest` at the end."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.name = str(path)
        self.header: tuple[str, ...] = ()
        self._hash = hashlib.sha256()
        self._line = 0
        self.digest: bytes | None = None

    def error(self, message: str, *, line: int | None = None, column: str | None = None,
              ) -> InputError:
        """An :class:`InputError` located in this file."""
        return InputError(message, where=Where(file=self.name, line=line, column=column))

    def rows(self, on_header: Callable[[], None] | None = None) -> Generator[CsvRow, None, None]:
        """Read the header, call ``on_header`` (to check it before any row), then yield rows.

        The whole-file digest is set at the end.

        Raises:
            InputError: the file cannot be opened, is not UTF-8, is empty, or a row is malformed.
        """
        try:
            handle = self.path.open("rb")
        except OSError as e:
            raise self.error(f"cannot open: {e.strerror or e}") from e
        with handle:
            reader = csv.reader(self._lines(handle), strict=True)
            try:
                yield from self._records(reader, on_header)
            except csv.Error as e:
                raise self.error(f"not CSV: {e}", line=self._line) from e
        self.digest = self._hash.digest()

    def _records(
        self, reader: Iterator[list[str]], on_header: Callable[[], None] | None
    ) -> Iterator[CsvRow]:
        header = next(reader, None)
        if header is None:
            raise self.error("empty file: no header line", line=1)
        self.header = tuple(header)
        seen: set[str] = set()
        for name in header:
            if name in seen:
                raise self.error("column appears twice in the header", line=1, column=name)
            seen.add(name)
        if on_header is not None:
            on_header()
        start = self._line + 1
        for cells in reader:
            if len(cells) != len(header):
                if not cells:
                    raise self.error("empty line", line=start)
                column = header[len(cells)] if len(cells) < len(header) else f"#{len(cells)}"
                raise self.error(
                    f"expected {len(header)} cells, found {len(cells)}", line=start,
                    column=column,
                )
            yield CsvRow(line=start, cells=cells)
            start = self._line + 1

    def _lines(self, handle: BinaryIO) -> Iterator[str]:
        # readline with a bound: a file without newlines (/dev/zero) is refused at the limit
        # instead of being read into memory whole.
        while raw := handle.readline(MAX_LINE_BYTES + 1):
            self._line += 1
            self._hash.update(raw)
            if len(raw) > MAX_LINE_BYTES:
                raise self.error(f"line longer than {MAX_LINE_BYTES} bytes", line=self._line)
            if b"\x00" in raw:
                raise self.error("NUL byte in a text file", line=self._line,
                                 column=self._column_at(raw[: raw.index(b"\x00")]))
            if self._line == 1 and raw.startswith(BOM):
                raw = raw[len(BOM):]
            try:
                yield raw.decode("utf-8")
            except UnicodeDecodeError as e:
                raise self.error(
                    f"not UTF-8: byte 0x{raw[e.start]:02x} at byte {e.start + 1} of the line",
                    line=self._line, column=self._column_at(raw[: e.start]),
                ) from e

    def _column_at(self, prefix: bytes) -> str | None:
        # Count the cells before the bad byte to name the column it falls in.
        cells = next(csv.reader([prefix.decode("utf-8", errors="replace")]), [])
        index = max(len(cells) - 1, 0)
        if index < len(self.header):
            return self.header[index]
        return f"#{index + 1}"


def read_validated(path: str | Path, read: Callable[[CsvFile], Iterator[T]]) -> Iterator[T]:
    """Yield ``read``'s items only after a first pass has read and checked the whole file.

    Pass 1 runs ``read`` to the end and keeps nothing but the file's SHA-256; pass 2 reads again
    and yields. If the bytes changed in between, pass 2 raises at its end, so a writer that
    commits only after the iterator is exhausted never commits a half-checked file.

    Raises:
        InputError: any malformed row (before anything is yielded), or the file changed.
    """
    first = CsvFile(path)
    for _ in read(first):
        pass
    second = CsvFile(path)
    yield from read(second)
    if second.digest != first.digest:
        raise second.error("file changed while it was being imported")


def parse_uint(file: CsvFile, text: str, line: int, column: str) -> int:
    """A count: decimal digits, no sign, no leading zeros, at most :data:`MAX_DIGITS` digits."""
    if len(text) > MAX_DIGITS or _UINT.fullmatch(text) is None:
        shown = text if len(text) <= 40 else text[:40] + "..."
        raise file.error(f"not a non-negative whole number: {shown!r}", line=line, column=column)
    return int(text)


def parse_local_time(file: CsvFile, text: str, tz: ZoneInfo, line: int, column: str) -> int:
    """``YYYY-MM-DD HH:MM:SS`` local time in ``tz`` as milliseconds since the epoch, UTC."""
    if _LOCAL_TIME.fullmatch(text) is None:
        raise file.error(f"expected YYYY-MM-DD HH:MM:SS, got {text!r}", line=line, column=column)
    try:
        when = datetime(int(text[0:4]), int(text[5:7]), int(text[8:10]), int(text[11:13]),
                        int(text[14:16]), int(text[17:19]))
    except ValueError as e:
        raise file.error(f"not a calendar time: {text!r}", line=line, column=column) from e
    ms = local_to_ms(when, tz)
    if ms is None:
        raise file.error(f"{text} does not exist in {tz.key} (daylight saving change)",
                         line=line, column=column)
    return ms
