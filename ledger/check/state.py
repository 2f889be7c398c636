"""The entry checker's own state as canonical values: plateaus and the compact range.

Only :mod:`ledger.check.checker` uses these; they exist so the auditor's state file
(docs/spec.md, "Verification") can be written and read back strictly.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ledger.core.hashing import HASH_SIZE, sha256
from ledger.core.merkle import CompactRange
from ledger.errors import MalformedError
from ledger.formats.codec import encode_value

#: The digest of what a plateau's entries share (see :class:`Plateau`).
DigestOf = Callable[[Any], bytes]


@dataclass(slots=True)
class Plateau:
    """Leaf hashes of a station's entries that a byte-identical copy could still pass as.

    The entries share ``values`` (turnout: their counters; station records: the key id); a new
    entry with other values starts a new plateau. A state file holds ``digest``, a hash of the
    values: it is computed only when written (None until then), and a plateau read back from a
    state file has no ``values`` (None), so the next entry is compared by digest.
    """

    digest: bytes | None
    hashes: list[bytes]
    values: Any = None

    def holds(self, values: Any, digest_of: DigestOf) -> bool:
        """True when an entry with ``values`` belongs to this plateau."""
        if self.values is not None:
            return bool(self.values == values)
        return self.digest == digest_of(values)


def turnout_digest(values: tuple[Mapping[str, int], Mapping[str, int] | None]) -> bytes:
    """A turnout plateau's digest: what a copy must equal to pass the counter rules."""
    counts, buckets = values
    value: dict[str, Any] = {"counts": dict(counts)}
    if buckets is not None:
        value["buckets"] = dict(buckets)
    return sha256(encode_value(value))[:16]


def key_digest(values: bytes) -> bytes:
    """A station plateau's digest: the key id itself."""
    return values


def bad_state(message: str) -> MalformedError:
    """The error for a state value that is not what the checker writes."""
    return MalformedError(f"entry checker state: {message}", code="bad-state")


def _is_hash(value: Any) -> bool:
    return type(value) is bytes and len(value) == HASH_SIZE


def plateaus_value(plateaus: dict[str, Plateau], digest_of: DigestOf) -> dict[str, Any]:
    """Plateaus by station as a canonical map (each digest computed once, then kept)."""
    out: dict[str, Any] = {}
    for station, p in sorted(plateaus.items()):
        if p.digest is None:
            p.digest = digest_of(p.values)
        out[station] = {"digest": p.digest, "hashes": list(p.hashes)}
    return out


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
