"""`make demo`: the whole story runs in a real subprocess, and a failing step fails the run."""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path

import pytest
from election_ledger_cli.demo import MARKER, DemoError, Paths, command_line, fresh_output

DEMO_TIMEOUT = 300


def run_demo(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "election_ledger_cli.demo", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=DEMO_TIMEOUT, check=False)


def test_demo_tells_the_whole_story_and_every_step_holds(tmp_path: Path) -> None:
    done = run_demo(tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    for line in [
        "1. Keys", "2. The ledger and its stations", "3. Election day, then the results night",
        "1,914 stations registered", "21:00  block 57",
        "28,710 turnout snapshots, all station-signed; soft-rule warnings: none",
        "1,914 result reports", "verify demo-out/published: OK, 32,616 entries",
        "warnings by rule: PV-PRSD-CD-EQ-B 6, PV-PRSD-E-EQ-CDF 5",
        "the PART report of AB-1", "signed by the key registered at entry 1",
        "not shown offline: that station AB-1's key",
        "extends the noon checkpoint", "the observer's page: demo-out/published/index.html",
        "$ ledger publish demo-out/ledger demo-out/published", "0 files written",
        "$ ledger verify demo-out/published --pub demo-out/keys/publisher.pub",
        "OK: demo-out/published (prezenta.example.ro/prezidentiale18052025), tree size 32,616",
        "$ ledger check-proof demo-out/receipts-cli/AB-1-report.tlog-proof",
        "OK: entry 32044 (report of station AB-1)",
        "OK: the log prezenta.example.ro/prezidentiale18052025 extends the old checkpoint",
        "2. The ledger and its stations; two witnesses",
        "block 0's checkpoint cosigned by ngo, uni",
        "77 block checkpoints, each cosigned by both witnesses",
        "6. Witnesses: a cosigned checkpoint, and a forked one refused",
        "--policy demo-out/observers.policy", "cosigned by ngo, uni",
        "witness ngo refuses it: HTTP 409: a checkpoint of size 32616 with another root",
        "witness uni refuses it: HTTP 409",
        "PROVED: the log prezenta.example.ro/prezidentiale18052025 signed two checkpoints",
        "7. One log per county under a national log (three counties)",
        "AB: recorded (first checkpoint, size 10)", "B: recorded (first checkpoint, size 10)",
        "sealed the national log at tree size 8",
        "county CJ: OK, tree size 10, 10 entries, 1 checkpoints recorded, 0 errors",
        "OK: entry 5 (report of station AB-1) is in the log "
        "prezenta.example.ro/prezidentiale18052025-judete/AB at tree size 10",
        "Done in",
    ]:
        assert line in out, line
    assert out.count(" s]") == 7  # every step prints its time
    paths = Paths.under(tmp_path / "demo-out")
    published = (paths.published / "checkpoint").read_bytes()
    assert published.startswith(b"prezenta.example.ro/prezidentiale18052025\n32616\n")
    assert published.count("\n— ".encode()) == 3  # the publisher's signature, two cosignatures
    assert stat.S_IMODE(paths.key.stat().st_mode) == 0o600
    assert (paths.stations / "SR-1.key").is_file()
    assert (paths.receipts / "AB-1-station.tlog-proof").is_file()
    assert (paths.cli_receipts / "AB-1-report.tlog-proof").is_file()


def test_demo_refuses_to_delete_a_directory_it_did_not_make(tmp_path: Path) -> None:
    precious = tmp_path / "demo-out" / "thesis.tex"
    precious.parent.mkdir()
    precious.write_text("four years of work")
    done = run_demo(tmp_path)
    assert done.returncode == 1
    assert "not made by the demo: not deleting it" in done.stderr
    assert precious.read_text() == "four years of work"


def test_demo_with_an_unknown_station_exits_1_before_writing_anything(tmp_path: Path) -> None:
    done = run_demo(tmp_path, "--station", "XX-999", "--output", "elsewhere")
    assert done.returncode == 1
    assert "demo FAILED: --station XX-999: no such station" in done.stderr
    assert list((tmp_path / "elsewhere").iterdir()) == [tmp_path / "elsewhere" / MARKER]


def test_fresh_output_recreates_what_an_earlier_demo_made(tmp_path: Path) -> None:
    out = tmp_path / "demo-out"
    fresh_output(out)
    (out / "stale").write_text("from the last run")
    fresh_output(out)
    assert sorted(p.name for p in out.iterdir()) == [MARKER]


def test_a_failing_command_line_step_fails_the_demo(tmp_path: Path) -> None:
    paths = Paths.under(tmp_path / "nothing-here")
    with pytest.raises(DemoError, match=r"ledger publish .* exited 2"):
        command_line(paths, "AB-1")
