"""The entry checker's own state as canonical values: plateaus, the compact range, report indices.

Only :mod:`ledger.checker` uses these; they exist so the auditor's state file
(docs/spec-parts/40-verify.md) can be written and read back strictly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ledger.errors import MalformedError
from ledger.hashing import HASH_SIZE
from ledger.merkle import CompactRange


@dataclass(slots=True)
class Plateau:
    """Leaf hashes of a station's entries that a byte-identical copy could still pass as.

    ``digest`` names what those entries share (turnout: their counters; station records: the
    key id); a new entry with another digest starts a new plateau.
    """

    digest: bytes
    hashes: list[bytes]


def bad_state(message: str) -> MalformedError:
    """The error for a state value that is not what the checker writes."""
    return MalformedError(f"entry checker state: {message}", code="bad-state")


def _is_hash(value: Any) -> bool:
    return type(value) is bytes and len(value) == HASH_SIZE


def plateaus_value(plateaus: dict[str, Plateau]) -> dict[str, Any]:
    """Plateaus by station as a canonical map."""
    return {
        station: {"digest": p.digest, "hashes": list(p.hashes)}
        for station, p in sorted(plateaus.items())
    }


def plateaus_from_value(value: Any) -> dict[str, Plateau]:
    """Plateaus by station from :func:`plateaus_value`.

    Raises:
        MalformedError: not exactly that map.
    """
    if type(value) is not dict:
        raise bad_state("plateaus must be a map")
    out: dict[str, Plateau] = {}
    for station, item in value.items():
        if type(item) is not dict or item.keys() != {"digest", "hashes"}:
            raise bad_state("a plateau is a map of digest and hashes")
        digest, hashes = item["digest"], item["hashes"]
        if type(digest) is not bytes or type(hashes) is not list:
            raise bad_state("a plateau digest is bin and its hashes an array")
        if not hashes or not all(_is_hash(h) for h in hashes):
            raise bad_state("plateau hashes are 32-byte bins")
        out[station] = Plateau(digest, list(hashes))
    return out


def last_reports_value(reports: dict[str, dict[str, int]]) -> dict[str, Any]:
    """Station -> category -> index of its latest accepted report, as a canonical map."""
    return {station: dict(sorted(c.items())) for station, c in sorted(reports.items())}


def last_reports_from_value(value: Any) -> dict[str, dict[str, int]]:
    """The map of :func:`last_reports_value`.

    Raises:
        MalformedError: not exactly that map.
    """
    if type(value) is not dict:
        raise bad_state("last_reports must be a map")
    out: dict[str, dict[str, int]] = {}
    for station, by_category in value.items():
        if type(by_category) is not dict or not all(
            type(i) is int and i >= 0 for i in by_category.values()
        ):
            raise bad_state("last_reports maps station -> category -> entry index")
        out[station] = dict(by_category)
    return out


def tree_value(tree: CompactRange) -> dict[str, Any]:
    """The compact range: its size and frontier hashes, largest subtree first."""
    return {"hashes": list(tree.hashes), "size": tree.size}


def tree_from_value(value: Any) -> CompactRange:
    """The compact range of :func:`tree_value`.

    Raises:
        MalformedError: not that map, or not popcount(size) hashes.
    """
    if type(value) is not dict or value.keys() != {"hashes", "size"}:
        raise bad_state("tree is a map of hashes and size")
    size, hashes = value["size"], value["hashes"]
    if type(size) is not int or type(hashes) is not list or not all(_is_hash(h) for h in hashes):
        raise bad_state("tree size is an int and its hashes 32-byte bins")
    try:
        return CompactRange.from_state(size, hashes)
    except ValueError as e:
        raise bad_state(f"tree: {e}") from e
