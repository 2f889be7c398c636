"""Tampering with a published log, or with a ledger directory, never goes unnoticed.

A seeded loop of mutations of the golden published directory (byte flips in the checkpoint and
in every tile and bundle, entries dropped, reordered or duplicated and rebundled, truncated
bundles, deleted tiles, forged checkpoints): each one is an error naming the file and the entry
or tile. Plus rollback and split view against a trusted checkpoint, the state file, HTTP, the
signature worker pool and the publisher's LMDB directory.
"""

from __future__ import annotations

import random
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ledger.auditor import verify as verify_module
from ledger.auditor.state import load_state
from ledger.auditor.verify import verify
from ledger.check.findings import AuditReport
from ledger.errors import InputError, StoreError
from ledger.formats.checkpoints import Checkpoint, format_checkpoint
from ledger.formats.keys import note_signer_for, parse_signer_key
from ledger.formats.notes import sign_note
from ledger.formats.records import Block, Election, Station, decode_entry_record
from ledger.formats.signing import Signer
from ledger.formats.tiles import format_entry_bundle, parse_entry_bundle
from ledger.publisher.ledger import Ledger
from ledger.sources.http import HttpSource
from ledger.sources.ledger_dir import LedgerDirSource
from ledger.sources.open import open_source
from ledger.sources.published import PublishedDirSource
from tests.verify_support import (
    EXPECTED,
    KEYS,
    PUBLISHER,
    VALID,
    audit,
    comparable,
    copy_log,
    embedded_checkpoint,
    serve,
)

SEED = 20250518
SIZE = EXPECTED["tree_size"]
#: Every tile and bundle some checkpoint of the golden log needs (its latest and earlier ones).
TILE_FILES = sorted(
    str(p.relative_to(VALID)) for p in (VALID / "tile").rglob("*") if p.is_file()
)
#: What the latest checkpoint itself needs (so deleting one is an error, not "not present").
LATEST_FILES = ["tile/0/000", "tile/0/001.p/52", "tile/1/000.p/1", "tile/entries/000",
                "tile/entries/001.p/52"]
PUBLISHER_SIGNER = parse_signer_key(KEYS["publisher"]["skey"])


@pytest.fixture(scope="module")
def baseline() -> AuditReport:
    return audit(VALID)


@pytest.fixture
def log(tmp_path: Path) -> Path:
    return copy_log(VALID, tmp_path / "log")


def _entries() -> list[bytes]:
    return list(PublishedDirSource(VALID).iter_entries(0, SIZE))


# --- the mutations ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Mutation:
    """One change to a published directory, and the file an error must name."""

    name: str
    apply: Callable[[Path], None]
    file: str | None  # None: any tile or bundle file


def _flip_file(path: str, offset: int, mask: int) -> Callable[[Path], None]:
    def apply(root: Path) -> None:
        data = bytearray((root / path).read_bytes())
        data[offset] ^= mask
        (root / path).write_bytes(bytes(data))

    return apply


def _checkpoint_flips(rng: random.Random, count: int) -> Iterator[Mutation]:
    data = (VALID / "checkpoint").read_bytes()
    witness_line = data.rindex(b"\n\xe2\x80\x94 witness.example.org/")  # not a key we give
    for _ in range(count):
        offset = rng.randrange(witness_line + 1)
        mask = 1 << rng.randrange(8)
        yield Mutation(f"checkpoint byte {offset}", _flip_file("checkpoint", offset, mask),
                       "checkpoint")


def _tile_flips(rng: random.Random, count: int) -> Iterator[Mutation]:
    for _ in range(count):
        path = rng.choice(TILE_FILES)
        offset = rng.randrange((VALID / path).stat().st_size)
        yield Mutation(f"{path} byte {offset}", _flip_file(path, offset, 1 << rng.randrange(8)),
                       path)


def _rebundle(entries: list[bytes], *, partials: bool) -> Callable[[Path], None]:
    def apply(root: Path) -> None:
        (root / "tile/entries/000").write_bytes(format_entry_bundle(entries[:256]))
        (root / "tile/entries/001.p/52").write_bytes(format_entry_bundle(entries[256:]))
        if partials:
            for p in (root / "tile/entries").rglob("*"):
                if p.is_file() and p.parent.name.endswith(".p") and p.name != "35":
                    start = 256 if p.parent.name.startswith("001") else 0
                    p.write_bytes(format_entry_bundle(entries[start : start + int(p.name)]))

    return apply


def _entry_edits(rng: random.Random, count: int) -> Iterator[Mutation]:
    original = _entries()
    for n in range(count):
        entries = list(original)
        edit = ("drop", "reorder", "duplicate")[n % 3]
        i = rng.randrange(1, SIZE)
        if edit == "drop":
            del entries[i]
        elif edit == "duplicate":
            entries.insert(rng.randrange(i, SIZE), entries[i])
        else:
            j = rng.choice([k for k in range(SIZE) if k != i])
            entries[i], entries[j] = entries[j], entries[i]
        yield Mutation(f"{edit} entry {i}", _rebundle(entries, partials=bool(n % 2)), None)


def _truncations(rng: random.Random, count: int) -> Iterator[Mutation]:
    for _ in range(count):
        path = rng.choice([p for p in TILE_FILES if p.startswith("tile/entries/")])
        cut = rng.randrange(1, 40)

        def apply(root: Path, path: str = path, cut: int = cut) -> None:
            data = (root / path).read_bytes()
            (root / path).write_bytes(data[:-cut])

        yield Mutation(f"truncate {path} by {cut}", apply, path)


def _deletions() -> Iterator[Mutation]:
    for path in LATEST_FILES:
        yield Mutation(f"delete {path}", lambda root, path=path: (root / path).unlink(), path)


def _forgeries(rng: random.Random, count: int) -> Iterator[Mutation]:
    root = bytes.fromhex(EXPECTED["root_hex"])
    for n in range(count):
        size = SIZE + rng.randrange(-5, 6)
        forged = Checkpoint(origin=PUBLISHER.name, size=size,
                            root=bytes(rng.randrange(256) for _ in range(32)) if n % 2 else root)
        # Another Ed25519 key under the publisher's name: the verifier knows only the real one.
        impostor = note_signer_for(PUBLISHER.name, Signer(rng.randbytes(32)))
        note = sign_note(format_checkpoint(forged), [impostor])
        yield Mutation(f"forged checkpoint {n}",
                       lambda root_dir, note=note: (root_dir / "checkpoint").write_bytes(note),
                       "checkpoint")


def mutations() -> list[Mutation]:
    rng = random.Random(SEED)
    return [
        *_checkpoint_flips(rng, 40),
        *_tile_flips(rng, 120),
        *_entry_edits(rng, 24),
        *_truncations(rng, 10),
        *_deletions(),
        *_forgeries(rng, 10),
    ]


def test_the_loop_has_at_least_200_mutations() -> None:
    assert len(mutations()) >= 200


def test_every_mutation_is_an_error_naming_the_file_and_the_entry_or_tile(
    tmp_path: Path,
) -> None:
    pristine = {p: (VALID / p).read_bytes() for p in [*TILE_FILES, "checkpoint"]}
    log = copy_log(VALID, tmp_path / "log")
    for mutation in mutations():
        mutation.apply(log)
        report = audit(log)
        for path, data in pristine.items():  # undo, for the next one
            (log / path).write_bytes(data)
        assert report.errors, f"{mutation.name}: verified"
        named = [e for e in report.errors if e.where.file is not None]
        assert named, f"{mutation.name}: no error names a file: {report.errors}"
        if mutation.file is not None:
            assert mutation.file in {e.where.file for e in named}, (mutation.name, report.errors)
        else:
            assert any(e.where.file.startswith("tile/entries/") for e in named), mutation.name
        for error in named:
            if error.where.file != "checkpoint":
                assert error.where.index is not None or error.where.file.startswith("tile/"), error


def test_a_flip_in_ledger_json_never_changes_the_result(log: Path, baseline: AuditReport) -> None:
    rng = random.Random(SEED)
    original = (log / "ledger.json").read_bytes()
    for _ in range(12):
        data = bytearray(original)
        data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        (log / "ledger.json").write_bytes(bytes(data))
        assert comparable(audit(log)) == comparable(baseline)
    (log / "ledger.json").unlink()
    assert comparable(audit(log)) == comparable(baseline)


# --- rollback, split view, consistency -------------------------------------------------------


def test_an_older_genuine_checkpoint_passes_alone(log: Path) -> None:
    (log / "checkpoint").write_bytes(embedded_checkpoint(VALID, 221))
    report = audit(log)
    assert report.errors == []
    assert report.tree_size == 221


def test_an_older_checkpoint_is_a_rollback_given_the_newer_as_trusted(log: Path) -> None:
    newer = (VALID / "checkpoint").read_bytes()
    (log / "checkpoint").write_bytes(embedded_checkpoint(VALID, 221))
    report = audit(log, trusted=newer)
    assert [(e.category, e.where.file) for e in report.errors] == [("rollback", "checkpoint")]


def test_the_log_is_consistent_with_each_earlier_block_checkpoint(log: Path) -> None:
    for block in EXPECTED["checkpoints"][:-1]:
        trusted = embedded_checkpoint(VALID, block["tree_size"])
        assert audit(log, trusted=trusted).errors == []


def _publisher_signed(size: int, root: bytes) -> bytes:
    cp = Checkpoint(origin=PUBLISHER.name, size=size, root=root)
    return sign_note(format_checkpoint(cp), [PUBLISHER_SIGNER])


@pytest.mark.parametrize("size", [95, SIZE])
def test_a_trusted_checkpoint_of_a_fork_is_an_equivocation_with_evidence(log: Path,
                                                                         size: int) -> None:
    fork = _publisher_signed(size, bytes(32))  # the publisher signed two different trees
    report = audit(log, trusted=fork)
    assert [(e.category, e.code, e.where.file) for e in report.errors] == [
        ("equivocation", "split-view", "checkpoint")]
    assert report.evidence is not None
    assert report.evidence[1].startswith(b"election-ledger/split-view@v1\n")


def test_a_trusted_checkpoint_that_does_not_verify_is_an_error(log: Path) -> None:
    impostor = note_signer_for(PUBLISHER.name, Signer(bytes(32)))
    note = sign_note(format_checkpoint(Checkpoint(origin=PUBLISHER.name, size=1,
                                                  root=bytes(32))), [impostor])
    report = audit(log, trusted=note)
    assert report.errors[0].category == "checkpoint"
    assert report.errors[0].where.file == verify_module.TRUSTED_FILE


def test_a_trusted_file_that_is_not_a_checkpoint_is_an_input_error(log: Path) -> None:
    with pytest.raises(InputError):
        audit(log, trusted=b"hello\n")


# --- the state file ----------------------------------------------------------------------------


def test_incremental_audit_reads_only_the_new_entries(log: Path, tmp_path: Path,
                                                      baseline: AuditReport) -> None:
    state = tmp_path / "audit.state"
    older = embedded_checkpoint(VALID, 221)
    (log / "checkpoint").write_bytes(older)
    first = audit(log, state_path=state)
    assert first.errors == []
    assert load_state(state) is not None
    (log / "checkpoint").write_bytes((VALID / "checkpoint").read_bytes())
    second = audit(log, trusted=older, state_path=state)
    assert second.errors == []
    assert second.extra["resumed_from"] == 221
    assert second.entries == SIZE - 221
    assert [w.to_json() for w in second.warnings] == [
        w.to_json() for w in baseline.warnings
        if (w.where.index is not None and w.where.index >= 221)
        or w.code == "TO-LT-PV-B"
    ]
    saved = load_state(state)
    assert saved is not None
    assert (saved.size, saved.root.hex()) == (SIZE, EXPECTED["root_hex"])


def test_a_state_that_does_not_match_the_trusted_checkpoint_means_a_full_audit(
    log: Path, tmp_path: Path
) -> None:
    state = tmp_path / "audit.state"
    assert audit(log, state_path=state).errors == []
    report = audit(log, trusted=embedded_checkpoint(VALID, 221), state_path=state)
    assert "resumed_from" not in report.extra
    assert report.entries == SIZE
    full = audit(log, trusted=(VALID / "checkpoint").read_bytes(), state_path=state, full=True)
    assert "resumed_from" not in full.extra


def test_resuming_notices_a_changed_entry_before_the_state_size(log: Path,
                                                               tmp_path: Path) -> None:
    state = tmp_path / "audit.state"
    older = embedded_checkpoint(VALID, 221)
    (log / "checkpoint").write_bytes(older)
    assert audit(log, state_path=state).errors == []
    (log / "checkpoint").write_bytes((VALID / "checkpoint").read_bytes())
    entries = _entries()
    entries[100], entries[101] = entries[101], entries[100]
    _rebundle(entries, partials=False)(log)
    report = audit(log, trusted=older, state_path=state)
    assert report.errors[0].where.file == "tile/entries/000"


def test_a_damaged_state_file_is_an_input_error(log: Path, tmp_path: Path) -> None:
    state = tmp_path / "audit.state"
    state.write_bytes(b"\x81\xa1x\x01")
    with pytest.raises(InputError):
        audit(log, trusted=(VALID / "checkpoint").read_bytes(), state_path=state)


def test_a_run_with_errors_does_not_write_the_state(log: Path, tmp_path: Path) -> None:
    state = tmp_path / "audit.state"
    _flip_file("tile/0/000", 5, 1)(log)
    assert audit(log, state_path=state).errors
    assert not state.exists()


# --- the same answer from every source and with workers ------------------------------------


def test_verify_over_http_equals_verify_over_the_directory(baseline: AuditReport) -> None:
    with serve(VALID) as url:
        report = verify(HttpSource(url), PUBLISHER, workers=1)
    assert comparable(report) == comparable(baseline)


def test_a_damaged_log_over_http_gives_the_same_errors(log: Path) -> None:
    _flip_file("tile/entries/000", 400, 4)(log)
    (log / "tile/1/000.p/1").unlink()
    with serve(log) as url:
        report = verify(HttpSource(url), PUBLISHER, workers=1)
    assert comparable(report) == comparable(audit(log))


@pytest.mark.parametrize("case", ["valid", "tampered"])
def test_the_worker_pool_gives_the_same_report(log: Path, case: str,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    if case == "tampered":
        _flip_file("tile/entries/000", 1000, 2)(log)
    alone = audit(log)
    monkeypatch.setattr(verify_module, "PARALLEL_MIN_ENTRIES", 0)
    monkeypatch.setattr(verify_module, "CHUNK", 40)
    pooled = audit(log, workers=2)
    assert comparable(pooled) == comparable(alone)


# --- a ledger directory ------------------------------------------------------------------------


@pytest.fixture
def ledger_dir(tmp_path: Path) -> Path:
    """The golden log rebuilt by the publisher's Ledger in an LMDB directory."""
    entries = _entries()
    election = decode_entry_record(entries[0])[1]
    assert isinstance(election, Election)
    path = tmp_path / "ledger"
    lg = Ledger.create(path, PUBLISHER.name, PUBLISHER_SIGNER, election)
    batch: list[bytes] = []
    for data in entries[1:]:
        record = decode_entry_record(data)[1]
        if type(record) is Block:
            assert lg.append(batch).ok
            batch = []
            lg.seal(time=record.time)
        else:
            batch.append(data)
    lg.close()
    return path


def test_a_ledger_directory_verifies_like_its_published_form(ledger_dir: Path,
                                                             baseline: AuditReport) -> None:
    with open_source(str(ledger_dir)) as source:
        report = verify(source, PUBLISHER, workers=1)
    assert comparable(report)["errors"] == []
    assert comparable(report)["warnings"] == comparable(baseline)["warnings"]
    assert report.root == baseline.root


def test_unsealed_entries_are_checked_and_reported_not_as_errors(ledger_dir: Path) -> None:
    with Ledger.open(ledger_dir, PUBLISHER_SIGNER) as lg:
        for n in range(3):
            key = Signer(bytes([n + 1]) * 32).public_key
            lg.register_station(Station(id=f"AB-{100 + n}", county="ALBA", number=100 + n,
                                        name="new", pubkey=key))
    with LedgerDirSource(ledger_dir) as source:
        report = verify(source, PUBLISHER, workers=1)
    assert report.errors == []
    assert (report.unsealed, report.tree_size, report.entries) == (3, SIZE, SIZE + 3)


def _put_entry(path: Path, index: int, data: bytes) -> None:
    import lmdb  # the test alters the store behind the Ledger's back, as an attacker would

    env = lmdb.open(str(path), max_dbs=8, subdir=True)
    try:
        db = env.open_db(b"entries")
        with env.begin(write=True) as txn:
            txn.put(struct.pack(">Q", index), data, db=db)
    finally:
        env.close()


def test_an_entry_altered_in_the_store_is_an_error(ledger_dir: Path) -> None:
    data = bytearray(_entries()[40])
    data[-10] ^= 0x10  # inside its signature
    _put_entry(ledger_dir, 40, bytes(data))
    with open_source(str(ledger_dir)) as source:
        report = verify(source, PUBLISHER, workers=1)
    assert report.errors[0].where.index == 40
    assert report.errors[0].category == "tiles"
    assert {e.category for e in report.errors} >= {"signature"}


def test_corruption_lmdb_detects_is_a_store_error(ledger_dir: Path) -> None:
    data = (ledger_dir / "data.mdb").read_bytes()
    (ledger_dir / "data.mdb").write_bytes(b"\xff" * 4096 + data[4096:])
    with pytest.raises(StoreError):
        open_source(str(ledger_dir))


def test_a_rebundled_entry_bundle_parses(log: Path) -> None:
    entries = _entries()
    _rebundle(entries, partials=True)(log)
    assert parse_entry_bundle((log / "tile/entries/000").read_bytes(), 256) == entries[:256]
    assert audit(log).errors == []


# --- limits and edges --------------------------------------------------------------------------


def test_findings_kept_in_memory_are_bounded_and_the_rest_counted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tests.conftest import GOLDEN_DIR

    monkeypatch.setattr(verify_module, "MAX_FINDINGS", 1)
    report = audit(GOLDEN_DIR / "reject/entry-bundle-byte-flip")
    assert [e.category for e in report.errors] == ["tiles", "signature"]
    assert report.extra["errors_not_listed"] == 2


def test_a_signed_checkpoint_of_the_empty_tree_is_not_at_a_block(log: Path) -> None:
    (log / "checkpoint").write_bytes(_publisher_signed(0, bytes.fromhex(
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")))
    report = audit(log)
    assert [(e.category, e.code) for e in report.errors] == [
        ("checkpoint", "checkpoint-not-at-block")
    ]


def test_importing_the_auditor_does_not_import_lmdb() -> None:
    import subprocess
    import sys

    code = "import sys, ledger.auditor.verify, ledger.auditor.prove; print('lmdb' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == "False"
