"""Writers and readers that disagree (issue 19, item 7): `ledger sign` refuses first what
`ledger append` would refuse whatever the log holds; no private limit of 4,096 items makes the
tool refuse an entry within its 65,535 bytes; `check-proof` checks every receipt it is given.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from election_ledger_cli.app import cli

from ledger.formats.keys import parse_verifier_key
from ledger.formats.records import Block, Station, record_to_json
from ledger.publisher.ledger import Ledger
from tests.test_log import ELECTION, T0, new_ledger, publisher_key, station_signer
from tests.verify_support import KEYS, VALID

RECEIPTS = VALID / "receipts"
TURNOUT: dict[str, Any] = {
    "kind": "turnout", "station": "AB-1", "at": T0, "registered": {"permanent": 100},
    "counts": {"LP": 1, "LS": 0, "UM": 0, "LT": 1},
}


def run(*args: str | Path) -> Result:
    return CliRunner().invoke(cli, ["--insecure-key-permissions", *map(str, args)])


@pytest.fixture
def keys(tmp_path: Path) -> Path:
    assert run("keygen", "AB-1", "-o", tmp_path).exit_code == 0
    return tmp_path


def _sign(keys: Path, record: dict[str, Any] | str, origin: str = "prezenta.example.ro/x",
          key: str = "AB-1.key") -> tuple[Result, Path]:
    path = keys / "record.json"
    path.write_text(record if isinstance(record, str) else json.dumps(record),
                    encoding="utf-8")
    out = keys / "record.entry"
    out.unlink(missing_ok=True)
    return run("sign", "--key", keys / key, "--origin", origin, path, "-o", out), out


# --- ledger sign refuses first ------------------------------------------------------------------


def test_sign_refuses_a_lone_surrogate_that_append_could_never_read(keys: Path) -> None:
    text = json.dumps({**TURNOUT, "buckets": {"M-18-24": 1}}).replace("M-18-24", "\\ud800")
    result, out = _sign(keys, text)
    assert result.exit_code == 2, result.output
    assert "record.json" in result.output
    assert "surrogate" in result.output
    assert "internal error" not in result.output
    assert not out.exists()


def test_sign_refuses_a_station_id_with_a_space_that_append_always_refuses(keys: Path) -> None:
    result, out = _sign(keys, {**TURNOUT, "station": "AB 1"})
    assert result.exit_code == 2, result.output
    assert "white space" in result.output or "county code" in result.output
    assert not out.exists()


def test_sign_refuses_a_station_record_under_a_station_key(keys: Path) -> None:
    station = record_to_json(Station(id="AB-1", county="ALBA", number=1, name="School",
                                     pubkey=station_signer("AB-1").public_key))
    result, out = _sign(keys, station)
    assert result.exit_code == 2, result.output
    assert "not-publisher" in result.output
    assert not out.exists()


def test_sign_refuses_a_block_record_blocks_are_only_sealed(keys: Path) -> None:
    block = record_to_json(Block(height=0, prev=bytes(32), first=0, count=1, time=T0))
    result, out = _sign(keys, block)
    assert result.exit_code == 2, result.output
    assert "block-appended" in result.output
    assert not out.exists()


def test_an_entry_of_5000_buckets_within_65535_bytes_is_signed_appended_and_verified(
        tmp_path: Path) -> None:
    # The private limit of 4,096 items is gone: sign wrote it, append refused it, now both
    # accept it, and so does the auditor.
    assert run("keygen", "AB-1", "-o", tmp_path).exit_code == 0
    key = tmp_path / "AB-1.key"
    vkey = parse_verifier_key((tmp_path / "AB-1.pub").read_text(encoding="ascii").strip())
    led = tmp_path / "led"
    with new_ledger(led, ()) as lg:
        lg.register_station(Station(id="AB-1", county="ALBA", number=1, name="School",
                                    pubkey=vkey.public_key))
    buckets = {f"M-{i:05}": i for i in range(5000)}
    record = tmp_path / "t.json"
    record.write_text(json.dumps({**TURNOUT, "buckets": buckets}), encoding="utf-8")
    entry = tmp_path / "t.entry"
    origin = publisher_key().name
    signed = run("sign", "--key", key, "--origin", origin, record, "-o", entry)
    assert signed.exit_code == 0, signed.output
    assert 4096 * 8 < entry.stat().st_size <= 65_535
    appended = run("append", led, entry)
    assert appended.exit_code == 0, appended.output
    with Ledger.open(led, publisher_key()) as lg:
        lg.seal(time=T0 + 1)
    pub = tmp_path / "publisher.pub"
    pub.write_text(f"{publisher_key().verifier_key}\n", encoding="ascii")
    verified = run("verify", led, "--pub", pub, "--workers", "1")
    assert verified.exit_code == 0, verified.output


# --- check-proof checks every receipt given -----------------------------------------------------


@pytest.fixture
def valid_pub(tmp_path: Path) -> Path:
    path = tmp_path / "valid.pub"
    path.write_text(KEYS["publisher"]["vkey"] + "\n", encoding="ascii")
    return path


def test_check_proof_refuses_a_second_receipt_from_another_log(valid_pub: Path,
                                                              tmp_path: Path) -> None:
    # The first receipt is publisher-signed: the second used to be ignored, even one from
    # another log under another key.
    other = tmp_path / "other"
    origin = "other.example.ro/another-election"
    with Ledger.create(other, origin, publisher_key(origin), ELECTION) as lg:
        lg.seal(time=T0)
    foreign = tmp_path / "foreign.tlog-proof"
    assert run("prove", other, "0", "-o", foreign).exit_code == 0
    result = run("check-proof", RECEIPTS / "SR-6-report-by-publisher.tlog-proof", foreign,
                 "--pub", valid_pub)
    assert result.exit_code == 1, result.output
    assert "no signature from a known key" in result.output


def test_check_proof_refuses_a_second_receipt_under_another_checkpoint(valid_pub: Path,
                                                                      tmp_path: Path) -> None:
    older = tmp_path / "older.tlog-proof"
    # An earlier block's size: the width of a partial tile kept for its checkpoint.
    earlier = min(int(p.name) for p in (VALID / "tile" / "0" / "000.p").iterdir())
    assert run("prove", VALID, "5", "--size", str(earlier), "-o", older).exit_code == 0
    result = run("check-proof", RECEIPTS / "SR-6-report-by-publisher.tlog-proof", older,
                 "--pub", valid_pub, "--json")
    assert result.exit_code == 1, result.output
    assert json.loads(result.stdout)["code"] == "station-receipt-checkpoint"


def test_check_proof_accepts_a_second_receipt_of_the_same_log_and_checkpoint(
        valid_pub: Path, tmp_path: Path) -> None:
    same = tmp_path / "same.tlog-proof"
    assert run("prove", VALID, "5", "-o", same).exit_code == 0
    result = run("check-proof", RECEIPTS / "SR-6-report-by-publisher.tlog-proof", same,
                 "--pub", valid_pub)
    assert result.exit_code == 0, result.output
