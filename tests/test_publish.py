"""Publishing: golden bytes, only changed files, checkpoint last and atomic, the CLI command."""

from __future__ import annotations

import importlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from election_ledger_cli.app import cli as ledger_cli

from ledger.errors import InputError, RootMismatchError, SignatureError
from ledger.formats.keys import parse_signer_key
from ledger.formats.records import Block, Election, decode_entry_record
from ledger.publisher.ledger import Ledger
from ledger.publisher.publish import publish
from ledger.sources.ledger_dir import LedgerDirSource
from ledger.sources.published import PublishedDirSource
from ledger.store.store import Store
from tests.conftest import GOLDEN_DIR, load_json
from tests.test_sources import (
    commit_blocks,
    golden_blocks,
    golden_entries,
    golden_ledger,
    published_files,
    publisher_only,
)
from tests.verify_support import ReadingSource

VALID = GOLDEN_DIR / "valid"
SMALL = GOLDEN_DIR / "valid-small"
REJECT = GOLDEN_DIR / "reject"
EXPECTED = load_json(VALID / "expected.json")
VKEY = EXPECTED["vkey"]

importlib.import_module("election_ledger_cli.commands")  # registers the subcommands on the group


def tree(directory: Path) -> dict[str, bytes]:
    """Every published file but the station index (the golden folders predate it)."""
    return {
        path: data for path, data in everything(directory).items()
        if not path.startswith("stations/")
    }


def everything(directory: Path) -> dict[str, bytes]:
    return {
        p.relative_to(directory).as_posix(): p.read_bytes()
        for p in directory.rglob("*")
        if p.is_file()
    }


def station_files(directory: Path) -> dict[str, bytes]:
    return {p: b for p, b in everything(directory).items() if p.startswith("stations/")}


@pytest.mark.parametrize(("golden", "size"), [(VALID, 308), (SMALL, 68)])
def test_publishing_golden_entries_gives_the_golden_files(
    tmp_path: Path, golden: Path, size: int
) -> None:
    result = publish(PublishedDirSource(golden), tmp_path / "out")
    assert tree(tmp_path / "out") == published_files(golden)
    assert result.tree_size == size
    assert result.checkpoint_sizes[-1] == size
    assert result.skipped == 0
    assert result.written == len(published_files(golden)) + len(station_files(tmp_path / "out"))


def test_publishing_a_ledger_directory_gives_the_golden_files(tmp_path: Path) -> None:
    with golden_ledger(VALID, tmp_path / "ledger", 308) as store:
        result = publish(LedgerDirSource.from_store(store), tmp_path / "out")
    assert tree(tmp_path / "out") == published_files(VALID)
    assert result.checkpoint_sizes == tuple(c["tree_size"] for c in EXPECTED["checkpoints"])
    assert result.origin == EXPECTED["origin"]


@pytest.mark.parametrize(("golden", "size"), [(VALID, 308), (SMALL, 68)])
def test_publishing_the_publishers_ledger_gives_the_golden_files(
    tmp_path: Path, golden: Path, size: int
) -> None:
    entries = golden_entries(golden, size)
    election = decode_entry_record(entries[0])[1]
    assert isinstance(election, Election)
    signer = parse_signer_key(load_json(GOLDEN_DIR / "keys.json")["publisher"]["skey"])
    with Ledger.create(tmp_path / "ledger", EXPECTED["origin"], signer, election) as ledger:
        pending: list[bytes] = []
        for entry in entries[1:]:
            record = decode_entry_record(entry)[1]
            if isinstance(record, Block):
                assert not ledger.append(pending).rejected
                pending = []
                ledger.seal(record.time)
            else:
                pending.append(entry)
        publish(ledger, tmp_path / "out")
        golden_files = published_files(golden)
        published = tree(tmp_path / "out")
        assert published["checkpoint"] == publisher_only(golden_files["checkpoint"])
        assert {p: b for p, b in published.items() if p != "checkpoint"} == {
            p: b for p, b in golden_files.items() if p != "checkpoint"
        }
        ledger.store.put_meta("cosigned_checkpoint", golden_files["checkpoint"])
        again = publish(ledger, tmp_path / "out")
    assert again.paths_written == ("checkpoint",)
    assert tree(tmp_path / "out") == golden_files


def test_second_publish_writes_nothing(tmp_path: Path) -> None:
    first = publish(str(SMALL), tmp_path)
    again = publish(str(SMALL), tmp_path)
    assert again.paths_written == ()
    # only the files that are not tiles or bundles are looked at: the checkpoint there covers
    # every tile and bundle
    assert 0 < again.skipped < first.written
    assert publish(str(SMALL), tmp_path, full=True).skipped == first.written


def test_growing_ledger_publishes_only_new_files(tmp_path: Path) -> None:
    blocks = golden_blocks(VALID, 308)
    with Store.create(tmp_path / "ledger", {"vkey": VKEY.encode()}) as store:
        commit_blocks(store, blocks[:4])
        before = publish(LedgerDirSource.from_store(store), tmp_path / "out")
        assert before.tree_size == 221
        old = everything(tmp_path / "out")
        commit_blocks(store, blocks[4:])
        store.put_meta("cosigned_checkpoint", (VALID / "checkpoint").read_bytes())
        after = publish(LedgerDirSource.from_store(store), tmp_path / "out")
    assert tree(tmp_path / "out") == published_files(VALID)
    new = everything(tmp_path / "out")
    changed = {p for p in new if old.get(p) != new[p]}
    assert set(after.paths_written) == changed
    assert "checkpoint" in changed
    assert "tile/0/000.p/221" not in changed  # a partial tile of an older checkpoint stays
    assert (tmp_path / "out/tile/0/000.p/221").is_file()


def test_a_first_publish_reads_the_entries_once(tmp_path: Path) -> None:
    source = ReadingSource(VALID)
    publish(source, tmp_path)
    assert source.starts == [0]  # the tiles and the station index in the same pass


def test_a_republish_reads_only_the_entries_after_the_checkpoint_there(tmp_path: Path) -> None:
    blocks = golden_blocks(VALID, 308)
    with Store.create(tmp_path / "ledger", {"vkey": VKEY.encode()}) as store:
        commit_blocks(store, blocks[:-1])
        publish(LedgerDirSource.from_store(store), tmp_path / "out")
        size = store.size()
    source = ReadingSource(VALID)
    publish(source, tmp_path / "out")
    assert source.starts == [0, size]  # the election record for the page, then the new ones


def test_checkpoint_is_written_last(tmp_path: Path) -> None:
    result = publish(str(VALID), tmp_path)
    assert result.paths_written[-1] == "checkpoint"
    assert result.paths_written.index("ledger.json") < len(result.paths_written) - 1


def test_damaged_published_file_is_rewritten(tmp_path: Path) -> None:
    publish(str(SMALL), tmp_path)
    tile = tmp_path / "tile/0/000.p/47"
    damaged = bytearray(tile.read_bytes())
    damaged[3] ^= 0x40
    tile.write_bytes(bytes(damaged))
    (tmp_path / "tile/entries/000.p/10").unlink()
    result = publish(str(SMALL), tmp_path, full=True)
    assert set(result.paths_written) == {"tile/0/000.p/47", "tile/entries/000.p/10"}
    assert tree(tmp_path) == published_files(SMALL)


def test_failed_checkpoint_write_leaves_the_old_checkpoint_and_no_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = (SMALL / "checkpoint").read_bytes()
    (tmp_path / "checkpoint").write_bytes(old[:-1])  # differs, so publish must replace it
    real_replace = os.replace

    def failing_replace(src: str, dst: str | os.PathLike[str]) -> None:
        if Path(dst).name == "checkpoint":
            raise OSError(28, "No space left on device")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError, match="No space"):
        publish(str(SMALL), tmp_path)
    assert (tmp_path / "checkpoint").read_bytes() == old[:-1]
    assert not list(tmp_path.rglob(".*"))
    assert (tmp_path / "tile/0/000.p/68").is_file()  # the tiles went out before it


def test_checkpoint_signed_by_another_key_is_not_published(tmp_path: Path) -> None:
    with pytest.raises(SignatureError):
        publish(str(REJECT / "checkpoint-signed-by-another-key"), tmp_path, vkey=VKEY)
    assert not (tmp_path / "checkpoint").exists()


def test_checkpoint_whose_root_is_not_the_entries_is_not_published(tmp_path: Path) -> None:
    with pytest.raises(RootMismatchError):
        publish(str(REJECT / "checkpoint-root-mismatch"), tmp_path, vkey=VKEY)
    assert not (tmp_path / "checkpoint").exists()


def test_publish_needs_a_publisher_key(tmp_path: Path) -> None:
    shutil.copytree(SMALL, tmp_path / "src", ignore=shutil.ignore_patterns("ledger.json"))
    with pytest.raises(InputError, match="publisher key"):
        publish(str(tmp_path / "src"), tmp_path / "out")
    result = publish(str(tmp_path / "src"), tmp_path / "out", vkey=VKEY)
    assert tree(tmp_path / "out") == published_files(SMALL)
    assert result.tree_size == 68


# --- the command ----------------------------------------------------------------------------


def test_cli_publish_json_then_nothing_to_do(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "out"
    first = runner.invoke(ledger_cli, ["publish", str(SMALL), str(out), "--json"])
    assert first.exit_code == 0, first.output
    report = json.loads(first.stdout)
    assert report["ok"] is True
    assert (report["tree_size"], report["skipped"]) == (68, 0)
    assert report["written"] == len(published_files(SMALL)) + len(station_files(out))
    second = runner.invoke(ledger_cli, ["publish", str(SMALL), str(out)])
    assert second.exit_code == 0
    assert "0 files written" in second.stdout


def test_cli_publish_exit_codes(tmp_path: Path) -> None:
    runner = CliRunner()
    missing = runner.invoke(ledger_cli, ["publish", str(tmp_path / "nope"), str(tmp_path / "o")])
    assert missing.exit_code == 2
    assert "Traceback" not in missing.output
    forged = runner.invoke(
        ledger_cli, ["publish", str(REJECT / "checkpoint-root-mismatch"), str(tmp_path / "o")]
    )
    assert forged.exit_code == 1
    assert "root" in forged.output


def test_installed_command_publishes(tmp_path: Path) -> None:
    exe = Path(sys.executable).with_name("ledger")
    command = [str(exe)] if exe.is_file() else [sys.executable, "-m", "election_ledger_cli.app"]
    run = subprocess.run(
        [*command, "publish", str(SMALL), str(tmp_path / "out"), "--json"],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["tree_size"] == 68
    assert tree(tmp_path / "out") == published_files(SMALL)
