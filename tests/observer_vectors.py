"""Receipt vectors for the observer page's same-answer test: ``ledger check-proof``'s answer on
the golden receipts and on receipts that break each receipt rule of docs/spec.md ("Receipts").

``python -m tests.observer_vectors`` writes ``tests/vectors/observer-receipts.json``; a test
checks the committed file is what this gives, and that the page answers each case the same.
The single-byte changes of every golden receipt are made by the test itself (the same for every
run), not stored.
"""

from __future__ import annotations

import base64
import json
import random
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from nacl.bindings import crypto_scalarmult_ed25519_base_noclamp

from ledger.auditor.prove import checkpoint_note, make_receipt
from ledger.auditor.receipts import Receipt, check_receipt, format_receipt, parse_receipt
from ledger.core.hashing import key_id, leaf_hash
from ledger.core.merkle import inclusion_proof
from ledger.core.merkle import root as merkle_root
from ledger.errors import InputError, VerificationError
from ledger.formats.checkpoints import Checkpoint, format_checkpoint
from ledger.formats.keys import note_signer_for, parse_verifier_key
from ledger.formats.notes import parse_unverified_note, sign_note
from ledger.formats.policy import Policy
from ledger.formats.records import (
    Entry,
    Report,
    Station,
    Turnout,
    decode_entry_record,
    encode_entry,
    encode_record,
    sign_record,
)
from ledger.formats.signing import Signer
from ledger.sources.published import PublishedDirSource
from tests.conftest import GOLDEN_DIR, load_json

VALID = GOLDEN_DIR / "valid"
RECEIPTS = VALID / "receipts"
VECTORS = Path(__file__).parent / "vectors" / "observer-receipts.json"
PUBLISHER = parse_verifier_key(load_json(VALID / "expected.json")["vkey"])
GOLDEN = {
    "AB-1-report": ("AB-1-report.tlog-proof", "AB-1-station.tlog-proof"),
    "AB-1-station": ("AB-1-station.tlog-proof", None),
    "B-4-correction": ("B-4-correction.tlog-proof", None),
    "SR-6-report-by-publisher": ("SR-6-report-by-publisher.tlog-proof", None),
}


def golden(name: str) -> tuple[bytes, bytes | None]:
    """A golden receipt and the station receipt it is checked with (if any)."""
    main, station = GOLDEN[name]
    return ((RECEIPTS / main).read_bytes(),
            None if station is None else (RECEIPTS / station).read_bytes())


def answer(main: bytes, station: bytes | None, policy: Policy | None = None,
           now: int | None = None) -> dict[str, Any]:
    """``ledger check-proof``'s answer: ok, or the error's category, code, message and entry."""
    try:
        receipt = parse_receipt(main)
        second = None if station is None else parse_receipt(station)
        checked = check_receipt(receipt, PUBLISHER, second, policy=policy, now=now)
    except InputError as e:
        return {"ok": False, "category": "input", "code": "input", "message": e.message}
    except VerificationError as e:
        return {"ok": False, "category": e.category, "code": e.code, "message": e.message,
                "index": e.where.index}
    return {"ok": True, "index": checked.index, "signed_by": checked.signed_by,
            "station_index": checked.station_index}


def _lines(data: bytes) -> tuple[list[bytes], bytes]:
    head, _, note = data.partition(b"\n\n")
    return head.split(b"\n"), note


def _join(lines: list[bytes], note: bytes) -> bytes:
    return b"\n".join(lines) + b"\n\n" + note


def _not_canonical(line: bytes) -> bytes:
    """A base64 line whose unused low bits are not zero (it decodes, but is not canonical)."""
    alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    text = line.rstrip(b"=")
    assert len(text) < len(line), "a line without padding has no unused bits"
    last = alphabet.index(text[-1:])
    return text[:-1] + alphabet[last + 1 : last + 2] + line[len(text):]


def _other_log(data: bytes) -> bytes:
    """The receipt under a checkpoint of another log: another origin, signed by its own key."""
    receipt = parse_receipt(data)
    text = parse_unverified_note(receipt.checkpoint).text
    origin = text.split("\n", 1)[0]
    other = "prezenta.example.ro/locale09062024"
    signer = note_signer_for(other, Signer(bytes(range(32))))
    return format_receipt(replace(receipt, checkpoint=sign_note(
        text.replace(origin, other, 1), [signer])))


#: The identity point: a "key" for which anyone makes a signature that OpenSSL accepts.
IDENTITY = bytes([1]) + bytes(31)


def weak_key_receipts() -> tuple[bytes, bytes]:
    """A report "signed" by a station key of small order (the identity), in a log the golden
    publisher signed: the receipt and its station receipt. Without the key rule, check-proof
    would accept it (OpenSSL's equation holds for R = B, s = 1 on every message)."""
    keys = load_json(GOLDEN_DIR / "keys.json")
    origin = keys["origin"]
    publisher = Signer(bytes.fromhex(keys["publisher"]["seed_hex"]))
    first = next(iter(PublishedDirSource(VALID).iter_entries(0, 308)))
    station = Station(id="AB-1", county="ALBA", number=1, name="Liceul", pubkey=IDENTITY)
    report = Report(station="AB-1", category="PRSD", version=1, stage="PROV", at=1747634400000,
                    fields={"a": 10}, votes={"A": 1})
    forged = Entry(body=encode_record(report), key=key_id(IDENTITY),
                   sig=crypto_scalarmult_ed25519_base_noclamp((1).to_bytes(32, "little"))
                   + (1).to_bytes(32, "little"))
    entries = [first, encode_entry(sign_record(publisher, origin, station)), encode_entry(forged)]
    leaves = [leaf_hash(e) for e in entries]
    note = sign_note(format_checkpoint(Checkpoint(origin=origin, size=3, root=merkle_root(leaves))),
                     [note_signer_for(origin, publisher)])
    receipt, registration = (format_receipt(Receipt(
        index=i, proof=tuple(inclusion_proof(leaves, i, 3)), checkpoint=note, extra=entries[i]))
        for i in (2, 1))
    return receipt, registration


def cases() -> list[dict[str, Any]]:
    """Every rule case: name, receipt, station receipt (base64), and check-proof's answer."""
    source = PublishedDirSource(VALID)
    report, station = golden("AB-1-report")
    assert station is not None
    sr6, _ = golden("SR-6-report-by-publisher")
    latest = source.read_checkpoint()
    size = int(latest.split(b"\n")[1])
    records = [decode_entry_record(e)[1] for e in source.iter_entries(0, size)]
    others = [i for i, r in enumerate(records) if isinstance(r, Station) and r.id != "AB-1"]
    signed_turnout = next(i for i, r in enumerate(records)
                          if isinstance(r, Turnout) and r.station == "AB-1")
    later_report = next(i for i, r in enumerate(records)
                        if isinstance(r, Report) and i > parse_receipt(report).index)
    older = checkpoint_note(source, 221)
    lines, note = _lines(report)
    out: list[tuple[str, bytes, bytes | None]] = [
        (name, *golden(name)) for name in GOLDEN
    ]
    out += [
        ("not a receipt: another first line", b"c2sp.org/tlog-proof@v2" + report[22:], station),
        ("no blank line before the checkpoint", report.replace(b"\n\n", b"\n"), station),
        ("no extra line", _join([lines[0], *lines[2:]], note), station),
        ("extra line not canonical base64", _join([lines[0], _not_canonical(lines[1]),
                                                   *lines[2:]], note), station),
        ("extra line not base64", _join([lines[0], lines[1] + b"A", *lines[2:]], note),
         station),
        ("index with a leading zero", _join([lines[0], lines[1], b"index 0303", *lines[3:]],
                                            note), station),
        ("index beyond the tree", _join([lines[0], lines[1], b"index 400", *lines[3:]], note),
         station),
        ("index of another leaf", _join([lines[0], lines[1], b"index 302", *lines[3:]], note),
         station),
        ("a proof hash missing", _join(lines[:-1], note), station),
        ("a proof hash too many", _join([*lines, lines[-1]], note), station),
        ("a proof hash of 31 bytes", _join([*lines[:-1], base64.b64encode(bytes(31))], note),
         station),
        ("65 proof hashes", _join([*lines[:3], *[lines[3]] * 65], note), station),
        ("the entry of another receipt", _join([lines[0], _lines(sr6)[0][1], *lines[2:]], note),
         station),
        ("a receipt of another log", _other_log(report), station),
        ("the checkpoint truncated", report[:-20], station),
        ("a station-signed report without its station receipt", report, None),
        ("the station receipt is under another checkpoint",
         report, format_receipt(make_receipt(source, 1, checkpoint=older))),
        ("the station receipt is of another station",
         report, format_receipt(make_receipt(source, others[0], checkpoint=latest))),
        ("the station receipt is not of a station record",
         report, format_receipt(make_receipt(source, signed_turnout, checkpoint=latest))),
        ("the station receipt comes after the record",
         report, format_receipt(make_receipt(source, later_report, checkpoint=latest))),
        ("the records swapped", station, report),
        ("a publisher-signed record with a station receipt of another checkpoint",
         sr6, format_receipt(make_receipt(source, 1, checkpoint=older))),
        ("a receipt under an older checkpoint",
         format_receipt(make_receipt(source, 1, checkpoint=older)), None),
        ("a report signed by a station key of small order", *weak_key_receipts()),
    ]
    return [{"name": name, "receipt": base64.b64encode(main).decode(),
             "station_receipt": None if second is None else base64.b64encode(second).decode(),
             "expect": answer(main, second)} for name, main, second in out]


def flips(name: str) -> list[tuple[str, bytes, bytes | None]]:
    """Every single-byte change (the low bit flipped) of a golden receipt, and of its station
    receipt."""
    main, station = golden(name)
    out = []
    for i in range(len(main)):
        changed = bytearray(main)
        changed[i] ^= 1
        out.append((f"{name} byte {i}", bytes(changed), station))
    if station is not None:
        for i in range(len(station)):
            changed = bytearray(station)
            changed[i] ^= 1
            out.append((f"{name} station byte {i}", main, bytes(changed)))
    return out


def mutations(count: int, seed: int) -> list[tuple[str, bytes, bytes | None]]:
    """Seeded random changes of the golden receipts (or of the station receipt given with one):
    a byte set to any value, deleted or inserted, the file cut short, or a run of its own bytes
    repeated elsewhere."""
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        name = rng.choice(sorted(GOLDEN))
        main, station = golden(name)
        second = station is not None and rng.random() < 0.3
        data = bytearray(station if second and station is not None else main)
        op = rng.choice(["set", "delete", "insert", "cut", "repeat"])
        i = rng.randrange(len(data))
        if op == "set":
            data[i] = rng.randrange(256)
        elif op == "delete":
            del data[i]
        elif op == "insert":
            data.insert(i, rng.choice([0, 10, 32, 43, 61, 0xE2, rng.randrange(256)]))
        elif op == "cut":
            del data[i:]
        else:
            j = rng.randrange(len(data))
            data[i:i] = data[j : j + rng.randrange(1, 40)]
        label = f"{name}{' station receipt' if second else ''} {op} at {i}"
        out.append((label, main, bytes(data)) if second else (label, bytes(data), station))
    return out


def main() -> None:
    VECTORS.write_text(json.dumps({
        "description": "ledger check-proof's answers the observer's page must give "
                       "(tests/observer_vectors.py writes this file)",
        "vkey": str(PUBLISHER),
        "cases": cases(),
    }, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    sys.stdout.write(f"wrote {VECTORS}\n")


if __name__ == "__main__":
    main()
