"""One way in to the results (PV) forms: the AEP form and the BEC 2019 form with its legend.

The BEC 2019 form needs what its rows do not say (docs/records.md, "The BEC 2019 PV form"): a
legend file for the competitors' names, the category when the file name does not give it, and
the reports' time. Those options apply to that form only.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ledger.errors import InputError
from ledger.formats.times import parse_time
from ledger.importers import PV_FORMATS
from ledger.importers.aep_pv import PvHeader, PvRow, import_pv, read_pv, read_pv_header
from ledger.importers.bec2019_pv import (
    import_bec2019,
    read_bec2019,
    read_bec2019_header,
    read_legend,
)


@dataclass(frozen=True, slots=True, kw_only=True)
class PvOptions:
    """What a PV form may need besides the file: a legend file, a category, the reports' time
    (``YYYY-MM-DD HH:MM[:SS]``, local in the election's zone unless it has an offset)."""

    legend: str | Path | None = None
    category: str | None = None
    at: str | None = None

    @property
    def given(self) -> bool:
        """True when any option is set."""
        return self.legend is not None or self.category is not None or self.at is not None


NO_OPTIONS = PvOptions()


def _check(fmt: str, options: PvOptions) -> None:
    if fmt not in PV_FORMATS:
        raise InputError(f"unknown PV format {fmt!r}: expected one of {', '.join(PV_FORMATS)}")
    if fmt == "aep-pv" and options.given:
        raise InputError("a legend file, a category and a report time apply to the BEC 2019 "
                         "form only (the AEP form says them in its rows)")


def pv_header(path: str | Path, *, fmt: str, options: PvOptions = NO_OPTIONS) -> PvHeader:
    """The header of a PV file of form ``fmt``.

    Raises:
        InputError: not a header of that form, or options that do not apply to it.
    """
    _check(fmt, options)
    if fmt == "aep-pv":
        return read_pv_header(path)
    legend = read_legend(options.legend) if options.legend is not None else None
    return read_bec2019_header(path, legend=legend, category=options.category)


def pv_rows(path: str | Path, *, fmt: str, tz: str, options: PvOptions = NO_OPTIONS,
            validated: bool = False, need_time: bool = True) -> Iterator[PvRow]:
    """The rows of a PV file of form ``fmt``; ``validated`` reads the whole file first.

    Raises:
        InputError: a malformed file; options that do not apply; for the BEC 2019 form, no
            legend file or (with ``need_time``) no reports' time.
    """
    _check(fmt, options)
    if fmt == "aep-pv":
        return import_pv(path, tz=tz) if validated else read_pv(path, tz=tz)
    if options.legend is None:
        raise InputError(f"{path}: the BEC 2019 form names its competitors only in a legend "
                         "file: it must be given")
    if options.at is None and need_time:
        raise InputError(f"{path}: the BEC 2019 form carries no time: the reports' time must "
                         "be given")
    at = parse_time(options.at, tz, what="report time") if options.at is not None else 0
    legend = read_legend(options.legend)
    read = import_bec2019 if validated else read_bec2019
    return read(path, at=at, legend=legend, category=options.category)
