"""Fuzz targets: every parser of outside bytes, run on one input each (docs/threat-model.md,
"Tested against").

A target takes bytes and calls a parser. The parser must return a value or raise a
:class:`~ledger.errors.LedgerError` subclass (never another exception: that is a crash, a bug);
where the parser has an encoder, what it returns must encode back to a value that parses to
the same thing (and, for the canonical formats, to the very same bytes). The same targets run
under hypothesis in ``make test`` (``tests/test_fuzz.py``) and under atheris in ``make fuzz``
(``tests/fuzz_atheris.py``); :data:`SEEDS` are valid inputs of each kind, from the golden vectors.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

from ledger.auditor.evidence import check_evidence, parse_evidence
from ledger.auditor.receipts import check_receipt, format_receipt, parse_receipt
from ledger.auditor.state import load_state
from ledger.check.checker import EntryChecker
from ledger.errors import LedgerError
from ledger.formats.checkpoints import (
    format_checkpoint,
    open_ledger_checkpoint,
    parse_checkpoint,
    parse_origin,
)
from ledger.formats.codec import decode_value, encode_value
from ledger.formats.keys import (
    format_signer_key,
    format_verifier_key,
    parse_signer_key,
    parse_verifier_key,
)
from ledger.formats.notes import (
    format_note,
    open_note,
    parse_signature_line,
    parse_unverified_note,
)
from ledger.formats.policy import parse_policy
from ledger.formats.records import (
    decode_entry_record,
    encode_entry,
    record_from_json,
    record_to_json,
)
from ledger.formats.tiles import (
    format_entry_bundle,
    format_hash_tile,
    parse_entry_bundle,
    parse_hash_tile,
    parse_tile_path,
)
from ledger.importers.validation import validate_file
from tests.conftest import GOLDEN_DIR, VECTORS_DIR

Target = Callable[[bytes], None]

VALID = GOLDEN_DIR / "valid"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
_KEYS: dict[str, Any] = json.loads((GOLDEN_DIR / "keys.json").read_text(encoding="utf-8"))
PUBLISHER = parse_verifier_key(_KEYS["publisher"]["vkey"])


def _text(data: bytes) -> str | None:
    """The input as text for the parsers that take str (None: not UTF-8, nothing to parse)."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _also(check: Callable[..., object], *args: object) -> None:
    """A further check of what parsed: its LedgerError is an answer too (the seeds, valid
    inputs, need only parse)."""
    with contextlib.suppress(LedgerError):
        check(*args)


# --- the targets -----------------------------------------------------------------------------


def note(data: bytes) -> None:
    """C2SP signed notes: split, re-format, open with the publisher key."""
    parsed = parse_unverified_note(data)
    again = parse_unverified_note(format_note(parsed.text, parsed.signatures))
    assert again == parsed
    _also(open_note, data, [PUBLISHER])


def signature_line(data: bytes) -> None:
    """One note signature line."""
    sig = parse_signature_line(data)
    assert parse_signature_line(sig.line()) == sig


def checkpoint(data: bytes) -> None:
    """C2SP tlog-checkpoint bodies (exact bytes back), and whole signed checkpoints."""
    text = _text(data)
    if text is not None and "\n\n" not in text:  # a body alone
        cp = parse_checkpoint(text)
        assert format_checkpoint(cp) == text
        return
    signed = open_ledger_checkpoint(data, PUBLISHER)
    assert parse_checkpoint(format_checkpoint(signed.checkpoint)) == signed.checkpoint


def receipt(data: bytes) -> None:
    """C2SP tlog-proof receipts: parse, format back to the same bytes, check."""
    parsed = parse_receipt(data)
    assert format_receipt(parsed) == data
    _also(check_receipt, parsed, PUBLISHER)


def entry(data: bytes) -> None:
    """Entries and their records (canonical: the same bytes back), and the entry checker."""
    try:
        parsed, _record = decode_entry_record(data)
    except LedgerError:
        pass
    else:
        assert encode_entry(parsed) == data
    checker = _checker()
    checked = checker.check(checker.size, data)  # returns its errors, raises nothing
    assert checked.errors or checked.record is not None


@cache
def _checker_value() -> dict[str, Any]:
    from ledger.formats.tiles import bundles_for_size

    size = json.loads((VALID / "expected.json").read_text(encoding="utf-8"))["tree_size"]
    checker = EntryChecker(origin=PUBLISHER.name, publisher=PUBLISHER)
    for ref in bundles_for_size(size):
        bundle = (VALID / ref.path).read_bytes()
        for data in parse_entry_bundle(bundle, ref.width):
            checker.check(checker.size, data, in_log=True)
    return checker.to_value()


def _checker() -> EntryChecker:
    """The checker after the golden log: a fuzzed entry meets a registry and rules in use."""
    return EntryChecker.from_value(_checker_value(), PUBLISHER)


def codec(data: bytes) -> None:
    """Canonical MessagePack: a value decoded encodes to the same bytes."""
    assert encode_value(decode_value(data)) == data


def record_json(data: bytes) -> None:
    """Record JSON files (``ledger sign``, ``station add --record``)."""
    try:
        obj = json.loads(data)
    except (ValueError, RecursionError):
        return  # not JSON: the file reader says so (files.read_json)
    record = record_from_json(obj)
    assert record_from_json(record_to_json(record)) == record


def hash_tile(data: bytes) -> None:
    """tlog-tiles hash tiles, at the width the size gives and at a full width."""
    for width in {max(1, min(256, len(data) // 32)), 256}:
        try:
            hashes = parse_hash_tile(data, width)
        except LedgerError:
            continue
        assert format_hash_tile(hashes) == data


def entry_bundle(data: bytes) -> None:
    """tlog-tiles entry bundles (16-bit big-endian length before each entry)."""
    count, position = 0, 0
    while position + 2 <= len(data) and count < 256:  # the width the framing claims
        position += 2 + int.from_bytes(data[position:position + 2], "big")
        count += 1
    for width in {max(1, count), 1, 256}:
        try:
            entries = parse_entry_bundle(data, width)
        except LedgerError:
            continue
        assert format_entry_bundle(entries) == data


def tile_path(data: bytes) -> None:
    """Tile and bundle paths (the mirror and the HTTP readers map them)."""
    text = _text(data)
    if text is not None:
        parse_tile_path(text)


def policy(data: bytes) -> None:
    """C2SP tlog-policy files."""
    parse_policy(data, file="fuzz.policy")


def keys(data: bytes) -> None:
    """Verifier and signer key strings (key files, policy lines, options), and origins."""
    text = _text(data)
    if text is None:
        return
    for parse, fmt in ((parse_verifier_key, format_verifier_key),
                       (parse_signer_key, format_signer_key)):
        try:
            key = parse(text)
        except LedgerError:
            continue
        assert parse(fmt(key)) == key  # type: ignore[arg-type]
    with contextlib.suppress(LedgerError):
        parse_origin(text)


def evidence(data: bytes) -> None:
    """Split-view evidence files: parse, then check under the vectors' key."""
    parsed = parse_evidence(data)
    _also(check_evidence, parsed, _evidence_key())


@cache
def _evidence_key() -> Any:
    vectors = json.loads((VECTORS_DIR / "split-view.json").read_text(encoding="utf-8"))
    return parse_verifier_key(vectors["vkey"])


@cache
def _scratch() -> Path:
    return Path(tempfile.mkdtemp(prefix=f"ledger-fuzz-{os.getpid()}-"))


def _file(name: str, data: bytes) -> Path:
    path = _scratch() / name
    path.write_bytes(data)
    return path


def csv_turnout(data: bytes) -> None:
    """AEP turnout CSV files, read by the importer's validation (every row checked)."""
    validate_file(_file("presence.csv", data), fmt="aep-turnout", tz="Europe/Bucharest",
                  at="2025-05-18 21:00")


def csv_pv(data: bytes) -> None:
    """AEP PV (results) CSV files."""
    validate_file(_file("pv.csv", data), fmt="aep-pv", tz="Europe/Bucharest")


def audit_state(data: bytes) -> None:
    """The auditor's state file (``verify --state``)."""
    load_state(_file("audit.state", data))


TARGETS: dict[str, Target] = {
    "note": note,
    "signature_line": signature_line,
    "checkpoint": checkpoint,
    "receipt": receipt,
    "entry": entry,
    "codec": codec,
    "record_json": record_json,
    "hash_tile": hash_tile,
    "entry_bundle": entry_bundle,
    "tile_path": tile_path,
    "policy": policy,
    "keys": keys,
    "evidence": evidence,
    "csv_turnout": csv_turnout,
    "csv_pv": csv_pv,
    "audit_state": audit_state,
}


def run(name: str, data: bytes) -> None:
    """One input through one target: a LedgerError is an answer; anything else propagates."""
    with contextlib.suppress(LedgerError):
        TARGETS[name](data)


# --- seeds: valid inputs of each kind --------------------------------------------------------


def _audit_state() -> bytes:
    """The state file a clean audit of the golden log writes."""
    from ledger.auditor.verify import verify
    from ledger.sources.published import PublishedDirSource

    path = _scratch() / "seed.state"
    with PublishedDirSource(VALID) as source:
        verify(source, PUBLISHER, state_path=path, workers=1)
    return path.read_bytes()


def _head(path: Path, lines: int) -> bytes:
    return b"".join(path.read_bytes().splitlines(keepends=True)[:lines])


@cache
def seeds() -> dict[str, list[bytes]]:
    """Valid inputs per target, from the golden vectors and the fixtures."""
    checkpoint_note = (VALID / "checkpoint").read_bytes()
    receipts = sorted((VALID / "receipts").glob("*.tlog-proof"))
    bundle = (VALID / "tile" / "entries" / "000").read_bytes()
    entries = parse_entry_bundle(bundle, 256)
    tile = (VALID / "tile" / "0" / "000").read_bytes()
    vectors = json.loads((VECTORS_DIR / "split-view.json").read_text(encoding="utf-8"))
    signer = _KEYS["publisher"]["skey"]
    witness_policy = (f"# a policy\nlog {_KEYS['publisher']['vkey']} https://log.example/\n"
                      f"witness w1 {_KEYS['witness']['vkey']}\ngroup g 1 w1\nquorum g\n")
    records = [json.dumps(record_to_json(decode_entry_record(e)[1])).encode()
               for e in entries[:40:7]]
    fixtures = sorted(FIXTURES.glob("*.csv"))
    turnout_csv = [_head(p, 4) for p in fixtures if p.name.startswith("presence")]
    pv_csv = [_head(p, 4) for p in fixtures if p.name.startswith("pv")]
    return {
        "note": [checkpoint_note],
        "signature_line": [checkpoint_note.split(b"\n\n", 1)[1].split(b"\n")[0] + b"\n"],
        "checkpoint": [checkpoint_note, checkpoint_note.split(b"\n\n", 1)[0] + b"\n"],
        "receipt": [p.read_bytes() for p in receipts],
        "entry": entries[:60:6],
        "codec": list(entries[:30:5]),
        "record_json": records,
        "hash_tile": [tile[: 32 * 3], tile],
        "entry_bundle": [format_entry_bundle(entries[:3]), bundle[:2000]],
        "tile_path": [b"tile/0/x001/234.p/7", b"tile/entries/000", b"tile/2/001"],
        "policy": [witness_policy.encode()],
        "keys": [_KEYS["publisher"]["vkey"].encode(), signer.encode(),
                 _KEYS["witness"]["vkey"].encode(), b"prezenta.example.ro/x"],
        "evidence": [c["file"].encode() for c in vectors["cases"][:4]],
        "csv_turnout": turnout_csv,
        "csv_pv": pv_csv,
        "audit_state": [_audit_state()],
    }
