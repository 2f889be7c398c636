"""`make demo`: the main job end to end on real 2025 data, told as a short story on stdout.

Keys, the ledger and its stations, a synthesised election day of station-signed turnout with a
block sealed every 15 simulated minutes, the real result reports, then publishing, the auditor's
verify, an observer's receipt pair and a consistency proof through the library; then the same
last steps through the `ledger` command line. Two witnesses (`ledger witness serve`, on
127.0.0.1, needing the ``witness`` extra that `make demo` installs) cosign every block's
checkpoint, and the last step shows a forked checkpoint refused by both, with the evidence file
checked. A last short step runs one log per county under a national log, for three counties,
through the command line. Everything goes under ``demo-out/`` (recreated each run); any failure
ends the run with exit 1.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shlex
import shutil
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import ExitStack, closing, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from itertools import groupby
from pathlib import Path
from zoneinfo import ZoneInfo

import click

from ledger.auditor.prove import prove_consistency, prove_station
from ledger.auditor.receipts import check_receipt, format_receipt, parse_receipt
from ledger.auditor.verify import verify
from ledger.check.findings import Finding
from ledger.core.hashing import sha256
from ledger.errors import LedgerError
from ledger.files import write_key_files, write_new_file
from ledger.formats.checkpoints import Checkpoint, format_checkpoint
from ledger.formats.keys import SIG_COSIGNATURE_V1, NoteSigner, VerifierKey
from ledger.formats.notes import sign_note
from ledger.formats.policy import Policy, parse_policy
from ledger.formats.records import Report, Turnout, encode_entry, sign_record
from ledger.importers.aep_pv import PvRow, import_pv
from ledger.importers.manifest import election_from_pv, manifest_json
from ledger.publisher.ingest import register_stations
from ledger.publisher.ledger import Ledger
from ledger.publisher.publish import publish
from ledger.publisher.simulate import (
    PollingDay,
    demo_signer,
    period_end,
    polling_day,
    report_turnout,
)
from ledger.publisher.witnesses import (
    Cosigned,
    add_checkpoint_body,
    collect_cosignatures,
    post_add_checkpoint,
)
from ledger.sources.published import PublishedDirSource

ORIGIN = "prezenta.example.ro/prezidentiale18052025"
ELECTION_NAME = "Alegeri prezidentiale 2025, turul 2"
DATE = "2025-05-18"
TZ = "Europe/Bucharest"
SAMPLE = Path(__file__).resolve().parent / "demo_data" / "pv_part_cntry_prsd_sample.csv"
#: A station signs its turnout every hour (at its own minute past the hour) and at closing.
TURNOUT_EVERY_MINUTES = 60
#: Simulated minutes between two blocks on election day, and at night while reports come in.
DAY_BLOCK_MINUTES = 15
NIGHT_BLOCK_MINUTES = 30
#: The demo only ever deletes a directory holding this file (or an empty one).
MARKER = ".election-ledger-demo"
CLI_TIMEOUT = 600
#: Lines of each command's output shown in step 5.
SHOW_LINES = 12
_MINUTE = 60_000
#: The two witnesses: file stem and key name (an observers' NGO and a university).
WITNESSES = (("ngo", "witness.observatori.example.ro/ledger"),
             ("uni", "witness.unibuc.example.ro/ledger"))
#: The national run of step 7: its origin (each county log's is it, '/', the county code), the
#: three counties and the stations of each.
NATIONAL_ORIGIN = "prezenta.example.ro/prezidentiale18052025-judete"
NATIONAL_COUNTIES = ("AB", "CJ", "B")
NATIONAL_STATIONS = 4
#: Seconds a witness has to start listening, and to answer one request.
WITNESS_START_TIMEOUT = 20.0
WITNESS_TIMEOUT = 5.0
NO_WITNESS_EXTRA = ("the witness extra is not installed (pip install 'election-ledger[witness]'; "
                    "make demo installs it)")
_ZONE = ZoneInfo(TZ)


class DemoError(Exception):
    """A step of the demo did not do what the story says."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Paths:
    """Where the demo writes, all under ``out``."""

    out: Path
    keys: Path
    stations: Path
    key: Path
    pub: Path
    manifest: Path
    ledger: Path
    published: Path
    receipts: Path
    cli_receipts: Path
    noon: Path
    witnesses: Path
    ask: Path
    trust: Path

    @classmethod
    def under(cls, out: Path) -> Paths:
        """The demo's layout under ``out``."""
        keys = out / "keys"
        return cls(out=out, keys=keys, stations=keys / "stations", key=keys / "publisher.key",
                   pub=keys / "publisher.pub", manifest=out / "election.json",
                   ledger=out / "ledger", published=out / "published",
                   receipts=out / "receipts", cli_receipts=out / "receipts-cli",
                   noon=out / "noon.checkpoint", witnesses=out / "witnesses",
                   ask=out / "witnesses" / "ask.policy", trust=out / "observers.policy")


# --- telling the story -------------------------------------------------------------------------


def say(text: str = "", indent: int = 1) -> None:
    """One line of the story."""
    click.echo("   " * indent + text if text else "")


def by_hand(*commands: Sequence[str | Path]) -> None:
    """The `ledger` commands an operator would type for this step."""
    say("by hand:")
    for argv in commands:
        say("$ ledger " + shlex.join(str(a) for a in argv), 2)


@contextmanager
def step(title: str) -> Iterator[None]:
    """A numbered step of the story, closed by the time it took."""
    click.echo(f"\n{title}")
    started = time.perf_counter()
    yield
    say(f"[{time.perf_counter() - started:.1f} s]")


def shown(path: Path) -> str:
    """``path`` relative to the working directory when it is below it, else absolute."""
    relative = os.path.relpath(path)
    return str(path) if relative.startswith("..") else relative


def local(ms: int) -> str:
    """HH:MM in the election's time zone."""
    return datetime.fromtimestamp(ms / 1000, _ZONE).strftime("%H:%M")


def by_rule(findings: Iterable[Finding]) -> str:
    """Counts by rule code: ``CODE n, CODE n``."""
    counts = Counter(f.code for f in findings)
    return ", ".join(f"{code} {n}" for code, n in sorted(counts.items())) or "none"


# --- the steps -----------------------------------------------------------------------------


def fresh_output(out: Path) -> None:
    """Recreate ``out``, refusing to delete a non-empty directory the demo did not make."""
    if out.exists():
        if any(out.iterdir()) and not (out / MARKER).is_file():
            raise DemoError(f"{out} exists and was not made by the demo: not deleting it")
        shutil.rmtree(out)
    out.mkdir(parents=True)
    (out / MARKER).write_text("made by `make demo`; deleted and rewritten by every run\n")


def make_keys(paths: Paths, rows: Sequence[PvRow]) -> tuple[NoteSigner, dict[str, NoteSigner]]:
    """Step 1: the publisher key (named after the origin) and one key per station, as files."""
    paths.stations.mkdir(parents=True)
    publisher = write_key_files(paths.keys, "publisher", ORIGIN, signer=demo_signer(ORIGIN))
    stations = {
        row.station.id: write_key_files(paths.stations, row.station.id, row.station.id,
                                        signer=demo_signer(row.station.id), durable=False).signer
        for row in rows
    }
    say(f"publisher key {publisher.signer.verifier_key}")
    say(f"in {publisher.key_path} (secret, mode 0600) and {publisher.pub_path}", 2)
    say(f"{len(stations):,} station keys: {paths.stations}/<station id>.key and .pub")
    say("Demo keys are derived from their names, so every run gives the same log. In an")
    say("election every key is random (`ledger keygen`) and a station's key never leaves it.")
    by_hand(("keygen", "publisher", "--key-name", ORIGIN, "-o", paths.keys))
    return publisher.signer, stations


def make_ledger(paths: Paths, publisher: NoteSigner, rows: Sequence[PvRow],
                stations: dict[str, NoteSigner], day: PollingDay) -> Ledger:
    """Step 2: the manifest, the ledger, every station registered with its key; block 0."""
    election = election_from_pv(SAMPLE, name=ELECTION_NAME, date=DATE, tz=TZ)
    text = json.dumps(manifest_json(election), ensure_ascii=False, indent=1) + "\n"
    write_new_file(paths.manifest, text.encode("utf-8"))
    for code, category in election.categories.items():
        say(f"manifest {paths.manifest}: category {code}, {category.rules} rules, "
            f"competitors {' and '.join(category.competitors or ())}")
    lg = Ledger.create(paths.ledger, ORIGIN, publisher, election)
    say(f"ledger {paths.ledger} created; entry 0 is the election record, signed by the publisher")
    keys = {sid: key.signer.public_key for sid, key in stations.items()}
    result = register_stations(lg, [row.station for row in rows], keys)
    if result.rejected:
        first = result.rejected[0]
        raise DemoError(f"station {rows[first.position].station.id} refused: {first.error}")
    sealed_at = day.opens - 60 * _MINUTE
    lg.seal(sealed_at)
    say(f"{len(result.accepted):,} stations registered (entries 1 to {result.size - 1:,}: "
        "county, number, name, public key)")
    say(f"block 0 sealed at {local(sealed_at)} on election day: the first signed checkpoint")
    by_hand(("manifest", "--format", "aep-pv", shown(SAMPLE), "--name", ELECTION_NAME, "--date",
             DATE, "--tz", TZ, "-o", paths.manifest),
            ("init", paths.ledger, "--origin", ORIGIN, "--key", paths.key, "--election",
             paths.manifest),
            ("station", "import", paths.ledger, "--key", paths.key, shown(SAMPLE), "--keys-out",
             paths.stations))
    return lg


def append_signed(lg: Ledger, stations: dict[str, NoteSigner],
                  records: Sequence[Turnout | Report], sealed_at: int,
                  cosign: Callable[[Ledger], None]) -> list[Finding]:
    """Each record signed by its station's key, appended as one batch, then a block sealed and
    its checkpoint cosigned by the witnesses."""
    entries = [encode_entry(sign_record(stations[r.station].signer, ORIGIN, r)) for r in records]
    result = lg.append(entries)
    if result.rejected:
        first = result.rejected[0]
        raise DemoError(f"{len(result.rejected)} entries refused, the first "
                        f"({records[first.position].station}): {first.error}")
    lg.seal(sealed_at)
    cosign(lg)
    return list(result.warnings)


def day_of_turnout(rows: Sequence[PvRow], day: PollingDay) -> list[Turnout]:
    """Every station's synthesised turnout through the day, in time order."""
    series = [t for row in rows
              for t in report_turnout(row.report, day, every_minutes=TURNOUT_EVERY_MINUTES)]
    return sorted(series, key=lambda t: t.at)  # stable: stations in file order at equal times


def election_day(lg: Ledger, stations: dict[str, NoteSigner], rows: Sequence[PvRow],
                 day: PollingDay, cosign: Cosigner) -> None:
    """Step 3a: turnout through the day, a block every :data:`DAY_BLOCK_MINUTES` minutes."""
    say(f"Polls open {local(day.opens)}-{local(day.closes)} ({TZ}). Each station signs its "
        f"cumulative turnout (LP, LS, UM, LT)")
    say(f"every {TURNOUT_EVERY_MINUTES} minutes at its own minute past the hour, and at "
        f"closing; a block is sealed every {DAY_BLOCK_MINUTES} minutes.")
    say("Only the closing counts are real (each report's b1, b2, b3); the day's curve is made up.")
    voters: dict[str, int] = {}
    warnings: list[Finding] = []
    records = day_of_turnout(rows, day)
    for sealed_at, group in groupby(records, key=lambda t: period_end(t.at, day.opens,
                                                                      DAY_BLOCK_MINUTES)):
        batch = list(group)
        warnings += append_signed(lg, stations, batch, sealed_at, cosign)
        voters.update((t.station, t.counts["LT"]) for t in batch)
        if (sealed_at - day.opens) % (120 * _MINUTE) == 0:
            say(f"{local(sealed_at)}  block {lg.block_count - 1:>2}  tree size {lg.size:>6,}  "
                f"{sum(voters.values()):>9,} voters so far"
                + (f", cosigned by {', '.join(cosign.last_cosigners)}"
                   if cosign.last_cosigners else ""), 2)
    say(f"{len(records):,} turnout snapshots, all station-signed; soft-rule warnings: "
        f"{by_rule(warnings)}")
    say("(Stations abroad voted 16-18 May on their own clocks; here every one gets Romania's day.)")


def results_night(lg: Ledger, stations: dict[str, NoteSigner], rows: Sequence[PvRow],
                  day: PollingDay, cosign: Cosigner) -> None:
    """Step 3b: each station's result report, appended as it arrives (its CSV created_at)."""
    reports: list[Report] = sorted((row.report for row in rows), key=lambda r: r.at)
    first_block = lg.block_count
    warnings: list[Finding] = []
    start = day.closes
    for sealed_at, group in groupby(
        reports, key=lambda r: max(period_end(r.at, start, NIGHT_BLOCK_MINUTES),
                                   start + NIGHT_BLOCK_MINUTES * _MINUTE)):
        warnings += append_signed(lg, stations, list(group), sealed_at, cosign)
    last = lg.block(lg.block_count - 1)[1].time
    say(f"{len(reports):,} result reports (the real PV rows, at their created_at), signed by "
        f"their stations,")
    say(f"in blocks {first_block} to {lg.block_count - 1}, every {NIGHT_BLOCK_MINUTES} "
        f"minutes until {local(last)}; reports from abroad came in earlier, on local clocks.")
    say(f"soft-rule warnings (real data, published as is): {by_rule(warnings)}")
    say(f"ledger: {lg.size:,} entries, {lg.block_count} blocks, "
        f"{lg.store.disk_usage() / 2**20:.1f} MiB on disk. Every entry's signature, key and "
        "rules were")
    say("checked before it was written, and each block's checkpoint proved to extend the last.")
    if cosign.blocks:
        say(f"{cosign.blocks} block checkpoints, each cosigned by both witnesses as it was "
            f"sealed (they hold size {lg.size:,}).")


def save_noon_checkpoint(lg: Ledger, day: PollingDay, path: Path) -> None:
    """The checkpoint signed at noon, as an observer who looked then would have kept it."""
    noon = day.opens + 5 * 60 * _MINUTE
    for _index, block in lg.blocks():
        if block.time == noon:
            signed = lg.checkpoint(block.height)
            write_new_file(path, signed.note_bytes)
            say(f"an observer kept the noon checkpoint (block {block.height}, size "
                f"{signed.checkpoint.size:,}) in {path}")
            return
    raise DemoError("no block was sealed at noon")


def audit(paths: Paths, publisher: NoteSigner, station: str) -> None:
    """Step 4: publish, verify the published tree, prove a report, prove consistency."""
    vkey = publisher.verifier_key
    result = publish(paths.ledger, paths.published, vkey=str(vkey))
    size = sum(f.stat().st_size for f in paths.published.rglob("*") if f.is_file())
    say(f"published to {paths.published}: {result.written:,} files, {size / 2**20:.1f} MiB "
        f"(checkpoint, tiles, entry bundles, ledger.json, the page), "
        f"tree size {result.tree_size:,}")
    say(f"the observer's page: {paths.published / 'index.html'} (serve the folder over http and "
        "open it: the browser checks the checkpoint, receipts and stations; docs/observer.md)")
    source = PublishedDirSource(paths.published)
    with closing(source):
        report = verify(source, vkey)
        if not report.ok:
            raise DemoError(f"verify found {len(report.errors)} errors, the first: "
                            f"{report.errors[0].describe()}")
        rate = report.entries / report.seconds if report.seconds > 0 else 0.0
        kinds = ", ".join(f"{n:,} {k}" for k, n in sorted(report.records_by_kind.items()))
        say(f"verify {paths.published}: OK, {report.entries:,} entries ({kinds}),")
        say(f"{report.blocks} blocks, {report.stations:,} stations, every signature, rule, block "
            f"and tile checked in {report.seconds:.1f} s ({rate:,.0f} records/s)", 2)
        say(f"warnings by rule: {by_rule(report.warnings)}", 2)
        if all(w.code != "TO-LT-PV-B" for w in report.warnings):
            say("(no TO-LT-PV-B: every station's last turnout LT equals its report's b)", 2)
        prove_report(paths, source, vkey, station)
        proof = prove_consistency(source, vkey, paths.noon.read_bytes())
    say(f"consistency: the log at size {proof.new.size:,} extends the noon checkpoint (size "
        f"{proof.old.size:,}), proved with {len(proof.proof)} hashes: nothing was rewritten")


def prove_report(paths: Paths, source: PublishedDirSource, vkey: VerifierKey,
                 station: str) -> None:
    """An observer's receipt pair for ``station``'s report, written and checked offline."""
    proof = prove_station(source, station)
    if proof.registration is None:
        raise DemoError(f"station {station}'s report has no station record to prove its key")
    paths.receipts.mkdir()
    files = (paths.receipts / f"{station}-report.tlog-proof",
             paths.receipts / f"{station}-station.tlog-proof")
    for path, receipt in zip(files, (proof.record, proof.registration), strict=True):
        write_new_file(path, format_receipt(receipt))
    receipt, registration = (parse_receipt(path.read_bytes()) for path in files)
    checked = check_receipt(receipt, vkey, registration)
    record = checked.record
    if not isinstance(record, Report):
        raise DemoError(f"the receipt holds a {record.KIND}, not a report")
    votes = ", ".join(f"{name} {n:,}" for name, n in record.votes.items())
    say(f"receipts {files[0].name} and {files[1].name} in {paths.receipts} prove offline:")
    say(f"entry {checked.index}, the {record.stage} report of {station} (version "
        f"{record.version}: {votes}),", 2)
    say(f"is in the log the publisher signed at size {checked.checkpoint.size:,}, signed by the "
        f"key registered at entry {checked.station_index}", 2)
    for line in checked.not_shown:
        say(f"not shown offline: {line}", 2)


# --- step 5: the same through the command line -----------------------------------------------


def ledger_command() -> list[str]:
    """The installed `ledger` script beside this Python, else ``python -m election_ledger_cli``
    (the same code)."""
    script = Path(sys.executable).with_name("ledger")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "election_ledger_cli"]


def command_line(paths: Paths, station: str) -> None:
    """Step 5: publish, verify, prove, check-proof and consistency as an operator types them."""
    receipts = paths.cli_receipts
    steps: list[tuple[str | Path, ...]] = [
        ("publish", paths.ledger, paths.published),
        ("verify", paths.published, "--pub", paths.pub),
        ("prove", paths.published, "--station", station, "-o", receipts),
        ("check-proof", receipts / f"{station}-report.tlog-proof",
         receipts / f"{station}-station.tlog-proof", "--pub", paths.pub),
        ("consistency", paths.published, "--trusted", paths.noon, "--pub", paths.pub),
    ]
    run_commands(steps)


def run_commands(steps: Sequence[tuple[str | Path, ...]], expect: int = 0) -> None:
    """Run each `ledger` command, show its output, and fail unless it exits ``expect``."""
    command = ledger_command()
    for argv in steps:
        args = [str(a) for a in argv]
        say("$ ledger " + shlex.join(args) + ("" if expect == 0 else f"  # exit {expect}"))
        done = subprocess.run([*command, *args], capture_output=True, text=True,
                              timeout=CLI_TIMEOUT, check=False)
        lines = done.stdout.splitlines()
        for line in lines[:SHOW_LINES]:
            say(line, 2)
        if len(lines) > SHOW_LINES:
            say(f"... ({len(lines) - SHOW_LINES} more lines)", 2)
        if done.returncode != expect:
            raise DemoError(f"`ledger {shlex.join(args)}` exited {done.returncode}: "
                            f"{done.stderr.strip()}")


# --- the witnesses -----------------------------------------------------------------------------


@dataclass(slots=True, kw_only=True)
class DemoWitness:
    """One `ledger witness serve` process on 127.0.0.1."""

    name: str
    folder: Path
    port: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Its URL prefix (add-checkpoint is below it)."""
        return f"http://127.0.0.1:{self.port}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_listening(witness: DemoWitness) -> None:
    """Until the witness's port answers; a witness that exits or never listens fails the demo."""
    deadline = time.monotonic() + WITNESS_START_TIMEOUT
    while time.monotonic() < deadline:  # bounded by the deadline
        if witness.process is None or witness.process.poll() is not None:
            log = (witness.folder / "witness.log").read_text(encoding="utf-8", errors="replace")
            raise DemoError(f"witness {witness.name} did not start (it needs the witness extra: "
                            f"pip install 'election-ledger[witness]'): {log.strip()[-400:]}")
        try:
            socket.create_connection(("127.0.0.1", witness.port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise DemoError(f"witness {witness.name} did not listen within {WITNESS_START_TIMEOUT:g} s")


@contextmanager
def witnesses_running(paths: Paths,
                      publisher: NoteSigner) -> Iterator[tuple[Policy, list[DemoWitness]]]:
    """Two witness processes for the log, with their keys; the publisher's policy of whom to ask
    (with URLs) and the observers' policy (without), both with a quorum of both witnesses.
    The processes are stopped on the way out."""
    running: list[DemoWitness] = []
    log_line = f"log {publisher.verifier_key}"
    witness_lines: list[str] = []
    try:
        for stem, key_name in WITNESSES:
            folder = paths.witnesses / stem
            keys = write_key_files(folder, "witness", key_name, signer=demo_signer(key_name),
                                   durable=False, sig_type=SIG_COSIGNATURE_V1)
            logs = folder / "logs.policy"
            write_new_file(logs, f"{log_line}\nquorum none\n".encode())
            witness = DemoWitness(name=stem, folder=folder, port=_free_port())
            running.append(witness)
            with (folder / "witness.log").open("ab") as log:
                witness.process = subprocess.Popen(
                    [*ledger_command(), "witness", "serve", "--key", str(keys.key_path),
                     "--policy", str(logs), "--state", str(folder / "state"),
                     "--listen", f"127.0.0.1:{witness.port}"],
                    stdout=subprocess.DEVNULL, stderr=log)
            _wait_listening(witness)
            witness_lines.append(f"witness {stem} {keys.signer.verifier_key}")
            say(f"witness {stem} ({key_name}) serving on {witness.url}, state in "
                f"{folder / 'state'}")
        tail = [f"group both all {' '.join(w.name for w in running)}", "quorum both", ""]
        write_new_file(paths.trust, "\n".join([log_line, *witness_lines, *tail]).encode())
        ask = "\n".join([log_line, *(f"{line} {w.url}" for line, w in
                                     zip(witness_lines, running, strict=True)), *tail])
        write_new_file(paths.ask, ask.encode())
        say(f"whom the publisher asks: {paths.ask}; what observers trust: {paths.trust} "
            "(quorum: both)")
        yield parse_policy(ask.encode(), file=str(paths.ask)), running
    finally:
        for witness in running:
            if witness.process is not None and witness.process.poll() is None:
                witness.process.terminate()
                try:
                    witness.process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    witness.process.kill()
                    witness.process.wait(timeout=10)


@dataclass(slots=True)
class Cosigner:
    """Collects both witnesses' cosignatures of each block's checkpoint, as it is sealed."""

    policy: Policy | None
    blocks: int = 0
    last: Cosigned | None = None
    last_cosigners: tuple[str, ...] = field(default=())

    def __call__(self, lg: Ledger) -> None:
        if self.policy is None:  # no witnesses running
            return
        cosigned = collect_cosignatures(lg, self.policy, timeout=WITNESS_TIMEOUT)
        if not cosigned.quorum_met:
            why = "; ".join(f"{r.name}: {r.status} {r.detail}" for r in cosigned.results)
            raise DemoError(f"the checkpoint of size {cosigned.size} was not cosigned by both "
                            f"witnesses: {why}")
        self.blocks += 1
        self.last = cosigned
        self.last_cosigners = cosigned.cosigned_by


def witnessed(paths: Paths, publisher: NoteSigner, cosign: Cosigner,
              running: Sequence[DemoWitness], station: str) -> None:
    """Step 6: the cosigned checkpoint; a receipt checked against the observers' policy; a
    forked checkpoint refused by both witnesses, and the evidence they keep checked offline."""
    note = (paths.published / "checkpoint").read_text(encoding="utf-8")
    say(f"the published checkpoint ({paths.published / 'checkpoint'}), signed by the publisher "
        "and cosigned by both witnesses:")
    for line in note.splitlines():
        say(line, 2)
    receipts = paths.cli_receipts
    run_commands([("check-proof", receipts / f"{station}-report.tlog-proof",
                   receipts / f"{station}-station.tlog-proof", "--policy", paths.trust)])
    if cosign.last is None:
        raise DemoError("no checkpoint was cosigned")
    size = cosign.last.size
    say(f"A publisher showing another log to someone else signs a checkpoint of size {size:,} "
        "with another root:")
    forked = sign_note(format_checkpoint(Checkpoint(
        origin=ORIGIN, size=size, root=sha256(b"a forked log"))), [publisher])
    for witness in running:
        answer = post_add_checkpoint(witness.url, add_checkpoint_body(size, [], forked),
                                     timeout=WITNESS_TIMEOUT)
        reason = answer.body.decode("utf-8", errors="replace").strip()
        say(f"witness {witness.name} refuses it: HTTP {answer.status}: {reason}", 2)
        if answer.status != 409:
            raise DemoError(f"witness {witness.name} answered {answer.status} to a fork")
    kept = sorted((running[0].folder / "state" / "evidence").glob("evidence-*.txt"))
    if not kept:
        raise DemoError(f"witness {running[0].name} kept no evidence")
    say("anyone can check the evidence it kept, offline, with the publisher's key alone:")
    run_commands([("check-evidence", kept[0], "--pub", paths.pub)], expect=1)


def run(paths: Paths, station: str) -> None:
    """The whole story; raises on the first step that fails."""
    click.echo(f"election-ledger demo: {ELECTION_NAME} ({DATE}), log {ORIGIN}")
    rows = list(import_pv(SAMPLE, tz=TZ))
    if station not in {row.station.id for row in rows}:
        raise DemoError(f"--station {station}: no such station in {SAMPLE.name}")
    for source in (SAMPLE, SAMPLE.with_name("README.md")):  # the data and where it comes from
        shutil.copyfile(source, paths.out / source.name)
    click.echo(f"Real data: {len(rows):,} polling stations and their official result reports "
               f"({SAMPLE.name}; its source is in {paths.out / 'README.md'}).")
    click.echo(f"Everything is written under {paths.out}/.")
    day = polling_day(DATE, TZ)
    with step("1. Keys"):
        publisher, stations = make_keys(paths, rows)
    with ExitStack() as stack:
        with step("2. The ledger and its stations; two witnesses"):
            lg = stack.enter_context(make_ledger(paths, publisher, rows, stations, day))
            running: list[DemoWitness] = []
            cosign = Cosigner(None)
            if importlib.util.find_spec("aiohttp") is None:
                say(f"no witnesses: {NO_WITNESS_EXTRA}")
            else:
                policy, running = stack.enter_context(witnesses_running(paths, publisher))
                cosign = Cosigner(policy)
                cosign(lg)
                say(f"block 0's checkpoint cosigned by {', '.join(cosign.last_cosigners)}")
        run_day(paths, lg, publisher, stations, rows, day, cosign, station)
        with step("6. Witnesses: a cosigned checkpoint, and a forked one refused"):
            if running:
                witnessed(paths, publisher, cosign, running, station)
            else:
                say(f"skipped: {NO_WITNESS_EXTRA}")
    with step("7. One log per county under a national log (three counties)"):
        national_run(paths, rows)


# --- step 7: one log per county --------------------------------------------------------------


def county_log(paths: Paths, code: str, rows: Sequence[PvRow]) -> Path:
    """One county bureau's own log (its own key and origin), of a few of its stations and
    their reports, sealed and published at ``national/counties/<code>/``."""
    origin = f"{NATIONAL_ORIGIN}/{code}"
    folder = paths.out / "national"
    bureau = write_key_files(folder / "keys", f"bureau-{code}", origin,
                             signer=demo_signer(origin), durable=False)
    keys = {row.station.id: demo_signer(row.station.id) for row in rows}
    election = election_from_pv(SAMPLE, name=ELECTION_NAME, date=DATE, tz=TZ)
    with Ledger.create(folder / f"county-{code}", origin, bureau.signer, election) as lg:
        added = register_stations(lg, [row.station for row in rows],
                                  {sid: k.public_key for sid, k in keys.items()})
        reports = [row.report for row in rows]
        entries = [encode_entry(sign_record(keys[r.station], origin, r)) for r in reports]
        appended = lg.append(entries)
        if added.rejected or appended.rejected:
            raise DemoError(f"county log {code}: an entry was refused")
        lg.seal()
        publish(lg, folder / "counties" / code)
    return bureau.pub_path


def national_run(paths: Paths, rows: Sequence[PvRow]) -> None:
    """Step 7: three county logs, the national log that registers them and records their
    checkpoints, its audit with every county log, and one station's four receipts."""
    folder = paths.out / "national"
    picked = {code: [r for r in rows if r.station.id.split("-")[0] == code][:NATIONAL_STATIONS]
              for code in NATIONAL_COUNTIES}
    pubs = {code: county_log(paths, code, chosen) for code, chosen in picked.items()}
    say(f"county bureaus {', '.join(NATIONAL_COUNTIES)}: each its own key and log "
        f"({NATIONAL_ORIGIN}/<county>), {NATIONAL_STATIONS} stations and their reports, "
        "published at")
    say(f"{folder / 'counties'}/<county>/; the national publisher registers them and records "
        "their checkpoints:", 2)
    key = folder / "keys" / "national.key"
    write_key_files(folder / "keys", "national", NATIONAL_ORIGIN,
                    signer=demo_signer(NATIONAL_ORIGIN), durable=False)
    station = picked["AB"][0].station.id
    receipts = folder / "receipts"
    run_commands([
        ("national", "init", folder / "log", "--origin",
         NATIONAL_ORIGIN, "--key", key, "--election", paths.manifest),
        *[("national", "add-log", folder / "log", code, "--key", key, "--origin",
           f"{NATIONAL_ORIGIN}/{code}", "--pub", pub) for code, pub in pubs.items()],
        ("national", "update", folder / "log", "--key", key, "--county-logs",
         folder / "counties"),
        ("publish", folder / "log", folder / "published"),
        ("verify", folder / "published", "--pub", key.with_suffix(".pub"), "--county-logs",
         folder / "counties"),
        ("prove", folder / "counties" / "AB", "--national", folder / "published", "--station",
         station, "-o", receipts),
        ("check-proof", receipts / f"{station}-report.tlog-proof",
         receipts / f"{station}-station.tlog-proof", "--national",
         receipts / "national-log-AB.tlog-proof", receipts / "national-checkpoint-AB.tlog-proof",
         "--pub", key.with_suffix(".pub")),
    ])
    say("One national checkpoint commits to every county's log: a county that rewrote its log")
    say("is caught by the national log, and the other way round (docs/spec.md, \"One log per")
    say("county under a national log\").")


def run_day(paths: Paths, lg: Ledger, publisher: NoteSigner, stations: dict[str, NoteSigner],
            rows: Sequence[PvRow], day: PollingDay, cosign: Cosigner, station: str) -> None:
    """Steps 3 to 5: election day and night, publish and audit, the command line."""
    with lg, step("3. Election day, then the results night"):
        started, before = time.perf_counter(), lg.size
        election_day(lg, stations, rows, day, cosign)
        results_night(lg, stations, rows, day, cosign)
        rate = (lg.size - before) / (time.perf_counter() - started)
        say(f"(signed by the stations, checked, written and sealed at {rate:,.0f} entries/s)")
        save_noon_checkpoint(lg, day, paths.noon)
        by_hand(("sign", "--key", paths.stations / f"{station}.key", "--origin", ORIGIN,
                 "turnout.json", "-o", "turnout.entry"),
                ("append", paths.ledger, "turnout.entry"),
                ("seal", paths.ledger, "--key", paths.key))
    with step("4. Publish; audit the published files; an observer's receipts"):
        audit(paths, publisher, station)
    with step("5. The same steps through the command line, as an operator, an auditor and an "
              "observer type them"):
        command_line(paths, station)


@click.command("demo", short_help="Run the whole job on bundled real data.")
@click.option("-o", "--output", "out", default="demo-out", show_default=True, metavar="DIR",
              type=click.Path(file_okay=False),
              help="Write everything here (deleted first if an earlier demo made it).")
@click.option("--station", default="AB-1", show_default=True, metavar="ID",
              help="The station whose report the observer proves.")
def main(out: str, station: str) -> None:
    """Run the whole job on bundled real 2025 data, as a story (exit 1 if a step fails)."""
    started = time.perf_counter()
    paths = Paths.under(Path(out))
    try:
        fresh_output(paths.out)
        run(paths, station)
    except (DemoError, LedgerError, ValueError, OSError, subprocess.SubprocessError) as e:
        click.echo(f"\ndemo FAILED: {e}", err=True)
        sys.exit(1)
    click.echo(f"\nDone in {time.perf_counter() - started:.1f} s: the whole story holds.")


if __name__ == "__main__":
    main()
