"""A ledger directory whose stored tables were altered behind the publisher's back.

One flipped bit in any table the store keeps beside its entries (the checker state, the lookup
index, the inner nodes of levels 1 to 7, the blocks, the older and the latest checkpoint, the
cosigned checkpoint) is store corruption: ``ledger verify`` of the directory exits 3 with a
finding of category ``store`` naming the table and key, and a clean store still verifies 0
(docs/spec.md, "Exit status of every command"). ``Ledger.open`` refuses a checker state that
does not match the digest stored beside it before trusting it.
"""

from __future__ import annotations

import json
import os
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from election_ledger_cli.app import cli

from ledger.core.hashing import key_id
from ledger.errors import StoreCorruptError
from ledger.formats.notes import cosign, format_note, parse_signature_line, parse_unverified_note
from ledger.publisher import checker_keeper
from ledger.publisher.ledger import Ledger
from ledger.sources.ledger_dir import LedgerDirSource
from ledger.store.integrity import compare_stored_tables
from ledger.store.store import state_digest
from tests.test_cli_policy import UNI
from tests.test_log import (
    T0,
    new_ledger,
    publisher_key,
    report,
    signed,
    station_signer,
    turnout,
)


def _store_ledger(path: Path) -> Path:
    """A ledger of 300 entries in 3 blocks, its checker state stored in the middle of the log
    (not at its end), a revoke, reports, and a checkpoint cosigned by a witness."""
    lg = new_ledger(path, ("AB-1", "AB-2", "AB-3"))
    assert lg.append([signed(turnout("AB-1", v, at=T0 + v)) for v in range(1, 130)]).ok
    lg.seal(time=T0 + 1)
    assert lg.append([signed(report("AB-2")), signed(report("AB-2", version=2))]).ok
    assert lg.append([signed(turnout("AB-2", v, at=T0 + v)) for v in range(1, 140)]).ok
    lg.revoke_key(key_id(station_signer("AB-3").public_key), "lost")
    lg.seal(time=T0 + 2)
    assert lg.append([signed(turnout("AB-1", 200 + v, at=T0 + 200 + v))
                      for v in range(20)]).ok
    latest = lg.seal(time=T0 + 3)
    text = parse_unverified_note(latest.note_bytes).text
    line = parse_signature_line(cosign(text, UNI, int(time.time())))
    note = parse_unverified_note(latest.note_bytes)
    lg.store.put_meta("cosigned_checkpoint", format_note(note.text, [*note.signatures, line]))
    assert lg.append([signed(turnout("AB-2", 500, at=T0 + 500))]).ok  # an unsealed tail
    lg._keeper.close()  # closed as a killed publisher would be: the state stays where it was
    lg.store.close()
    return path


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(checker_keeper, "STATE_EVERY", 100)
        return _store_ledger(tmp_path_factory.mktemp("integrity") / "ledger")


@pytest.fixture
def ledger_dir(built: Path, tmp_path: Path) -> Path:
    target = tmp_path / "ledger"
    target.mkdir()
    for name in ("data.mdb",):
        (target / name).write_bytes((built / name).read_bytes())
    return target


@pytest.fixture
def pub(tmp_path: Path) -> Path:
    path = tmp_path / "publisher.pub"
    path.write_text(f"{publisher_key().verifier_key}\n", encoding="ascii")
    return path


@pytest.fixture
def policy(tmp_path: Path) -> Path:
    path = tmp_path / "uni.policy"
    path.write_text(f"log {publisher_key().verifier_key}\nwitness uni {UNI.verifier_key}\n"
                    "quorum uni\n", encoding="utf-8")
    return path


def _verify(path: Path, *trust: str | Path) -> tuple[int, dict[str, Any]]:
    result = CliRunner().invoke(cli, ["verify", str(path), *map(str, trust), "--workers", "1",
                                      "--json"])
    return result.exit_code, json.loads(result.stdout)


def _store_errors(report: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for e in report["errors"] if e["category"] == "store"]


@contextmanager
def _tables(path: Path) -> Iterator[Callable[[str], Any]]:
    """Write access to the store's tables behind the publisher's back, as an attacker has."""
    import lmdb

    env = lmdb.open(str(path), subdir=True, max_dbs=8)
    try:
        with env.begin(write=True) as txn:
            yield lambda name: (txn, env.open_db(name.encode(), txn=txn))
    finally:
        env.close()


def _flip_value(path: Path, table: str, key: bytes, byte: int, bit: int = 1) -> None:
    with _tables(path) as open_table:
        txn, db = open_table(table)
        value = bytearray(txn.get(key, db=db))
        value[byte] ^= bit
        txn.put(key, bytes(value), db=db)


def _u64(n: int) -> bytes:
    return n.to_bytes(8, "big")


def _stored_state_size(path: Path) -> int:
    from ledger.store.integrity import decode_state

    with Ledger.open(path, write=False) as lg:
        state = lg.store.state()
        assert state is not None
        return decode_state(state, lg.verifier_key).size


# --- a clean store ------------------------------------------------------------------------------


def test_a_clean_store_verifies_0_and_its_state_is_not_at_its_end(ledger_dir: Path,
                                                                  pub: Path,
                                                                  policy: Path) -> None:
    code, report = _verify(ledger_dir, "--pub", pub)
    assert (code, report["errors"]) == (0, [])
    code, report = _verify(ledger_dir, "--policy", policy)
    assert (code, report["errors"]) == (0, [])
    with Ledger.open(ledger_dir, write=False) as lg:
        assert 0 < _stored_state_size(ledger_dir) < lg.size


def test_a_store_reopened_and_appended_many_times_still_compares_equal(tmp_path: Path,
                                                                     monkeypatch: Any) -> None:
    # The state the publisher stores after reloading it is the state a fresh replay gives.
    monkeypatch.setattr(checker_keeper, "STATE_EVERY", 5)
    path = tmp_path / "ledger"
    new_ledger(path, ("AB-1", "AB-2")).close()
    for round_ in range(6):
        with Ledger.open(path, publisher_key()) as lg:
            assert lg.append([signed(turnout("AB-1", 10 * round_ + v, at=T0 + 10 * round_ + v))
                              for v in range(1, 4)]).ok
            if round_ % 2:
                lg.seal(time=T0 + round_)
    with Ledger.open(path, write=False) as lg:
        assert compare_stored_tables(lg.store, lg.verifier_key) == []


# --- one flipped bit per table ------------------------------------------------------------------


def _assert_store_corruption(path: Path, pub: Path, table: str, key: str,
                             *trust: str | Path) -> dict[str, Any]:
    code, report = _verify(path, *(trust or ("--pub", pub)))
    found = _store_errors(report)
    assert code == 3, report["errors"]
    assert found, report["errors"]
    assert f"store table {table}, key {key}" in found[0]["message"], found
    return report


def test_a_flipped_bit_in_the_stored_checker_state_exits_3_naming_meta_state(
        ledger_dir: Path, pub: Path) -> None:
    _flip_value(ledger_dir, "meta", b"state", 40)
    _assert_store_corruption(ledger_dir, pub, "meta", "state")


def test_a_checker_state_rewritten_with_a_matching_digest_still_exits_3(ledger_dir: Path,
                                                                       pub: Path) -> None:
    # An attacker who also rewrites the digest: the state differs from the entries' replay.
    from ledger.formats.codec import decode_value, encode_value

    with _tables(ledger_dir) as open_table:
        txn, meta = open_table("meta")
        value = decode_value(bytes(txn.get(b"state", db=meta)), max_size=1 << 31,
                             max_items=1 << 26)
        assert value["turnout_plateaus"]
        value["turnout_plateaus"] = {}  # forget them: append would accept a turnout's copy
        state = encode_value(value)
        txn.put(b"state", state, db=meta)
        txn.put(b"state_digest", state_digest(state), db=meta)
    report = _assert_store_corruption(ledger_dir, pub, "meta", "state")
    assert "differs from the state the entries give" in _store_errors(report)[0]["message"]


def test_ledger_open_refuses_a_flipped_checker_state_before_trusting_it(ledger_dir: Path) -> None:
    # The attack of issue 19: status and verify said 0, append refused good entries.
    _flip_value(ledger_dir, "meta", b"state", 40)
    with pytest.raises(StoreCorruptError, match="table meta, key state"):
        Ledger.open(ledger_dir, publisher_key())


def test_status_of_a_ledger_whose_checker_state_is_flipped_exits_3(ledger_dir: Path) -> None:
    # It said 0 while append refused good entries.
    _flip_value(ledger_dir, "meta", b"state", 40)
    result = CliRunner().invoke(cli, ["status", str(ledger_dir)])
    assert result.exit_code == 3, result.output
    assert "table meta, key state" in result.output


def test_a_flipped_bit_in_the_state_digest_exits_3(ledger_dir: Path, pub: Path) -> None:
    _flip_value(ledger_dir, "meta", b"state_digest", 3)
    _assert_store_corruption(ledger_dir, pub, "meta", "state")


def test_a_flipped_bit_in_a_lookup_key_exits_3_naming_the_lookup_table(ledger_dir: Path,
                                                                      pub: Path) -> None:
    with _tables(ledger_dir) as open_table:
        txn, lookup = open_table("lookup")
        key = [k for k, _ in txn.cursor(db=lookup)][7]
        txn.delete(key, db=lookup)
        flipped = bytearray(key)
        flipped[-1] ^= 1  # the entry index: now another entry, as `show --station` would follow
        txn.put(bytes(flipped), b"", db=lookup)
    _assert_store_corruption(ledger_dir, pub, "lookup", "")


@pytest.mark.parametrize("level", range(1, 8))
def test_a_flipped_bit_in_a_stored_inner_node_exits_3_naming_the_nodes_table(
        ledger_dir: Path, pub: Path, level: int) -> None:
    # Entry 255 completes the nodes of levels 0 to 8; levels 1 to 7 are in no tile.
    _flip_value(ledger_dir, "nodes", _u64(255), 32 * level + 5)
    _assert_store_corruption(ledger_dir, pub, "nodes", "255")


def test_a_flipped_bit_in_the_blocks_table_exits_3(ledger_dir: Path, pub: Path) -> None:
    _flip_value(ledger_dir, "blocks", _u64(1), 7)
    _assert_store_corruption(ledger_dir, pub, "blocks", "1")


def test_a_flipped_bit_in_an_older_stored_checkpoint_exits_3(ledger_dir: Path,
                                                            pub: Path) -> None:
    _flip_value(ledger_dir, "checkpoints", _u64(0), 60)  # in the signature line
    _assert_store_corruption(ledger_dir, pub, "checkpoints", "0")


def test_a_flipped_bit_in_the_latest_stored_checkpoint_exits_3(ledger_dir: Path,
                                                              pub: Path) -> None:
    with _tables(ledger_dir) as open_table:
        txn, checkpoints = open_table("checkpoints")
        note = bytes(txn.get(_u64(2), db=checkpoints))
    # The cosigned copy is what the auditor reads; the stored one alone is damaged.
    _flip_value(ledger_dir, "checkpoints", _u64(2), len(note) - 10)
    _assert_store_corruption(ledger_dir, pub, "checkpoints", "2")


def test_a_flipped_bit_in_a_witness_cosignature_exits_3(ledger_dir: Path, pub: Path,
                                                       policy: Path) -> None:
    with _tables(ledger_dir) as open_table:
        txn, meta = open_table("meta")
        note = bytes(txn.get(b"cosigned_checkpoint", db=meta))
    # A letter of the signature in the last line changes case: still base64, a bad signature.
    at = next(i for i in range(len(note) - 10, 0, -1) if chr(note[i]).isalpha())
    _flip_value(ledger_dir, "meta", b"cosigned_checkpoint", at, 0x20)
    _assert_store_corruption(ledger_dir, pub, "meta", "cosigned_checkpoint", "--policy", policy)


def test_a_flipped_bit_in_the_cosigned_checkpoint_text_exits_3(ledger_dir: Path,
                                                              pub: Path) -> None:
    _flip_value(ledger_dir, "meta", b"cosigned_checkpoint", 45)  # in the root line
    _assert_store_corruption(ledger_dir, pub, "meta", "cosigned_checkpoint")


def test_a_lookup_row_removed_exits_3(ledger_dir: Path, pub: Path) -> None:
    with _tables(ledger_dir) as open_table:
        txn, lookup = open_table("lookup")
        key = [k for k, _ in txn.cursor(db=lookup)][-1]
        txn.delete(key, db=lookup)
    _assert_store_corruption(ledger_dir, pub, "lookup", "")


def test_the_source_names_nothing_for_a_clean_store(ledger_dir: Path) -> None:
    with LedgerDirSource(ledger_dir) as source:
        assert source.compare_stored_tables(publisher_key().verifier_key) == []


# --- a campaign of random single-bit flips ------------------------------------------------------

#: Flips in `make test`; LEDGER_STORE_FLIPS=1000 for a longer campaign (docs/threat-model.md).
FLIPS = int(os.environ.get("LEDGER_STORE_FLIPS", "60"))
_META = (b"state", b"state_digest", b"size", b"origin", b"vkey", b"ledger_format",
         b"cosigned_checkpoint", b"digest/cosigned_checkpoint")


def _random_flip(path: Path, rng: random.Random) -> tuple[str, bytes, Callable[[], None]]:
    """Flip one random bit of one random row of a derived table; return how to undo it."""
    import lmdb

    table = rng.choice(["meta", "nodes", "lookup", "blocks", "checkpoints"])
    env = lmdb.open(str(path), subdir=True, max_dbs=8)
    with env.begin(write=True) as txn:
        db = env.open_db(table.encode(), txn=txn)
        rows = [(bytes(k), bytes(v)) for k, v in txn.cursor(db=db)]
        if table == "meta":
            rows = [r for r in rows if r[0] in _META]
        key, value = rng.choice(rows)
        if table == "lookup":  # a lookup row is all key
            flipped = bytearray(key)
            flipped[rng.randrange(len(flipped))] ^= 1 << rng.randrange(8)
            new_key = bytes(flipped)
            if txn.get(new_key, db=db) is not None:
                new_key = key + b"\0"
            txn.delete(key, db=db)
            txn.put(new_key, b"", db=db)
        else:
            flipped = bytearray(value)
            flipped[rng.randrange(len(flipped))] ^= 1 << rng.randrange(8)
            txn.put(key, bytes(flipped), db=db)
            new_key = key
    env.close()

    def undo() -> None:
        env = lmdb.open(str(path), subdir=True, max_dbs=8)
        with env.begin(write=True) as txn:
            db = env.open_db(table.encode(), txn=txn)
            txn.delete(new_key, db=db)
            txn.put(key, value, db=db)
        env.close()

    return table, key, undo


def test_every_random_single_bit_flip_in_a_stored_table_is_store_corruption(
        ledger_dir: Path) -> None:
    rng = random.Random(19)
    publisher = publisher_key().verifier_key
    caught: dict[str, int] = {}
    for _ in range(FLIPS):
        table, key, undo = _random_flip(ledger_dir, rng)
        try:
            with LedgerDirSource(ledger_dir) as source:
                found = source.compare_stored_tables(publisher, [UNI.verifier_key])
        except StoreCorruptError:
            found = ["refused on open"]  # type: ignore[list-item]
        assert found, (table, key)
        caught[table] = caught.get(table, 0) + 1
        undo()
    with LedgerDirSource(ledger_dir) as source:
        assert source.compare_stored_tables(publisher, [UNI.verifier_key]) == []
    assert sum(caught.values()) == FLIPS
