"""A national log over three county logs, each built through the `ledger` command: the county that
rewrote its history is caught by both the national update and the audit, a county whose server
is down is named while the others go on, and the four receipts check offline."""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from election_ledger_cli.app import cli

from ledger.core.hashing import leaf_hash
from ledger.core.merkle import root
from ledger.files import read_signer_key
from ledger.formats.checkpoints import Checkpoint, format_checkpoint, parse_checkpoint
from ledger.formats.keys import SIG_COSIGNATURE_V1, note_signer_for
from ledger.formats.notes import (
    cosign,
    format_note,
    parse_signature_line,
    parse_unverified_note,
    sign_note,
)
from ledger.formats.signing import Signer
from ledger.formats.tiles import bundle_path, format_entry_bundle, format_hash_tile, tile_path
from ledger.sources.open import open_source
from tests.http_support import Behaviour, local_server

NATIONAL = "prezenta.example.ro/parlamentare2028"
COUNTIES = ("AB", "CJ", "BV")
ELECTION = {"kind": "election", "name": "Alegeri parlamentare 2028", "date": "2028-12-03",
            "tz": "Europe/Bucharest", "categories": {"S": {"rules": "parliamentary",
                                                           "scope": "county"}}}


def run(*args: str | Path, ok: int = 0) -> Result:
    result = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == ok, (args, result.exit_code, result.output)
    return result


def run_json(*args: str | Path, ok: int = 0) -> Any:
    return json.loads(run(*args, "--json", ok=ok).stdout)


class World:
    """The folder of one test: keys, county ledgers, their published copies, the national log."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.keys = root / "keys"
        self.counties = root / "counties"  # PREFIX: counties/<id>/ is each published county log
        self.national = root / "nat"
        self.site = root / "nat-site"
        self.manifest = root / "election.json"
        self.manifest.write_text(json.dumps({"election": ELECTION}), encoding="utf-8")
        self.stations: dict[str, int] = {}

    def key(self, name: str) -> Path:
        return self.keys / f"{name}.key"

    def pub(self, name: str) -> Path:
        return self.keys / f"{name}.pub"

    def county(self, code: str, *, salt: str = "") -> None:
        """A county log (origin national/<code>): one station, its turnout, one block."""
        ledger = self.root / f"county-{code}"
        if not self.key(code).exists():
            run("keygen", code, "--key-name", f"{NATIONAL}/{code}", "-o", self.keys)
        run("init", ledger, "--origin", f"{NATIONAL}/{code}", "--key", self.key(code),
            "--election", self.manifest)
        self.stations[code] = 0
        self.add_station(code, salt=salt)
        self.seal_and_publish(code)

    def add_station(self, code: str, *, salt: str = "") -> None:
        """One more station of the county, and a turnout it signs."""
        self.stations[code] += 1
        station = f"{code}-{self.stations[code]}"
        if not self.key(station).exists():
            run("keygen", station, "-o", self.keys)
        ledger = self.root / f"county-{code}"
        run("station", "add", ledger, "--key", self.key(code), "--station", station, "--pub",
            self.pub(station), "--county", code, "--number", str(self.stations[code]),
            "--name", f"Scoala {self.stations[code]}{salt}")
        turnout = self.root / f"{station}.json"
        turnout.write_text(json.dumps({
            "kind": "turnout", "station": station, "at": 1859875200000,
            "registered": {"permanent": 900}, "counts": {"LP": 100, "LS": 5, "UM": 0, "LT": 105},
        }), encoding="utf-8")
        entry = self.root / f"{station}-{salt}.entry"
        entry.unlink(missing_ok=True)
        run("sign", "--key", self.key(station), "--origin", f"{NATIONAL}/{code}", turnout,
            "-o", entry)
        run("append", ledger, entry)

    def seal_and_publish(self, code: str) -> None:
        ledger = self.root / f"county-{code}"
        run("seal", ledger, "--key", self.key(code))
        run("publish", ledger, self.counties / code)

    def grow(self, code: str) -> None:
        self.add_station(code)
        self.seal_and_publish(code)

    def rewrite(self, code: str) -> None:
        """The county bureau starts its log again with another history, larger than before."""
        shutil.rmtree(self.root / f"county-{code}")
        shutil.rmtree(self.counties / code)
        self.county(code, salt=" (rescris)")
        self.grow(code)

    def forge_checkpoint(self, code: str, *, short: int = 0, root_of: bytes | None = None) -> int:
        """The county bureau signs and serves a checkpoint its publisher never signed: ``short``
        entries before its last block (the tree's true root there, with its tiles and entries),
        or at its size with the root of other leaves (``root_of``); the size served."""
        published = self.counties / code
        with open_source(str(published)) as source:
            served = parse_checkpoint(parse_unverified_note(source.read_checkpoint()).text)
            size = served.size - short
            entries = list(source.iter_entries(0, served.size))[:size]
        hashes = [leaf_hash(e) for e in entries]  # the county logs of these tests fit one tile
        for path, data in ((tile_path(0, 0, size), format_hash_tile(hashes)),
                           (bundle_path(0, size), format_entry_bundle(entries))):
            (published / path).parent.mkdir(parents=True, exist_ok=True)
            (published / path).write_bytes(data)
        tree = root(hashes) if root_of is None else leaf_hash(root_of)
        text = format_checkpoint(Checkpoint(origin=served.origin, size=size, root=tree))
        (published / "checkpoint").write_bytes(sign_note(text, [read_signer_key(self.key(code))]))
        return size

    def update(self, prefix: str | Path | None = None, *more: str | Path,
               ok: int = 0) -> dict[str, Any]:
        return run_json("national", "update", self.national, "--key", self.key("national"),
                        "--county-logs", prefix or self.counties, "--evidence-dir",
                        self.root / "evidence", *more, ok=ok)

    def verify(self, *more: str | Path, prefix: str | Path | None = None,
               ok: int = 0) -> dict[str, Any]:
        run("publish", self.national, self.site)
        return run_json("verify", self.site, "--pub", self.pub("national"), "--county-logs",
                        prefix or self.counties, *more, ok=ok)


@pytest.fixture
def world(tmp_path: Path) -> World:
    """Three county logs and the national log that registers them, with one round recorded."""
    w = World(tmp_path)
    run("keygen", "national", "--key-name", NATIONAL, "-o", w.keys)
    run("national", "init", w.national, "--origin", NATIONAL, "--key", w.key("national"),
        "--election", w.manifest)
    for code in COUNTIES:
        w.county(code)
        run("national", "add-log", w.national, code, "--key", w.key("national"), "--origin",
            f"{NATIONAL}/{code}", "--pub", w.pub(code))
    report = w.update()
    assert [c["status"] for c in report["counties"]] == ["recorded"] * 3
    return w


def _errors(report: dict[str, Any]) -> list[tuple[str, str, str | None]]:
    return [(e["category"], e["code"], e["log"]) for e in report["errors"]]


def test_national_log_of_three_county_logs_verifies_with_every_county_audited(
    world: World,
) -> None:
    world.grow("AB")
    second = world.update()
    assert [(c["log"], c["status"]) for c in second["counties"]] == [
        ("AB", "recorded"), ("CJ", "unchanged"), ("BV", "unchanged")]
    report = world.verify()
    assert report["ok"], report["errors"]
    counties = report["summary"]["county_logs"]
    assert sorted(counties) == sorted(COUNTIES)
    assert counties["AB"]["recorded"] == 2
    assert all(c["ok"] for c in counties.values())
    one = world.verify("--county", "CJ")
    assert list(one["summary"]["county_logs"]) == ["CJ"]


def test_county_that_rewrote_its_history_is_refused_by_update_and_reported_by_verify(
    world: World,
) -> None:
    world.rewrite("CJ")
    world.grow("AB")
    report = world.update(ok=1)
    outcome = {c["log"]: c for c in report["counties"]}
    assert outcome["CJ"]["status"] == "refused"
    assert "forked" in outcome["CJ"]["message"]
    assert outcome["AB"]["status"] == "recorded"  # the others go on, and are sealed
    assert report["tree_size"] is not None
    evidence = Path(outcome["CJ"]["evidence"])
    proved = run("check-evidence", evidence, "--pub", world.pub("CJ"), ok=1)
    assert "PROVED" in proved.output
    audit = world.verify(ok=1)
    assert _errors(audit) == [("log", "county-checkpoint-root", "CJ")]
    assert audit["summary"]["county_logs"]["AB"]["ok"]


def test_county_that_rolled_back_is_refused_with_both_signed_checkpoints(world: World) -> None:
    before = world.root / "AB-before"
    shutil.copytree(world.counties / "AB", before)
    world.grow("AB")
    world.update()
    shutil.rmtree(world.counties / "AB")
    shutil.copytree(before, world.counties / "AB")  # the server serves its old state again
    report = world.update(ok=1)
    outcome = {c["log"]: c for c in report["counties"]}
    assert outcome["AB"]["status"] == "refused"
    assert "rolled back" in outcome["AB"]["message"]
    evidence = Path(outcome["AB"]["evidence"]).read_bytes()
    assert evidence.startswith(b"election-ledger/rollback@v1\n\n")
    audit = world.verify(ok=1)
    assert _errors(audit) == [("log", "county-log-smaller", "AB")]


def test_county_checkpoint_not_a_block_checkpoint_is_refused_by_update_not_recorded(
    world: World,
) -> None:
    world.grow("AB")
    short = world.forge_checkpoint("AB", short=1)  # signed by AB, one entry before its block
    world.county("SB")
    run("national", "add-log", world.national, "SB", "--key", world.key("national"), "--origin",
        f"{NATIONAL}/SB", "--pub", world.pub("SB"))
    world.forge_checkpoint("SB", root_of=b"another history")  # its first: no earlier to extend
    report = world.update(ok=1)
    outcome = {c["log"]: c for c in report["counties"]}
    assert [(c, outcome[c]["status"]) for c in ("AB", "CJ", "BV", "SB")] == [
        ("AB", "refused"), ("CJ", "unchanged"), ("BV", "unchanged"), ("SB", "refused")]
    assert "county-checkpoint-not-at-block" in outcome["AB"]["message"]
    assert f"size {short}" in outcome["AB"]["message"]
    assert "county-checkpoint-root" in outcome["SB"]["message"]
    assert report["tree_size"] is None  # nothing recorded, nothing sealed
    # The national log breaks no rule 4: what the audit finds is AB's own served checkpoint.
    audit = world.verify(ok=1)
    assert _errors(audit) == [("checkpoint", "checkpoint-not-at-block", "AB")]
    assert audit["errors"][0]["source"] is not None


def test_county_checkpoint_not_cosigned_to_the_policy_quorum_is_skipped_not_recorded(
    world: World,
) -> None:
    world.grow("AB")
    world.grow("BV")
    witness = note_signer_for("witness.example.org/w1", Signer(hashlib.sha256(b"w1").digest()),
                              SIG_COSIGNATURE_V1)
    served = world.counties / "AB" / "checkpoint"  # AB's witness saw it; BV's did not
    parsed = parse_unverified_note(served.read_bytes())
    line = parse_signature_line(cosign(parsed.text, witness, int(time.time())))
    served.write_bytes(format_note(parsed.text, [*parsed.signatures, line]))
    policy = world.root / "counties.policy"
    logs = "".join(f"log {world.pub(code).read_text().strip()}\n" for code in ("AB", "BV"))
    policy.write_text(f"{logs}witness w1 {witness.verifier_key}\nquorum w1\n", encoding="utf-8")
    report = world.update(None, "--policy", policy, ok=1)
    outcome = {c["log"]: c for c in report["counties"]}
    assert [(c, outcome[c]["status"]) for c in COUNTIES] == [
        ("AB", "recorded"), ("CJ", "unchanged"), ("BV", "unwitnessed")]
    assert "quorum" in outcome["BV"]["message"]
    assert report["tree_size"] is not None  # AB recorded and sealed
    world.grow("CJ")  # CJ has no log line in the policy: the policy cannot vouch for it
    again = {c["log"]: c for c in world.update(None, "--policy", policy, ok=1)["counties"]}
    assert again["CJ"]["status"] == "refused"
    assert "no log line" in again["CJ"]["message"]
    assert again["BV"]["status"] == "unwitnessed"


def test_county_whose_server_is_down_is_named_and_the_others_are_recorded(
    world: World,
) -> None:
    world.grow("AB")
    world.grow("BV")
    with local_server(world.counties, Behaviour(down_prefixes=("/CJ/",))) as server:
        report = world.update(server.url, ok=1)
        outcome = {c["log"]: c["status"] for c in report["counties"]}
        assert outcome == {"AB": "recorded", "CJ": "unavailable", "BV": "recorded"}
        cj = next(c for c in report["counties"] if c["log"] == "CJ")
        assert "CJ" in cj["message"]
        assert "/CJ/" in cj["message"]
        audit = world.verify(prefix=server.url, ok=1)
    assert _errors(audit) == [("log", "county-log-unavailable", "CJ")]
    assert audit["summary"]["county_logs"]["AB"]["ok"]
    assert audit["summary"]["county_logs"]["BV"]["ok"]


def test_four_receipts_of_a_county_station_check_offline_with_the_national_key(
    world: World,
) -> None:
    run("publish", world.national, world.site)
    out = world.root / "chain"
    run("prove", world.counties / "AB", "--national", world.site, "--station", "AB-1",
        "--kind", "turnout", "-o", out)
    names = ["AB-1-turnout", "AB-1-station", "national-log-AB", "national-checkpoint-AB"]
    files = [out / f"{n}.tlog-proof" for n in names]
    checked = run_json("check-proof", files[0], files[1], "--national", files[2], files[3],
                       "--pub", world.pub("national"))
    assert checked["station"] == "AB-1"
    assert checked["national"]["log"] == "AB"
    # The county's own key is not needed, and is not enough: a county key is not the national.
    run("check-proof", files[0], files[1], "--national", files[2], files[3], "--pub",
        world.pub("AB"), ok=1)


def test_four_receipts_under_an_earlier_national_checkpoint_with_size(world: World) -> None:
    run("publish", world.national, world.site)
    first = parse_checkpoint(parse_unverified_note((world.site / "checkpoint").read_bytes()).text)
    world.grow("AB")
    world.update()
    run("publish", world.national, world.site)  # the national log moved on: AB at its size 7
    out = world.root / "earlier"
    run("prove", world.counties / "AB", "--national", world.site, "--station", "AB-1",
        "--kind", "turnout", "--size", first.size, "-o", out)
    names = ["AB-1-turnout", "AB-1-station", "national-log-AB", "national-checkpoint-AB"]
    files = [out / f"{n}.tlog-proof" for n in names]
    checked = run_json("check-proof", *files[:2], "--national", *files[2:], "--pub",
                       world.pub("national"))
    assert checked["national"]["log"] == "AB"
    note = files[3].read_bytes().decode()
    assert f"\n{first.size}\n" in note  # under the national checkpoint of that size
    assert "\n4\n" in files[0].read_bytes().decode()  # and AB's checkpoint it recorded: size 4
    run("prove", world.counties / "AB", "--national", world.site, "--station", "AB-1",
        "--kind", "turnout", "--size", first.size - 1, "-o", out, ok=2)


def test_audit_state_of_a_national_log_resumes_with_the_county_logs_it_registered(
    world: World,
) -> None:
    run("publish", world.national, world.site)
    state = world.root / "audit.state"
    run("verify", world.site, "--pub", world.pub("national"), "--state", state)
    world.grow("AB")
    world.update()
    run("publish", world.national, world.site)
    resumed = run_json("verify", world.site, "--pub", world.pub("national"), "--state", state)
    assert resumed["summary"]["resumed_from"] == 8
    assert resumed["ok"]


def _same_verdict(report: dict[str, Any]) -> dict[str, Any]:
    """What a resumed audit must say as a fresh one does (not how long, nor how much it read)."""
    counties = {code: {k: v for k, v in c.items() if k not in ("entries", "seconds",
                                                                 "resumed_from")}
                for code, c in report["summary"]["county_logs"].items()}
    return {"ok": report["ok"], "errors": report["errors"], "tree_size": report["tree_size"],
            "root": report["root"], "counties": counties}


def test_national_audit_resumed_from_its_state_pays_only_for_what_is_new(world: World) -> None:
    state = world.root / "audit.state"
    first = world.verify("--state", state)
    assert first["ok"], first["errors"]
    world.grow("AB")
    world.update()
    resumed = world.verify("--state", state)
    fresh = world.verify()
    assert _same_verdict(resumed) == _same_verdict(fresh)
    assert resumed["summary"]["resumed_from"] == first["tree_size"]
    assert resumed["summary"]["entries"] < fresh["summary"]["entries"]
    ab, cj = (resumed["summary"]["county_logs"][c] for c in ("AB", "CJ"))
    assert ab["resumed_from"] == first["summary"]["county_logs"]["AB"]["tree_size"]
    assert ab["entries"] < fresh["summary"]["county_logs"]["AB"]["entries"]
    assert cj["entries"] == 0  # CJ did not grow: nothing of it is read again
    assert ab["recorded"] == 2
    # A county that rewrote its log after the audit is caught by the resumed audit too.
    world.rewrite("CJ")
    again = world.verify("--state", state, ok=1)
    assert ("log", "county-checkpoint-root", "CJ") in _errors(again)
    assert not again["summary"]["county_logs"]["CJ"]["ok"]
