"""The publisher's Ledger: what it accepts, what it refuses (one test per attack), seals, proofs."""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from ledger.core.hashing import leaf_hash
from ledger.core.merkle import consistency_proof as merkle_consistency_proof
from ledger.core.merkle import inclusion_proof as merkle_inclusion_proof
from ledger.core.merkle import root as reference_root
from ledger.core.proofs import verify_consistency, verify_inclusion
from ledger.errors import (
    ConsistencyError,
    InputError,
    RollbackError,
    RuleError,
    SignatureError,
    StoreCorruptError,
    StoreError,
    VerificationError,
)
from ledger.formats.checkpoints import Checkpoint, format_checkpoint, open_ledger_checkpoint
from ledger.formats.codec import encode_value
from ledger.formats.keys import NoteSigner, note_signer_for, parse_signer_key
from ledger.formats.notes import sign_note
from ledger.formats.records import (
    Block,
    Category,
    Election,
    Registered,
    Report,
    Station,
    Turnout,
    decode_entry_record,
    encode_entry,
    sign_record,
)
from ledger.formats.signing import Signer
from ledger.publisher import checker_keeper as log_state
from ledger.publisher.ledger import Ledger
from ledger.sources.open import open_source
from ledger.store.store import Store
from tests.conftest import GOLDEN_DIR, load_json, run_doc_examples

ORIGIN = "prezenta.example.ro/test-election"
T0 = 1_747_540_800_000  # 2025-05-18 04:00 UTC


def seed(label: str) -> bytes:
    return hashlib.sha256(b"election-ledger tests: " + label.encode()).digest()


def publisher_key(origin: str = ORIGIN) -> NoteSigner:
    return note_signer_for(origin, Signer(seed("publisher " + origin)))


def station_signer(station: str, generation: int = 1) -> Signer:
    return Signer(seed(f"station {station} {generation}"))


ELECTION = Election(
    name="Test election", date="2025-05-18", tz="Europe/Bucharest",
    categories={"PRSD": Category(rules="presidential", competitors=("ANA", "ION"))},
)


def station_record(station: str, generation: int = 1) -> Station:
    county, number = station.split("-")
    return Station(id=station, county=county, number=int(number), name=f"School {station}",
                   pubkey=station_signer(station, generation).public_key)


def turnout(station: str, voters: int, *, at: int = T0, permanent: int = 1000) -> Turnout:
    return Turnout(station=station, at=at, registered=Registered(permanent=permanent),
                   counts={"LP": voters, "LS": 0, "UM": 0, "LT": voters})


def report(station: str, *, version: int = 1, stage: str = "PROV", valid: int = 100,
           votes: tuple[int, int] | None = None) -> Report:
    ana, ion = votes if votes is not None else (valid // 2, valid - valid // 2)
    fields = {"a": 1000, "b": valid + 2, "b1": valid + 2, "b2": 0, "b3": 0, "c": valid,
              "d": 2, "e": 1000, "f": 1000 - valid - 2}
    return Report(station=station, category="PRSD", version=version, stage=stage,
                  at=T0 + version, fields=fields, votes={"ANA": ana, "ION": ion})


def signed(record: Turnout | Report, *, origin: str = ORIGIN, generation: int = 1,
           signer: Signer | None = None) -> bytes:
    station = record.station
    key = signer or station_signer(station, generation)
    return encode_entry(sign_record(key, origin, record))


def new_ledger(path: Path, stations: tuple[str, ...] = ("AB-1", "AB-2")) -> Ledger:
    ledger = Ledger.create(path, ORIGIN, publisher_key(), ELECTION)
    for station in stations:
        ledger.register_station(station_record(station))
    return ledger


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    lg = new_ledger(tmp_path / "ledger")
    yield lg
    lg.close()


def all_leaves(lg: Ledger) -> list[bytes]:
    return [leaf_hash(e) for e in lg.entries()]


# --- the golden log -------------------------------------------------------------------------


def test_golden_log_is_reproduced_byte_for_byte(tmp_path: Path) -> None:
    keys = load_json(GOLDEN_DIR / "keys.json")
    source = open_source(str(GOLDEN_DIR / "valid"))
    published = source.read_checkpoint()
    size = int(published.split(b"\n")[1])
    entries = list(source.iter_entries(0, size))
    election = decode_entry_record(entries[0])[1]
    assert isinstance(election, Election)
    lg = Ledger.create(tmp_path / "l", keys["origin"], parse_signer_key(keys["publisher"]["skey"]),
                       election)
    batch: list[bytes] = []
    for index, data in enumerate(entries[1:], 1):
        record = decode_entry_record(data)[1]
        if type(record) is not Block:
            batch.append(data)
            continue
        result = lg.append(batch)
        assert result.ok, result.rejected
        batch = []
        lg.seal(time=record.time)
        assert lg.entry(index) == data
    latest = lg.latest_checkpoint()
    assert latest is not None
    # The published checkpoint adds a witness cosignature line to exactly what we signed.
    assert published.startswith(latest.note_bytes)
    assert lg.size == size
    lg.close()


# --- appending --------------------------------------------------------------------------------


def test_create_writes_the_election_as_entry_0_and_refuses_a_key_not_named_origin(
    tmp_path: Path,
) -> None:
    with new_ledger(tmp_path / "a", ()) as lg:
        assert lg.size == 1
        assert lg.election() == ELECTION
        assert lg.latest_checkpoint() is None
    with pytest.raises(InputError, match="must be the origin"):
        Ledger.create(tmp_path / "b", ORIGIN, publisher_key("other.example/x"), ELECTION)
    with pytest.raises(InputError, match="origin"):
        Ledger.create(tmp_path / "c", "not an origin", publisher_key("not an origin"[:3]),
                      ELECTION)


def test_valid_entries_are_written_and_indexed(ledger: Ledger) -> None:
    result = ledger.append([signed(turnout("AB-1", 10)), signed(report("AB-2"))])
    assert result.ok
    assert [a.index for a in result.accepted] == [3, 4]
    assert ledger.size == 5
    assert ledger.lookup("AB-1") == [1, 3]
    assert ledger.lookup("AB-2", "report", "PRSD") == [4]
    assert ledger.record(3) == turnout("AB-1", 10)


def test_a_refused_entry_names_its_position_and_does_not_stop_the_others(ledger: Ledger) -> None:
    bad = signed(turnout("AB-1", 10), signer=station_signer("AB-2"))
    result = ledger.append([signed(turnout("AB-1", 5)), bad, signed(turnout("AB-2", 7))])
    assert [r.position for r in result.rejected] == [1]
    assert result.rejected[0].error.code == "wrong-station"
    assert [a.position for a in result.accepted] == [0, 2]
    assert ledger.size == 5


def test_stop_on_error_writes_nothing_of_the_batch(ledger: Ledger) -> None:
    bad = signed(turnout("AB-1", 10), signer=station_signer("AB-2"))
    result = ledger.append([signed(turnout("AB-1", 5)), bad, signed(turnout("AB-2", 7))],
                           stop_on_error=True)
    assert not result.written
    assert ledger.size == 3
    # The checker was reset: the first entry can still be appended.
    assert ledger.append([signed(turnout("AB-1", 5))]).ok


def test_soft_rule_breaks_are_written_and_reported(ledger: Ledger) -> None:
    r = report("AB-1")
    soft = Report(station=r.station, category=r.category, version=1, stage="PROV", at=r.at,
                  fields={**r.fields, "d": 1}, votes=r.votes)  # c + d != b: a warning only
    result = ledger.append([signed(soft)])
    assert result.ok
    assert result.warnings


def test_entry_objects_and_bytes_are_both_accepted(ledger: Ledger) -> None:
    entry = sign_record(station_signer("AB-1"), ORIGIN, turnout("AB-1", 1))
    assert ledger.append([entry]).ok


# --- attacks: one test each -------------------------------------------------------------------


def test_replay_of_a_record_signed_for_another_origin_is_refused(ledger: Ledger) -> None:
    replayed = signed(turnout("AB-1", 10), origin="prezenta.example.ro/other-election")
    result = ledger.append([replayed])
    assert result.rejected[0].error.category == "signature"
    assert ledger.size == 3


def test_record_signed_by_a_revoked_key_is_refused(ledger: Ledger) -> None:
    assert ledger.append([signed(turnout("AB-1", 10))]).ok
    ledger.revoke_key(station_record("AB-1").key_id, "key lost")
    result = ledger.append([signed(turnout("AB-1", 20))])
    assert result.rejected[0].error.code == "key-revoked"
    assert ledger.lookup("AB-1", "revoke") == [4]


def test_record_signed_by_an_unregistered_key_is_refused(ledger: Ledger) -> None:
    intruder = Signer(seed("intruder"))
    result = ledger.append([signed(turnout("AB-1", 10), signer=intruder)])
    assert result.rejected[0].error.code == "key-unregistered"
    unknown_station = signed(turnout("CJ-9", 10))
    assert ledger.append([unknown_station]).rejected


def test_record_signed_by_a_replaced_key_is_refused(ledger: Ledger) -> None:
    ledger.register_station(station_record("AB-1", generation=2))
    result = ledger.append([signed(turnout("AB-1", 10))])
    assert result.rejected[0].error.code == "key-replaced"
    assert ledger.append([signed(turnout("AB-1", 10), generation=2)]).ok


def test_duplicate_entry_is_refused_in_one_batch_and_across_batches(ledger: Ledger) -> None:
    entry = signed(turnout("AB-1", 10))
    result = ledger.append([entry, entry])
    assert [r.position for r in result.rejected] == [1]
    assert result.rejected[0].error.code == "duplicate-entry"
    again = ledger.append([entry])
    assert again.rejected[0].error.code == "duplicate-entry"
    dup_station = ledger.append([ledger.entry(1)])
    assert dup_station.rejected


def test_report_version_going_backwards_is_refused(ledger: Ledger) -> None:
    assert ledger.append([signed(report("AB-1", version=2))]).ok
    result = ledger.append([signed(report("AB-1", version=1, valid=90))])
    error = result.rejected[0].error
    assert isinstance(error, RuleError)
    same = ledger.append([signed(report("AB-1", version=2, valid=90))])
    assert same.rejected


def test_turnout_counter_going_down_is_refused(ledger: Ledger) -> None:
    assert ledger.append([signed(turnout("AB-1", 10))]).ok
    result = ledger.append([signed(turnout("AB-1", 9, at=T0 + 1))])
    assert isinstance(result.rejected[0].error, RuleError)


def test_a_second_election_and_its_copy_are_refused(ledger: Ledger) -> None:
    second = Election(name="Another", date=ELECTION.date, tz=ELECTION.tz,
                      categories=ELECTION.categories)
    result = ledger.append([ledger.sign(second), ledger.sign(ELECTION)])
    assert [r.error.code for r in result.rejected] == ["election-repeated", "duplicate-entry"]
    assert isinstance(result.rejected[0].error, SignatureError)


def test_publisher_signed_turnout_for_a_registered_station_is_accepted(ledger: Ledger) -> None:
    result = ledger.append([ledger.sign(turnout("AB-1", 10))])
    assert not result.rejected


def test_a_block_cannot_be_appended_only_sealed(ledger: Ledger) -> None:
    block = Block(height=0, prev=bytes(32), first=0, count=3, time=T0)
    result = ledger.append([ledger.sign(block)])
    assert result.rejected[0].error.code == "block-appended"
    assert ledger.seal(time=T0).checkpoint.size == 4


def test_checkpoint_that_would_shrink_the_log_is_never_signed(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger.seal(time=T0)
    bigger = Checkpoint(origin=ORIGIN, size=50, root=b"\x07" * 32)
    note = sign_note(format_checkpoint(bigger), [publisher_key()])
    forged = open_ledger_checkpoint(note, publisher_key().verifier_key)
    monkeypatch.setattr(Ledger, "latest_checkpoint", lambda self: forged)
    with pytest.raises(RollbackError):
        ledger.seal(time=T0 + 1)
    assert ledger.size == 4


def test_checkpoint_that_would_fork_the_log_is_never_signed(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger.seal(time=T0)
    ledger.append([signed(turnout("AB-1", 10))])
    fork = Checkpoint(origin=ORIGIN, size=4, root=b"\x07" * 32)  # same size, other history
    note = sign_note(format_checkpoint(fork), [publisher_key()])
    forged = open_ledger_checkpoint(note, publisher_key().verifier_key)
    monkeypatch.setattr(Ledger, "latest_checkpoint", lambda self: forged)
    with pytest.raises(ConsistencyError):
        ledger.seal(time=T0 + 1)
    assert ledger.size == 5
    monkeypatch.undo()
    assert ledger.seal(time=T0 + 1).checkpoint.size == 6


def test_block_time_that_is_not_later_is_refused(ledger: Ledger) -> None:
    ledger.seal(time=T0)
    with pytest.raises(InputError, match="not after"):
        ledger.seal(time=T0)
    later = ledger.seal()  # default: now, or last + 1
    assert later.checkpoint.size == 5


def test_stored_checkpoint_that_does_not_match_the_tree_fails_open(tmp_path: Path) -> None:
    with new_ledger(tmp_path / "l") as lg:
        lg.seal(time=T0)
        other = Checkpoint(origin=ORIGIN, size=4, root=b"\x01" * 32)
        note = sign_note(format_checkpoint(other), [publisher_key()])
        store = lg.store
        with store._env.begin(write=True) as txn:  # tamper below the API, as a disk fault would
            txn.put((0).to_bytes(8, "big"), note, db=store._dbs[b"checkpoints"])
    with pytest.raises(StoreCorruptError, match="does not match"):
        Ledger.open(tmp_path / "l")


# --- seal, reopen, proofs ---------------------------------------------------------------------


def test_seal_chains_blocks_and_embeds_the_previous_checkpoint(ledger: Ledger) -> None:
    first = ledger.seal(time=T0)
    ledger.append([signed(turnout("AB-1", 10))])
    second = ledger.seal(time=T0 + 60_000)
    blocks = list(ledger.blocks())
    assert [i for i, _ in blocks] == [3, 5]
    b0, b1 = blocks[0][1], blocks[1][1]
    assert (b0.height, b0.first, b0.count, b0.checkpoint) == (0, 0, 3, None)
    assert (b1.height, b1.first, b1.count) == (1, 4, 1)
    assert b1.prev == leaf_hash(ledger.entry(3))
    assert b1.checkpoint == first.note_bytes.decode()
    assert ledger.checkpoint(1).note_bytes == second.note_bytes
    assert second.checkpoint.root == reference_root(all_leaves(ledger))


def test_empty_block_is_refused_unless_allowed(ledger: Ledger) -> None:
    ledger.seal(time=T0)
    with pytest.raises(InputError, match="nothing to seal"):
        ledger.seal(time=T0 + 1, allow_empty=False)
    assert ledger.seal(time=T0 + 1).checkpoint.size == 5


def test_reopen_continues_without_replaying_and_keeps_refusing(tmp_path: Path) -> None:
    path = tmp_path / "l"
    entry = signed(turnout("AB-1", 10))
    with new_ledger(path) as lg:
        lg.append([entry])
        lg.seal(time=T0)
    with Ledger.open(path, publisher_key()) as lg:
        assert lg.append([entry]).rejected  # duplicate, known from the stored state
        assert lg.append([signed(turnout("AB-1", 9, at=T0 + 5))]).rejected
        assert lg.append([signed(turnout("AB-1", 11, at=T0 + 5))]).ok
        assert lg.seal(time=T0 + 1).checkpoint.size == 7


def test_open_refuses_another_publisher_key(ledger: Ledger, tmp_path: Path) -> None:
    path = ledger.store.path
    ledger.close()
    with pytest.raises(InputError, match="not this ledger's publisher key"):
        Ledger.open(path, note_signer_for(ORIGIN, Signer(seed("someone else"))))


def test_read_only_ledger_cannot_write_but_reads(ledger: Ledger) -> None:
    ledger.seal(time=T0)
    path = ledger.store.path
    with Ledger.open(path, write=False) as reader:
        assert reader.size == 4
        assert reader.latest_checkpoint() is not None
        with pytest.raises(StoreError, match="read-only"):
            reader.append([signed(turnout("AB-1", 1))])


def test_writing_needs_the_publisher_key(ledger: Ledger) -> None:
    path = ledger.store.path
    ledger.close()
    with Ledger.open(path) as lg:
        assert lg.append([signed(turnout("AB-1", 1))]).ok
        with pytest.raises(ValueError, match="publisher key"):
            lg.seal()


def test_inclusion_and_consistency_proofs_at_every_past_size(ledger: Ledger) -> None:
    for i in range(5):
        ledger.append([signed(turnout("AB-1", i + 1, at=T0 + i))])
    leaves = all_leaves(ledger)
    for size in range(1, len(leaves) + 1):
        root = reference_root(leaves[:size])
        for index in range(size):
            verify_inclusion(leaves[index], index, size, ledger.inclusion_proof(index, size), root)
        for old in range(size + 1):
            verify_consistency(old, size, ledger.consistency_proof(old, size),
                               reference_root(leaves[:old]), root)
    with pytest.raises(ValueError, match="not inside"):
        ledger.inclusion_proof(8, 8)


def test_signatures_of_a_large_batch_are_checked_on_all_cores(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(log_state, "PARALLEL_MIN_SIGNATURES", 4)
    monkeypatch.setattr(log_state, "_CHUNK", 2)
    monkeypatch.setattr(log_state, "default_workers", lambda: 2)
    good = [signed(turnout("AB-1", i + 1, at=T0 + i)) for i in range(6)]
    tampered = bytearray(signed(turnout("AB-2", 5)))
    tampered[-5] ^= 1  # inside the signature, just before the trailing "v": 1
    result = ledger.append([*good[:3], bytes(tampered), *good[3:]])
    assert [r.position for r in result.rejected] == [3]
    assert isinstance(result.rejected[0].error, VerificationError)
    assert len(result.accepted) == 6


# --- the model test -----------------------------------------------------------------------------


class LedgerModel(RuleBasedStateMachine):
    """Appends, seals, reopens and proofs at random past sizes against a plain list of leaves."""

    def __init__(self) -> None:
        super().__init__()
        self.dir = Path(tempfile.mkdtemp(prefix="ledger-model-"))
        self.path = self.dir / "l"
        self.lg = new_ledger(self.path, ("AB-1", "AB-2", "AB-3"))
        self.leaves = all_leaves(self.lg)
        self.voters = {"AB-1": 0, "AB-2": 0, "AB-3": 0}
        self.checkpoints: list[tuple[int, bytes]] = []
        self.time = T0

    def teardown(self) -> None:
        self.lg.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    @rule(station=st.sampled_from(["AB-1", "AB-2", "AB-3"]),
          steps=st.lists(st.integers(min_value=0, max_value=3), min_size=1, max_size=4),
          forged=st.booleans())
    def append(self, station: str, steps: list[int], forged: bool) -> None:
        batch, expected = [], []
        voters = self.voters[station]
        for step in steps:
            voters += step + 1
            batch.append(signed(turnout(station, voters, at=T0 + voters)))
            expected.append(batch[-1])
        if forged:
            batch.append(signed(turnout(station, voters + 1), signer=station_signer("AB-9")))
        result = self.lg.append(batch)
        assert [r.position for r in result.rejected] == ([len(steps)] if forged else [])
        self.voters[station] = voters
        self.leaves += [leaf_hash(e) for e in expected]

    @rule()
    def seal(self) -> None:
        self.time += 1000
        signed_cp = self.lg.seal(time=self.time)
        self.leaves.append(leaf_hash(self.lg.entry(len(self.leaves))))
        cp = signed_cp.checkpoint
        assert cp.size == len(self.leaves)
        assert cp.root == reference_root(self.leaves)
        self.checkpoints.append((cp.size, cp.root))

    @rule()
    def reopen(self) -> None:
        self.lg.close()
        self.lg = Ledger.open(self.path, publisher_key())

    @rule(data=st.data())
    def prove_at_a_past_size(self, data: st.DataObject) -> None:
        size = data.draw(st.integers(min_value=1, max_value=len(self.leaves)))
        index = data.draw(st.integers(min_value=0, max_value=size - 1))
        old = data.draw(st.integers(min_value=0, max_value=size))
        root = reference_root(self.leaves[:size])
        proof = self.lg.inclusion_proof(index, size)
        assert proof == merkle_inclusion_proof(self.leaves, index, size)
        verify_inclusion(self.leaves[index], index, size, proof, root)
        cproof = self.lg.consistency_proof(old, size)
        assert cproof == merkle_consistency_proof(self.leaves, old, size)
        verify_consistency(old, size, cproof, reference_root(self.leaves[:old]), root)

    @invariant()
    def store_matches_the_model(self) -> None:
        assert self.lg.size == len(self.leaves)
        assert self.lg.root() == reference_root(self.leaves)
        latest = self.lg.latest_checkpoint()
        if self.checkpoints:
            assert latest is not None
            assert (latest.checkpoint.size, latest.checkpoint.root) == self.checkpoints[-1]
        else:
            assert latest is None


TestLedgerModel = LedgerModel.TestCase
TestLedgerModel.settings = settings(max_examples=30, stateful_step_count=20, deadline=None)


def test_api_doc_examples_run() -> None:
    failures, tried = run_doc_examples("api.md", "`ledger.publisher.ledger`")
    assert tried > 10
    assert failures == 0


def test_reopen_after_a_crash_rechecks_the_entries_after_the_stored_state(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(log_state, "STATE_EVERY", 3)
    monkeypatch.setattr(log_state, "STATE_PER_STATION", 0)
    path = tmp_path / "l"
    lg = new_ledger(path)  # 3 entries
    lg.append([signed(turnout("AB-1", 10)), signed(turnout("AB-2", 5))])  # state stored at 5
    lg.append([signed(turnout("AB-1", 11, at=T0 + 1))])
    lg.append([signed(turnout("AB-1", 12, at=T0 + 2))])
    lg.store.close()  # as a crash would: no state written on close
    with Store(path) as store:
        assert store.state() is not None
    with Ledger.open(path, publisher_key()) as again:
        assert again.checker.size == 7
        assert again._keeper._stored_size == 5  # entries 5 and 6 were re-checked
        assert again.append([signed(turnout("AB-1", 12, at=T0 + 2))]).rejected  # a copy
        assert again.append([signed(turnout("AB-1", 11, at=T0 + 3))]).rejected  # goes down
        assert again.append([signed(turnout("AB-1", 13, at=T0 + 3))]).ok


def test_a_stored_entry_altered_after_the_state_is_caught_on_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(log_state, "STATE_EVERY", 100)
    path = tmp_path / "l"
    lg = new_ledger(path)
    lg.append([signed(turnout("AB-1", 10))])
    forged = signed(turnout("AB-1", 99))
    store = lg.store
    with store._env.begin(write=True) as txn:  # a disk edit below the API
        txn.put((3).to_bytes(8, "big"), forged, db=store._dbs[b"entries"])
    store.close()
    with pytest.raises(StoreCorruptError, match="root"):
        Ledger.open(path, publisher_key())


# --- copies, the checker state's interval, the signature pool ----------------------------------


def test_a_resubmitted_copy_of_any_kind_is_refused_naming_the_original(ledger: Ledger) -> None:
    ledger.append([signed(report("AB-1"))])  # entry 3
    ledger.revoke_key(station_signer("AB-2").key_id, "lost")  # entry 4
    ledger.seal(time=T0)  # entry 5
    copies = [ledger.entry(i) for i in (0, 1, 3, 4, 5)]
    result = ledger.append(copies)
    assert [r.error.code for r in result.rejected] == ["duplicate-entry"] * 5
    assert [str(r.error).split("entry is byte-identical to entry ")[1][:1]
            for r in result.rejected] == ["0", "1", "3", "4", "5"]
    assert ledger.size == 6


def test_a_refused_entry_that_is_no_copy_keeps_its_own_reason(ledger: Ledger) -> None:
    ledger.append([signed(turnout("AB-1", 10))])
    result = ledger.append([signed(turnout("AB-1", 9, at=T0 + 1))])
    assert isinstance(result.rejected[0].error, RuleError)


def test_checker_state_is_stored_less_often_the_more_stations_there_are(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(log_state, "STATE_EVERY", 2)
    monkeypatch.setattr(log_state, "STATE_PER_STATION", 3)  # 2 stations: every 6 entries
    with new_ledger(tmp_path / "l") as lg:  # 3 entries, the state stored at 1 (create)
        assert log_state.state_interval(lg.checker) == 6
        stored = []
        for voters in range(10, 20):  # sizes 4 to 13
            lg.append([signed(turnout("AB-1", voters, at=T0 + voters))])
            stored.append(lg._keeper._stored_size)
        assert stored == [1, 1, 1, 7, 7, 7, 7, 7, 7, 13]
        assert lg.store.state() == encode_value(lg.checker.to_value())


def test_the_signature_pool_serves_every_batch_and_stops_on_close(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(log_state, "PARALLEL_MIN_SIGNATURES", 3)
    monkeypatch.setattr(log_state, "default_workers", lambda: 2)
    first = ledger.append([signed(turnout("AB-1", v, at=T0 + v)) for v in range(1, 5)])
    pool = ledger._keeper._pool
    assert first.ok
    assert pool is not None
    forged = bytearray(signed(turnout("AB-2", 7)))
    forged[-5] ^= 1  # inside the signature
    second = ledger.append([*(signed(turnout("AB-2", v, at=T0 + v)) for v in range(1, 4)),
                            bytes(forged)])
    assert [r.error.code for r in second.rejected] == ["bad-signature"]
    assert ledger._keeper._pool is pool
    ledger.close()
    assert ledger._keeper._pool is None


def test_a_damaged_lookup_table_is_reported_not_followed(tmp_path: Path) -> None:
    # A flipped index in the lookup table would make `show --station` print another
    # station's entry as this one's; the ledger checks every index against its entry.
    import lmdb

    path = tmp_path / "ledger"
    with new_ledger(path) as lg:
        assert lg.append([signed(turnout("AB-1", 5))]).ok
        [station_entry, turnout_entry] = lg.lookup("AB-1")
    env = lmdb.open(str(path), subdir=True, max_dbs=16)
    table = env.open_db(b"lookup", create=False)
    with env.begin(write=True) as txn:
        key = next(k for k, _ in txn.cursor(db=table) if k.endswith(
            turnout_entry.to_bytes(8, "big")) and b"AB-1" in k)
        value = txn.get(key, db=table)
        txn.delete(key, db=table)
        txn.put(key[:-8] + (0).to_bytes(8, "big"), value, db=table)  # now names entry 0
    env.close()
    with Ledger.open(path, write=False) as lg, pytest.raises(StoreCorruptError,
                                                             match="lookup table names entry 0"):
        lg.lookup("AB-1")
    assert station_entry == 1
